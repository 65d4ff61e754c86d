"""The frame at time t, from the chosen trajectories: blend weights, warp maps at the frame size, the warp, the
blend and the softening.

Weights (on the selection grid, `intermediate`): a sample whose position falls outside its frame gets weight 0
(content entering at a border comes from the other frame); where even the best trajectory leaves its samples
disagreeing, only the sample of the frame the trajectory is anchored in is kept (a sharp frame, never two
translucent copies); then (1-t) v0 and t v1.

At the frame size (`to_frame_size`): the warp's maps are made on the selection grid (its own coordinates added
before the bilinear upsampling, the clamped border pixels corrected: no full-size pass for them). The full-
resolution frames are warped backward along them, BORDER_REPLICATE (`warp`; the "upsampled" warp reads a copy of
the frame upsampled 3x with Lanczos-3, `upsampled`), blended with cv2.blendLinear, and where the disagreement
stays high a Gaussian blur is mixed in (`blend`): where nothing explains the motion, a detail in the wrong place
costs more than a detail lost. Nothing is cropped or resized: any frame size works.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import cv2
import numpy as np

from .motion import Trajectories
from .presets import FlowPreset, Soften, Warp
from .sampling import BORDER, pixel_grid, remap

UPSAMPLE = 3    # the "upsampled" warp reads the frame upsampled this many times (bilinear from it ~ Lanczos) ...
_LANCZOS_A = 3  # ... with Lanczos-3 (6 taps)
_EPS = 1e-3     # added to the blend weights: blendLinear divides by their sum, which must stay positive


@dataclass(frozen=True, eq=False)
class Intermediate:
    """The frame at time t as the selection grid describes it."""

    ft0: np.ndarray            # HxWx2 float32: flow from t to frame 0
    ft1: np.ndarray            # HxWx2 float32: flow from t to frame 1
    w0: np.ndarray             # HxW float32: blend weight of frame 0's sample
    w1: np.ndarray             # HxW float32: ... of frame 1's
    soften: np.ndarray | None  # HxW float32 0..1: how much to blur each pixel; None: nowhere


@dataclass(frozen=True, eq=False)
class Buffers:
    """Full-size work arrays of one thread, reused from call to call (fresh large arrays cost page faults)."""

    map0: np.ndarray   # HxWx2 float32
    map1: np.ndarray
    w0: np.ndarray     # HxW float32
    w1: np.ndarray
    warp0: np.ndarray  # HxWx3 uint8
    warp1: np.ndarray

    @classmethod
    def of(cls, height: int, width: int) -> Buffers:
        maps = [np.empty((height, width, 2), np.float32) for _ in range(2)]
        weights = [np.empty((height, width), np.float32) for _ in range(2)]
        warped = [np.empty((height, width, 3), np.uint8) for _ in range(2)]
        return cls(*maps, *weights, *warped)


@dataclass(frozen=True, eq=False)
class MapBase:
    """The selection grid's own pixel coordinates in the pixels of the image the warp reads (the frame's times
    ``scale``), and what makes their bilinear upsampling to ``size`` the frame's pixel grid exactly: it reproduces
    a linear function except in the outermost pixels, where it clamps; ``corrections``: (rows or columns, channel,
    amount)."""

    grid: np.ndarray
    corrections: tuple[tuple[tuple, int, np.float32], ...]
    size: tuple[int, int]
    scale: int


@dataclass(frozen=True, eq=False)
class FrameMaps:
    """The frame at time t as the frame size needs it."""

    map0: np.ndarray                # HxWx2 float32: where each pixel samples frame 0 (in the warp's pixels)
    map1: np.ndarray                # ... frame 1
    w0: np.ndarray                  # HxW float32 blend weights
    w1: np.ndarray
    soften: np.ndarray | None       # HxW float32 0..1, or None
    soften_coarse: np.ndarray | None  # the same on the selection grid (where finding the tiles to blur is cheaper)


def intermediate(chosen: Trajectories, t: float, grid: np.ndarray, preset: FlowPreset) -> Intermediate:
    """The blend weights and the softening at time t of the ``chosen`` trajectories; ``grid``: the pixel
    coordinates of the selection grid."""
    v0 = _inside(grid, chosen.ft0)
    v1 = _inside(grid, chosen.ft1)
    # where the samples disagree (motion the flow cannot explain), an average would show two translucent copies
    keep = 1.0 - preset.unexplained.of(chosen.unexplained)
    v0 = np.where(chosen.anchor0, v0, v0 * keep)
    v1 = np.where(chosen.anchor0, v1 * keep, v1)
    w0 = cv2.addWeighted(v0, 1.0 - t, v0, 0.0, _EPS * (1.0 - t))
    w1 = cv2.addWeighted(v1, t, v1, 0.0, _EPS * t)
    soft = None
    if preset.soften is not None:
        soft = preset.soften.ramp.of(chosen.unexplained)
        if not soft.any():
            soft = None
    return Intermediate(chosen.ft0, chosen.ft1, w0, w1, soft)


def _inside(grid: np.ndarray, f: np.ndarray) -> np.ndarray:
    """1.0 where x + f(x) lies inside the image, else 0.0 (HxW float32)."""
    h, w = f.shape[:2]
    return cv2.inRange(cv2.add(grid, f), (-0.5, -0.5), (w - 0.5, h - 0.5)).astype(np.float32) * (1.0 / 255.0)


def source_scale(warp: Warp) -> int:
    """How many times larger than the frame the image is that this warp reads."""
    return UPSAMPLE if warp == "upsampled" else 1


def map_base(select: tuple[int, int], size: tuple[int, int], scale: int) -> MapBase:
    """The `MapBase` of the selection grid of ``select`` (height, width) for frames of ``size``."""
    (sh, sw), (h, w) = select, size
    xs = ((np.arange(sw, dtype=np.float64) + 0.5) * (w / sw) - 0.5) * scale
    ys = ((np.arange(sh, dtype=np.float64) + 0.5) * (h / sh) - 0.5) * scale
    base = cv2.merge(np.meshgrid(xs.astype(np.float32), ys.astype(np.float32)))
    off = pixel_grid(h, w, scale) - cv2.resize(base, (w, h), interpolation=cv2.INTER_LINEAR)
    corrections = []
    for channel, line in ((0, off[0, :, 0]), (1, off[:, 0, 1])):  # x depends on the column, y on the row
        for at in np.flatnonzero(np.abs(line) > 1e-3):
            where = (slice(None), int(at)) if channel == 0 else (int(at), slice(None))
            corrections.append((where, channel, np.float32(line[at])))
    return MapBase(base, tuple(corrections), size, scale)


def to_frame_size(mix: Intermediate, base: MapBase, buffers: Buffers) -> FrameMaps:
    """``mix`` at the frame size (bilinear): the warp's maps x + F_t0(x) and x + F_t1(x) (in ``base``'s pixels),
    the weights and the softening, in ``buffers`` (the softening in a new array)."""
    (sh, sw), (h, w), scale = mix.w0.shape, base.size, base.scale
    to_frame = np.array([w / sw * scale, h / sh * scale], np.float32)
    maps = []
    for ft, buffer in ((mix.ft0, buffers.map0), (mix.ft1, buffers.map1)):
        m = cv2.resize(cv2.add(ft * to_frame, base.grid), (w, h), dst=buffer, interpolation=cv2.INTER_LINEAR)
        for where, channel, delta in base.corrections:
            m[where + (channel,)] += delta
        maps.append(m)
    w0, w1, soft = mix.w0, mix.w1, mix.soften
    if (sh, sw) != (h, w):
        w0 = cv2.resize(w0, (w, h), dst=buffers.w0, interpolation=cv2.INTER_LINEAR)
        w1 = cv2.resize(w1, (w, h), dst=buffers.w1, interpolation=cv2.INTER_LINEAR)
        if soft is not None:
            soft = cv2.resize(soft, (w, h), interpolation=cv2.INTER_LINEAR)
    return FrameMaps(maps[0], maps[1], w0, w1, soft, mix.soften)


def warp(sources: tuple[np.ndarray, np.ndarray], maps: FrameMaps, kind: Warp,
         buffers: Buffers) -> tuple[np.ndarray, np.ndarray]:
    """Both frames' sources (the frames, or their upsampled copies) sampled along their maps, into ``buffers``."""
    out = []
    for source, m, dst in ((sources[0], maps.map0, buffers.warp0), (sources[1], maps.map1, buffers.warp1)):
        if kind == "lanczos":
            out.append(cv2.remap(source, m, None, cv2.INTER_LANCZOS4, dst=dst, borderMode=BORDER))
        else:  # fixed-point maps (1/32 px, what remap uses internally anyway) make bilinear remap ~2x faster
            out.append(remap(source, cv2.convertMaps(m, None, cv2.CV_16SC2), dst=dst))
    return out[0], out[1]


