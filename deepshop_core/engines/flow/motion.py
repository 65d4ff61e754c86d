"""Where each pixel of the frame at time t comes from: the pair's flows and the trajectories chosen through them.

Per pair: the luma of both frames, lightly smoothed, on the flow's grid (`luma`); dense flows both ways with
OpenCV's DIS (`flows`), then on the selection grid (`to_selection_grid`), with a small luma of each frame
(`Samples`).

Per time t, on the selection grid: the linear trajectories through each pixel, anchored in frame 0 along F01 and
in frame 1 along F10 (`linear_bases`; the four-frame quadratic ones come from `acceleration`), each followed by
fixed-point iteration to where its content comes from (`trajectory`); the candidates are these at the pixel and,
with a neighbour shift, as found that far left, right, up and down (at a motion boundary the fixed point can land
on the wrong side, and a neighbour's trajectory is then the right one). Per pixel the candidate whose two samples
differ least over a window square wins (`choose`).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import NamedTuple

import cv2
import numpy as np

from .presets import MIN_FLOW_SIDE, FlowPreset
from .sampling import BORDER, fixed_map, remap, sample

LUMA_SIGMA = 1.0  # Gaussian smoothing of the luma the flow is computed on


# ------------------------------------------------------------------------------------------------------ per pair
def luma(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """What DIS reads of a frame: its luma at the flow's ``size`` (INTER_AREA), Gaussian-smoothed, padded (bottom
    and right, replicated) up to MIN_FLOW_SIDE."""
    fh, fw = size
    g = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    if (fh, fw) != g.shape:
        g = cv2.resize(g, (fw, fh), interpolation=cv2.INTER_AREA)
    g = cv2.GaussianBlur(g, (0, 0), LUMA_SIGMA)
    ph, pw = max(0, MIN_FLOW_SIDE - fh), max(0, MIN_FLOW_SIDE - fw)
    if ph or pw:
        g = cv2.copyMakeBorder(g, 0, ph, 0, pw, cv2.BORDER_REPLICATE)
    return g


def small_luma(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The luma the trajectory choice compares: the frame at the selection grid's ``size`` (INTER_AREA)."""
    sh, sw = size
    small = cv2.resize(frame, (sw, sh), interpolation=cv2.INTER_AREA) if (sh, sw) != frame.shape[:2] else frame
    return cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)


def make_dis(preset: FlowPreset) -> cv2.DISOpticalFlow:
    dis = cv2.DISOpticalFlow_create(preset.dis_preset)
    if preset.dis_finest_scale is not None:
        dis.setFinestScale(preset.dis_finest_scale)
    return dis


def flows(dis: tuple[cv2.DISOpticalFlow, cv2.DISOpticalFlow], luma0: np.ndarray, luma1: np.ndarray,
          size: tuple[int, int], pool: Executor | None = None) -> tuple[np.ndarray, np.ndarray]:
    """F01 and F10 (HxWx2 float32 at the flow's ``size``, the padding cut off), one DIS instance each; with a
    ``pool``, F10 on it while F01 runs here (OpenCV releases the GIL)."""
    if pool is not None:
        backward = pool.submit(dis[1].calc, luma1, luma0, None)
        f01 = dis[0].calc(luma0, luma1, None)
        f10 = backward.result()
    else:
        f01 = dis[0].calc(luma0, luma1, None)
        f10 = dis[1].calc(luma1, luma0, None)
    fh, fw = size
    return np.ascontiguousarray(f01[:fh, :fw]), np.ascontiguousarray(f10[:fh, :fw])


