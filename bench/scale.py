"""Throughput against the number of Ray workers: one long clip in chunks, and a batch of many files.

    python bench/scale.py                   # workers 1, 2, 4, ... up to this machine's cores; 3 runs each
    python bench/scale.py --workers 1 2 16  # chosen worker counts (a bigger machine)
    python bench/scale.py --quick           # development: smaller clips, 1 run

For each worker count N a local Ray cluster with N CPUs is started (its start-up is not timed) with the whole cluster
(driver, raylet, workers) confined to N cores of the machine (CPU affinity, Linux), so that N workers have N cores
and no more: unconfined, one worker would borrow the idle cores for what runs beside its task (the encoder's
threads, the stitch), and the baseline would be more than one worker. Then `batch.run` is timed on two workloads
rendered here (synthetic clips, so no data is needed; ``--clip`` uses a real file for the long one instead):

- long clip: one clip slowed 4x over its whole length, split into chunks (`chunks.chunk_count`: one per worker),
  stitched into one H.264 file;
- batch: 2 x max(N) short clips, each slowed 4x, one task per file.

Throughput is output frames per second (median of --runs, after an untimed run that starts the N worker
processes). Efficiency = throughput(N) / (N x throughput(1)): 1.0 is
perfect scaling; the target is >= 0.8. On a machine shared with other work the wall-clock figures say more about
the others' load than about Deepshop, so the bench also sums the CPU time of the whole local cluster (driver,
raylet, workers): work ratio = CPU s with one worker / CPU s with N, the efficiency an idle machine would allow
(1.0: splitting costs no extra work). N = 1 runs the same code (one worker, the clip whole, no intermediates), so
the ratio includes everything chunking costs (the intermediates of raw frames, the stitch that encodes alone at the
end). Every output is checked to have the expected frame count. Writes bench/out/scale.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from common import describe, machine, table, write_results

from deepshop_core import Job, batch, cluster
from deepshop_core.synthetic import write_clip

FACTOR = 4
ALL_CPUS = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set(range(os.cpu_count() or 1))


def worker_counts(cores: int) -> list[int]:
    counts, n = [], 1
    while n < cores:
        counts.append(n)
        n *= 2
    return counts + [cores]


def make_inputs(folder: Path, files: int, seconds: float, long_seconds: float, size: tuple[int, int],
                clip: Path | None) -> tuple[Path, list[Path]]:
    width, height = size
    long = clip or write_clip(folder / "long.mp4", seconds=long_seconds, width=width, height=height, audio=True)
    many = folder / "many"
    many.mkdir()
    short = [write_clip(many / f"clip{i:03d}.mp4", seconds=seconds, width=width, height=height, seed=i)
             for i in range(files)]
    return long, short


def confine(cores: int) -> str:
    """Keep this process, and what it starts from now on (the local cluster), on its first ``cores`` CPUs. Says
    how, for the printout."""
    if not hasattr(os, "sched_setaffinity"):
        return "not confined (no CPU affinity on this system)"
    allowed = sorted(ALL_CPUS)[:cores]
    os.sched_setaffinity(0, allowed)
    return f"CPUs {allowed}"


def cpu_seconds() -> float:
    """CPU time used so far by this process and its descendants: the local cluster's raylet and workers."""
    import psutil  # a dependency of Ray

    total = 0.0
    me = psutil.Process()
    for process in [me, *me.children(recursive=True)]:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.Error:  # gone meanwhile
            continue
    return total


