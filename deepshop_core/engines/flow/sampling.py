"""Pixel grids and bilinear sampling along a flow: the steps motion, acceleration and render share."""

from __future__ import annotations

import cv2
import numpy as np

BORDER = cv2.BORDER_REPLICATE


def pixel_grid(height: int, width: int, scale: int = 1) -> np.ndarray:
    """Pixel coordinates (x, y) times ``scale`` as one HxWx2 float32 array, the form cv2.remap takes as one map."""
    xy = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return cv2.merge(xy) * np.float32(scale)


def fixed_map(grid: np.ndarray, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The remap map x + f(x) in fixed point (1/32 px, what remap uses internally anyway: ~2x faster remap)."""
    return cv2.convertMaps(cv2.add(grid, f), None, cv2.CV_16SC2)


def remap(img: np.ndarray, fixed: tuple[np.ndarray, np.ndarray], dst: np.ndarray | None = None) -> np.ndarray:
    """``img`` (1 to 4 channels) sampled along a fixed-point map, bilinear, border replicated."""
    return cv2.remap(img, fixed[0], fixed[1], cv2.INTER_LINEAR, dst=dst, borderMode=BORDER)


def sample(img: np.ndarray, grid: np.ndarray, f: np.ndarray) -> np.ndarray:
    """``img`` (float32) sampled at x + f(x) (``grid``: the pixel coordinates x), bilinear, border replicated;
    float maps: exact positions, and for float images faster than fixed point."""
    return cv2.remap(img, cv2.add(grid, f), None, cv2.INTER_LINEAR, borderMode=BORDER)
