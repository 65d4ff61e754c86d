"""Pure retime math: which source position every output frame shows, and how to render it.

A timeline maps output frames to source positions ``s`` (floats, in source frame units). An integer ``s`` means
"copy source frame s"; a fractional one means "interpolate between floor(s) and floor(s)+1 at t = frac(s)".

Slow motion (``slow_timeline``) keeps the frame rate and stretches ranges ``start..end``: the time between frame
``start`` and frame ``end`` lasts ``factor`` times longer, so an integer factor F inserts F-1 frames into each of the
``end - start`` pairs. Every frame outside the ranges is shown exactly once, at an integer position, so it is
copied bit for bit.

Smooth mode (``smooth_timeline``) multiplies the frame rate instead: same duration, F times as many frames.

Slow ranges are one case of a speed curve (`speed`): a `Segment` is a stretch of constant slowdown with smoothstep
ramps, realised by the same code as any keyframed curve (`curve_timeline`): the same positions, output times, audio
pieces and time map. Decisions:

* A stretch's output length in frame intervals must be whole, or the frames after it would land between output
  frames: ``round(integral of the slowdown curve)`` with halves rounded up, the curve's deviation from 1x scaled so
  the integral is exactly that (5 intervals at F=2.5 -> 12.5 -> 13 intervals); see `speed.stretch`. Scaling only
  the deviation keeps the speed exactly 1x where a ramp meets the untouched footage.
* Ramps: the slowdown goes from 1x to Fx over ``ramp`` source frames inside each end of the segment, along a
  smoothstep (3u^2 - 2u^3), so the speed and its rate of change are continuous. Its integral has a closed form;
  positions inside the ramps come from inverting it by bisection (monotonic, precise to ~1e-12 frames).
* Segments may touch (one's end is the next one's start) but not overlap (share more than that frame).
* Smooth mode with a non-integer factor uses ``Fraction(factor).limit_denominator(1000)`` as the exact rate
  multiplier; the output has ``round(N * multiplier)`` frames at positions ``k / multiplier``. The last source frame
  has no successor to interpolate towards, so positions beyond ``N - 1`` (the final ``multiplier - 1`` or so
  frames) hold the last frame; that keeps the duration equal to the input's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import pairwise

import numpy as np

from .clock import check_inside
from .errors import InputError
from .speed.curve import SpeedCurve
from .speed.limits import check_factor
from .speed.realise import AudioPiece, RealisedCurve, TimeMap, realise, segment_stretch
from .speed.stretch import Stretch

MIN_RAMP = 1e-3  # frames; shorter ramps count as no ramp
RATE_DENOMINATOR_LIMIT = 1000  # smooth mode: a non-integer factor becomes a Fraction with a denominator up to this


# --------------------------------------------------------------------------------------------------------------------
# Segments


@dataclass(frozen=True)
class Segment:
    """Slow the frames ``start..end`` (``end - start`` intervals) down by ``factor``, easing over ``ramp`` frames."""

    start: int
    end: int
    factor: float
    ramp: float = 0.0

    def __post_init__(self) -> None:
        start, end = _frame_index(self.start, "start"), _frame_index(self.end, "end")
        if start >= end:
            raise InputError(f"slow range {start}:{end} is empty or reversed: the start frame must come before the end")
        factor, ramp = check_factor(self.factor), _ramp(self.ramp, start, end)
        # Normalize numpy scalars and ints so the values that travel are plain Python numbers.
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)
        object.__setattr__(self, "factor", factor)
        object.__setattr__(self, "ramp", ramp)

    @property
    def span(self) -> int:
        """Source frame intervals in the range."""
        return self.end - self.start

    @property
    def stretch(self) -> Stretch:
        """The range as a stretch of a speed curve: what realises it (`speed.realise.segment_stretch`)."""
        return segment_stretch(self.start, self.end, self.factor, self.ramp)

    @property
    def output_span(self) -> int:
        """Output frame intervals the range lasts: the slowdown's integral, rounded half up (see module doc)."""
        return self.stretch.output_length

    def source_offsets(self, times: np.ndarray) -> np.ndarray:
        """Source offsets (0..span) shown at output times ``times`` (0..output_span): the inverse of the integral."""
        return self.stretch.source_offsets(times)


def _frame_index(value, name: str) -> int:
    integral_float = isinstance(value, (float, np.floating)) and float(value).is_integer()
    if isinstance(value, bool) or not (isinstance(value, (int, np.integer)) or integral_float):
        raise InputError(f"range {name} {value!r} is not a frame index: use a whole number of frames")
    if value < 0:
        raise InputError(f"range {name} {value!r} is negative: frame indices start at 0")
    return int(value)


