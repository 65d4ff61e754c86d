"""Same frames as before: a hash of every frame each engine and preset makes, here and at a git revision.

    python bench/identity.py                       # hashes of this tree -> bench/out/identity.json
    python bench/identity.py --against d2d2224     # also at that revision (in a process of its own), compared
    python bench/identity.py --quick               # fewer pairs and shorter clips (development)

What is hashed (SHA-256 of each uint8 frame, in order):

- every engine variant (blend, flow at each preset; DAIN on a tiny stand-in archive when Paddle is installed) on
  davis22's 22 pairs at t = 0.25, 0.5, 0.75 (large motion, two frames);
- the same variants through the file-to-file pipeline (four frames where the engine reads neighbours, scene cuts,
  held duplicates) on clips: the project's synthetic clip slowed 2.5x with a ramp, in smooth mode at 2x, and the
  first frames of real clips (skv_bikes: cuts; mpy_chaplin: people walking), written as PNG sequences.

A revision is exported with ``git archive`` into a temporary folder and this script runs there in a child process
(the same script, from this tree: it calls only the API both sides share), so the comparison is of the engines'
code alone. Exit status 1 when any frame differs. Needs ../shared/testdata. Writes bench/out/identity.json.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
ROOT = HERE.parents[1]
TESTDATA = ROOT.parent / "shared" / "testdata"
TIMES = (0.25, 0.5, 0.75)
CLIPS = (("skv_bikes.mp4", "0.9s:1.6s", 60), ("mpy_chaplin.mp4", "20:44", 48))


def digest(frame: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(frame).tobytes()).hexdigest()[:16]


def variants(with_dain: bool) -> list[tuple[str, str, dict]]:
    from deepshop_core import engines

    flow = engines.describe("flow")
    out = [("blend", "blend", {})] + [(f"flow {p}", "flow", {"preset": p}) for p in flow.presets]
    if with_dain:
        out.append(("dain standin", "dain", {}))
    return out


def dain_archive(folder: Path) -> Path | None:
    """A tiny stand-in DAIN archive (tools/dain_standin.py), or None without Paddle."""
    if importlib.util.find_spec("paddle") is None:  # not imported here: the stand-in sets Paddle's IR flag first
        return None
    from tools.dain_standin import build_standin

    return build_standin(folder / "DAIN_weight.tar", n=1, size="tiny")


def pair_hashes(label: str, name: str, options: dict, quick: bool) -> dict[str, list[str]]:
    import cv2

    from deepshop_core import engines

    sequences = sorted((TESTDATA / "davis22" / "input").iterdir())[: 4 if quick else None]
    engine = engines.load(name, **options)
    try:
        out = {}
        for seq in sequences:
            f0, f1 = (cv2.cvtColor(cv2.imread(str(seq / f)), cv2.COLOR_BGR2RGB) for f in ("frame10.png", "frame11.png"))
            out[f"davis22/{seq.name}"] = [digest(f) for f in engine.interpolate(f0, f1, list(TIMES))]
        return out
    finally:
        engine.close()


def clip_jobs(synthetic: Path, quick: bool) -> list[tuple[str, Path, dict]]:
    jobs = [("synthetic 2.5x ramp", synthetic, {"ranges": ["10:30"], "factor": 2.5, "ramp": 4.0}),
            ("synthetic smooth 2x", synthetic, {"smooth": True, "factor": 2})]
    for clip, slowed, frames in CLIPS[:1] if quick else CLIPS:
        jobs.append((f"{clip} {slowed}", TESTDATA / "videos" / clip,
                     {"ranges": [slowed], "factor": 4, "crop": (0, frames - 1)}))
    return jobs


def clip_hashes(name: str, options: dict, jobs, folder: Path) -> dict[str, list[str]]:
    from PIL import Image

    from deepshop_core import slow_motion

    out = {}
    for n, (label, source, settings) in enumerate(jobs):
        target = folder / f"frames_{n}"
        try:  # the API of this tree: an engine choice
            from deepshop_core import EngineChoice
            engine = {"engine": EngineChoice.of(name, **options)}
        except ImportError:  # before issue 22: a name and its options
            engine = {"engine": name, "engine_options": options}
        slow_motion(source, target, audio="none", format="png", overwrite=True, **engine, **settings)
        out[label] = [digest(np.asarray(Image.open(p).convert("RGB"))) for p in sorted(target.glob("*.png"))]
    return out


def synthetic_clip(folder: Path) -> Path:
    """The project's synthetic clip, written once and read by both sides (its encoding is not bit-reproducible)."""
    from deepshop_core.synthetic import write_clip

    return write_clip(folder / "synthetic.mp4", seconds=2, width=160, height=96)


