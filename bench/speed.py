"""End-to-end speed: a 4x slow motion of real clips, every engine and preset against ffmpeg's minterpolate.

    python bench/speed.py [--clips mpy_chaplin.mp4 cockatoo.mp4] [--runs 3] [--engines blend "flow fast" ...]
    python bench/speed.py --quick        # development: 1 run, the first 30 frames of each clip

By default the first 100 frames of each clip (4-5 s; ``--frames 0`` for whole clips: the ``best`` preset then takes
about half an hour at 720p on 2 cores). For N frames every side produces the same (N-1)*4+1 frames, decode and H.264
encode included, with the same x264 preset and CRF (Deepshop's defaults):

- ffmpeg: ``-vf minterpolate=fps=<4x>:mi_mode=mci`` (imageio-ffmpeg's binary), audio dropped;
- Deepshop: ``slow_motion(clip, out, ranges=[(0, N-1)], factor=4, engine=..., audio="none")`` in this process,
  for ``blend``, ``flow`` at each preset, and ``dain`` when real weights are found (skipped with a note otherwise).

The runs are interleaved (run 1 of every side, then run 2, ...) so that load from other processes hits all sides
alike; the median of --runs runs is reported, with the ratio ffmpeg time / Deepshop time (> 1: Deepshop is faster),
output frames per second, and Deepshop's per-stage breakdown (decode, analyse = scene-cut search, the engine's own
stages, encode; encoding runs on a thread of its own, overlapping the interpolation, so stages overlap; the flow
engine's stages are summed over its two threads). Every engine variant is measured unless --engines names some:
``flow best`` included (slow at 720p: about 1 s a pair on 2 cores).
``--against REV`` adds the flow engine's default preset as it was at git revision REV (the revision's deepshop_core
exported into a temporary folder and imported under another name), run the same way in the same rounds: the
engine's own progress, whatever the load of the machine.

``--curve`` measures speed curves instead (issue 23), flow balanced only, against the constant-factor slow motion
of the same frames in the same rounds: the same 4x as keyframes (``0:0.25``: the same frames, so the ratio is the
curve machinery's overhead), and a curve of 9 keyframes (slower down to 0.2x, faster at 2x, eased) with a 180
degree shutter (motion blur: more in-betweens per fast frame) and with 0 (dropped frames); each with its seconds per
output frame and per in-between the engine made, wall-clock and CPU seconds (this process, all threads: on a shared
machine the wall-clock ratio carries the other processes' load), each ratio the median of the rounds' ratios.
Writes bench/out/speed_curve.json.

Needs ../shared/testdata/videos. Writes bench/out/speed.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from common import (
    OUT,
    TESTDATA,
    dain_weights,
    describe,
    engine_variants,
    flow_engine_at,
    machine,
    table,
    write_results,
)

from deepshop_core import EngineChoice, probe, slow_motion
from deepshop_core.media.formats import FORMATS

FACTOR = 4
BASELINE = "ffmpeg minterpolate"


def ffmpeg_minterpolate(src: Path, out: Path, frames: int, rate, x264: dict) -> tuple[float, dict]:
    import imageio_ffmpeg

    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", str(src),
           "-vf", f"minterpolate=fps={rate * FACTOR}:mi_mode=mci", "-frames:v", str(frames), "-an",
           "-c:v", "libx264", "-preset", x264["preset"], "-crf", str(x264["crf"]), "-pix_fmt", "yuv420p", str(out)]
    started = time.perf_counter()
    subprocess.run(cmd, check=True)
    seconds = time.perf_counter() - started
    made = probe(out).frame_count
    if made != frames:
        raise RuntimeError(f"ffmpeg made {made} frames, expected {frames}")
    return seconds, {}


def deepshop(src: Path, out: Path, count: int, engine, options: dict) -> tuple[float, dict]:
    """Deepshop's slow motion of the first ``count`` frames; ``engine``: a name (with ``options``) or an engine."""
    if not isinstance(engine, str):
        engine.stats.reset()  # an engine kept from run to run: its stages are this run's
    started = time.perf_counter()
    chosen = engine if not isinstance(engine, str) else EngineChoice.of(engine, **options)
    result = slow_motion(src, out, ranges=[(0, count - 1)], factor=FACTOR, engine=chosen, crop=(0, count - 1),
                         audio="none", overwrite=True)
    seconds = time.perf_counter() - started
    if result.frames_out != (count - 1) * FACTOR + 1:
        raise RuntimeError(f"{engine} made {result.frames_out} frames, expected {(count - 1) * FACTOR + 1}")
    return seconds, result.seconds


