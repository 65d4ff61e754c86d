"""Peak memory of the file-to-file pipeline against clip length.

    python bench/memory.py [--width 1280 --height 720] [--seconds 4] [--scale 10] [--engine flow]

Renders two synthetic clips, one ``--scale`` times longer than the other, slows the same 1-second range of each
by 4x in a fresh process, and prints each run's peak resident memory (the process's high-water mark, VmHWM).
Streaming means the longer clip should cost less than 10% more memory.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

# Runs in a fresh interpreter so each measurement's high-water mark is its own.
_CHILD = r"""
import json, sys, time
from deepshop_core import slow_motion
src, out, engine = sys.argv[1:4]
started = time.perf_counter()
result = slow_motion(src, out, ranges=["1s:2s"], factor=4, engine=engine)
seconds = time.perf_counter() - started
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"frames_in": result.frames_in, "frames_out": result.frames_out, "peak_mib": hwm / 1024,
                  "seconds": seconds}))
"""


def measure(src: Path, out: Path, engine: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(src), str(out), engine], capture_output=True,
                          text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--seconds", type=float, default=4.0, help="length of the short clip")
    parser.add_argument("--scale", type=int, default=10, help="the long clip is this many times longer")
    parser.add_argument("--engine", default="flow")
    args = parser.parse_args()

    from deepshop_core.synthetic import write_clip

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seconds in (args.seconds, args.seconds * args.scale):
            src = write_clip(Path(tmp) / f"clip_{seconds:g}s.mp4", seconds=seconds, width=args.width,
                             height=args.height)
            row = measure(src, Path(tmp) / f"slow_{seconds:g}s.mp4", args.engine)
            rows.append({"clip_seconds": seconds, **row})
    print(f"peak RSS of `slow_motion` ({args.width}x{args.height}, 1 s slowed 4x, engine {args.engine})")
    print("| clip | frames in -> out | peak RSS MiB | seconds |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['clip_seconds']:g} s | {r['frames_in']} -> {r['frames_out']} | {r['peak_mib']:.0f} | "
              f"{r['seconds']:.1f} |")
    growth = rows[1]["peak_mib"] / rows[0]["peak_mib"] - 1
    print(f"{args.scale}x longer clip: peak RSS {growth:+.1%} (target: < +10%)")


if __name__ == "__main__":
    main()
