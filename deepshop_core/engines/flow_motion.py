"""Acceleration-aware (quadratic) motion over four frames, for the flow engine (QVI's motion model, on DIS flows).

Inside a clip the pair (frame 0, frame 1) has neighbours: frame -1 before it and frame 2 after it, evenly spaced.
With the flows F0->1 and F0->-1 a pixel y of frame 0 has velocity v = (F01 - F0-1) / 2 and acceleration
a0 = F01 + F0-1, and sits at time t (0..1) at y + t F01 + (t^2 - t) / 2 a0 (F01 at t = 1, F0-1 at t = -1); likewise
from frame 1 with F1->0, F1->2 and a1 = F10 + F12, backwards in time. Linear motion is a = 0.

The neighbour flows come free in a clip: F0->-1 is the previous pair's F10 and F1->2 the next pair's F01 (the
engine keeps the last pairs, `FlowEngine._recent_pair`).

Guard: DIS flows are noisy, and an acceleration is the sum of two of them; on real footage a camera shake or a
flapping wing changes velocity from frame to frame without any smooth curve. Where the acceleration measured at
frame 0 and the one measured at frame 1 (where the pixel's motion lands) disagree by more than their mean size
(plus ``_FLOOR`` px), motion there is not a smooth curve and stays linear (a = 0).

Measured on the real-footage half-rate set of bench/quality.py (48 triplets, 29 with both neighbours; balanced,
t = 0.5), against the two-frame engine (31.94 dB): quadratic trajectories replacing the linear ones, with this guard
+0.16 dB (15 triplets up, 6 down; on a 78-triplet draw of the same clips, ``--places 13``, +0.32 dB; fast and best
+0.10 and +0.16); without the guard -0.01 (handheld realshort and carphone lose up to 2 dB where DIS's noise reads
as acceleration); tolerance 0.8 / 1.5, floor 0.5, or the acceleration shrunk to 0.75x / 0.5x: +0.12 / +0.14, +0.14,
+0.14 / +0.11; a smoothed (Gaussian sigma 3) or global (median) acceleration +0.06 / -0.02 (with a stricter guard);
quadratic trajectories as extra candidates beside the linear ones, not instead: +0.05 against +0.07 replacing (same
stricter guard: the photometric choice picks wrong curves that happen to match); the neighbours' constant velocity
(-F0->-1, -F1->2) as two more candidates: +0.19 on the 48 but +0.29 against +0.32 on the 78, so not kept; one
neighbour only (one end quadratic, the other linear): -0.86 and -1.25 dB at the first pairs of cockatoo and
skv_bikes, so both neighbours or none. The target of issue 12 (+1.0 dB over v0.1.0's 31.70) is not reached: 32.10.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .sampling import BORDER as _BORDER
from .sampling import sample as _sample

_TOLERANCE = 1.0  # |a0 - a1| allowed, as a fraction of (|a0| + |a1|) / 2 ...
_FLOOR = 0.25     # ... plus this many selection-grid pixels


@dataclass(frozen=True)
class Acceleration:
    """Per-pixel acceleration at each end of a pair (HxWx2 float32, selection-grid pixels per pair interval^2),
    zero where the two ends disagree (motion that is no smooth curve)."""

    at0: np.ndarray  # of frame 0's pixels: F01 + F0->-1
    at1: np.ndarray  # of frame 1's pixels: F10 + F1->2


def acceleration(f01: np.ndarray, f10: np.ndarray, f0_prev: np.ndarray, f1_next: np.ndarray,
                 grid: np.ndarray) -> Acceleration:
    """The guarded accelerations of the pair from its flows and its neighbours' (``f0_prev`` = F0->-1,
    ``f1_next`` = F1->2); ``grid``: the pixel coordinates (HxWx2)."""
    a0 = cv2.add(f01, f0_prev)
    a1 = cv2.add(f10, f1_next)
    # each end's acceleration against the other's where the pixel's motion lands
    keep0 = _consistent(a0, _sample(a1, grid, f01))
    keep1 = _consistent(a1, _sample(a0, grid, f10))
    return Acceleration(a0 * keep0[..., None], a1 * keep1[..., None])


def quadratic_bases(f01: np.ndarray, f10: np.ndarray, acc: Acceleration, t: float, grid: np.ndarray,
                    iters: int) -> list[tuple[np.ndarray, np.ndarray, bool]]:
    """The trajectories through each pixel at time t on the quadratic curves, anchored in frame 0 and in frame 1:
    ``(flow to frame 0, flow to frame 1, anchored in frame 0)`` each, the form `flow._choose_trajectory` takes as
    its bases (with zero acceleration they are its linear ones)."""
    s = 1.0 - t
    g0, g1 = _through(cv2.addWeighted(f01, t, acc.at0, (t * t - t) / 2, 0.0), f01, grid, iters)
    h1, h0 = _through(cv2.addWeighted(f10, s, acc.at1, (s * s - s) / 2, 0.0), f10, grid, iters)
    return [(g0, g1, True), (h0, h1, False)]


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
        read = cv2.remap(both, cv2.subtract(xs, dx), cv2.subtract(ys, dy), cv2.INTER_LINEAR, borderMode=_BORDER)
        dx, dy = (cv2.extractChannel(read, c) for c in (0, 1))
    fx, fy = (cv2.extractChannel(read, c) for c in (2, 3))
    return cv2.merge([dx, dy]) * -1.0, cv2.merge([cv2.subtract(fx, dx), cv2.subtract(fy, dy)])


def _consistent(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """1.0 where |a - b| <= _TOLERANCE (|a| + |b|) / 2 + _FLOOR, else 0.0 (HxW float32)."""
    diff = cv2.subtract(a, b)
    size = cv2.magnitude(a[..., 0], a[..., 1]) + cv2.magnitude(b[..., 0], b[..., 1])
    return (cv2.magnitude(diff[..., 0], diff[..., 1]) <= size * (_TOLERANCE / 2) + _FLOOR).astype(np.float32)