def _ramp(value, start: int, end: int) -> float:
    try:
        ramp = float(value)
    except (TypeError, ValueError):
        ramp = math.nan
    if not math.isfinite(ramp) or ramp < 0:
        raise InputError(
            f"ramp {value!r} of range {start}:{end} is invalid: use 0 (no easing) or a positive number of frames"
        )
    if 2 * ramp > end - start:
        raise InputError(
            f"ramp {ramp:g} of range {start}:{end} is too long: the ease-in and ease-out must fit inside the "
            f"{end - start} frames of the range, so use a ramp of at most {(end - start) / 2:g}"
        )
    return 0.0 if ramp < MIN_RAMP else ramp  # too short to see, and its curve would divide by almost zero


# --------------------------------------------------------------------------------------------------------------------
# Timelines


@dataclass(frozen=True, eq=False)  # eq=False: the positions array has no single truth value
class Timeline:
    """For every output frame, the source position it shows (see the module doc). ``curve``: the realised speed
    curve of slow mode (a `Segment` list is one), None in smooth mode."""

    source_count: int
    positions: np.ndarray
    segments: tuple[Segment, ...]
    rate_multiplier: Fraction
    curve: RealisedCurve | None = None

    def __len__(self) -> int:
        return len(self.positions)

    @property
    def retimed_ranges(self) -> tuple[tuple[int, int], ...]:
        """The source ranges ``(start, end)`` that are actually retimed: every stretch that adds or drops frames
        (a slowed segment) or holds a frame in between, or the whole clip in smooth mode with a multiplier above 1."""
        if self.rate_multiplier != 1:
            return ((0, self.source_count - 1),) if self.source_count > 1 else ()
        return self.curve.retimed_ranges if self.curve is not None else ()

    def audio_pieces(self) -> list[AudioPiece]:
        """Consecutive pieces covering the source duration ``0..source_count`` (frame periods).

        Slow mode: outside the stretches the audio keeps its speed; a stretch changes it by its slowdown, eased parts
        in pieces of at most one source frame with their exact integrated length, a freeze is a silent piece of no
        source length. The lengths add up to ``len(self)``. Smooth mode: the duration does not change, so there is
        one piece of ``source_count`` periods at 1x (its length is in source frame periods, not in the faster output
        frames: play the audio unchanged).
        """
        if self.curve is None:
            return [AudioPiece(0.0, float(self.source_count), float(self.source_count))]
        return self.curve.audio_pieces()

    def time_map(self, frame_rate) -> TimeMap:
        """Source seconds -> output seconds (``frame_rate``: the source's), for the audio and the subtitles."""
        if self.curve is None:
            end = self.source_count / float(frame_rate)
            return TimeMap(np.array([0.0, end]), np.array([0.0, end]))
        return self.curve.time_map(frame_rate)


def slow_timeline(source_count: int, segments: Sequence[Segment]) -> Timeline:
    """Slow motion at the input frame rate: each segment's range lasts ``factor`` times longer (see module doc)."""
    count = checked_count(source_count)
    for segment in segments:
        if not isinstance(segment, Segment):
            raise InputError(f"{segment!r} is not a Segment: describe each slow range as Segment(start, end, factor)")
    ordered = tuple(sorted(segments, key=lambda s: s.start))
    for segment in ordered:
        check_inside(f"slow range {segment.start}:{segment.end}", segment.end, count)
    for first, second in pairwise(ordered):
        if second.start < first.end:
            raise InputError(
                f"slow ranges {first.start}:{first.end} and {second.start}:{second.end} overlap: ranges may touch "
                f"(one ends where the next starts) but must not share more than that frame"
            )
    curve = RealisedCurve(count, tuple(segment.stretch for segment in ordered))
    return Timeline(count, _frozen(curve.positions()), ordered, Fraction(1), curve)


def curve_timeline(curve: SpeedCurve) -> Timeline:
    """Slow motion (and fast motion, and freezes) at the input frame rate along a speed curve (`speed`)."""
    realised = realise(curve)
    return Timeline(curve.frame_count, _frozen(realised.positions()), (), Fraction(1), realised)


def smooth_timeline(source_count: int, factor: float) -> Timeline:
    """The whole clip at ``factor`` times the frame rate, same duration (frame-rate up-conversion)."""
    count = checked_count(source_count)
    multiplier = Fraction(check_factor(factor)).limit_denominator(RATE_DENOMINATOR_LIMIT)  # >= 1: 1/1 is a candidate
    output_count = math.floor(count * multiplier + Fraction(1, 2))
    k = np.arange(output_count, dtype=np.int64)
    # k * q / p as one float division of exact integers: positions that are whole frames come out exactly whole.
    positions = (k * multiplier.denominator) / multiplier.numerator
    return Timeline(count, _frozen(np.minimum(positions, count - 1)), (), multiplier)


def checked_count(value) -> int:
    """A clip's frame count, checked (at least one frame)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InputError(f"source frame count {value!r} is invalid: a clip needs at least one frame")
    return int(value)


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False  # the timeline is shared by value; nobody may edit it in place
    return array
