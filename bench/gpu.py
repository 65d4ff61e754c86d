"""The learned engines on a CUDA GPU against core ComfyUI's FrameInterpolate on the same GPU, in the same run.

    python bench/gpu.py [--frames 24] [--rife PATH] [--film PATH] [--comfy DIR] [--comfy-python PATH]

At 1280x720 and 1920x1080, 4x (each pair at t = 0.25, 0.5, 0.75), for ``rife`` (the real RIFE 4.2x file of
tools/real_weights.py, or --rife) and ``film`` (--film, else a stand-in with random weights from
tools/learned_standin.py: the same network, so the same cost), precision auto (fp16 on CUDA, as core's loader picks):

- engine: Deepshop's engine on decoded frames in memory (what core's node does), output frames per second;
- end to end: ``slow_motion(clip, smooth=True, factor=4)`` with that engine (decode, interpolation, H.264 encode);
- core: tools/core_interpolate.py (core's loader and FrameInterpolate, ComfyUI 0.33 from --comfy) on the same frames,
  with the same file, in --comfy-python (a Python with a CUDA torch and ComfyUI's requirements; default: this one);
  its second run (the first also moves the weights to the GPU; its GPU utilisation is sampled over the whole
  process, start-up included, so it reads low). Skipped with the reason when it cannot run.

Each row: output frames per second, GPU utilisation (``nvidia-smi`` sampled every 0.2 s during the run, mean) and
peak memory (``torch.cuda.max_memory_allocated`` of the process). Also, for rife at 720p, fp16 against fp32 (PSNR of
the fp16 frames against the fp32 ones): whether fp16 keeps the quality. The clips are the project's synthetic scene
(deepshop_core.synthetic), so nothing from ../shared is needed. Without a CUDA GPU it says so and exits 0: ready,
waiting for a GPU. Writes bench/out/gpu.json.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from common import OUT, ROOT, describe, machine, rife42_weights, table, write_results

from deepshop_core import engines, slow_motion, synthetic
from deepshop_core.media.decode import read_frames

SIZES = ((1280, 720), (1920, 1080))
FACTOR = 4
TIMES = [k / FACTOR for k in range(1, FACTOR)]
COMFY = Path(os.environ.get("DEEPSHOP_COMFYUI_0_33_0_DIR") or ROOT / ".cache" / "comfyui-0.33.0") / "ComfyUI"


class GpuSampler:
    """Mean GPU utilisation (%) over a ``with`` block, from ``nvidia-smi`` every 0.2 s (None without it)."""

    def __init__(self, index: int = 0):
        self.index, self.samples, self._stop = index, [], threading.Event()

    def __enter__(self):
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            try:
                line = subprocess.run(["nvidia-smi", "-i", str(self.index), "--query-gpu=utilization.gpu",
                                       "--format=csv,noheader,nounits"], capture_output=True, text=True, timeout=5)
                self.samples.append(float(line.stdout.strip().splitlines()[0]))
            except (OSError, subprocess.SubprocessError, ValueError, IndexError):
                return
            self._stop.wait(0.2)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def mean(self) -> float | None:
        return float(np.mean(self.samples)) if self.samples else None


def measured(run, frames_out, device: str) -> dict:
    """Run ``run()`` on ``device``: output frames per second (``frames_out``: a count, or a function of what ``run``
    returned), mean GPU utilisation, peak memory."""
    import torch

    gpu = device.startswith("cuda")
    if gpu:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    with GpuSampler() as sampler:
        started = time.perf_counter()
        returned = run()
        if gpu:
            torch.cuda.synchronize()
        seconds = time.perf_counter() - started
    count = frames_out(returned) if callable(frames_out) else frames_out
    return {"fps": count / seconds, "seconds": seconds, "gpu_util": sampler.mean if gpu else None,
            "peak_mib": torch.cuda.max_memory_allocated() / 2**20 if gpu else None}


def engine_rows(kind: str, weights: str, clip: Path, frames: list[np.ndarray], out: Path, device: str) -> dict:
    """The engine on frames in memory, then end to end on the clip."""
    rows = {}
    with engines.load(kind, weights=weights, device=device) as engine:
        engine.interpolate(frames[0], frames[1], TIMES)  # warm-up: kernels chosen, weights on the device

        def in_memory():
            for a, b in zip(frames, frames[1:]):
                engine.interpolate(a, b, TIMES)

        rows["engine"] = {**measured(in_memory, (len(frames) - 1) * len(TIMES), device), "dtype": str(engine.dtype)}
        rows["end to end"] = measured(lambda: slow_motion(clip, out, smooth=True, factor=FACTOR, engine=engine,
                                                          audio="none", overwrite=True),
                                      lambda result: result.frames_out, device)
    return rows


def core_row(python: str, comfy: Path, weights: str, frames: list[np.ndarray], tmp: Path, device: str) -> dict:
    """Core's FrameInterpolate on the same frames and file, its second (warm) run."""
    src, dst = tmp / "core_in.npz", tmp / "core_out.npz"
    np.savez(src, frames=np.stack(frames))
    with GpuSampler() as gpu:
        done = subprocess.run([python, str(ROOT / "tools" / "core_interpolate.py"), weights, str(src), str(dst),
                               "--comfy", str(comfy), "--multiplier", str(FACTOR), "--device", device.split(":")[0],
                               "--runs", "2", "--no-frames"], capture_output=True, text=True)
    if done.returncode != 0:
        return {"skipped": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    res = np.load(dst)
    # the interpolated frames only, as the engine rows count them (core also copies the sources through)
    return {"fps": (len(frames) - 1) * len(TIMES) / float(res["seconds"][-1]), "seconds": float(res["seconds"][-1]),
            "gpu_util": gpu.mean, "peak_mib": float(res["peak_bytes"]) / 2**20 or None, "dtype": str(res["dtype"])}


def fp16_check(weights: str, frames: list[np.ndarray], device: str) -> dict:
    """RIFE in fp16 against fp32 on the same pairs: PSNR of fp16's frames against fp32's, largest difference."""
    made = {}
    for precision in ("fp32", "fp16"):
        with engines.load("rife", weights=weights, device=device, precision=precision) as engine:
            made[precision] = [m for a, b in zip(frames[:6], frames[1:7]) for m in engine.interpolate(a, b, TIMES)]
    a = np.stack(made["fp32"]).astype(np.float64)
    b = np.stack(made["fp16"]).astype(np.float64)
    mse = float(np.mean((a - b) ** 2))
    return {"psnr_fp16_vs_fp32": float("inf") if mse == 0 else float(10 * np.log10(255**2 / mse)),
            "max_diff": int(np.abs(a - b).max()), "size": f"{frames[0].shape[1]}x{frames[0].shape[0]}",
            "frames": len(made["fp16"])}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=24, help="source frames per clip")
    parser.add_argument("--rife", help="a RIFE 4.x file (default: the real RIFE 4.2x of tools/real_weights.py)")
    parser.add_argument("--film", help="a FILM file (default: a stand-in with random weights)")
    parser.add_argument("--comfy", type=Path, default=COMFY, help="ComfyUI 0.33's tree (tests/comfyui/setup_env.sh)")
    parser.add_argument("--comfy-python", default=sys.executable, help="runs core (CUDA torch, ComfyUI's requirements)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--cpu-check", action="store_true",
                        help="run the whole script on the CPU at 160x96 (checks the script; the figures mean nothing)")
    args = parser.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("no torch here (pip install 'deepshop[torch]' with a CUDA build): bench/gpu.py is ready, waiting.")
        return 0
    if not torch.cuda.is_available() and not args.cpu_check:
        print(f"no CUDA GPU here (torch {torch.__version__}, CUDA {torch.version.cuda}): nothing measured. "
              "bench/gpu.py is ready, waiting for a GPU.")
        return 0
    device, sizes = ("cpu", ((160, 96),)) if args.cpu_check else ("cuda:0", SIZES)
    name = "cpu (--cpu-check)" if args.cpu_check else torch.cuda.get_device_name(0)
    print(f"{describe(machine())}; {name}, torch {torch.__version__}")
    rife = args.rife or rife42_weights()[0]
    film = args.film or str(args.out / "film_standin.safetensors")
    if not args.film and not Path(film).exists():
        subprocess.run([sys.executable, "-m", "tools.learned_standin", film, "--kind", "film"], cwd=ROOT, check=True)
    models = {"rife": rife, "film": film}
    results, notes = {}, [f"film: {'random weights (stand-in)' if not args.film else args.film}"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for width, height in sizes:
            clip = synthetic.write_clip(tmp / f"clip_{height}p.mp4", seconds=args.frames / 25, width=width,
                                        height=height, audio=False, format="lossless")
            frames = list(read_frames(clip))
            for kind, weights in models.items():
                if weights is None:
                    notes.append(f"{kind} skipped: no weights")
                    continue
                key = f"{kind} {height}p"
                results[key] = engine_rows(kind, weights, clip, frames, tmp / "out.mp4", device)
                results[key]["core"] = core_row(args.comfy_python, args.comfy, weights, frames, tmp, device)
                print(key, results[key], flush=True)
            if (height == 720 or args.cpu_check) and rife:
                results["rife fp16 check"] = fp16_check(rife, frames, device)
                print(results["rife fp16 check"], flush=True)
    print(report(results, notes))
    write_results("gpu_cpu_check" if args.cpu_check else "gpu", results, args.out, device=name, notes=notes)
    return 0


def report(results: dict, notes: list[str]) -> str:
    def cell(row: dict, field: str, fmt: str) -> str:
        value = row.get(field)
        return "-" if value is None else format(value, fmt)

    rows = [[key, side, row.get("skipped", cell(row, "fps", ".1f")), cell(row, "gpu_util", ".0f"),
             cell(row, "peak_mib", ".0f"), row.get("dtype", "-")]
            for key, sides in results.items() if key != "rife fp16 check" for side, row in sides.items()]
    lines = [table(["model", "run", "output fps", "GPU %", "peak MiB", "dtype"], rows)]
    if "rife fp16 check" in results:
        check = results["rife fp16 check"]
        lines.append(f"rife fp16 against fp32 ({check['size']}, {check['frames']} frames): PSNR "
                     f"{check['psnr_fp16_vs_fp32']:.2f} dB, largest difference {check['max_diff']} levels")
    return "\n\n".join(lines + [f"- {n}" for n in notes])


if __name__ == "__main__":
    raise SystemExit(main())
