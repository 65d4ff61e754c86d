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

import bisect
import math
import numbers
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import pairwise

import numpy as np

from .errors import InputError
from .speed.curve import SpeedCurve
from .speed.limits import MAX_FACTOR, check_factor  # noqa: F401 (their owner is speed.limits; read here too)
from .speed.realise import AudioPiece, RealisedCurve, TimeMap, realise, segment_stretch
from .speed.shutter import Shutter, exposure_windows, sample_positions
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
        _check_inside(f"slow range {segment.start}:{segment.end}", segment.end, count)
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


# --------------------------------------------------------------------------------------------------------------------
# Ranges in frames or seconds

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
        _check_inside(f"range {text!r} (frames {start}:{end})", end, frame_count)
    return start, end


def _check_inside(what: str, end: int, count: int) -> None:
    """An `InputError` unless a range ending at frame ``end`` lies inside a ``count``-frame clip."""
    if count < 2:
        raise InputError(f"{what} cannot be slowed: the clip has only {count} frame, and slow motion needs two "
                         "frames to create the ones in between; give a clip with at least two frames")
    if end > count - 1:
        raise InputError(f"{what} ends past the last frame ({count - 1}) of a {count}-frame clip: choose a range "
                         f"inside 0:{count - 1}")


# --------------------------------------------------------------------------------------------------------------------
# The render plan


@dataclass(frozen=True)
class Step:
    """One output frame: copy ``left`` (``t == 0``) or interpolate from ``left`` to ``right`` at ``t``.

    ``right`` is usually ``left + 1``; across held (duplicate) frames it is the next distinct frame, further on.
    """

    left: int
    right: int
    t: float

    @property
    def is_copy(self) -> bool:
        return self.t == 0


@dataclass(frozen=True)
class Blend:
    """One output frame of a faster part: the average of ``samples`` (each a `Step`, in source order) with
    ``weights`` (summing to 1; None: equal), its exposure over source time (`speed.shutter`). Render it with
    `speed.shutter.render_blend`. One plan item: a chunk boundary never falls between its samples. ``left`` and
    ``right`` span the frames it reads."""

    samples: tuple[Step, ...]
    weights: tuple[float, ...] | None = None

    is_copy = False

    @property
    def left(self) -> int:
        return self.samples[0].left

    @property
    def right(self) -> int:
        return max(s.right for s in self.samples)

    def groups(self) -> list[tuple[Step, list[Step]]]:
        """Consecutive samples that share a frame pair (or copy one frame), so an engine sees each pair once."""
        groups: list[tuple[Step, list[Step]]] = []
        for sample in self.samples:
            if groups and (sample.left, sample.right, sample.is_copy) == \
                    (groups[-1][0].left, groups[-1][0].right, groups[-1][0].is_copy):
                groups[-1][1].append(sample)
            else:
                groups.append((sample, [sample]))
        return groups


def plan(timeline: Timeline, cuts: Collection[int] = (), duplicates: Collection[int] = (),
         shutter: Shutter | None = None) -> list[Step | Blend]:
    """How to render every output frame of ``timeline``.

    ``cuts``: indices k with a scene cut between frames k-1 and k. No step interpolates across a cut; a position
    between the two frames shows the nearer one (t < 0.5 -> left, else right).

    ``duplicates``: indices k whose picture repeats frame k-1 (held frames, animation on twos). Inside each retimed
    range (``Timeline.retimed_ranges``) positions are mapped onto the range's "keys": its start and end frames and
    every frame between that is not a duplicate (a frame after a cut always counts as distinct). Each key's picture
    moves at the time the key appears: content 0,0,1,1,2,2 has keys at 0, 2, 4 (and the end, 5), and position 1.5
    interpolates frames 0 and 2 at t = 0.75, so the motion is even instead of stuttering. That applies to integer
    positions too: a held frame strictly inside a retimed range is rendered as an in-between. A key is always copied
    as itself; where the next key shows the same picture (a held end frame) or lies beyond a cut, the picture is
    held. Frames outside the retimed ranges, and the ranges' own start and end frames, are always exact copies.

    ``shutter``: where the timeline plays faster than 1x, each frame becomes a `Blend` of the source over its
    exposure (`speed.shutter`), clipped to its shot and its retimed range; None or angle 0: sharp steps everywhere.
    Slow motion never plays faster, so its plan is the same with or without a shutter.

    Streaming: ``left`` never decreases from one item to the next, and ``right`` stays inside the item's retimed
    range, so a renderer may drop every frame before the current ``left``.
    """
    count = timeline.source_count
    cut_set = _frame_set(cuts, count, "scene cut")
    held = _frame_set(duplicates, count, "duplicate frame") - cut_set
    step = _step_rule(timeline.retimed_ranges, cut_set, held)
    items: list[Step | Blend] = [step(float(s)) for s in timeline.positions]
    if shutter is not None and shutter.angle > 0 and timeline.curve is not None:
        _blur(items, timeline, shutter, sorted(cut_set), step)
    return items


