"""A range of a clip and its interpolated batch, as the five-step path (Select Range -> Interpolate -> Retime, or
another pack's interpolator in between) hands them on, and how such a batch is put back into its clip.

`SelectedRange` is what Select Range picks; `RenderedRange` an interpolated range that carries its own timeline
(ramps at their exact times); `InterpolatedBatch` says which convention a batch made elsewhere follows (Deepshop's
``N x factor`` frames or core ComfyUI's ``(N - 1) x m + 1``); `retime_batch` says, for every output frame of the
slowed clip, which clip frame or interpolated frames it shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .clock import exact_rate, parse_range
from .errors import InputError
from .speed.limits import check_factor
from .timeline import Segment, Timeline, slow_timeline, smooth_timeline
from .timeline import checked_count as source_count_of

BATCH_CONVENTIONS = {
    "deepshop": "N x factor frames (Deepshop Interpolate: frame k shows time k / factor, the last ones hold the end)",
    "endpoints": "(N - 1) x m + 1 frames (ComfyUI's FrameInterpolate, ComfyUI-Frame-Interpolation: both ends kept, "
                 "frame k shows time k / m)",
}


@dataclass(frozen=True)
class InterpolatedBatch:
    """How an interpolated batch of a range maps to times: ``positions[k]`` is the range time frame k shows."""

    convention: str  # a key of BATCH_CONVENTIONS
    factor: float
    positions: np.ndarray

    def describe(self, source_count: int) -> str:
        return (f"{len(self.positions)} interpolated frames read as {BATCH_CONVENTIONS[self.convention]}, "
                f"for a {self.factor:g}x interpolation of {source_count} frames")


def interpolated_batch(source_count: int, factor: float, frames: int) -> InterpolatedBatch:
    """Which convention a batch of ``frames`` interpolated frames of a ``source_count``-frame range follows, at
    ``factor``: Deepshop's ``N x factor`` or the ``(N - 1) x m + 1`` of core ComfyUI and other packs (integer m). A
    size that fits neither is an `InputError` naming the factor it would fit, if any."""
    count = source_count_of(source_count)
    ours = smooth_timeline(count, factor)
    if frames == len(ours):
        return InterpolatedBatch("deepshop", float(factor), ours.positions)
    factor = check_factor(factor)
    if count > 1 and factor == int(factor) and frames == (count - 1) * int(factor) + 1:
        return InterpolatedBatch("endpoints", factor, ours.positions[:frames])
    hints = []
    if count > 1 and frames > count and (frames - 1) % (count - 1) == 0:
        hints.append(f"{(frames - 1) // (count - 1)}x in the (N - 1) x m + 1 convention of core ComfyUI")
    if frames % count == 0 and frames > count:
        hints.append(f"{frames // count}x in Deepshop's N x factor convention")
    fits = f"; it fits {' or '.join(hints)}: use that factor" if hints else ""
    raise InputError(
        f"interpolated has {frames} frames but a {factor:g}x interpolation of the {count}-frame range gives "
        f"{len(ours)} (Deepshop Interpolate) or {(count - 1) * factor + 1:g} (core FrameInterpolate, integer factors)"
        f"{fits}. Interpolate Select Range's segment with the same factor as here")


@dataclass(frozen=True)
class SelectedRange:
    """Frames ``start..end`` (``end - start`` intervals) picked in a batch of ``source_count`` frames at
    ``frame_rate``: what Select Range hands to Interpolate and Retime."""

    start: int
    end: int
    source_count: int
    frame_rate: Fraction

    def segment(self, factor: float, ramp: float = 0.0) -> Segment:
        return Segment(self.start, self.end, factor, ramp)

    def timeline(self, factor: float, ramp: float = 0.0) -> Timeline:
        """The whole batch's slow-motion timeline."""
        return slow_timeline(self.source_count, [self.segment(factor, ramp)])

    def range_timeline(self, factor: float, ramp: float = 0.0) -> Timeline:
        """The timeline of the range's own frames: its positions are the whole timeline's inside the range, less
        ``start`` (a segment's times depend on the segment alone), the last one the range's end frame."""
        span = self.end - self.start
        return slow_timeline(span + 1, [Segment(0, span, factor, ramp)])


