"""Acceleration-aware (quadratic) motion over four frames: QVI's motion model, on DIS flows.

Inside a clip the pair (frame 0, frame 1) has neighbours: frame -1 before it and frame 2 after it, evenly spaced.
With the flows F0->1 and F0->-1 a pixel y of frame 0 has velocity v = (F01 - F0-1) / 2 and acceleration
a0 = F01 + F0-1, and sits at time t (0..1) at y + t F01 + (t^2 - t) / 2 a0 (F01 at t = 1, F0-1 at t = -1); likewise
from frame 1 with F1->0, F1->2 and a1 = F10 + F12, backwards in time. Linear motion is a = 0. The neighbour flows
come free in a clip: F0->-1 is the previous pair's F10 and F1->2 the next pair's F01 (the engine keeps them).

Guard: DIS flows are noisy, and an acceleration is the sum of two of them; a camera shake or a flapping wing
changes velocity from frame to frame without any smooth curve. Where the acceleration measured at frame 0 and the
one measured at frame 1 (where the pixel's motion lands) disagree by more than their mean size (plus ``_FLOOR``
px), motion there is no smooth curve and stays linear (a = 0). The measurements behind these choices are in
docs/flow-engine.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .motion import Anchored
from .sampling import BORDER, sample

_TOLERANCE = 1.0  # |a0 - a1| allowed, as a fraction of (|a0| + |a1|) / 2 ...
_FLOOR = 0.25     # ... plus this many selection-grid pixels


@dataclass(frozen=True, eq=False)
class Acceleration:
    """Per-pixel acceleration at each end of a pair (HxWx2 float32, selection-grid pixels per pair interval^2),
    zero where the two ends disagree (motion that is no smooth curve)."""

    at0: np.ndarray  # of frame 0's pixels: F01 + F0->-1
    at1: np.ndarray  # of frame 1's pixels: F10 + F1->2


def measure(f01: np.ndarray, f10: np.ndarray, f0_prev: np.ndarray, f1_next: np.ndarray,
            grid: np.ndarray) -> Acceleration:
    """The guarded accelerations of the pair from its flows and its neighbours' (``f0_prev`` = F0->-1,
    ``f1_next`` = F1->2); ``grid``: the pixel coordinates (HxWx2)."""
    a0 = cv2.add(f01, f0_prev)
    a1 = cv2.add(f10, f1_next)
    # each end's acceleration against the other's where the pixel's motion lands
    keep0 = _consistent(a0, sample(a1, grid, f01))
    keep1 = _consistent(a1, sample(a0, grid, f10))
    return Acceleration(a0 * keep0[..., None], a1 * keep1[..., None])


def quadratic_bases(f01: np.ndarray, f10: np.ndarray, acc: Acceleration, t: float, grid: np.ndarray,
                    iters: int) -> list[Anchored]:
    """The trajectories through each pixel at time t on the quadratic curves, anchored in frame 0 and in frame 1
    (with zero acceleration, `motion.linear_bases`)."""
    s = 1.0 - t
    g0, g1 = _through(cv2.addWeighted(f01, t, acc.at0, (t * t - t) / 2, 0.0), f01, grid, iters)
    h1, h0 = _through(cv2.addWeighted(f10, s, acc.at1, (s * s - s) / 2, 0.0), f10, grid, iters)
    return [Anchored(g0, g1, True), Anchored(h0, h1, False)]


def _through(d: np.ndarray, f: np.ndarray, grid: np.ndarray, iters: int) -> tuple[np.ndarray, np.ndarray]:
    """For the anchor's displacement ``d`` to time t and its flow ``f`` to the other frame: per pixel x the flow G
    back to the anchor pixel y = x + G whose curve passes x (G = -d(y), fixed-point iteration from G = -d(x)), and
    the flow to the other frame along that same curve, f(y) - d(y) (so the curve passes x whether or not the
    iteration converged, as the linear trajectories do)."""
    both = cv2.merge([d, f])  # one 4-channel remap reads d and f at y together
    xs, ys = (cv2.extractChannel(grid, c) for c in (0, 1))
    dx, dy = (cv2.extractChannel(d, c) for c in (0, 1))
    for _ in range(max(1, iters)):
        # the map y = x + G = x - d(y), from the channels as read (cv2.extractChannel: a fraction of the cost of
        # numpy's strided slices or cv2.split)
        read = cv2.remap(both, cv2.subtract(xs, dx), cv2.subtract(ys, dy), cv2.INTER_LINEAR, borderMode=BORDER)
        dx, dy = (cv2.extractChannel(read, c) for c in (0, 1))
    fx, fy = (cv2.extractChannel(read, c) for c in (2, 3))
    return cv2.merge([dx, dy]) * -1.0, cv2.merge([cv2.subtract(fx, dx), cv2.subtract(fy, dy)])


def _consistent(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """1.0 where |a - b| <= _TOLERANCE (|a| + |b|) / 2 + _FLOOR, else 0.0 (HxW float32)."""
    diff = cv2.subtract(a, b)
    size = cv2.magnitude(a[..., 0], a[..., 1]) + cv2.magnitude(b[..., 0], b[..., 1])
    return (cv2.magnitude(diff[..., 0], diff[..., 1]) <= size * (_TOLERANCE / 2) + _FLOOR).astype(np.float32)