def _step_rule(ranges: Sequence[tuple[int, int]], cut_set: set[int], held: set[int]):
    """The step that renders source position s (see `plan`)."""
    starts = [a for a, _ in ranges]
    # The range's ends count as keys: they are copied as themselves, so the motion must pass through them.
    range_keys = [[a, *(k for k in range(a + 1, b) if k not in held), b] for a, b in ranges] if held else []

    def step(s: float) -> Step:
        left = math.floor(s)
        t = s - left
        r = bisect.bisect_right(starts, s) - 1
        if held and r >= 0 and ranges[r][0] < s < ranges[r][1] and (t > 0 or left in held):
            keys = range_keys[r]
            i = bisect.bisect_right(keys, s) - 1  # keys[0] < s < keys[-1]
            key, next_key = keys[i], keys[i + 1]
            if next_key in held or (next_key in cut_set and next_key > left + 1):
                return Step(left, left, 0.0)  # the same picture until the end, or nothing to move to before the cut
            if next_key not in cut_set:
                return Step(key, next_key, (s - key) / (next_key - key))
        if t == 0:
            return Step(left, left, 0.0)
        if left + 1 in cut_set:
            nearest = left if t < 0.5 else left + 1
            return Step(nearest, nearest, 0.0)
        return Step(left, left + 1, t)

    return step


def _blur(items: list, timeline: Timeline, shutter: Shutter, cuts: list[int], step) -> None:
    """Replace the sharp steps of the faster frames in ``items`` by blends over their exposure."""
    positions = timeline.positions
    speeds = timeline.curve.frame_speeds(positions)
    fast = np.flatnonzero(speeds > 1 + 1e-9)
    if not fast.size:
        return
    lo, hi = exposure_windows(positions, speeds, shutter.angle, timeline.source_count)
    ranges = timeline.retimed_ranges
    starts = [a for a, _ in ranges]
    for k in fast:
        x = float(positions[k])
        anchor = math.floor(x) + (1 if x % 1 >= 0.5 and math.floor(x) + 1 in cuts else 0)  # the frame's shot
        shot_start = cuts[bisect.bisect_right(cuts, anchor) - 1] if cuts and cuts[0] <= anchor else 0
        after = bisect.bisect_right(cuts, anchor)
        shot_end = cuts[after] - 1 if after < len(cuts) else timeline.source_count - 1
        r = bisect.bisect_right(starts, x) - 1
        low, high = (ranges[r][0], ranges[r][1]) if r >= 0 and x <= ranges[r][1] else (x, x)
        window = (max(lo[k], shot_start, low), min(hi[k], shot_end, high))
        if window[1] <= window[0]:
            continue
        times, weights = sample_positions(x, *window, shutter.sampling, shutter.angle)
        # Whole frames are blended as they are (held ones too: no synthesis); sub-frames follow the sharp rule.
        samples = [Step(int(s), int(s), 0.0) if shutter.sampling == "frames" else step(float(s)) for s in times]
        if any(s != samples[0] for s in samples):
            items[k] = Blend(tuple(samples), None if weights is None else tuple(float(w) for w in weights))
        else:
            items[k] = samples[0]


def _frame_set(indices: Collection[int], count: int, what: str) -> set[int]:
    result = set()
    for k in indices:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 < k < count:
            raise InputError(
                f"{what} index {k!r} is invalid: it names frame k (between frames k-1 and k), so it must be a whole "
                f"number from 1 to {count - 1}"
            )
        result.add(int(k))
    return result
