"""Frames and seconds: the one frame-rate normaliser (`exact_rate`), seconds to frames computed exactly, and the
bounds and ranges users write in frames ("120:150") or seconds ("4.8s:6.0s")."""

from __future__ import annotations

import math
import numbers
import re
from fractions import Fraction

import numpy as np

from .errors import InputError


def exact_rate(value) -> Fraction:
    """A frame rate as an exact positive `Fraction` (the one normaliser: the writer, the CLI and the nodes use it).

    A float such as 29.97002997 is taken as the nearest fraction with a denominator up to 1001 (30000/1001), not its
    exact binary value, whose huge denominator no container time base could hold."""
    try:
        exact = isinstance(value, (numbers.Rational, str))  # 25, Fraction(30000, 1001), "30000/1001"
        rate = Fraction(value) if exact else Fraction(float(value)).limit_denominator(1001)
    except (TypeError, ValueError, OverflowError, ZeroDivisionError) as error:
        raise InputError(f"the frame rate must be a positive number such as 25 or Fraction(30000, 1001); "
                         f"got {value!r}") from error
    if rate <= 0:
        raise InputError(f"the frame rate must be a positive number such as 25 or Fraction(30000, 1001); "
                         f"got {value!r}")
    return rate


_RANGE_FORMS = '"START:END" in frames (e.g. "120:150") or seconds (e.g. "4.8s:6.0s"), or a mix ("4.8s:150")'
_BOUND = re.compile(r"^\s*(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(?P<seconds>s?)\s*$", re.IGNORECASE)


def seconds_to_frame(seconds, frame_rate: Fraction) -> int:
    """The frame nearest to ``seconds`` (halves round up), computed exactly: floats count as their shortest
    decimal (4.8 is 24/5, not the binary 4.7999...), strings as written ("4.8", "24/5")."""
    rate = exact_rate(frame_rate)
    try:
        exact = Fraction(repr(seconds)) if isinstance(seconds, float) else Fraction(seconds)
    except (TypeError, ValueError, ZeroDivisionError):
        raise InputError(f"time {seconds!r} is not a number of seconds: use e.g. 4.8") from None
    if exact < 0:
        raise InputError(f"time {seconds!r} is negative: times count from the start of the clip (0 s)")
    return math.floor(exact * rate + Fraction(1, 2))


def parse_bound(value, frame_rate: Fraction) -> int:
    """A frame number (``120``, ``"120"``) or seconds (``"4.8s"``, rounded to the nearest frame) -> a frame index."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if value < 0:
            raise InputError(f"frame {value} is negative: frames count from 0")
        return int(value)
    match = _BOUND.match(str(value))
    if not match:
        if str(value).strip().startswith("-"):
            raise InputError(f"{value!r} is negative: frames and seconds count from 0")
        raise InputError(f"{value!r} is neither a frame number (120) nor seconds (4.8s)")
    number = match["number"]
    if match["seconds"]:
        return seconds_to_frame(number, frame_rate)
    if "." in number:
        raise InputError(f"{value!r} is a fractional frame number: add 's' for seconds ({number}s)")
    return int(number)


def _range_bounds(text: str) -> list[tuple[str, bool]]:
    """The two bounds of a range's text as (number, in seconds?), or an InputError saying how to write it."""
    if not isinstance(text, str) or text.count(":") != 1:
        raise InputError(f"range {text!r} is not understood: write it as {_RANGE_FORMS}")
    bounds = []
    for part in text.split(":"):
        match = _BOUND.match(part)
        if not match and part.strip().startswith("-"):
            raise InputError(f"range {text!r} has a negative bound {part.strip()}: frames and seconds count from 0, "
                             f"so write it as {_RANGE_FORMS}")
        if not match:
            raise InputError(f"range {text!r} is not understood: write it as {_RANGE_FORMS}")
        number, seconds = match["number"], bool(match["seconds"])
        if "." in number and not seconds:
            raise InputError(f"range {text!r} has a fractional frame number {number}: add 's' for seconds ({number}s)")
        bounds.append((number, seconds))
    return bounds


def check_range_text(text: str) -> None:
    """The checks of a range's text that need no clip: its form, and an empty or reversed range where both bounds
    are in the same unit (a mix of frames and seconds is compared once the clip's rate is known)."""
    (start, start_s), (end, end_s) = _range_bounds(text)
    if start_s == end_s and Fraction(start) >= Fraction(end):
        raise InputError(f"range {text!r} is empty or reversed: the start must come before the end")


def parse_range(text: str, frame_rate: Fraction, frame_count: int | None = None) -> tuple[int, int]:
    """``"120:150"`` (frames), ``"4.8s:6.0s"`` (seconds, rounded to the nearest frame) or a mix -> ``(start, end)``.

    With ``frame_count`` the range must also lie inside the clip.
    """
    start, end = (seconds_to_frame(number, frame_rate) if seconds else int(number)
                  for number, seconds in _range_bounds(text))
    if start >= end:
        raise InputError(
            f"range {text!r} (frames {start}:{end}) is empty or reversed: the start must come before the end"
        )
    if frame_count is not None:
        check_inside(f"range {text!r} (frames {start}:{end})", end, frame_count)
    return start, end


def check_inside(what: str, end: int, count: int) -> None:
    """An `InputError` unless a range ending at frame ``end`` lies inside a ``count``-frame clip."""
    if count < 2:
        raise InputError(f"{what} cannot be slowed: the clip has only {count} frame, and slow motion needs two "
                         "frames to create the ones in between; give a clip with at least two frames")
    if end > count - 1:
        raise InputError(f"{what} ends past the last frame ({count - 1}) of a {count}-frame clip: choose a range "
                         f"inside 0:{count - 1}")
