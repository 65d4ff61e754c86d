"""The slow-range retime math as it was before speed curves (deepshop_core/timeline.py at bc83bd8), kept verbatim in
substance as the oracle for "today's --range/--factor/--ramp gives the same frames bit for bit" (tests/test_curves.py).

Only the arithmetic is kept (no validation): ``positions(count, [(start, end, factor, ramp), ...])`` and
``audio_pieces(...)`` as tuples. Do not "improve" it: its float expressions are the reference.
"""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np

_BISECTION_STEPS = 60
_WHOLE_FRAME_TOLERANCE = 1e-9


class _Segment:
    def __init__(self, start, end, factor, ramp):
        self.start, self.end, self.factor, self.ramp = start, end, factor, ramp
        self.span = end - start
        self.output_span = math.floor(self.span * self.factor - (self.factor - 1.0) * self.ramp + 0.5)
        self.extra = (self.output_span - self.span) / (self.span - self.ramp)

    def output_time(self, x):
        x = np.asarray(x, dtype=np.float64)
        extra, ramp, span = self.extra, self.ramp, self.span
        if ramp == 0:
            return x * (self.output_span / span)

        def eased(u):
            u = np.clip(u, 0.0, 1.0)
            return ramp * (u**3 - u**4 / 2)

        plateau = np.clip(x - ramp, 0.0, span - 2 * ramp)
        ease_out = eased((x - (span - ramp)) / ramp)
        return x + extra * (eased(x / ramp) + plateau + np.clip(x - (span - ramp), 0.0, ramp) - ease_out)

    def source_offsets(self, times):
        times = np.asarray(times, dtype=np.float64)
        if self.ramp == 0 or self.output_span == self.span:
            return times * self.span / self.output_span
        low, high = np.zeros_like(times), np.full_like(times, float(self.span))
        for _ in range(_BISECTION_STEPS):
            middle = (low + high) / 2
            below = self.output_time(middle) < times
            low, high = np.where(below, middle, low), np.where(below, high, middle)
        offsets = (low + high) / 2
        whole = np.round(offsets)
        return np.where(np.abs(offsets - whole) < _WHOLE_FRAME_TOLERANCE, whole, offsets)


def positions(count: int, segments) -> np.ndarray:
    pieces, cursor = [], 0
    for segment in sorted((_Segment(*s) for s in segments), key=lambda s: s.start):
        pieces.append(np.arange(cursor, segment.start, dtype=np.float64))
        times = np.arange(segment.output_span, dtype=np.float64)
        pieces.append(segment.start + segment.source_offsets(times))
        cursor = segment.end
    pieces.append(np.arange(cursor, count, dtype=np.float64))
    return np.concatenate(pieces)


def audio_pieces(count: int, segments) -> list[tuple[float, float, float]]:
    pieces, cursor = [], 0
    for segment in sorted((_Segment(*s) for s in segments), key=lambda s: s.start):
        if segment.start > cursor:
            pieces.append((float(cursor), float(segment.start), float(segment.start - cursor)))
        ramp, span = segment.ramp, segment.span
        steps = max(1, math.ceil(ramp))
        offsets = [0.0, float(span)]
        for i in range(steps + 1):
            offsets += [ramp * i / steps, span - ramp + ramp * i / steps]
        points = np.array(sorted({segment.start + offset for offset in offsets}))
        times = segment.output_time(points - segment.start)
        times[0], times[-1] = 0.0, segment.output_span
        pieces += [(float(a), float(b), float(tb - ta)) for (a, ta), (b, tb) in pairwise(zip(points, times))]
        cursor = segment.end
    pieces.append((float(cursor), float(count), float(count - cursor)))
    return pieces
