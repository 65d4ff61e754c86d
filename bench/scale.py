"""Throughput against the number of Ray workers: one long clip in chunks, and a batch of many files.

    python bench/scale.py                   # workers 1, 2, 4, ... up to this machine's cores; 3 runs each
    python bench/scale.py --workers 1 2 16  # chosen worker counts (a bigger machine)
    python bench/scale.py --quick           # development: smaller clips, 1 run

For each worker count N a local Ray cluster with N CPUs is started (its start-up is not timed), then `batch.run` is
timed on two workloads rendered here (synthetic clips, so no data is needed; ``--clip`` uses a real file for the
long one instead):

- long clip: one clip slowed 4x over its whole length, split into chunks (`chunks.chunk_count`: one per worker),
  stitched into one H.264 file;
- batch: 2 x max(N) short clips, each slowed 4x, one task per file.

Throughput is output frames per second (median of --runs, after an untimed run that starts the N worker
processes). Efficiency = throughput(N) / (N x throughput(1)): 1.0 is
perfect scaling; the target is >= 0.8. N = 1 runs the same code (one worker, the clip whole, no intermediates), so
the ratio includes everything chunking costs (the lossless intermediates, the stitch that encodes alone at the
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

from deepshop_core import batch, cluster
from deepshop_core.synthetic import write_clip

FACTOR = 4


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


def timed_run(items: list[batch.Item]) -> tuple[float, int]:
    started = time.perf_counter()
    outcomes = batch.run(items, ray="")  # the cluster is already up: batch.run uses it
    seconds = time.perf_counter() - started
    failed = [o for o in outcomes if o.status != batch.DONE]
    if failed:
        raise RuntimeError(f"{failed[0].item.input}: {failed[0].status} {failed[0].reason}")
    return seconds, sum(o.result.frames_out for o in outcomes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", help="worker counts (default: 1, 2, 4, ... up to the cores)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small clips, one run")
    parser.add_argument("--clip", type=Path, help="a real video for the long-clip workload")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    counts = args.workers or worker_counts(cores)
    runs = 1 if args.quick else args.runs
    size = (320, 180) if args.quick else (480, 270)
    seconds, long_seconds = (1.0, 3.0) if args.quick else (2.0, 6.0)
    files = 2 * max(counts)
    print(f"{describe(machine())}; workers {counts}, {runs} run(s); clips {size[0]}x{size[1]}")

    ray = cluster.import_ray()
    rows, results = [], []
    with tempfile.TemporaryDirectory(prefix="deepshop-scale-") as temp:
        folder = Path(temp)
        long, short = make_inputs(folder, files, seconds, long_seconds, size, args.clip)
        job = batch.Job(ranges=(f"0:{_frames(long) - 1}",), factor=FACTOR)
        short_job = batch.Job(ranges=(f"0:{_frames(short[0]) - 1}",), factor=FACTOR)
        baseline: dict[str, float] = {}
        for n in counts:
            started = time.perf_counter()
            ray.init(address="local", num_cpus=n, include_dashboard=False, logging_level="ERROR",
                     log_to_driver=False)
            startup = time.perf_counter() - started
            try:
                timed_run(batch.items(short[:n], short_job, folder / f"warm_{n}"))  # start N workers, untimed
                for name, items_of in (("long clip", lambda out: batch.items([long], job, out)),
                                       ("batch", lambda out: batch.items(short, short_job, out))):
                    times, frames = [], 0
                    for r in range(runs):
                        out = folder / f"out_{n}_{name.replace(' ', '_')}_{r}"
                        seconds_taken, frames = timed_run(items_of(out))
                        times.append(seconds_taken)
                    median = statistics.median(times)
                    throughput = frames / median
                    baseline.setdefault(name, throughput)
                    efficiency = throughput / (n * baseline[name])
                    results.append({"workload": name, "workers": n, "frames": frames, "seconds": times,
                                    "median_s": round(median, 3), "frames_per_s": round(throughput, 2),
                                    "efficiency": round(efficiency, 3), "cluster_start_s": round(startup, 2)})
                    rows.append([name, n, frames, f"{median:.2f}", f"{throughput:.1f}",
                                 f"{throughput / baseline[name]:.2f}x", f"{efficiency:.2f}"])
                    print(table(["workload", "workers", "output frames", "median s", "frames/s", "speed-up",
                                 "efficiency"], rows[-1:]).splitlines()[-1], flush=True)
            finally:
                ray.shutdown()
    print()
    print(table(["workload", "workers", "output frames", "median s", "frames/s", "speed-up", "efficiency"], rows))
    write_results("scale", results, settings={"runs": runs, "size": size, "factor": FACTOR, "files": files,
                                              "long_clip": str(args.clip or f"synthetic {long_seconds} s"),
                                              "short_clips_s": seconds, "engine": "flow balanced"})


def _frames(path: Path) -> int:
    from deepshop_core import probe

    return probe(path).frame_count


if __name__ == "__main__":
    main()