def measure_clip(src: Path, frames: int | None, variants, runs: int, x264: dict, tmp: Path) -> list[dict]:
    info = probe(src)
    count = min(info.frame_count, frames or info.frame_count)
    frames_out = (count - 1) * FACTOR + 1
    sides = {BASELINE: lambda out: ffmpeg_minterpolate(src, out, frames_out, info.frame_rate, x264)}
    for label, name, options in variants:
        sides[label] = lambda out, name=name, options=options: deepshop(src, out, count, name, options)
    times = {k: [] for k in sides}
    stages = {k: [] for k in sides}
    for run in range(runs):
        for label, fn in sides.items():
            seconds, split = fn(tmp / "out.mp4")
            times[label].append(seconds)
            stages[label].append(split)
            print(f"  {src.name} run {run + 1}/{runs} {label}: {seconds:.1f} s", flush=True)
    base = statistics.median(times[BASELINE])
    rows = []
    for label in sides:
        median = statistics.median(times[label])
        split = {k: statistics.median(s.get(k, 0.0) for s in stages[label]) for k in stages[label][0]}
        rows.append({"clip": src.name, "size": f"{info.width}x{info.height}", "height": info.height,
                     "frames_in": count, "frames_out": frames_out, "engine": label, "seconds": median,
                     "runs": times[label], "speedup": base / median, "fps_out": frames_out / median,
                     "ms_per_frame": 1000 * median / frames_out, "stages": split})
    return rows


CURVES = {  # label -> slow_motion's retiming options, on the first 60 frames
    "range 4x (baseline)": {"ranges": [(0, 59)], "factor": FACTOR},
    "the same as keyframes 0:0.25": {"speed": "0:0.25"},
    "9 keyframes, 180 deg": {"speed": "0:1, 6:0.25, 18:0.25:hold, 24:2, 30:2:hold, 36:0.2, 44:0.2:hold, 52:1, "
                                      "59:1"},
    "9 keyframes, 0 deg": {"speed": "0:1, 6:0.25, 18:0.25:hold, 24:2, 30:2:hold, 36:0.2, 44:0.2:hold, 52:1, 59:1",
                           "shutter": 0},
}


def measure_curves(src: Path, runs: int, tmp: Path) -> list[dict]:
    """The rows of ``CURVES`` on the first 60 frames of ``src``, flow balanced, rounds interleaved."""
    from deepshop_core import Job
    from deepshop_core.plan import plan_clip
    from deepshop_core.steps import Blend

    info = probe(src)
    engine = EngineChoice.of("flow", preset="balanced").load()
    times: dict[str, list[float]] = {label: [] for label in CURVES}
    cpu: dict[str, list[float]] = {label: [] for label in CURVES}  # this process's CPU seconds (all its threads)
    frames_out, made = {}, {}
    try:
        for run in range(runs):
            for label, options in CURVES.items():
                engine.stats.reset()
                started, used = time.perf_counter(), time.process_time()
                result = slow_motion(src, tmp / "out.mp4", engine=engine, crop=(0, 59), audio="none",
                                     overwrite=True, **options)
                times[label].append(time.perf_counter() - started)
                cpu[label].append(time.process_time() - used)
                frames_out[label] = result.frames_out
                print(f"  {src.name} run {run + 1}/{runs} {label}: {times[label][-1]:.1f} s", flush=True)
    finally:
        engine.close()
    for label, options in CURVES.items():
        steps = plan_clip(src, Job(crop=(0, 59), **options)).steps
        samples = [s for item in steps for s in (item.samples if isinstance(item, Blend) else (item,))]
        made[label] = sum(not s.is_copy for s in samples)
    base, base_cpu = times["range 4x (baseline)"], cpu["range 4x (baseline)"]
    # each round's ratio to the baseline measured just before it, then their median: load from other processes
    # changes between rounds more than within one; CPU seconds are what the work itself took, whatever else runs
    return [{"clip": src.name, "size": f"{info.width}x{info.height}", "mode": label, "runs": times[label],
             "seconds": statistics.median(times[label]),
             "ratio": statistics.median(t / b for t, b in zip(times[label], base)),
             "cpu_runs": cpu[label], "cpu_seconds": statistics.median(cpu[label]),
             "cpu_ratio": statistics.median(t / b for t, b in zip(cpu[label], base_cpu)),
             "frames_out": frames_out[label], "in_betweens": made[label],
             "ms_per_frame": 1000 * statistics.median(times[label]) / frames_out[label],
             "ms_per_in_between": 1000 * statistics.median(times[label]) / max(1, made[label])} for label in CURVES]


