"""Motion blur for the faster parts: which stretch of source time each output frame exposes, and how it is sampled.

Dropping frames makes fast motion strobe: each output frame is a sharp instant, and moving things jump. A camera
running at the output's speed would have exposed each frame for ``angle / 360`` of its frame interval, i.e. over
``v * angle / 360`` source frame intervals at speed v. The source frames already hold their own exposure (about
``angle / 360`` of a source interval, assuming the footage was shot at the same shutter angle), so the extra exposure
to add is ``(v - 1) * angle / 360`` source intervals: 0 at 1x (continuous: no blur appears or vanishes where a ramp
crosses 1x), nothing for slow parts (blur cannot be taken away). The window is centred on the frame's position: the
picture's centre of motion stays where the curve puts it (in sync with the sound and with the sharp frames around
it), as a camera's does. An exposure never reaches past half-way to the neighbouring output frames' positions (a
shutter cannot stay open longer than the frame interval), and the caller clips it to the frame's shot and retimed
range (`timeline.plan`), so it never mixes two shots.

The default angle is 180 degrees, the film convention; 0 turns the blur off (dropped frames, strobing as before).

Sampling: ``subframes`` (with an engine) averages in-betweens at most `SAMPLE_SPACING` source frames apart (at most
`MAX_SAMPLES` per output frame: at 100x and 180 degrees, ~50 frames of exposure, the spacing widens), each through the
same rule as a sharp frame (cuts and held frames, `timeline.plan`), with equal weights. ``frames`` averages the whole
source frames the exposure covers, each weighted by how much of its own exposure is covered (at least the nearest
one): a frame blend with no synthesis in the fast parts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from ..errors import InputError

DEFAULT_SHUTTER_ANGLE = 180.0
MAX_SHUTTER_ANGLE = 360.0
SAMPLE_SPACING = 0.25  # source frames between the sub-frames of one exposure, at most
MAX_SAMPLES = 64  # sub-frames per output frame, at most
SAMPLINGS = ("subframes", "frames")


@dataclass(frozen=True)
class Shutter:
    """A virtual shutter for the faster parts: ``angle`` degrees (0..360) of each output frame interval exposed,
    sampled by ``sampling`` (one of `SAMPLINGS`)."""

    angle: float = DEFAULT_SHUTTER_ANGLE
    sampling: str = "subframes"

    def __post_init__(self) -> None:
        try:
            angle = float(self.angle)
        except (TypeError, ValueError):
            angle = math.nan
        if not 0 <= angle <= MAX_SHUTTER_ANGLE:
            raise InputError(f"shutter angle {self.angle} is out of range: use 0 (no motion blur) to "
                             f"{MAX_SHUTTER_ANGLE:g} degrees; {DEFAULT_SHUTTER_ANGLE:g} is the film look")
        if self.sampling not in SAMPLINGS:
            raise InputError(f"shutter sampling {self.sampling!r} is unknown: use one of {', '.join(SAMPLINGS)}")
        object.__setattr__(self, "angle", angle)


def exposure_windows(positions: np.ndarray, speeds: np.ndarray, angle: float,
                     source_count: int) -> tuple[np.ndarray, np.ndarray]:
    """Each output frame's exposure as source positions ``lo..hi`` (see the module doc); ``lo == hi`` is sharp."""
    x = np.asarray(positions, dtype=np.float64)
    width = np.maximum(np.asarray(speeds, dtype=np.float64) - 1.0, 0.0) * (angle / 360.0)
    lo, hi = x - width / 2, x + width / 2
    if len(x) > 1:
        halfway = (x[:-1] + x[1:]) / 2
        lo[1:] = np.maximum(lo[1:], np.minimum(halfway, x[1:]))
        hi[:-1] = np.minimum(hi[:-1], np.maximum(halfway, x[:-1]))
    return np.clip(lo, 0, source_count - 1), np.clip(hi, 0, source_count - 1)


def sample_positions(position: float, lo: float, hi: float, sampling: str,
                     angle: float = DEFAULT_SHUTTER_ANGLE) -> tuple[np.ndarray, np.ndarray | None]:
    """The source positions whose pictures, averaged, make the frame at ``position`` exposed over ``lo..hi``, and
    their weights (None: equal). One position (``position`` itself) when that is sharp.

    ``subframes``: the window's midpoints at most `SAMPLE_SPACING` apart, equal weights. ``frames``: the whole
    frames whose own exposure (``angle / 360`` of a frame, centred on them) the total exposure ``lo - e/2 .. hi +
    e/2`` covers, each weighted by how much of it is covered, so the blend stays centred on ``position`` (equal
    weights would pull it to whichever frames happen to fall inside); the nearest frame when none is."""
    width = hi - lo
    if sampling == "frames":
        own = angle / 360.0
        start, end = lo - own / 2, hi + own / 2
        whole = np.arange(math.ceil(start - own / 2), math.floor(end + own / 2) + 1, dtype=np.float64)
        covered = np.clip(np.minimum(whole + own / 2, end) - np.maximum(whole - own / 2, start), 0.0, None)
        if not np.any(covered > 1e-12):
            nearest = float(min(max(math.floor(position + 0.5), math.floor(lo)), math.ceil(hi)))
            return np.array([nearest]), None
        keep = covered > 1e-12
        return whole[keep], covered[keep] / covered[keep].sum()
    count = min(MAX_SAMPLES, math.ceil(width / SAMPLE_SPACING - 1e-9))
    if count <= 1:
        return np.array([float(position)]), None
    return lo + (np.arange(count) + 0.5) * (width / count), None


def render_blend(blend, get_frame: Callable[[int], np.ndarray],
                 interpolate: Callable[[int, int, list[float]], Sequence[np.ndarray]]) -> np.ndarray:
    """One blurred output frame: the weighted average of a `steps.Blend`'s samples, a pair's samples rendered
    together (``blend.groups()``: an engine sees each pair once per frame). ``interpolate(left, right, times)``
    renders source frames ``left`` and ``right`` at ``times`` (an engine's call: the caller fetches the frames, and
    may give the engine the pair's neighbours); ``get_frame(k)`` is source frame k. The result has the frames' dtype
    (integers rounded half up)."""
    weights = blend.weights or (1.0 / len(blend.samples),) * len(blend.samples)
    total, index, dtype = None, 0, None
    for first, group in blend.groups():
        if first.is_copy:
            frames = [get_frame(first.left)] * len(group)
        else:
            frames = interpolate(first.left, first.right, [s.t for s in group])
        for frame in frames:
            dtype = frame.dtype
            term = frame.astype(np.float32) * np.float32(weights[index])
            total = term if total is None else total + term
            index += 1
    if np.issubdtype(dtype, np.integer):
        return np.clip(np.floor(total + 0.5), 0, np.iinfo(dtype).max).astype(dtype)
    return total.astype(dtype)