@dataclass(frozen=True)
class RenderedRange:
    """An interpolated range that carries its plan: frame k of the batch shows range time ``positions[k]``, so
    Retime takes its frames as they are instead of asking for the factor again (ramps included, exactly)."""

    range: SelectedRange
    factor: float
    ramp: float
    positions: np.ndarray

    def splice_into(self, frame_count: int) -> tuple[Timeline, int]:
        """The whole batch's timeline and how many of the batch's frames it uses (the last one, the range's end
        frame, comes from the source)."""
        if frame_count != self.range.source_count:
            raise InputError(f"the range was selected on {self.range.source_count} frames but images has "
                             f"{frame_count}: connect the same batch to Select Range and Slow Motion Retime")
        whole = self.range.timeline(self.factor, self.ramp)
        return whole, self.range.segment(self.factor, self.ramp).output_span


def select_range(text: str, frame_count: int, frame_rate, *, offset: int = 0,
                 total: int | None = None) -> SelectedRange:
    """The range ``text`` ("120:150", "4.8s:6.0s") of a batch of ``frame_count`` frames that starts at frame
    ``offset`` of a ``total``-frame clip (a window loaded from a longer clip: numbers count from the clip's start)."""
    rate = exact_rate(frame_rate)
    start, end = parse_range(text, rate, frame_count if total is None else total)
    start, end = start - offset, end - offset
    if start < 0 or end > frame_count - 1:
        raise InputError(
            f"range {text!r} is frames {start + offset}..{end + offset} of the clip, outside the loaded frames "
            f"{offset}..{offset + frame_count - 1}: load a window that contains it or choose another range")
    return SelectedRange(start, end, frame_count, rate)


@dataclass(frozen=True)
class RetimedFrames:
    """For every output frame of a clip whose range was interpolated elsewhere: ``clip[k]`` >= 0 copies that clip
    frame; otherwise interpolated frame ``left[k]``, mixed with ``right[k]`` by ``weight[k]`` (0: left alone; a
    ramp's time that falls between two interpolated frames)."""

    timeline: Timeline
    clip: np.ndarray
    left: np.ndarray
    right: np.ndarray
    weight: np.ndarray


def retime_batch(selected: SelectedRange, factor: float, ramp: float, interpolated: int) -> RetimedFrames:
    """How Slow Motion Retime puts ``interpolated`` frames of ``selected`` (made at ``factor`` by Deepshop or another
    pack, `interpolated_batch`) back into the clip slowed by ``factor`` with ``ramp``."""
    span = selected.end - selected.start + 1
    dense = interpolated_batch(span, factor, interpolated)
    timeline = selected.timeline(factor, ramp)
    offsets = np.asarray(timeline.positions) - selected.start
    left, right, weight = bracket(dense.positions, offsets)
    nearest = np.round(timeline.positions).astype(np.int64)
    whole = np.abs(timeline.positions - nearest) < 1e-9
    weight = np.where(weight < 1e-6, 0.0, weight)  # an interpolated frame shows exactly this time
    return RetimedFrames(timeline, np.where(whole, nearest, -1), left, right, weight)


def bracket(grid: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each value, the entries of the sorted ``grid`` around it and its weight towards the right one (clamped
    at the grid's ends)."""
    grid = np.asarray(grid, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    if len(grid) == 1:
        zeros = np.zeros(len(values), dtype=np.int64)
        return zeros, zeros, np.zeros(len(values))
    right = np.clip(np.searchsorted(grid, values, side="right"), 1, len(grid) - 1)
    left = right - 1
    span = grid[right] - grid[left]
    weight = np.clip((values - grid[left]) / np.where(span > 0, span, 1), 0, 1)
    return left, right, weight