def hashes(quick: bool, synthetic: Path) -> dict:
    """{variant: {case: [frame hashes]}} for this process's deepshop_core."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        archive = dain_archive(folder)
        jobs = clip_jobs(synthetic, quick)
        result = {}
        for label, name, options in variants(archive is not None):
            if name == "dain":
                options = {"weights": str(archive), "download": False, "device": "cpu"}
            print(f"  {label}", file=sys.stderr, flush=True)
            result[label] = {**pair_hashes(label, name, options, quick), **clip_hashes(name, options, jobs, folder)}
        return result


def at_revision(rev: str, quick: bool, synthetic: Path) -> dict:
    """``hashes`` computed by the code of git revision ``rev`` (this script run inside an export of it)."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "archive", rev], cwd=ROOT, check=True, capture_output=True).stdout
        with tarfile.open(fileobj=__import__("io").BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        out = Path(tmp) / "hashes.json"
        env = {**os.environ, "PYTHONPATH": tmp}
        subprocess.run([sys.executable, str(HERE), "--hashes-only", str(out), "--synthetic", str(synthetic),
                        *(["--quick"] if quick else [])],
                       cwd=tmp, env=env, check=True)
        return json.loads(out.read_text())


def compare(ours: dict, theirs: dict) -> list[str]:
    """One line per case whose frames differ (or that only one side has)."""
    problems = []
    for variant in sorted(set(ours) | set(theirs)):
        a, b = ours.get(variant, {}), theirs.get(variant, {})
        for case in sorted(set(a) | set(b)):
            if a.get(case) != b.get(case):
                x, y = a.get(case) or [], b.get(case) or []
                first = next((i for i, (p, q) in enumerate(zip(x, y)) if p != q), min(len(x), len(y)))
                problems.append(f"{variant} / {case}: {len(x)} vs {len(y)} frames, first difference at frame {first}")
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", metavar="REV", help="compare with the frames of git revision REV")
    parser.add_argument("--quick", action="store_true", help="4 davis22 pairs and one real clip")
    parser.add_argument("--hashes-only", type=Path, metavar="FILE", help=argparse.SUPPRESS)
    parser.add_argument("--synthetic", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path.cwd()))  # tools/ of the tree whose deepshop_core runs (this one or the export)
    if not (TESTDATA / "davis22").exists():
        raise SystemExit(f"needs {TESTDATA} (the project's shared test data)")
    if args.hashes_only:
        args.hashes_only.write_text(json.dumps(hashes(args.quick, args.synthetic)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        return run(args, synthetic_clip(Path(tmp)))


def run(args: argparse.Namespace, synthetic: Path) -> int:
    print("this tree", file=sys.stderr)
    ours = hashes(args.quick, synthetic)
    report = {"variants": {v: {c: len(f) for c, f in cases.items()} for v, cases in ours.items()}}
    status = 0
    if args.against:
        print(f"at {args.against}", file=sys.stderr)
        problems = compare(ours, at_revision(args.against, args.quick, synthetic))
        frames = sum(len(f) for cases in ours.values() for f in cases.values())
        report.update(against=args.against, differences=problems, frames=frames)
        print(f"{frames} frames compared with {args.against}: "
              + ("identical" if not problems else f"{len(problems)} cases differ"))
        for line in problems:
            print(f"  {line}")
        status = 1 if problems else 0
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "identity.json").write_text(json.dumps({**report, "hashes": ours}, indent=1))
    return status


if __name__ == "__main__":
    raise SystemExit(main())