def to_selection_grid(f: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A flow on the selection grid of ``size`` (INTER_AREA, in that grid's pixels): smooth at that scale anyway."""
    (fh, fw), (sh, sw) = f.shape[:2], size
    if (sh, sw) == (fh, fw):
        return f
    return cv2.resize(f, (sw, sh), interpolation=cv2.INTER_AREA) * np.array([sw / fw, sh / fh], np.float32)


@dataclass(frozen=True, eq=False)
class Samples:
    """A frame's small luma as the trajectory choice samples it: ``image`` extended by ``margin`` pixels on each
    side (replicated), and (margin > 0) ``shifted``, its four copies shifted by -o for each neighbour offset o in
    ``offsets(margin)`` as one 4-channel image. Made once per frame, read at every time."""

    image: np.ndarray
    shifted: np.ndarray | None
    margin: int

    @staticmethod
    def offsets(margin: int) -> tuple[tuple[int, int], ...]:
        """(dx, dy) of the four neighbours (none without a margin), in the order they compete."""
        return ((margin, 0), (-margin, 0), (0, margin), (0, -margin)) if margin else ()

    @classmethod
    def of(cls, small: np.ndarray, margin: int) -> Samples:
        image = cv2.copyMakeBorder(small, margin, margin, margin, margin, BORDER) if margin else small
        copies = np.dstack([shifted(image, -dx, -dy) for dx, dy in cls.offsets(margin)]) if margin else None
        return cls(image, copies, margin)


# ------------------------------------------------------------------------------------------------------ per time
class Anchored(NamedTuple):
    """The trajectory through each pixel at time t that starts from a pixel of one frame (HxWx2 float32 flows)."""

    to0: np.ndarray  # flow from t to frame 0
    to1: np.ndarray  # flow from t to frame 1
    anchor0: bool    # anchored in frame 0 (else in frame 1)


@dataclass(frozen=True, eq=False)
class Trajectories:
    """The trajectory chosen for each pixel at time t (arrays on the selection grid)."""

    ft0: np.ndarray          # HxWx2 float32: flow from t to frame 0
    ft1: np.ndarray          # HxWx2 float32: flow from t to frame 1
    anchor0: np.ndarray      # HxW bool: anchored in frame 0 (its frame-0 sample is the trusted one)
    error: np.ndarray        # HxW: sum of the absolute differences of its two samples over the window square
    unexplained: np.ndarray  # HxW float32: that difference less its median over the frame, window-averaged


def trajectory(f: np.ndarray, s: float, grid: np.ndarray, iters: int) -> np.ndarray:
    """The flow G from time s back to the anchor frame, for linear motion along the anchor's flow f: the anchor
    pixel y = x + G(x) reaches x at s, so G(x) = -s f(x + G(x)); solved by fixed-point iteration from G = -s f.
    It reads the flow where the moving content comes from (the Super SloMo approximation reads it at x itself,
    wrong once motion is larger than the moving things)."""
    g = f * -s
    for _ in range(iters):
        g = sample(f, grid, g)
        g *= -s
    return g


def linear_bases(f01: np.ndarray, f10: np.ndarray, t: float, grid: np.ndarray, iters: int) -> list[Anchored]:
    """The linear trajectories through each pixel at t, anchored in frame 0 (along F01) and in frame 1 (F10)."""
    a0 = trajectory(f01, t, grid, iters)
    b1 = trajectory(f10, 1.0 - t, grid, iters)
    # each trajectory also to the other frame: y + F01(y) = x + (1 - t) F01(y)
    return [Anchored(a0, a0 * (-(1.0 - t) / t), True), Anchored(b1 * (-t / (1.0 - t)), b1, False)]


def choose(samples: tuple[Samples, Samples], bases: Sequence[Anchored], wide: np.ndarray,
           window: int) -> Trajectories:
    """Per pixel, the best of the candidates: each of ``bases`` at the pixel and (``samples`` with a margin) as
    found ``margin`` pixels right, left, down and up; the one whose two samples (luma) differ least, summed over a
    ``window`` square (the first one wins a tie). ``wide``: the pixel coordinates of the grid extended by the
    margin. ``unexplained``: the chosen samples' difference less its median over the frame (a fade or a flicker
    is no disagreement), averaged over the window: large where two different things meet."""
    ft0, ft1, anchor0, error, difference = _least_error(_candidates(samples, bases, wide, window))
    d = difference.astype(np.float32)
    unexplained = cv2.blur(np.abs(d - float(np.median(d))), (window, window))
    return Trajectories(ft0, ft1, anchor0 > 0, error, unexplained)


class _Candidate(NamedTuple):
    to0: np.ndarray
    to1: np.ndarray
    anchor0: bool
    error: np.ndarray       # window sums of |difference|
    difference: np.ndarray  # HxW int16: frame-0 sample - frame-1 sample


def _candidates(samples: tuple[Samples, Samples], bases: Sequence[Anchored], wide: np.ndarray,
                window: int) -> list[_Candidate]:
    """Every candidate, in the order they compete. The neighbour at offset o has trajectory G(x + o), and its
    samples along it, img(x + G(x + o)), are those of img shifted by -o along G, read at x + o: so each frame is
    sampled once per anchor, as its four shifted copies in one 4-channel image, on the grid extended by the margin
    (G replicated: a neighbour past the border is the border's), and each neighbour is a view of the result at its
    offset (4 maps and 8 remaps per time instead of 20 and 20). The errors are integer sums of 8-bit differences,
    exact in any order, each summed on the frame (reflected at its border) as for a candidate alone."""
    s = samples[0].margin
    h, w = bases[0].to0.shape[:2]
    depth = cv2.CV_16U if window * window * 255 <= 65535 else cv2.CV_32F  # exact sums either way
    at_pixel = (slice(s, s + h), slice(s, s + w))
    found, around = [], []  # around: per anchor, the neighbours' differences as one extended image each
    for g0, g1, anchor0 in bases:
        g0, g1 = (cv2.copyMakeBorder(g, s, s, s, s, BORDER) if s else g for g in (g0, g1))
        m0, m1 = fixed_map(wide, g0), fixed_map(wide, g1)
        d = cv2.subtract(remap(samples[0].image, m0), remap(samples[1].image, m1), dtype=cv2.CV_16S)
        found.append(_Candidate(g0[at_pixel], g1[at_pixel], anchor0, _window_sum(d[at_pixel], window, depth),
                                d[at_pixel]))
        if s:
            d = cv2.subtract(remap(samples[0].shifted, m0), remap(samples[1].shifted, m1), dtype=cv2.CV_16S)
            around.append((g0, g1, anchor0, cv2.split(d)))
    for k, (dx, dy) in enumerate(Samples.offsets(s)):
        at = (slice(s + dy, s + dy + h), slice(s + dx, s + dx + w))
        found += [_Candidate(g0[at], g1[at], anchor0, _window_sum(d[k][at], window, depth), d[k][at])
                  for g0, g1, anchor0, d in around]
    return found


def _least_error(candidates: list[_Candidate]) -> tuple[np.ndarray, ...]:
    """Per pixel the first candidate of least error: its flows, its anchor (a 0/255 mask: cv2's bitwise operations
    are cheaper than numpy's indexing), its error and its difference."""
    first = candidates[0]
    ft0, ft1, error, difference = (a.copy() for a in (first.to0, first.to1, first.error, first.difference))
    anchor0 = np.full(error.shape, 255 * first.anchor0, np.uint8)
    for c in candidates[1:]:
        better = cv2.compare(c.error, error, cv2.CMP_LT)
        cv2.copyTo(c.to0, better, ft0)
        cv2.copyTo(c.to1, better, ft1)
        cv2.copyTo(c.error, better, error)
        cv2.copyTo(c.difference, better, difference)
        if c.anchor0:
            cv2.bitwise_or(anchor0, better, dst=anchor0)
        else:
            cv2.bitwise_and(anchor0, cv2.bitwise_not(better), dst=anchor0)
    return ft0, ft1, anchor0, error, difference


def _window_sum(d: np.ndarray, window: int, depth: int) -> np.ndarray:
    """Sum of |d| over the ``window`` square around each pixel (per channel), exact."""
    return cv2.boxFilter(cv2.convertScaleAbs(d), depth, (window, window), normalize=False)


def shifted(img: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """img(x + dx, y + dy), border replicated; one of dx, dy is 0 (slices: cheaper than cv2's border copies)."""
    out = np.empty_like(img)
    if dx > 0:
        out[:, :-dx] = img[:, dx:]
        out[:, -dx:] = img[:, -1:]
    elif dx < 0:
        out[:, -dx:] = img[:, :dx]
        out[:, :-dx] = img[:, :1]
    elif dy > 0:
        out[:-dy] = img[dy:]
        out[-dy:] = img[-1:]
    elif dy < 0:
        out[-dy:] = img[:dy]
        out[:-dy] = img[:1]
    else:
        out[:] = img
    return out
