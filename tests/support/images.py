"""Pictures and picture metrics the tests share: PSNR, a textured test picture, a translation, and a camera pan."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio of two 8-bit pictures, in dB (inf when equal)."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Random RGB texture with features from a few pixels to tens of pixels (like real images), uint8."""
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.float32)
    for sigma in (1.5, 4.0, 12.0):
        noise = rng.random((h, w, 3)).astype(np.float32)
        layer = cv2.GaussianBlur(noise, (0, 0), sigma)
        img += (layer - layer.mean()) / (layer.std() + 1e-6)
    img = (img - img.min()) / (img.max() - img.min())
    return (img * 255 + 0.5).astype(np.uint8)


def shifted(img: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """``img`` translated by (dx, dy) pixels (content moves right/down for positive values)."""
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(img, m, (img.shape[1], img.shape[0]), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


def pan(pictures: Sequence[np.ndarray], speeds: Sequence[float], size: tuple[int, int]) -> list[np.ndarray]:
    """A camera pan: a ``size`` (width, height) window moving across the larger ``pictures`` (one per frame: a still
    or a moving scene) at ``speeds`` pixels a frame, bouncing at the edges, vertically centred (as bench/cuts.py
    builds its pans)."""
    h, w = pictures[0].shape[:2]
    width, height = size
    x, direction, out = 0.0, 1, []
    for picture, speed in zip(pictures, speeds, strict=True):
        x += direction * speed
        if not 0 <= x <= w - width:
            direction = -direction
            x = min(max(x, 0), w - width)
        y = (h - height) // 2
        out.append(np.ascontiguousarray(picture[y:y + height, int(x):int(x) + width]))
    return out
