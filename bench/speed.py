"""End-to-end speed: a 4x slow motion of a whole real clip, Deepshop against ffmpeg's minterpolate.

    python bench/speed.py [--clips mpy_chaplin.mp4 cockatoo.mp4] [--presets fast balanced best] [--runs 3]

For each clip of N frames both sides produce the same (N-1)*4+1 frames at 4x the frame count, decode and H.264
encode included, with the same x264 preset and CRF:

- ffmpeg: ``-vf minterpolate=fps=<4x>:mi_mode=mci`` (imageio-ffmpeg's binary), audio dropped;
- Deepshop: ``slow_motion(clip, out, ranges=[(0, N-1)], factor=4, engine="flow", preset=...)`` in this process.

Prints the median wall time of ``--runs`` runs of each, the speed-up ratio (ffmpeg time / Deepshop time) and
Deepshop's per-stage breakdown (decode, analyse, flow, warp, blend, encode; the rest is planning and copying).
Needs ../shared/testdata/videos. Results also go to bench/out/speed.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from deepshop_core import probe, slow_motion
from deepshop_core.video import FORMATS

ROOT = Path(__file__).resolve().parents[1]
VIDEOS = ROOT.parent / "shared" / "testdata" / "videos"
FACTOR = 4


def ffmpeg_minterpolate(src: Path, out: Path, frames: int, rate, x264: dict) -> float:
    import imageio_ffmpeg

    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", str(src),
           "-vf", f"minterpolate=fps={rate * FACTOR}:mi_mode=mci", "-frames:v", str(frames), "-an",
           "-c:v", "libx264", "-preset", x264["preset"], "-crf", str(x264["crf"]), "-pix_fmt", "yuv420p", str(out)]
    started = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - started


def deepshop(src: Path, out: Path, count: int, preset: str) -> tuple[float, dict, int]:
    started = time.perf_counter()
    result = slow_motion(src, out, ranges=[(0, count - 1)], factor=FACTOR, engine="flow",
                         engine_options={"preset": preset}, audio="none", overwrite=True)
    return time.perf_counter() - started, result.seconds, result.frames_out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=Path, default=VIDEOS)
    parser.add_argument("--clips", nargs="+", default=["mpy_chaplin.mp4", "cockatoo.mp4"])
    parser.add_argument("--presets", nargs="+", default=["fast", "balanced", "best"])
    parser.add_argument("--runs", type=int, default=3, help="runs of each measurement; medians are reported")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()
    h264 = FORMATS["h264"]  # Deepshop's own defaults, so both sides encode alike
    x264 = {"preset": h264.preset_default, "crf": h264.quality_default}

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.clips:
            src = args.videos / name
            info = probe(src)
            frames = (info.frame_count - 1) * FACTOR + 1
            base = statistics.median(ffmpeg_minterpolate(src, Path(tmp) / "mi.mp4", frames, info.frame_rate, x264)
                                     for _ in range(args.runs))
            for preset in args.presets:
                runs = [deepshop(src, Path(tmp) / "ds.mp4", info.frame_count, preset) for _ in range(args.runs)]
                ours = statistics.median(r[0] for r in runs)
                stages = {k: statistics.median(r[1].get(k, 0.0) for r in runs) for k in runs[0][1]}
                assert all(r[2] == frames for r in runs), "Deepshop and ffmpeg must produce the same frame count"
                rows.append({"clip": name, "size": f"{info.width}x{info.height}", "frames": frames,
                             "preset": preset, "ffmpeg_s": base, "deepshop_s": ours, "speedup": base / ours,
                             "stages": stages})
                print(f"{name} {preset}: ffmpeg {base:.1f} s, deepshop {ours:.1f} s, x{base / ours:.2f}", flush=True)

    print(f"\n4x slow motion of whole clips, median of {args.runs} runs, {platform.processor() or platform.machine()}, "
          f"x264 preset {x264['preset']} crf {x264['crf']} on both sides")
    print("| clip | frames out | preset | ffmpeg minterpolate s | Deepshop s | speed-up | stages (s) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        stages = ", ".join(f"{k} {v:.1f}" for k, v in r["stages"].items())
        print(f"| {r['clip']} ({r['size']}) | {r['frames']} | {r['preset']} | {r['ffmpeg_s']:.1f} | "
              f"{r['deepshop_s']:.1f} | {r['speedup']:.2f}x | {stages} |")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "speed.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