def curve_markdown(rows: list[dict]) -> str:
    return table(["clip", "retime", "frames out", "in-betweens", "median s", "vs range", "CPU s", "CPU vs range",
                  "ms / frame out",
                  "ms / in-between"],
                 [[f"{r['clip']} ({r['size']})", r["mode"], r["frames_out"], r["in_betweens"], f"{r['seconds']:.2f}",
                   f"{r['ratio']:.3f}", f"{r['cpu_seconds']:.2f}", f"{r['cpu_ratio']:.3f}", f"{r['ms_per_frame']:.1f}",
                   f"{r['ms_per_in_between']:.1f}"] for r in rows])


def markdown(rows: list[dict]) -> str:
    out = []
    for r in rows:
        ratio = "1 (baseline)" if r["engine"] == BASELINE else f"{r['speedup']:.2f}x"
        stages = ", ".join(f"{k} {v:.1f}" for k, v in r["stages"].items()) or "-"
        out.append([f"{r['clip']} ({r['size']})", r["frames_out"], r["engine"], f"{r['seconds']:.1f}",
                    f"{r['fps_out']:.1f}", ratio, stages])
    return table(["clip", "frames out", "method", "seconds", "frames/s out", "vs minterpolate", "stages (s)"], out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=Path, default=TESTDATA / "videos")
    parser.add_argument("--clips", nargs="+", default=["mpy_chaplin.mp4", "cockatoo.mp4"])
    parser.add_argument("--engines", nargs="+", help="only these (e.g. blend 'flow balanced' dain)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each measurement; medians are reported")
    parser.add_argument("--frames", type=int, default=60, help="the first N frames of each clip (0: all)")
    parser.add_argument("--quick", action="store_true", help="development: --runs 1 --frames 30")
    parser.add_argument("--dain-weights", help="DAIN weights (archive or folder); default: deepshop's search order")
    parser.add_argument("--against", metavar="REV", help="also the flow engine's balanced preset at git revision REV")
    parser.add_argument("--curve", action="store_true", help="speed curves against the same constant slow motion")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.frames = 1, 30
    missing = [c for c in args.clips if not (args.videos / c).exists()]
    if missing:
        raise SystemExit(f"missing clips in {args.videos}: {', '.join(missing)} (needs ../shared/testdata)")
    if args.curve:
        print(f"speed curves on the first 60 frames, flow balanced, median of {args.runs} run(s); "
              f"{describe(machine())}; load average before: {os.getloadavg()}")
        with tempfile.TemporaryDirectory() as tmp:
            rows = [row for name in args.clips for row in measure_curves(args.videos / name, args.runs, Path(tmp))]
        print(curve_markdown(rows))
        write_results("speed_curve", rows, args.out, runs=args.runs, load_after=os.getloadavg())
        return 0
    h264 = FORMATS["h264"]  # Deepshop's own defaults, so both sides encode alike
    x264 = {"preset": h264.preset_default, "crf": h264.quality_default}
    dain, dain_note = dain_weights(args.dain_weights)
    variants = [v for v in engine_variants(dain) if not args.engines or v[0] in args.engines]
    if args.against:
        variants.append((f"flow balanced at {args.against}", flow_engine_at(args.against), {}))
    span = f"the first {args.frames} frames of " if args.frames else ""
    print(f"4x slow motion of {span}each clip, median of {args.runs} run(s); {describe(machine())}\n{dain_note}")

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.clips:
            rows += measure_clip(args.videos / name, args.frames, variants, args.runs, x264, Path(tmp))
    print(f"\nx264 preset {x264['preset']} crf {x264['crf']} on every side, median of {args.runs} run(s)")
    print(markdown(rows))
    write_results("speed", rows, args.out, runs=args.runs, factor=FACTOR, x264=x264, quick=args.quick,
                  frames_limit=args.frames, dain_note=dain_note, against=args.against)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
