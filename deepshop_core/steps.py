"""The render plan: how every output frame of a timeline is made. A `Step` copies a source frame or interpolates a
pair at t; a `Blend` (a faster part's motion blur) averages several such samples over the frame's exposure. Cuts are
never interpolated or blended across, held duplicates are bridged so motion stays even (`plan`)."""

from __future__ import annotations

import bisect
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from .errors import InputError
from .speed.shutter import Shutter, exposure_windows, sample_positions
from .timeline import Timeline


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


def same_pair(a: Step | Blend, b: Step | Blend) -> bool:
    """Whether consecutive plan items ``a`` and ``b`` are rendered by one engine call: both interpolate the same
    pair (copies and blends stand alone). The renderer groups by it; chunks end only where it is false."""
    return isinstance(a, Step) and isinstance(b, Step) and not a.is_copy and not b.is_copy \
        and (a.left, a.right) == (b.left, b.right)


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
