"""The whole job, this tree against a git revision: is a restructuring no slower end to end?

    python bench/against.py d2d2224                  # 4x slow motion of 60 frames of each clip, 3 runs each side
    python bench/against.py d2d2224 --runs 5 --engine "flow fast"

Each side runs ``slow_motion`` (decode, analysis, the engine, encoding, audio) in a process of its own on the same
clip with the same settings: this tree's ``deepshop_core``, and the revision's exported with ``git archive`` into a
temporary folder. The runs are interleaved (this tree, then the revision, then this tree, ...) so load from other
processes hits both alike; the time is measured inside each process around the call (interpreter start-up and imports
left out), and medians are reported with the ratio (> 1: this tree is faster). Needs ../shared/testdata/videos.
Writes bench/out/against.json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from common import OUT, ROOT, TESTDATA, describe, machine, table, write_results

# Run in the child: the call both trees take (slow_motion's keywords, the engine as name plus options, which every
# revision since the first release accepts one way or the other).
CHILD = r"""
import json, sys, time
from deepshop_core import slow_motion
src, out, frames, factor, name, preset = sys.argv[1:7]
frames, factor = int(frames), float(factor)
try:
    from deepshop_core import EngineChoice
    engine = {"engine": EngineChoice.of(name, preset=preset or None)}
except ImportError:
    engine = {"engine": name, "engine_options": {"preset": preset} if preset else {}}
started = time.perf_counter()
result = slow_motion(src, out, ranges=[(0, frames - 1)], factor=factor, crop=(0, frames - 1), audio="stretch",
                     overwrite=True, **engine)
print(json.dumps({"seconds": time.perf_counter() - started, "frames_out": result.frames_out}))
"""


def export(rev: str, folder: Path) -> Path:
    """The revision's tree in ``folder`` (git archive)."""
    archive = subprocess.run(["git", "archive", rev], cwd=ROOT, check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def run_once(tree: Path, src: Path, out: Path, frames: int, factor: float, engine: str) -> dict:
    name, _, preset = engine.partition(" ")
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, "-c", CHILD, str(src), str(out), str(frames), str(factor), name, preset],
                          cwd=tree, env=env, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("rev", help="the git revision to compare with")
    parser.add_argument("--clips", nargs="+", default=["mpy_chaplin.mp4", "cockatoo.mp4"])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--factor", type=float, default=4.0)
    parser.add_argument("--engine", default="flow balanced", help="an engine and its preset, e.g. 'flow fast'")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"{args.engine}, {args.factor:g}x of {args.frames} frames, {args.runs} runs each, interleaved; "
          f"{describe(machine())}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"this tree": ROOT, args.rev: export(args.rev, Path(tmp) / "rev")}
        for clip in args.clips:
            src = TESTDATA / "videos" / clip
            times: dict[str, list[float]] = {side: [] for side in trees}
            for run in range(args.runs):
                for side, tree in trees.items():
                    got = run_once(tree, src, Path(tmp) / "out.mp4", args.frames, args.factor, args.engine)
                    times[side].append(got["seconds"])
                    print(f"  {clip} run {run + 1}: {side} {got['seconds']:.2f} s ({got['frames_out']} frames)",
                          flush=True)
            here, there = (statistics.median(times[side]) for side in trees)
            rows.append({"clip": clip, "this_tree_s": here, "revision_s": there, "ratio": there / here,
                         "runs": times})
    print(table(["clip", "this tree (median s)", f"{args.rev} (median s)", "ratio (> 1: this tree faster)"],
                [[r["clip"], f"{r['this_tree_s']:.2f}", f"{r['revision_s']:.2f}", f"{r['ratio']:.3f}"]
                 for r in rows]))
    write_results("against", rows, OUT, rev=args.rev, engine=args.engine, frames=args.frames, factor=args.factor)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