def timed_run(items: list[batch.Item]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of the whole cluster, output frames) of one batch run."""
    cpu, started = cpu_seconds(), time.perf_counter()
    outcomes = batch.run(items, ray="")  # the cluster is already up: batch.run uses it
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    failed = [o for o in outcomes if o.status != batch.DONE]
    if failed:
        raise RuntimeError(f"{failed[0].item.input}: {failed[0].status} {failed[0].reason}")
    return seconds, cpu, sum(o.result.frames_out for o in outcomes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", help="worker counts (default: 1, 2, 4, ... up to the cores)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small clips, one run")
    parser.add_argument("--clip", type=Path, help="a real video for the long-clip workload")
    args = parser.parse_args()
    cores = len(ALL_CPUS)
    counts = args.workers or worker_counts(cores)
    runs = 1 if args.quick else args.runs
    size = (320, 180) if args.quick else (480, 270)
    seconds, long_seconds = (1.0, 3.0) if args.quick else (2.0, 6.0)
    files = 2 * max(counts)
    print(f"{describe(machine())}; workers {counts}, {runs} run(s); clips {size[0]}x{size[1]}")

    header = ["workload", "workers", "output frames", "median s", "frames/s", "speed-up", "efficiency", "CPU s",
              "work ratio"]
    workloads = ("long clip", "batch")
    times = {(name, n): [] for name in workloads for n in counts}
    cpu = {(name, n): [] for name in workloads for n in counts}
    frames: dict[str, int] = {}
    starts: dict[int, list[float]] = {n: [] for n in counts}
    with tempfile.TemporaryDirectory(prefix="deepshop-scale-") as temp:
        folder = Path(temp)
        long, short = make_inputs(folder, files, seconds, long_seconds, size, args.clip)
        warm = [write_clip(folder / f"warm{i}.mp4", seconds=0.4, width=64, height=48, seed=i)
                for i in range(max(counts))]
        jobs = {"long clip": ([long], Job(ranges=(f"0:{_frames(long) - 1}",), factor=FACTOR)),
                "batch": (short, Job(ranges=(f"0:{_frames(short[0]) - 1}",), factor=FACTOR))}
        # Interleaved (run 1 of every worker count, then run 2, ...) so load from other processes hits all alike.
        for r in range(runs):
            for n in counts:
                where = confine(n)
                started = time.perf_counter()
                cluster.connect("", workers=n)
                starts[n].append(time.perf_counter() - started)
                try:
                    timed_run(batch.items(warm[:n], Job(ranges=("1:5",)), folder / f"warm_{r}_{n}"))
                    for name in workloads:
                        inputs, job = jobs[name]
                        out = folder / f"out_{r}_{n}_{name.replace(' ', '_')}"
                        taken, used, frames[name] = timed_run(batch.items(inputs, job, out))
                        times[name, n].append(taken)
                        cpu[name, n].append(used)
                        print(f"run {r + 1}: {name}, {n} worker(s) on {where}: {taken:.2f} s, {used:.2f} CPU s",
                              flush=True)
                finally:
                    cluster.import_ray().shutdown()
                    confine(cores)
    rows, results = [], []
    for name in workloads:
        one = frames[name] / statistics.median(times[name, counts[0]]) / counts[0]  # one worker's throughput
        one_cpu = statistics.median(cpu[name, counts[0]])
        for n in counts:
            median, median_cpu = statistics.median(times[name, n]), statistics.median(cpu[name, n])
            throughput = frames[name] / median
            efficiency = throughput / (n * one)
            results.append({"workload": name, "workers": n, "frames": frames[name], "seconds": times[name, n],
                            "median_s": round(median, 3), "frames_per_s": round(throughput, 2),
                            "efficiency": round(efficiency, 3), "cpu_seconds": cpu[name, n],
                            "work_ratio": round(one_cpu / median_cpu, 3),
                            "cluster_start_s": round(statistics.median(starts[n]), 2)})
            rows.append([name, n, frames[name], f"{median:.2f}", f"{throughput:.1f}", f"{throughput / one:.2f}x",
                         f"{efficiency:.2f}", f"{median_cpu:.1f}", f"{one_cpu / median_cpu:.2f}"])
    print()
    print(table(header, rows))
    write_results("scale", results, settings={"runs": runs, "size": size, "factor": FACTOR, "files": files,
                                              "long_clip": str(args.clip or f"synthetic {long_seconds} s"),
                                              "short_clips_s": seconds, "engine": "flow balanced",
                                              "confined": hasattr(os, "sched_setaffinity")})


def _frames(path: Path) -> int:
    from deepshop_core import probe

    return probe(path).frame_count


if __name__ == "__main__":
    main()
