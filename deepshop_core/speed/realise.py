"""A speed curve realised for a clip: its stretches, every output frame's source position, and the time map.

`realise(curve)` splits a `SpeedCurve` into stretches (`speed.stretch`): maximal runs of the curve away from 1x
(a curve that only touches 1x at a point stays one run), widened to whole source frames (so the 1x frames around
them stay copies) and merged where the widening makes them overlap, each freeze joined to the stretch it falls in
or standing alone. `segment_stretch` makes the stretch of a constant-factor range (`timeline.Segment`).
`RealisedCurve` is what both give: the one code path for positions, output times (the integral), realised speeds,
audio pieces and the time map that audio and subtitles follow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from .curve import SpeedCurve
from .stretch import Part, Stretch, split_at_one

_ANCHOR_STEP = 0.125  # source frames between time-map anchors inside a stretch (5 ms at 25 fps), at most
_ANCHOR_ERROR = 0.005  # frames: the most the time map (linear between anchors) may stray from the curve


@dataclass(frozen=True)
class AudioPiece:
    """The source audio between ``src_start`` and ``src_end`` (in source frame periods) lasts ``out_length`` periods.

    ``out_length / (src_end - src_start)`` is the local slowdown; a freeze is a piece with ``src_end == src_start``
    (silent). All values are in units of one source frame period (1 / input fps), so ``seconds = value / input_fps``.
    """

    src_start: float
    src_end: float
    out_length: float


def segment_stretch(start: int, end: int, factor: float, ramp: float) -> Stretch:
    """A constant slow-down by ``factor`` over frames start..end, eased in and out along smoothsteps over ``ramp``
    frames: the shape 0 -> 1 (smooth), 1 (held), 1 -> 0 (smooth), scaled by ``factor - 1``. Offsets and lengths are
    the old code's expressions (see `speed.stretch`)."""
    span = end - start
    if ramp == 0:
        parts = (Part(0.0, float(span), 1.0, 1.0, "hold"),)
    else:
        parts = (Part(0.0, ramp, 0.0, 1.0, "smooth"), Part(ramp, span - 2 * ramp, 1.0, 1.0, "hold"),
                 Part(span - ramp, ramp, 1.0, 0.0, "smooth"))
    return Stretch(start, end, parts, factor - 1.0)


def curve_stretches(curve: SpeedCurve) -> tuple[Stretch, ...]:
    """The stretches of a keyframed curve (see the module doc)."""
    pieces = _pieces(curve)
    bounds: list[list[int]] = []
    active_until = None  # where the last piece away from 1x ended
    for x0, x1, w0, w1, ease in pieces:
        if not _active(w0, w1, ease):
            continue
        a, b = math.floor(x0), math.ceil(x1)
        # One stretch while the curve stays away from 1x, or where widening makes two overlap.
        if bounds and (x0 == active_until or a < bounds[-1][1]):
            bounds[-1][1] = max(bounds[-1][1], b)
        else:
            bounds.append([a, b])
        active_until = x1
    stretches = []
    freezes = {f.position: f.frames for f in curve.freezes}
    for a, b in bounds:
        within = [piece for piece in pieces if min(piece[1], b) > max(piece[0], a)]
        # The shape peaks at 1 and the scale is its peak, as a Segment's: a curve shaped like a range realises
        # exactly as that range does, to the last bit.
        peak = max((abs(w) for x0, x1, w0, w1, ease in within if _active(w0, w1, ease)
                    for w in (w0, w1 if ease != "hold" else w0)), default=1.0)
        parts: list[Part] = []
        for x0, x1, w0, w1, ease in within:
            if _active(w0, w1, ease):
                parts += split_at_one(x0 - a, x1 - x0, w0 / peak, w1 / peak, ease)
            else:
                lo, hi = max(x0, a), min(x1, b)
                parts.append(Part(lo - a, hi - lo, 0.0, 0.0, "hold"))
        inside = tuple((f, d) for f, d in sorted(freezes.items()) if a <= f < b)
        stretches.append(Stretch(a, b, tuple(parts), peak, inside))
        for f, _ in inside:
            del freezes[f]
    stretches += [Stretch(f, f, (), 1.0, ((f, d),)) for f, d in freezes.items()]
    return tuple(sorted(stretches, key=lambda s: (s.start, s.end)))


