"""A speed curve: playback speed as a function of source position, as keyframes and freezes (checked data).

Positions are in source frames (frame k of the clip is at k; keyframe times given in seconds become frames at the
clip's exact rate, so they may fall between frames). Speeds are stored as slowdowns ``d = 1 / speed`` (output frames
per source frame): the curve is eased in the slowdown, because the output time of source position x is then the
integral of d, a polynomial on every piece (exact and cheap; `speed.realise`).

The curve between keyframes:

* Keyframe i's ease shapes the piece *arriving* at keyframe i, from keyframe i-1's slowdown to its own:
  ``smooth`` (the default) along a smoothstep 3u^2 - 2u^3 (speed and its rate of change continuous at both ends),
  ``linear`` straight in the slowdown, ``hold`` keeps keyframe i-1's slowdown and jumps at keyframe i.
* Before the first keyframe the speed is the first keyframe's, after the last one the last keyframe's.
* A freeze shows source frame ``position`` for ``frames`` more output frames (the frame itself is shown as the curve
  says, then held that much longer); its audio is silent.

The curve covers source positions 0..N-1 (the frames). The last frame period N-1..N, which has no successor to
interpolate towards, plays at 1x: the last frame is shown for one output frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from .limits import DEFAULT_EASE, MAX_FACTOR, MAX_SPEED, check_ease

_SLOWDOWN_TOLERANCE = 1e-12  # a slowdown of 1 +- this is 1x (1 / 1.0000000000000002 is not 1 in floats)


@dataclass(frozen=True)
class Keyframe:
    """At source ``position`` (frames) the slowdown is ``slowdown`` (1 / speed), reached by ``ease``."""

    position: float
    slowdown: float
    ease: str = DEFAULT_EASE

    def __post_init__(self) -> None:
        position, slowdown = float(self.position), float(self.slowdown)
        if not math.isfinite(position) or position < 0:
            raise InputError(f"keyframe position {self.position!r} is invalid: use a frame from 0 on")
        if not (math.isfinite(slowdown) and 1 / MAX_SPEED <= slowdown <= MAX_FACTOR):
            raise InputError(f"keyframe at frame {position:g}: slowdown {self.slowdown!r} is out of range: use a "
                             f"speed from {1 / MAX_FACTOR:g} to {MAX_SPEED:g}")
        if abs(slowdown - 1) < _SLOWDOWN_TOLERANCE:
            slowdown = 1.0
        object.__setattr__(self, "position", position)
        object.__setattr__(self, "slowdown", slowdown)
        object.__setattr__(self, "ease", check_ease(self.ease, f"of the keyframe at frame {position:g}"))

    @classmethod
    def at_speed(cls, position: float, speed: float, ease: str = DEFAULT_EASE) -> Keyframe:
        return cls(position, 1.0 / speed, ease)

    @property
    def speed(self) -> float:
        return 1.0 / self.slowdown


@dataclass(frozen=True)
class Freeze:
    """Source frame ``position`` held for ``frames`` more output frames."""

    position: int
    frames: int

    def __post_init__(self) -> None:
        for name in ("position", "frames"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < (name == "frames"):
                raise InputError(f"freeze {name} {value!r} is invalid: use a whole number of frames"
                                 f"{' of at least 1' if name == 'frames' else ' from 0 on'}")
            object.__setattr__(self, name, int(value))


@dataclass(frozen=True)
class SpeedCurve:
    """The speed of a clip of ``frame_count`` frames over its source positions (see the module doc)."""

    frame_count: int
    keyframes: tuple[Keyframe, ...]
    freezes: tuple[Freeze, ...] = ()

    def __post_init__(self) -> None:
        count = self.frame_count
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 2:
            raise InputError(f"a speed curve needs a clip of at least two frames; got {count!r} frames")
        keyframes, freezes = tuple(self.keyframes), tuple(sorted(self.freezes, key=lambda f: f.position))
        if not keyframes and not freezes:
            raise InputError("the speed curve is empty: give at least one keyframe (e.g. 1s:0.25) or a freeze")
        last = count - 1
        for a, b in zip(keyframes, keyframes[1:]):
            if not b.position > a.position:
                raise InputError(f"keyframes at frames {a.position:g} and {b.position:g} are out of order: list "
                                 f"them by time, each later than the one before")
        for item in (*keyframes, *freezes):
            if item.position > last:
                raise InputError(f"{type(item).__name__.lower()} at frame {item.position:g} lies past the last "
                                 f"frame ({last}) of the {count}-frame clip: keep it within 0..{last}")
        for a, b in zip(freezes, freezes[1:]):
            if a.position == b.position:
                raise InputError(f"two freezes at frame {a.position}: give one freeze per frame")
        object.__setattr__(self, "frame_count", int(count))
        object.__setattr__(self, "keyframes", keyframes)
        object.__setattr__(self, "freezes", freezes)

    def window(self, first: int, count: int) -> SpeedCurve:
        """The curve of frames ``first..first + count - 1`` alone, its positions counted from ``first`` (a cropped
        clip whose curve was given in the whole clip's times); every keyframe and freeze must lie inside."""
        if first == 0 and count == self.frame_count:
            return self
        for item in (*self.keyframes, *self.freezes):
            if not first <= item.position <= first + count - 1:
                raise InputError(f"{type(item).__name__.lower()} at frame {item.position:g} lies outside the kept "
                                 f"frames {first}..{first + count - 1}: keep the curve inside the crop (its times "
                                 f"count from the clip's start)")
        return SpeedCurve(count, tuple(Keyframe(k.position - first, k.slowdown, k.ease) for k in self.keyframes),
                          tuple(Freeze(f.position - first, f.frames) for f in self.freezes))

    def slowdown_at(self, x) -> np.ndarray:
        """The requested slowdown at source positions ``x`` (before whole-frame rounding, `speed.realise`)."""
        x = np.asarray(x, dtype=np.float64)
        if not self.keyframes:
            return np.ones_like(x)
        positions = np.array([k.position for k in self.keyframes])
        values = np.array([k.slowdown for k in self.keyframes])
        result = np.full_like(x, values[0])
        for i in range(1, len(positions)):
            inside = (x >= positions[i - 1]) & (x < positions[i])
            u = (x[inside] - positions[i - 1]) / (positions[i] - positions[i - 1])
            result[inside] = values[i - 1] + (values[i] - values[i - 1]) * ease_shape(self.keyframes[i].ease, u)
        result[x >= positions[-1]] = values[-1]
        return result

    def speed_at(self, x) -> np.ndarray:
        return 1.0 / self.slowdown_at(x)


def ease_shape(ease: str, u: np.ndarray) -> np.ndarray:
    """The share 0..1 of the change made at ``u`` (0..1) along a piece eased by ``ease``."""
    if ease == "hold":
        return np.zeros_like(u)
    if ease == "linear":
        return u
    return 3 * u**2 - 2 * u**3
