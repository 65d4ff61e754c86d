"""Interpolation quality on the Middlebury "other" set: every engine and the baselines, measured in one run.

    python bench/quality.py [--middlebury PATH] [--methods WORD ...] [--dain-weights PATH] [--pair-speed]

For each of the 12 sequences, the frame at t=0.5 between frame10 and frame11 is compared with the ground truth
frame10i11 (the standard protocol). Metrics, averaged per image over the 12 sequences:

- PSNR (dB) on 8-bit RGB, MSE over all pixels and channels;
- SSIM: Wang et al. 2004, Gaussian window 11x11 sigma 1.5, K1=0.01, K2=0.03, L=255, computed on each RGB channel
  over the full image ('valid' border of 5 px dropped) and averaged over the channels;
- IE: mean absolute error over all pixels and channels (the convention of the DAIN/RIFE/IFRNet code; not the RMS of
  the online Middlebury table);
- ms per pair: wall time of the method for one pair and one time (ffmpeg: whole process, start-up included).

Methods: the engines (``blend``, which is the frame average; ``flow`` at each preset; ``dain`` when real weights are
found in deepshop_core.weights' search order, else skipped with a note) and the baselines: repeat frame10;
ffmpeg ``minterpolate=mi_mode=mci`` (imageio-ffmpeg's binary; frame10, frame11, frame11 as a lossless 1 fps rgb24
stream, minterpolated to 2 fps: output frame 1 is t=0.5; output frames 0 and 2 are checked to equal frame10 and
frame11 up to the filter's internal YUV round trip); plain OpenCV DIS (medium) flow on gray both ways, each frame
warped halfway bilinearly with the quadratic intermediate-flow approximation (F_t0 = (F10 - F01) / 4 at t=0.5) and
averaged.

--pair-speed adds a developer's micro-benchmark: per-pair time of the flow engine (3 times per pair: 0.25, 0.5,
0.75) at 640x360 and 1280x720 on consecutive frames of ../shared/testdata/videos/cockatoo.mp4 (resized; a synthetic
pan when absent), best of several rounds and median, CPU time, with the engine's per-stage split (flow / warp /
blend). Other processes on the machine inflate the numbers: a reference (OpenCV DIS medium both ways, whose quiet
time FACTS.md gives) is timed in the same rounds, and the "quiet estimate" rescales by it. (End-to-end speed is
bench/speed.py.)

Writes quality.json (with the machine) and quality.md to --out (default bench/out, ignored by git).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time
from pathlib import Path

import cv2
import numpy as np
from common import OUT, PRESETS, TESTDATA, dain_weights, describe, engine_variants, machine, table, write_results

from deepshop_core import engines

SEQUENCES = ["Beanbags", "Dimetrodon", "DogDance", "Grove2", "Grove3", "Hydrangea", "MiniCooper", "RubberWhale",
             "Urban2", "Urban3", "Venus", "Walking"]


# ---------------------------------------------------------------------------------------------------- metrics
def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def ie(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.abs(a.astype(np.float64) - b.astype(np.float64))))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM (Wang et al. 2004; Gaussian 11x11, sigma 1.5), per RGB channel, averaged over the channels."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    vals = []
    for ch in range(a.shape[2]):
        x = a[..., ch].astype(np.float64)
        y = b[..., ch].astype(np.float64)

        def filt(img):
            return cv2.GaussianBlur(img, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)[5:-5, 5:-5]

        mx, my = filt(x), filt(y)
        sxx = filt(x * x) - mx * mx
        syy = filt(y * y) - my * my
        sxy = filt(x * y) - mx * my
        m = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
        vals.append(m.mean())
    return float(np.mean(vals))


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


def engine_method(name, **options):
    engine = engines.load(name, **options)

    def run(f0, f1):
        return engine.interpolate(f0, f1, [0.5])[0]

    run.engine = engine
    return run


LABELS = {"blend": "frame average (`blend` engine)", "flow fast": "Deepshop flow, fast",
          "flow balanced": "Deepshop flow, balanced (default)", "flow best": "Deepshop flow, best",
          "dain": "DAIN (PaddleGAN weights)", "minterpolate": "ffmpeg minterpolate (mi_mode=mci)",
          "dis linear": "OpenCV DIS (medium) flow, linear warp + average", "repeat": "repeat frame10"}


def methods(selected, dain: str | None) -> dict:
    """id -> (kind, function): the baselines and every engine variant (engines are loaded lazily)."""
    table = {"repeat": ("baseline", lambda: repeat), "minterpolate": ("baseline", lambda: minterpolate),
             "dis linear": ("baseline", lambda: dis_linear)}
    for label, name, options in engine_variants(dain):
        table[label] = ("engine", lambda name=name, options=options: engine_method(name, **options))
    if selected:
        table = {k: v for k, v in table.items() if any(s.lower() in k.lower() for s in selected)}
    return table


# ---------------------------------------------------------------------------------------------------- quality
def evaluate(middlebury: Path, selected, dain: str | None) -> dict:
    data = []
    for seq in SEQUENCES:
        d = middlebury / "other-data" / seq
        g = middlebury / "other-gt-interp" / seq / "frame10i11.png"
        data.append((seq, read_rgb(d / "frame10.png"), read_rgb(d / "frame11.png"), read_rgb(g)))
    results = {}
    for key, (kind, make) in methods(selected, dain).items():
        fn = make()
        fn(data[0][1], data[0][2])  # warm-up (imports, allocations)
        rows = {}
        for seq, f0, f1, gt in data:
            t0 = time.perf_counter()
            out = fn(f0, f1)
            ms = (time.perf_counter() - t0) * 1000
            assert out.shape == gt.shape and out.dtype == np.uint8, (key, seq, out.shape, out.dtype)
            rows[seq] = {"psnr": psnr(out, gt), "ssim": ssim(out, gt), "ie": ie(out, gt), "ms": ms}
        if hasattr(fn, "engine"):
            fn.engine.close()
        mean = {k: float(np.mean([r[k] for r in rows.values()])) for k in ("psnr", "ssim", "ie", "ms")}
        results[key] = {"label": LABELS.get(key, key), "kind": kind, "mean": mean, "sequences": rows}
        print(f"  {key:14s} {mean['psnr']:6.2f} dB  SSIM {mean['ssim']:.3f}  IE {mean['ie']:.2f}  "
              f"{mean['ms']:7.1f} ms", flush=True)
    return results


# ---------------------------------------------------------------------------------------------------- speed
def speed_frames(n: int) -> list[np.ndarray]:
    path = TESTDATA / "videos" / "cockatoo.mp4"
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


def speed(rounds: int = 3, pairs: int = 6) -> dict:
    """Per-pair wall and CPU time of each preset, and of a reference (DIS medium both ways) taken in the same run.

    FACTS.md measured the reference on a quiet machine of this kind: 22.6 ms at 640x360, 86.6 ms at 1280x720.
    When other processes load the machine, ``ref_ms`` grows with them and ``quiet_estimate_ms`` (wall time scaled
    by quiet reference / measured reference) estimates the time on a quiet machine."""
    frames = speed_frames(pairs + 1)
    times = [0.25, 0.5, 0.75]
    quiet_ref = {(640, 360): 22.6, (1280, 720): 86.6}
    out = {}
    for w, h in ((640, 360), (1280, 720)):
        fs = [f if f.shape[1] == w else cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in frames]
        gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in fs]
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        loaded = {p: engines.load("flow", preset=p) for p in PRESETS}
        for e in loaded.values():
            e.interpolate(fs[0], fs[1], times)  # warm-up
        ref = []
        wall = {p: [] for p in PRESETS}
        cpu = {p: [] for p in PRESETS}
        stages = {}
        for _ in range(rounds):  # interleaved, so that the reference and the presets see the same load
            t0 = time.perf_counter()
            for i in range(pairs):
                dis.calc(gray[i], gray[i + 1], None)
                dis.calc(gray[i + 1], gray[i], None)
            ref.append((time.perf_counter() - t0) * 1000 / pairs)
            for p, engine in loaded.items():
                engine.reset_stats()
                t0, c0 = time.perf_counter(), time.process_time()
                for i in range(pairs):
                    engine.interpolate(fs[i], fs[i + 1], times)
                wall[p].append((time.perf_counter() - t0) * 1000 / pairs)
                cpu[p].append((time.process_time() - c0) * 1000 / pairs)
                if wall[p][-1] == min(wall[p]):
                    stages[p] = {k: engine.stats[k] * 1000 / pairs for k in ("flow", "warp", "blend")}
        ref_ms = min(ref)
        factor = quiet_ref[(w, h)] / ref_ms
        print(f"  {w}x{h}: reference DIS medium both ways {ref_ms:.1f} ms (quiet machine: {quiet_ref[(w, h)]} ms)")
        for p, engine in loaded.items():
            fh, fw = engine.flow_size(h, w)
            key = f"{p} {w}x{h}"
            out[key] = {"best_ms": min(wall[p]), "median_ms": statistics.median(wall[p]), "cpu_ms": min(cpu[p]),
                        "ref_ms": ref_ms, "quiet_estimate_ms": min(wall[p]) * factor, "stages_ms": stages[p],
                        "flow_size": f"{fw}x{fh}", "warp": engine.warp_kind(h, w)}
            st = stages[p]
            print(f"    {p:9s} {min(wall[p]):7.1f} ms/pair (median {statistics.median(wall[p]):.1f}, cpu "
                  f"{min(cpu[p]):.1f}, quiet estimate {min(wall[p]) * factor:.1f})  "
                  + "  ".join(f"{k} {v:.1f}" for k, v in st.items())
                  + f"  [flow at {fw}x{fh}, {out[key]['warp']} warp]", flush=True)
            engine.close()
    return out


# ---------------------------------------------------------------------------------------------------- report
def markdown(results: dict, speeds: dict | None) -> str:
    rows = [[r["label"], f"{r['mean']['psnr']:.2f}", f"{r['mean']['ssim']:.3f}", f"{r['mean']['ie']:.2f}",
             f"{r['mean']['ms']:.1f}"] for r in results.values()]
    lines = [table(["method", "PSNR dB", "SSIM", "IE", "ms per pair"], rows)]
    key = "flow balanced" if "flow balanced" in results else next((k for k in results if k.startswith("flow")), None)
    if key:
        lines += ["", f"Per-sequence PSNR dB, {key}:", "",
                  table(SEQUENCES, [[f"{results[key]['sequences'][s]['psnr']:.2f}" for s in SEQUENCES]])]
    if speeds:
        note = ("Flow engine per pair, 3 times per pair (0.25/0.5/0.75), ms, best of rounds; 'quiet est.' scales by "
                "the reference (DIS medium both ways, same run) against its time on a quiet machine:")
        rows = [[k, f"{s['best_ms']:.1f}", f"{s['median_ms']:.1f}", f"{s['cpu_ms']:.1f}",
                 f"{s['quiet_estimate_ms']:.1f}", *(f"{s['stages_ms'][k]:.1f}" for k in ("flow", "warp", "blend")),
                 f"{s['ref_ms']:.1f}", s["flow_size"], s["warp"]] for k, s in speeds.items()]
        lines += ["", note, "", table(["preset size", "per pair", "median", "cpu", "quiet est.", "flow", "warp",
                                       "blend", "ref", "flow at", "warp"], rows)]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--middlebury", type=Path, default=TESTDATA / "middlebury")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--methods", nargs="*", help="only methods whose name contains one of these words")
    ap.add_argument("--dain-weights", help="DAIN weights (archive or folder); default: deepshop's search order")
    ap.add_argument("--pair-speed", action="store_true", help="also time the flow engine per pair (see above)")
    ap.add_argument("--rounds", type=int, default=3, help="--pair-speed: rounds of 6 pairs per preset and size")
    args = ap.parse_args(argv)
    if not (args.middlebury / "other-data").is_dir():
        raise SystemExit(f"no Middlebury set at {args.middlebury} (expected other-data/ and other-gt-interp/)")
    dain, dain_note = dain_weights(args.dain_weights)
    print(f"Middlebury 'other', t=0.5, {len(SEQUENCES)} sequences; {describe(machine())}, "
          f"OpenCV {cv2.__version__}, {cv2.getNumThreads()} threads\n{dain_note}")
    results = evaluate(args.middlebury, args.methods, dain)
    speeds = None
    if args.pair_speed:
        print("Flow engine speed, 3 times per pair:")
        speeds = speed(rounds=args.rounds)
    md = markdown(results, speeds)
    print()
    print(md)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "quality.md").write_text(md)
    write_results("quality", results, args.out, dain_note=dain_note, pair_speed=speeds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