def _pieces(curve: SpeedCurve) -> list[tuple[float, float, float, float, str]]:
    """(x0, x1, w0, w1, ease) over 0..N-1 with w = slowdown - 1: flat before the first keyframe and after the last,
    each keyframe's ease on the piece arriving at it."""
    keys, last = curve.keyframes, float(curve.frame_count - 1)
    if not keys:
        return []
    pieces = []
    if keys[0].position > 0:
        pieces.append((0.0, keys[0].position, keys[0].slowdown - 1, keys[0].slowdown - 1, "hold"))
    for before, key in pairwise(keys):
        pieces.append((before.position, key.position, before.slowdown - 1, key.slowdown - 1, key.ease))
    if keys[-1].position < last:
        pieces.append((keys[-1].position, last, keys[-1].slowdown - 1, keys[-1].slowdown - 1, "hold"))
    return pieces


def _active(w0: float, w1: float, ease: str) -> bool:
    return w0 != 0 or (ease != "hold" and w1 != 0)


def realise(curve: SpeedCurve) -> RealisedCurve:
    return RealisedCurve(curve.frame_count, curve_stretches(curve))


@dataclass(frozen=True, eq=False)
class RealisedCurve:
    """A clip of ``frame_count`` frames retimed by ``stretches`` (ordered; they may touch, never overlap); 1x
    elsewhere. Output frame k shows source position ``positions()[k]``; output time T(x) is `output_time`."""

    frame_count: int
    stretches: tuple[Stretch, ...]

    def __post_init__(self) -> None:
        shifts = np.cumsum([0] + [s.extra + s.frozen_frames for s in self.stretches])
        object.__setattr__(self, "_shift_before", shifts[:-1])
        object.__setattr__(self, "_shift_after", shifts[1:])
        object.__setattr__(self, "_starts", np.array([s.start for s in self.stretches], dtype=np.float64))

    @property
    def output_count(self) -> int:
        return self.frame_count + int(sum(s.extra + s.frozen_frames for s in self.stretches))

    def output_start(self, index: int) -> int:
        """The output frame that shows stretch ``index``'s first frame."""
        return self.stretches[index].start + int(self._shift_before[index])

    @property
    def retimed_ranges(self) -> tuple[tuple[int, int], ...]:
        """The source ranges whose frames are not all copies: every stretch the rounding left an effect in."""
        return tuple((s.start, s.end) for s in self.stretches if s.length > 0 and not s.is_identity)

    def positions(self) -> np.ndarray:
        """The source position every output frame shows (whole numbers are copies)."""
        pieces = []
        cursor = 0
        for stretch in self.stretches:
            pieces.append(np.arange(cursor, stretch.start, dtype=np.float64))
            times = np.arange(stretch.output_length, dtype=np.float64)  # the end frame is emitted by what follows
            pieces.append(stretch.start + stretch.source_offsets(times))
            cursor = stretch.end
        pieces.append(np.arange(cursor, self.frame_count, dtype=np.float64))
        return np.concatenate(pieces)

    def _locate(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each x: the index of the last stretch starting at or before it (-1: none), and whether x is inside."""
        index = np.searchsorted(self._starts, x, side="right") - 1
        ends = np.array([s.end for s in self.stretches] + [0], dtype=np.float64)
        return index, (index >= 0) & (x < ends[index])

    def output_time(self, x) -> np.ndarray:
        """Output frame time T(x) of source positions ``x`` (a freeze's frame maps to the end of its freeze)."""
        x = np.asarray(x, dtype=np.float64)
        if not self.stretches:
            return x.copy()
        index, inside = self._locate(x)
        times = x + np.where(index >= 0, self._shift_after[np.maximum(index, 0)], 0)
        for i in np.unique(index[inside]):
            chosen = inside & (index == i)
            stretch = self.stretches[i]
            times[chosen] = self.output_start(i) + stretch.output_time(x[chosen] - stretch.start)
        return times

    def slowdown_at(self, x) -> np.ndarray:
        """The realised slowdown (output frames per source frame, after whole-frame rounding) at ``x``."""
        x = np.asarray(x, dtype=np.float64)
        result = np.ones_like(x)
        if self.stretches:
            index, inside = self._locate(x)
            for i in np.unique(index[inside]):
                chosen = inside & (index == i)
                result[chosen] = self.stretches[i].slowdown(x[chosen] - self.stretches[i].start)
        return result

    def frame_speeds(self, positions: np.ndarray | None = None) -> np.ndarray:
        """The playback speed at every output frame (source frames per output frame); 0 while a freeze holds."""
        positions = self.positions() if positions is None else positions
        speeds = 1.0 / self.slowdown_at(positions)
        for start, frames in self.freeze_spans():
            speeds[math.ceil(start - 1e-9): math.ceil(start + frames - 1e-9)] = 0.0
        return speeds

    def freeze_spans(self) -> list[tuple[float, int]]:
        """(output time the freeze starts, its frames) for every freeze."""
        spans = []
        for i, stretch in enumerate(self.stretches):
            held = 0
            for frame, frames in stretch.freezes:
                offset = float(stretch.continuous_time(np.array([frame - stretch.start], float))[0])
                spans.append((self.output_start(i) + offset + held, frames))
                held += frames
        return spans

    def audio_pieces(self) -> list[AudioPiece]:
        """Consecutive pieces covering the source duration 0..frame_count (frame periods): 1x between stretches,
        each stretch in pieces of at most one source frame where its speed changes (exact integrated lengths), each
        freeze a silent piece. The lengths add up to the output length."""
        pieces: list[AudioPiece] = []
        cursor = 0
        for stretch in self.stretches:
            if stretch.start > cursor:
                pieces.append(AudioPiece(float(cursor), float(stretch.start), float(stretch.start - cursor)))
            pieces.extend(_stretch_audio(stretch))
            cursor = stretch.end
        pieces.append(AudioPiece(float(cursor), float(self.frame_count), float(self.frame_count - cursor)))
        return pieces

    def time_map(self, frame_rate, step: float = _ANCHOR_STEP) -> TimeMap:
        """Source seconds -> output seconds as anchor pairs, exact at each anchor (every part boundary, both sides of
        each freeze, and inside each part at most ``step`` source frames apart, closer where needed), linear between
        them, within `_ANCHOR_ERROR` frames of the curve everywhere."""
        source: list[float] = []
        output: list[float] = []
        for i, stretch in enumerate(self.stretches):
            begin = float(self.output_start(i))
            _anchor(source, output, stretch.start, begin)
            grid, times = np.zeros(1), np.zeros(1)
            if stretch.length > 0:
                grid = np.union1d(_anchor_grid(stretch, step), [frame - stretch.start for frame, _ in stretch.freezes])
                grid = grid[(grid >= 0) & (grid <= stretch.length)]
                times = stretch.continuous_time(grid)
                times[0], times[-1] = 0.0, stretch.length + stretch.extra
            freezes = {float(frame - stretch.start): frames for frame, frames in stretch.freezes}
            held = 0
            for offset, time in zip(grid, times):
                _anchor(source, output, stretch.start + offset, begin + time + held)
                if offset in freezes:  # time runs on while the source stands still
                    held += freezes[offset]
                    _anchor(source, output, stretch.start + offset, begin + time + held)
        last = float(self.output_time(np.array([self.frame_count - 1.0]))[0])
        _anchor(source, output, self.frame_count - 1.0, last)
        _anchor(source, output, float(self.frame_count), last + 1.0)
        fps = float(frame_rate)
        source_s, output_s = np.array(source) / fps, np.array(output) / fps
        keep = np.concatenate([[True], np.diff(output_s) > 0])  # seconds can merge what frames kept apart
        return TimeMap(source_s[keep], output_s[keep])


def _anchor_grid(stretch: Stretch, step: float) -> np.ndarray:
    """Offsets of a stretch's time-map anchors: every part's ends, and points at most ``step`` apart inside it,
    closer where the slowdown changes fast, so that the map, linear between anchors, stays within
    `_ANCHOR_ERROR` frames of the curve (the error of a chord is h^2 / 8 times the slowdown's slope)."""
    points = [np.array([0.0, float(stretch.length)])]
    for part in stretch.parts:
        begin, share = part.offset + part.length * part.lo, part.length * (part.hi - part.lo)
        k = stretch.k_slower if part.slower else stretch.k_faster
        slope = 1.5 * abs(k * (part.w1 - part.w0)) / part.length if part.ease != "hold" and part.length > 0 else 0
        spacing = min(step, math.sqrt(8 * _ANCHOR_ERROR / slope)) if slope > 0 else step
        points.append(begin + share * np.linspace(0.0, 1.0, math.ceil(share / spacing) + 1))
    return np.concatenate(points)


def _anchor(source: list[float], output: list[float], x: float, t: float) -> None:
    if not source:
        source.append(0.0)
        output.append(0.0)
    if t > output[-1] and x >= source[-1]:  # anchors closer than float resolution add nothing
        source.append(float(x))
        output.append(float(t))


def _stretch_audio(stretch: Stretch) -> list[AudioPiece]:
    points = np.array(sorted({stretch.start + offset for offset in stretch.audio_breakpoints()}))
    if len(points) == 1:  # a freeze on its own
        return [AudioPiece(float(points[0]), float(points[0]), float(stretch.frozen_frames))]
    times = stretch.continuous_time(points - stretch.start)
    times[0], times[-1] = 0.0, stretch.length + stretch.extra  # exact, so the lengths add up to whole frames
    freezes = dict(stretch.freezes)
    pieces = []
    for (a, ta), (b, tb) in pairwise(zip(points, times)):
        if a in freezes:
            pieces.append(AudioPiece(float(a), float(a), float(freezes[a])))
        pieces.append(AudioPiece(float(a), float(b), float(tb - ta)))
    return pieces


@dataclass(frozen=True, eq=False)
class TimeMap:
    """Source seconds -> output seconds through anchor pairs (``source`` non-decreasing: a freeze is two anchors
    at one source time; ``output`` increasing); linear between anchors, 1x beyond the ends. The audio
    (`media.timestretch`) and the subtitles follow it."""

    source: np.ndarray
    output: np.ndarray

    @property
    def duration(self) -> float:
        """Output seconds of the whole clip (the last anchor)."""
        return float(self.output[-1])

    def to_output(self, seconds, offset: float = 0.0):
        """Output seconds of source ``seconds`` (``offset``: the source time that counts as 0, a crop's start).
        A time on a freeze gives the freeze's start."""
        t = np.asarray(seconds, dtype=np.float64) - offset
        # np.interp takes the last of equal source anchors; the first (the freeze's start) is wanted.
        where = np.searchsorted(self.source, t, side="left")
        inside = np.clip(where, 1, len(self.source) - 1)
        s0, s1 = self.source[inside - 1], self.source[inside]
        o0, o1 = self.output[inside - 1], self.output[inside]
        share = np.divide(t - s0, s1 - s0, out=np.ones_like(t), where=s1 > s0)
        mapped = np.where(t <= self.source[0], self.output[0] + t - self.source[0],
                          np.where(t >= self.source[-1], self.output[-1] + t - self.source[-1], o0 + share * (o1 - o0)))
        return float(mapped) if mapped.ndim == 0 else mapped

    def to_source(self, seconds):
        """Source seconds shown at output ``seconds`` (a freeze maps to its frame's time)."""
        return np.interp(np.asarray(seconds, dtype=np.float64), self.output, self.source)

    def as_function(self, offset: float = 0.0):
        """``to_output`` as a one-argument function, the shape `media.subtitles.retime` takes."""
        return lambda seconds: float(self.to_output(seconds, offset))

