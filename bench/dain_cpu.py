"""DAIN on CPU: seconds per frame pair and peak memory, with a full-size stand-in of the published network.

The real weights cannot be downloaded here, so the bench builds (once, cached in ``bench/out/``) a stand-in with
the layer sizes of PaddleGAN's DAIN_slowmotion (PWC-DC-Net: pyramid 16-32-64-96-128-196, decoder dense blocks
128-128-96-64-32, context network 128-128-128-96-64-32, 10 correlation ops of 81 channels; refinement
MultipleBasicBlock_4 with 64 channels) and random weights: the same operators on the same tensor sizes, so the
same cost as the real model (see ``tools/dain_standin.py``).

    python bench/dain_cpu.py [--sizes 640x360 1280x720] [--pairs 3] [--weights PATH]

For each size: a fresh worker, one warm-up pair (the executor prepares the program and oneDNN its kernels: reported
apart), then ``--pairs`` timed pairs at t = 0.5 (one model run each). Peak memory is the worker's peak resident set
(VmHWM), which holds Paddle, the program and all activations; the caller's own is reported too.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
from common import ROOT, machine


def scene(w: int, h: int, shift: int, seed: int = 0) -> np.ndarray:
    """A textured frame with a square moved by ``shift`` pixels: realistic enough for timing."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([x / w * 200 + 20, y / h * 200 + 20, (x + y) / (w + h) * 255], -1)
    img += rng.normal(0, 8, img.shape).astype(np.float32)
    s = h // 4
    x0 = w // 3 + shift
    img[h // 3:h // 3 + s, x0:x0 + s] = (240, 60, 40)
    return np.clip(img, 0, 255).astype(np.uint8)


def peak_kib(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", default=["640x360", "1280x720"])
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--weights", help="a DAIN archive or folder (default: build the full-size stand-in)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "out" / "dain_cpu.json"))
    a = ap.parse_args(argv)

    from deepshop_core import engines
    from deepshop_core.engines import dain

    weights = a.weights
    if weights is None:
        weights = ROOT / "bench" / "out" / "dain_standin_full_n1.tar"
        if not weights.exists():
            import subprocess

            t = time.perf_counter()
            subprocess.run([sys.executable, str(ROOT / "tools" / "dain_standin.py"), str(weights), "--size", "full",
                            "--n", "1"], check=True, stdout=subprocess.DEVNULL)
            print(f"built the full-size stand-in {weights} in {time.perf_counter() - t:.1f} s")
    results = []
    for size in a.sizes:
        w, h = (int(v) for v in size.split("x"))
        dain.shutdown_worker()  # a fresh worker: a clean memory peak per size
        t = time.perf_counter()
        eng = engines.load("dain", weights=weights, device="cpu")
        load_s = time.perf_counter() - t
        pid = dain.worker_pid()
        f0, f1 = scene(w, h, 0), scene(w, h, max(2, w // 100))
        t = time.perf_counter()
        eng.interpolate(f0, f1, [0.5])
        warm_s = time.perf_counter() - t
        before = dict(eng.stats.seconds)
        per = []
        for i in range(a.pairs):
            t = time.perf_counter()
            eng.interpolate(f0, f1, [0.5])
            per.append(time.perf_counter() - t)
        stages = {k: (eng.stats.seconds[k] - before.get(k, 0.0)) / a.pairs for k in ("pad", "run", "crop", "transfer")}
        row = {
            "size": f"{w}x{h}", "padded": f"{w + sum(dain_pads(w))}x{h + sum(dain_pads(h))}",
            "load_s": round(load_s, 2), "first_pair_s": round(warm_s, 2),
            "s_per_pair_mean": round(float(np.mean(per)), 2), "s_per_pair_min": round(float(np.min(per)), 2),
            "stages_s": {k: round(v, 3) for k, v in stages.items()},
            "worker_peak_rss_mib": round((peak_kib(pid) or 0) / 1024),
            "caller_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "correlation_ops_rewritten": eng.correlation_rewritten, "onednn_convs": eng.onednn_convs,
        }
        eng.close()
        results.append(row)
        print(f"{row['size']:>9} (padded {row['padded']}): {row['s_per_pair_mean']:.2f} s/pair "
              f"(min {row['s_per_pair_min']:.2f}; first pair {row['first_pair_s']:.1f} s, load {row['load_s']:.1f} s); "
              f"worker peak RSS {row['worker_peak_rss_mib']} MiB; stages {row['stages_s']}", flush=True)
    dain.shutdown_worker()
    info = {"machine": machine(), "python": platform.python_version(),
            "weights": str(weights), "pairs": a.pairs, "results": results}
    try:
        from importlib.metadata import version

        info["paddlepaddle"] = version("paddlepaddle")
    except Exception:  # noqa: BLE001
        pass
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(info, indent=2))
    print(f"wrote {a.out}")
    return 0


def dain_pads(n: int):
    from deepshop_core.engines.dain.timemap import pad_amounts

    return pad_amounts(n)


if __name__ == "__main__":
    sys.exit(main())