def blend(warped: tuple[np.ndarray, np.ndarray], maps: FrameMaps, soften: Soften | None) -> np.ndarray:
    """(w0 a + w1 b) / (w0 + w1), then blurred as ``soften`` says where ``maps.soften`` says, in proportion."""
    mid = cv2.blendLinear(warped[0], warped[1], maps.w0, maps.w1)
    if soften is not None and maps.soften is not None:
        soften_in_place(mid, maps.soften, soften.sigma, coarse=maps.soften_coarse)
    return mid


def soften_in_place(image: np.ndarray, amount: np.ndarray, sigma: float, coarse: np.ndarray | None = None,
                    tiles: int = 16) -> None:
    """image <- (1 - amount) image + amount blur(image), blurred only where amount > 0: per tile of a ``tiles`` x
    ``tiles`` grid (runs of such tiles along a row as one box), each box blurred from ``image`` with the blur's
    reach around it, so that the result equals blurring the whole image. ``coarse``: the amount on the grid
    ``amount`` was upsampled (bilinear) from, where finding the tiles is cheaper (a tile is taken when the coarse
    pixels around it, one more each side, have any amount: a superset of the tiles with amount > 0)."""
    h, w = amount.shape
    ys = np.linspace(0, h, min(tiles, h) + 1).astype(int)
    xs = np.linspace(0, w, min(tiles, w) + 1).astype(int)
    if coarse is None:
        some = cv2.compare(amount, 0.0, cv2.CMP_GT)
        active = np.array([[cv2.countNonZero(some[y0:y1, x0:x1]) > 0 for x0, x1 in pairwise(xs)]
                           for y0, y1 in pairwise(ys)])
    else:
        ch, cw = coarse.shape
        cy = np.floor((ys + 0.5) * (ch / h) - 0.5).astype(int)  # the coarse row under each tile edge
        cx = np.floor((xs + 0.5) * (cw / w) - 0.5).astype(int)
        active = np.array([[coarse[max(0, y0 - 1): y1 + 2, max(0, x0 - 1): x1 + 2].any()
                            for x0, x1 in pairwise(cx)] for y0, y1 in pairwise(cy)])
    reach = int(np.ceil(3 * sigma))  # cv2's 8-bit Gaussian kernel for sigma reaches at most this far
    boxes = []  # every box blurred before any is written: each blur reads the image as it was
    for r, c0, c1 in _runs(active):
        y0, y1, x0, x1 = ys[r], ys[r + 1], xs[c0], xs[c1]
        py0, py1, px0, px1 = max(0, y0 - reach), min(h, y1 + reach), max(0, x0 - reach), min(w, x1 + reach)
        blurred = cv2.GaussianBlur(image[py0:py1, px0:px1], (0, 0), sigma)
        boxes.append((y0, y1, x0, x1, blurred[y0 - py0: y1 - py0, x0 - px0: x1 - px0]))
    for y0, y1, x0, x1, blurred in boxes:
        part = np.ascontiguousarray(amount[y0:y1, x0:x1])
        image[y0:y1, x0:x1] = cv2.blendLinear(image[y0:y1, x0:x1], blurred, 1.0 - part, part)


