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
source frames the exposure covers (at least the nearest one): a frame blend with no synthesis in the fast parts.
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
            raise InputError(f"shutter angle {self.angle!r} is out of range: use 0 (no motion blur) to "
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


def sample_positions(position: float, lo: float, hi: float, sampling: str) -> np.ndarray:
    """The source positions whose pictures, averaged with equal weights, make the frame at ``position`` exposed
    over ``lo..hi``: one position (``position`` itself) when that is sharp."""
    width = hi - lo
    if sampling == "frames":
        whole = np.arange(math.ceil(lo - 1e-9), math.floor(hi + 1e-9) + 1, dtype=np.float64)
        if whole.size == 0:
            whole = np.array([float(min(max(math.floor(position + 0.5), math.ceil(lo)), math.floor(hi)))])
        return whole
    count = min(MAX_SAMPLES, math.ceil(width / SAMPLE_SPACING - 1e-9))
    if count <= 1:
        return np.array([float(position)])
    return lo + (np.arange(count) + 0.5) * (width / count)


def render_blend(groups: Sequence[tuple[object, list]], get_frame: Callable[[int], np.ndarray],
                 interpolate: Callable[[np.ndarray, np.ndarray, list[float]], Sequence[np.ndarray]]) -> np.ndarray:
    """One blurred output frame: the equal-weight average of its samples. ``groups`` is `timeline.Blend.groups()`
    (a pair's samples together, so an engine sees each pair once per frame); ``interpolate(frame0, frame1, times)``
    is an engine's. The result has the frames' dtype (uint8 rounded half up)."""
    total, count, dtype = None, 0, None
    for first, group in groups:
        if first.is_copy:
            frame = get_frame(first.left)
            frames = [frame] * len(group)
        else:
            frames = interpolate(get_frame(first.left), get_frame(first.right), [s.t for s in group])
        for frame in frames:
            dtype = frame.dtype
            total = frame.astype(np.float32) if total is None else total + frame
            count += 1
    mean = total / count
    if np.issubdtype(dtype, np.integer):
        return np.clip(np.floor(mean + 0.5), 0, np.iinfo(dtype).max).astype(dtype)
    return mean.astype(dtype)
