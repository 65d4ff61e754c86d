"""A speed curve as a job names it, before the clip is known: keyframe text, a CSV/JSON file, or one speed per frame.

A job is made before its clip is opened, but seconds become frames only at the clip's exact rate, and a per-frame
list must match its frame count. So a `SpeedRequest` keeps what the user gave, checked for its form when it is made
(every item of the text readable, every listed speed within the limits, the file there), and becomes a `SpeedCurve`
when the clip is planned (`SpeedRequest.curve`). It is also what the Speed Curve node hands Slow Motion.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from .curve import SpeedCurve
from .limits import check_speed
from .parse import check_curve_file, check_speed_text, parse_speed, read_speed_file, speeds_per_frame

PREVIEW_LIMIT = 10_000_000  # frames: a curve drawn before its clip is known reaches at most this far (111 h at 25 fps)


@dataclass(frozen=True)
class SpeedRequest:
    """Exactly one of: ``text`` (keyframes, freezes and presets, `speed.parse`), ``file`` (CSV or JSON) or
    ``speeds`` (one speed per source frame, linear between them)."""

    text: str | None = None
    file: Path | None = None
    speeds: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        given = [name for name in ("text", "file", "speeds") if getattr(self, name) is not None]
        if len(given) != 1:
            raise InputError("a speed curve is keyframe text, a file or one speed per frame: give exactly one")
        if self.text is not None:
            object.__setattr__(self, "text", check_speed_text(self.text))
        elif self.file is not None:
            object.__setattr__(self, "file", check_curve_file(self.file))
        else:
            object.__setattr__(self, "speeds", check_speed_list(self.speeds))

    @classmethod
    def of(cls, value) -> SpeedRequest | None:
        """A request from what a user gives: None, a request, keyframe text, or a list (or array) of speeds."""
        if value is None or isinstance(value, SpeedRequest):
            return value
        if isinstance(value, str):
            return cls(text=value)
        if isinstance(value, Path):
            return cls(file=value)
        return cls(speeds=value)

    def curve(self, frame_rate, frame_count: int, first: int = 0, clip_count: int | None = None) -> SpeedCurve:
        """The curve on ``frame_count`` frames at ``frame_rate`` (the clip's exact rate). Given ``clip_count``, the
        request describes a whole clip of that many frames and these frames are its part from ``first`` on (a crop):
        times count from the clip's start, a per-frame list covers the whole clip and is cut like it."""
        whole = frame_count if clip_count is None else clip_count
        if self.speeds is not None:
            if clip_count is not None and len(self.speeds) == clip_count:
                return speeds_per_frame(self.speeds[first:first + frame_count], frame_count)
            return speeds_per_frame(self.speeds, whole)  # the right length, or its message
        if self.text is not None:
            curve = parse_speed(self.text, frame_rate, whole)
        else:
            curve = read_speed_file(self.file, frame_rate, whole)
        return curve.window(first, frame_count)

    def preview_count(self, frame_rate) -> int:
        """The frame count to draw this curve on when the clip is not known yet: one second past its last keyframe or
        freeze (a list: its length)."""
        if self.speeds is not None:
            return len(self.speeds)
        found = self.curve(frame_rate, PREVIEW_LIMIT)
        last = max([k.position for k in found.keyframes] + [f.position for f in found.freezes])
        return min(PREVIEW_LIMIT, math.ceil(last) + math.ceil(frame_rate) + 1)

    def describe(self) -> str:
        """A short line for a title or a message."""
        if self.text is not None:
            return self.text if len(self.text) <= 60 else self.text[:57] + "..."
        if self.file is not None:
            return self.file.name
        return f"{len(self.speeds)} speeds, {min(self.speeds):g}x to {max(self.speeds):g}x"


def check_speed_list(values) -> tuple[float, ...]:
    """One speed per frame (a list, a tuple, a numpy array or anything numpy reads as numbers), each checked."""
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)) and \
            not hasattr(values, "__array__"):
        raise InputError(f"the speed list must be numbers, one speed per frame; got {type(values).__name__}")
    try:
        speeds = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise InputError("the speed list must be numbers, one speed per frame") from None
    if len(speeds) < 2:
        raise InputError(f"the speed list has {len(speeds)} values: give one speed per frame of the clip")
    for k, speed in enumerate(speeds):
        check_speed(float(speed), f"at frame {k} of the speed list")
    return tuple(float(v) for v in speeds)