def _runs(active: np.ndarray) -> list[tuple[int, int, int]]:
    """(row, first column, end column) of each run of True along the rows of a 2-D bool array."""
    runs = []
    for r, row in enumerate(active):
        edges = np.flatnonzero(np.diff(np.concatenate(([0], row.astype(np.int8), [0]))))
        runs += [(r, int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]
    return runs


def upsampled(image: np.ndarray, n: int = UPSAMPLE) -> np.ndarray:
    """``image`` upsampled n times along both axes with Lanczos (separable: per axis one filter per phase, the
    phases interleaved), its own samples kept: pixel (y, x) of the image is pixel (n y, n x) of the result; border
    replicated. Bilinear reads of it are sharper than cv2's bicubic and cost a fraction."""
    h, w = image.shape[:2]
    # along x: the phases as the channels of one image (cv2.merge), which is the interleaved row in memory
    phases = [image] + [cv2.filter2D(image, -1, _lanczos_taps(p / n)[None, :], anchor=(_LANCZOS_A - 1, 0),
                                     borderType=BORDER) for p in range(1, n)]
    rows = cv2.merge(phases).reshape((h, n * w) + image.shape[2:])
    # along y: whole rows interleaved
    out = np.empty((h, n, n * w) + image.shape[2:], image.dtype)
    out[:, 0] = rows
    for p in range(1, n):
        out[:, p] = cv2.filter2D(rows, -1, _lanczos_taps(p / n)[:, None], anchor=(0, _LANCZOS_A - 1),
                                 borderType=BORDER)
    return out.reshape((n * h, n * w) + image.shape[2:])


def _lanczos_taps(phase: float) -> np.ndarray:
    """Lanczos weights (normalised) of the 2a samples around a point ``phase`` (0..1) past a sample, the first
    a - 1 samples before it."""
    x = np.arange(1 - _LANCZOS_A, _LANCZOS_A + 1) - phase
    k = np.sinc(x) * np.sinc(x / _LANCZOS_A)
    return (k / k.sum()).astype(np.float32)
