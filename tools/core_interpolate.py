"""Core ComfyUI's own frame interpolation on frames from a file: its loader (FrameInterpolationModelLoader, which
detects RIFE 4.x or FILM and picks the dtype) and FrameInterpolate, called as a workflow calls them. The reference
for Deepshop's rife and film engines (tests/test_learned_equivalence.py) and the baseline of bench/gpu.py.

Runs inside a test ComfyUI 0.33's own venv, beside its ComfyUI tree (``tests/comfyui/setup_env.sh 0.33.0``):

    <comfyui venv>/bin/python tools/core_interpolate.py --comfy <ComfyUI dir> WEIGHTS IN.npz OUT.npz \
        [--multiplier 4] [--device cpu|cuda] [--runs 1] [--no-frames]

IN.npz holds ``frames`` (N x H x W x 3 uint8), made floats in 0..1 exactly as Deepshop's engines make them. OUT.npz
gets ``frames`` ((N - 1) x multiplier + 1 of them, rounded to uint8 as Deepshop's engines round), ``seconds`` (the
wall time of each FrameInterpolate run; the first also moves the weights to the device), ``peak_bytes``
(``torch.cuda.max_memory_allocated``, 0 on the CPU) and ``dtype`` (what core's loader chose).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("weights", type=Path)
    parser.add_argument("src", type=Path)
    parser.add_argument("dst", type=Path)
    parser.add_argument("--comfy", type=Path, required=True, help="the ComfyUI source tree")
    parser.add_argument("--multiplier", type=int, default=4)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--runs", type=int, default=1, help="FrameInterpolate runs (timing: the first warms up)")
    parser.add_argument("--no-frames", action="store_true", help="keep only the timings (large outputs)")
    args = parser.parse_args()
    # this venv's ComfyUI tree is not an installed package: its folder on the path is how ComfyUI's main.py itself
    # makes comfy importable
    sys.path.insert(0, str(args.comfy))
    import torch
    from comfy.cli_args import args as comfy_args

    comfy_args.cpu = args.device == "cpu"  # before comfy.model_management is imported
    import folder_paths
    from comfy_extras.nodes_frame_interpolation import FrameInterpolate, FrameInterpolationModelLoader

    folder_paths.add_model_folder_path("frame_interpolation", str(args.weights.resolve().parent), is_default=True)
    patcher = FrameInterpolationModelLoader.execute(args.weights.name).result[0]
    frames = np.load(args.src)["frames"]
    images = torch.from_numpy(frames).to(torch.float32).mul_(1.0 / 255.0)  # as Deepshop's engines scale frames
    seconds, result = [], None
    if args.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    for _ in range(args.runs):
        started = time.perf_counter()
        result = FrameInterpolate.execute(patcher, images, args.multiplier).result[0]
        if args.device == "cuda":
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - started)
    peak = torch.cuda.max_memory_allocated() if args.device == "cuda" else 0
    out = {"seconds": np.array(seconds), "peak_bytes": np.array(peak), "dtype": np.array(str(patcher.model_dtype()))}
    if not args.no_frames:
        out["frames"] = (result.float().clamp(0, 1) * 255.0).round().to(torch.uint8).cpu().numpy()
    np.savez(args.dst, **out)
    print(f"{args.weights.name}: {patcher.model.__class__.__name__} {patcher.model_dtype()}, {len(frames)} frames "
          f"x{args.multiplier}: {', '.join(f'{s:.2f}' for s in seconds)} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
