"""The slow-motion pipeline: decode -> plan -> interpolate only the pairs that need it -> encode.

Two entry points share one rendering path:

- ``interpolate_frames(frames, timeline, engine)`` renders a timeline from frames already in memory (the
  ComfyUI nodes);
- ``slow_motion(input, output, ...)`` streams a file into a file: frames are decoded once, held in a window of a
  few frames, and written as soon as they are rendered, so memory does not grow with the clip's length.

Scene cuts and duplicate frames are found first, on small signatures of the frames that will be interpolated
(a short extra decode of those spans only), so the plan never morphs two shots together or stutters on a held
frame. Progress is reported per rendered pair; an exception raised by the progress callback cancels the job, and
the output file is then never created (the writer is atomic).
"""

from __future__ import annotations

import queue
import threading
import time
import warnings
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from . import engines, scenes
from .errors import DeepshopWarning, InputError, MediaError, OutputError
from .files import refuse_existing, require_input
from .media.audio import Audio, concat, cut, fit, read_audio, silence, stretch
from .media.decode import read_frames
from .media import subtitles
from .media.encode import VideoWriter
from .media.probe import VideoInfo, probe, warn_about
from .timeline import Segment, Step, Timeline, parse_range, plan, slow_timeline, smooth_timeline

AUDIO_MODES = ("stretch", "silence", "none")
Progress = Callable[[int, int], None]

# Frames decoded around each interpolated span so the adaptive cut detector sees some context.
_ANALYSIS_MARGIN = 8
# Ramps yield one audio piece per source frame; merge them into chunks at least this long before time-stretching,
# because atempo on 40 ms snippets sounds choppy. Total durations stay exact.
_MIN_AUDIO_CHUNK_S = 0.25


@dataclass(frozen=True)
class SlowMotionResult:
    """What ``slow_motion`` produced."""

    output: Path
    frames_in: int
    frames_out: int
    frame_rate: Fraction
    # Both in the input clip's frame numbers (like the ranges, also with a crop), and only what the plan acted on:
    cuts: tuple[int, ...]  # frames that start a new shot, held before instead of morphed (none if scene_cuts=False)
    duplicates: tuple[int, ...]  # repeated source frames interpolated across (none if dedupe=False)
    has_audio: bool
    seconds: dict = field(default_factory=dict)  # time per stage: decode, analyse, interpolate stages, encode

    @property
    def duration(self) -> Fraction:
        return Fraction(self.frames_out) / self.frame_rate


# --- planning -------------------------------------------------------------------------------------------------


def build_timeline(frame_count: int, frame_rate: Fraction, ranges: Iterable = (), factor: float = 4.0,
                   ramp: float = 0.0, smooth: bool = False) -> Timeline:
    """The timeline for slowing ``ranges`` by ``factor`` (or the whole clip at ``factor`` x the rate if ``smooth``).

    A range is ``(start, end)`` in frames, a ``Segment`` (its own factor and ramp), or text: ``"120:150"`` or
    ``"4.8s:6.0s"``.
    """
    if smooth:
        return smooth_timeline(frame_count, factor)
    segments = []
    for item in ranges:
        if isinstance(item, Segment):
            segments.append(item)
            continue
        if isinstance(item, str):
            start, end = parse_range(item, frame_rate, frame_count)
        else:
            try:
                start, end = (int(v) for v in item)
            except (TypeError, ValueError):
                raise InputError(f"a range must be (start, end) frames or text like '120:150' or '4.8s:6.0s', "
                                 f"got {item!r}") from None
        segments.append(Segment(start, end, factor, ramp))
    if not segments:
        raise InputError("nothing to slow down: give at least one range (e.g. 120:150), or use smooth mode")
    return slow_timeline(frame_count, segments)


def analyse(signature_of: Callable[[int, int], Iterable[np.ndarray]], spans: Sequence[tuple[int, int]],
            frame_count: int, reach: int = 0) -> tuple[list[int], list[int]]:
    """Scene cuts and duplicate frames within ``spans`` (plus a little context), as absolute frame indices; with
    ``reach``, also those up to ``reach`` frames around each span (what an engine reading neighbours sees).

    ``signature_of(start, end)`` yields the signatures of frames ``[start, end)``.
    """
    cuts: set[int] = set()
    duplicates: set[int] = set()
    for start, end in spans:
        lo, hi = max(0, start - _ANALYSIS_MARGIN), min(frame_count, end + 1 + _ANALYSIS_MARGIN)
        signatures = list(signature_of(lo, hi))
        cuts.update(lo + k for k in scenes.find_cuts(signatures) if start - reach < lo + k <= end + reach)
        duplicates.update(lo + k for k in scenes.find_duplicates(signatures) if start - reach < lo + k <= end + reach)
    return sorted(cuts), sorted(duplicates)


def _within(frames: Iterable[int], spans: Sequence[tuple[int, int]]) -> list[int]:
    """The frames k with start < k <= end for some span (what `analyse` reports without ``reach``)."""
    return [k for k in frames if any(start < k <= end for start, end in spans)]


@dataclass(frozen=True)
class Neighbours:
    """The source frames an engine that reads neighbours (`engines.reads_neighbours`) sees around a pair: the one
    before its left frame and the one after its right frame, when the pair is consecutive and they are evenly
    spaced pictures of the same shot inside the same slowed range. ``spans``: the slowed ranges; ``breaks``: the
    cuts and held frames found in them and one frame around them.

    Never past a range's ends: a range rendered from its own frames alone (ComfyUI's Select Range -> Interpolate)
    must give the frames it gets rendered from the whole clip (the one node, the command line)."""

    count: int
    spans: tuple[tuple[int, int], ...]
    breaks: frozenset[int]

    def around(self, left: int, right: int) -> tuple[int | None, int | None]:
        """(frame before ``left``, frame after ``right``), each None where there is none to give: the pair is not
        consecutive (it bridges held frames), the clip ends, or a cut or held frame lies in between (or might: a
        frame outside the analysed spans)."""
        if right != left + 1:
            return None, None
        before, after = left - 1, right + 1
        return (before if before >= 0 and self._clear(before, left) else None,
                after if after < self.count and self._clear(right, after) else None)

    def _clear(self, a: int, b: int) -> bool:
        """Frames a, a+1 = b: both in one slowed range, neither a cut nor a held frame (a held frame's picture is
        older than its place in time)."""
        return any(start <= a and b <= end for start, end in self.spans) and a not in self.breaks \
            and b not in self.breaks


def neighbours_of(timeline: Timeline, cuts: Iterable[int], duplicates: Iterable[int]) -> Neighbours:
    """The `Neighbours` of a timeline's pairs from what ``analyse(..., reach=1)`` found."""
    return Neighbours(timeline.source_count, tuple(timeline.retimed_ranges), frozenset(cuts) | frozenset(duplicates))


# --- rendering ------------------------------------------------------------------------------------------------


class _FrameWindow:
    """Random access to a forward-only frame stream, holding only the frames still needed."""

    def __init__(self, frames: Iterator[np.ndarray], first_index: int = 0):
        self._frames = frames
        self._next = first_index
        self._held: dict[int, np.ndarray] = {}
        self.decode_seconds = 0.0

    def get(self, index: int) -> np.ndarray:
        while index >= self._next:
            started = time.perf_counter()
            try:
                frame = next(self._frames)
            except StopIteration:
                raise MediaError(f"the video ended before frame {index}: it has only {self._next} frames "
                                 f"(the file may be truncated)") from None
            self.decode_seconds += time.perf_counter() - started
            self._held[self._next] = frame
            self._next += 1
        try:
            return self._held[index]
        except KeyError:
            raise RuntimeError(f"frame {index} was requested after it was released") from None

    def release_before(self, index: int) -> None:
        for stale in [i for i in self._held if i < index]:
            del self._held[stale]


def _groups(steps: Sequence[Step]) -> Iterator[tuple[Step, list[Step]]]:
    """Consecutive steps that share a frame pair, so the engine sees each pair once for all its times."""
    i = 0
    while i < len(steps):
        j = i + 1
        if not steps[i].is_copy:
            while j < len(steps) and not steps[j].is_copy and \
                    (steps[j].left, steps[j].right) == (steps[i].left, steps[i].right):
                j += 1
        yield steps[i], list(steps[i:j])
        i = j


def render(steps: Sequence[Step], get_frame: Callable[[int], np.ndarray], engine: engines.Engine,
           progress: Progress | None = None, release: Callable[[int], None] | None = None,
           neighbours: Neighbours | None = None) -> Iterator[np.ndarray]:
    """Every output frame of ``steps``, in order. Copies are the source frames themselves (bit-identical).
    ``neighbours``: the frames around each pair, given to an engine that reads them (`engines.reads_neighbours`;
    ``get_frame`` must then reach one frame beyond the steps' frames on each side)."""
    total = len(steps)
    done = 0
    context = neighbours if neighbours is not None and engine.info.context_frames > 0 else None
    for first, group in _groups(steps):
        if release is not None:
            release(first.left - (1 if context is not None else 0))
        if first.is_copy:
            out = [get_frame(first.left)]
        else:
            around = {}
            if context is not None:
                before, after = context.around(first.left, first.right)
                around = {"before": None if before is None else get_frame(before),
                          "after": None if after is None else get_frame(after)}
            out = engine.interpolate(get_frame(first.left), get_frame(first.right), [s.t for s in group], **around)
        for frame in out:
            yield frame
        done += len(group)
        if progress is not None:
            try:
                progress(done, total)
            except BaseException:  # a cancel between two pairs: an engine with a worker stops it now
                engine.cancel()
                raise


def interpolate_frames(frames: Sequence[np.ndarray], timeline: Timeline, engine: engines.Engine | str = "flow", *,
                       scene_cuts: bool = True, dedupe: bool = True,
                       progress: Progress | None = None) -> Iterator[np.ndarray]:
    """Render ``timeline`` from frames in memory (``len(frames) == timeline.source_count``)."""
    if len(frames) != timeline.source_count:
        raise InputError(f"the timeline is for {timeline.source_count} frames but {len(frames)} were given")
    cuts, duplicates = [], []
    if scene_cuts or dedupe:
        cuts, duplicates = analyse(lambda lo, hi: (scenes.signature(frames[i]) for i in range(lo, hi)),
                                   timeline.retimed_ranges, timeline.source_count, reach=1)
    spans = timeline.retimed_ranges
    steps = plan(timeline, _within(cuts, spans) if scene_cuts else (), _within(duplicates, spans) if dedupe else ())
    with _engine(engine) as live:
        # without the analysis nothing says where a neighbour lies across a cut: none are given then
        context = neighbours_of(timeline, cuts, duplicates) if scene_cuts or dedupe else None
        yield from render(steps, frames.__getitem__, live, progress, neighbours=context)


class _engine:
    """Use an engine given by name (load and close it) or by instance (leave it open for the caller)."""

    def __init__(self, engine: engines.Engine | str, options: dict | None = None):
        self._owned = isinstance(engine, str)
        self.engine = engines.load(engine, **(options or {})) if self._owned else engine

    def __enter__(self) -> engines.Engine:
        return self.engine

    def __exit__(self, *exc) -> None:
        if self._owned:
            self.engine.close()


# --- audio ----------------------------------------------------------------------------------------------------


def retime_audio(audio: Audio | None, timeline: Timeline, frame_rate: Fraction, mode: str = "stretch") -> Audio | None:
    """The source audio retimed like the video: unchanged outside the slow segments; inside, time-stretched with
    the pitch kept (``stretch``), or silent (``silence``); ``none`` drops the track.

    The result lasts exactly as long as the output video. ``frame_rate`` is the *source* frame rate.
    """
    if mode not in AUDIO_MODES:
        raise InputError(f"audio mode must be one of {', '.join(AUDIO_MODES)}, got {mode!r}")
    if audio is None or mode == "none":
        return None
    fps = float(frame_rate)
    # Fit the track to the video's length first, so video and audio end together whatever the container held.
    audio = fit(audio, timeline.source_count / fps)
    if timeline.rate_multiplier != 1:
        return audio  # smooth mode: same duration, same sound
    parts = []
    for src_start, src_end, out_length in _merge_pieces(timeline, fps):
        piece = cut(audio, src_start / fps, src_end / fps)
        ratio = out_length / (src_end - src_start)
        if abs(ratio - 1) < 1e-9:
            parts.append(piece)
        elif mode == "stretch":
            parts.append(stretch(piece, ratio))
        else:
            parts.append(silence(out_length / fps, like=audio))
    return fit(concat(parts), len(timeline) / fps)


def time_map(timeline: Timeline, frame_rate: Fraction, offset: float = 0.0) -> Callable[[float], float]:
    """Source seconds -> output seconds, as the audio is retimed (``retime_audio``): 1x outside the slowed ranges,
    stretched inside them. ``offset`` is the source time that becomes 0 (a crop's first frame); ``frame_rate`` is
    the source's. Beyond the clip's ends time runs at 1x."""
    fps = float(frame_rate)
    pieces = timeline.audio_pieces()
    sources = np.array([pieces[0].src_start] + [p.src_end for p in pieces]) / fps
    outputs = np.concatenate([[0.0], np.cumsum([p.out_length for p in pieces])]) / fps

    def to_output(seconds: float) -> float:
        t = seconds - offset
        if t <= sources[0]:
            return t
        if t >= sources[-1]:
            return float(outputs[-1] + t - sources[-1])
        return float(np.interp(t, sources, outputs))

    return to_output


def _merge_pieces(timeline: Timeline, fps: float) -> list[tuple[float, float, float]]:
    """The timeline's audio pieces ``(src_start, src_end, out_length)`` in frames, neighbours of the same speed
    merged, and runs of short slowed pieces (ramps) merged into chunks of at least _MIN_AUDIO_CHUNK_S."""
    def speed(piece: list[float]) -> float:
        return piece[2] / (piece[1] - piece[0])

    chunks: list[list[float]] = []
    for p in timeline.audio_pieces():
        if p.src_end <= p.src_start:
            continue
        piece = [p.src_start, p.src_end, p.out_length]
        if chunks:
            last = chunks[-1]
            both_slowed = abs(speed(last) - 1) > 1e-9 and abs(speed(piece) - 1) > 1e-9
            if abs(speed(last) - speed(piece)) < 1e-9 or (both_slowed and (last[1] - last[0]) / fps < _MIN_AUDIO_CHUNK_S):
                last[1], last[2] = piece[1], last[2] + piece[2]
                continue
        chunks.append(piece)
    return [tuple(c) for c in chunks]


# --- file to file ---------------------------------------------------------------------------------------------


def slow_motion(input: str | Path, output: str | Path, *, ranges: Iterable = (), factor: float = 4.0,
                ramp: float = 0.0, smooth: bool = False, engine: engines.Engine | str = engines.DEFAULT_ENGINE,
                engine_options: dict | None = None, audio: str = "stretch", scene_cuts: bool = True,
                dedupe: bool = True, crop: tuple[int, int] | None = None, format: str | None = None,
                quality: int | None = None, overwrite: bool = False,
                progress: Progress | None = None) -> SlowMotionResult:
    """Slow ``ranges`` of the video ``input`` down by ``factor`` and write the result to ``output``.

    The output keeps the input's frame rate, so the ranges play ``factor`` times slower while the rest plays
    normally (``smooth=True`` instead raises the frame rate of the whole clip by ``factor``, same duration).
    ``crop=(first, last)`` keeps only source frames ``first..last`` (ranges stay in the clip's frame numbers).
    """
    input, output = Path(input), Path(output)
    if audio not in AUDIO_MODES:
        raise InputError(f"audio mode must be one of {', '.join(AUDIO_MODES)}, got {audio!r}")
    _check_output(input, output, overwrite)
    clip = plan_clip(input, ranges=ranges, factor=factor, ramp=ramp, smooth=smooth, scene_cuts=scene_cuts,
                     dedupe=dedupe, crop=crop)
    return render_clip(clip, output, engine=engine, engine_options=engine_options, audio=audio, format=format,
                       quality=quality, overwrite=overwrite, progress=progress)


def render_clip(clip: ClipPlan, output: str | Path, *, engine: engines.Engine | str = engines.DEFAULT_ENGINE,
                engine_options: dict | None = None, audio: str = "stretch", format: str | None = None,
                quality: int | None = None, overwrite: bool = False,
                progress: Progress | None = None) -> SlowMotionResult:
    """Render every frame of a planned clip into ``output`` (the second half of `slow_motion`)."""
    seconds: dict[str, float] = {"analyse": clip.analyse_seconds}
    with _engine(engine, engine_options) as live, \
            open_writer(clip, output, audio=audio, format=format, quality=quality, overwrite=overwrite) as writer:
        window = source_window(clip, clip.steps, live.info.context_frames)
        with _EncodeBehind(writer) as encoder:
            for frame in render(clip.steps, window.get, live, progress, release=window.release_before,
                                neighbours=clip.neighbours):
                encoder.write(frame)
        t0 = time.perf_counter()
    finish = time.perf_counter() - t0  # flushing the encoder, muxing the audio's tail, renaming
    seconds.update(decode=window.decode_seconds, encode=encoder.seconds + finish, **_engine_seconds(live))
    return clip.result(writer, seconds)


@dataclass(frozen=True)
class ClipPlan:
    """Everything decided about one clip before a frame is rendered: the timeline, the scene cuts and duplicates
    found over the whole clip, and the render plan. Computed once, so any slice of ``steps`` renders exactly the
    frames a single run would (the chunked runs in ``chunks.py`` rely on it)."""

    input: Path
    info: VideoInfo
    first: int  # the first source frame used (crop)
    timeline: Timeline
    steps: tuple[Step, ...]
    cuts: tuple[int, ...]  # held cuts and bridged duplicates, in the cropped clip's frames (0 = first)
    duplicates: tuple[int, ...]
    analyse_seconds: float = 0.0
    neighbours: Neighbours | None = None  # the frames around each pair an engine reading neighbours may see

    @property
    def frame_rate(self) -> Fraction:
        """The output's frame rate."""
        return self.info.frame_rate * self.timeline.rate_multiplier

    def result(self, writer: VideoWriter, seconds: dict) -> SlowMotionResult:
        # Numbered in the input clip's frames, like the ranges (also with a crop).
        return SlowMotionResult(writer.path, self.timeline.source_count, len(self.steps), self.frame_rate,
                                tuple(self.first + k for k in self.cuts),
                                tuple(self.first + k for k in self.duplicates), writer.audio is not None, seconds)


def plan_clip(input: str | Path, *, ranges: Iterable = (), factor: float = 4.0, ramp: float = 0.0,
              smooth: bool = False, scene_cuts: bool = True, dedupe: bool = True,
              crop: tuple[int, int] | None = None) -> ClipPlan:
    """Probe ``input``, build its timeline and find its cuts and duplicates: the render plan of `slow_motion`."""
    input = Path(input)
    info = probe(input)
    warn_about(info)
    first, count = _crop(info, crop)
    timeline = build_timeline(count, info.frame_rate, _shift(ranges, first, info), factor, ramp, smooth)
    started = time.perf_counter()
    found_cuts, found_duplicates = [], []
    if scene_cuts or dedupe:
        found_cuts, found_duplicates = analyse(
            lambda lo, hi: (scenes.signature(f) for f in read_frames(info, first + lo, first + hi)),
            timeline.retimed_ranges, count, reach=1)
    # Only what the plan acts on is kept: a cut found but not held (or next to a range) is not reported as held.
    spans = timeline.retimed_ranges
    cuts = _within(found_cuts, spans) if scene_cuts else []
    duplicates = _within(found_duplicates, spans) if dedupe else []
    steps = plan(timeline, cuts, duplicates)
    return ClipPlan(input, info, first, timeline, tuple(steps), tuple(cuts), tuple(duplicates),
                    time.perf_counter() - started,
                    neighbours_of(timeline, found_cuts, found_duplicates) if scene_cuts or dedupe else None)


def source_window(clip: ClipPlan, steps: Sequence[Step], context: int = 0) -> _FrameWindow:
    """The source frames ``steps`` (a contiguous slice of ``clip.steps``) read, plus ``context`` frames on each
    side for engines that look at neighbours, decoded from the first one needed."""
    lo = max(0, min((s.left for s in steps), default=0) - context)
    hi = min(clip.timeline.source_count, max((s.right for s in steps), default=-1) + 1 + context)
    return _FrameWindow(read_frames(clip.info, clip.first + lo, clip.first + max(lo, hi)), lo)


def open_writer(clip: ClipPlan, output: str | Path, *, audio: str = "stretch", format: str | None = None,
                quality: int | None = None, overwrite: bool = False) -> VideoWriter:
    """The writer of ``clip``'s output, with the whole clip's audio retimed once."""
    track = _retimed_track(clip.input, clip.info, clip.first, clip.timeline, audio)
    texts = _retimed_subtitles(clip.input, clip.info, clip.first, clip.timeline)
    return VideoWriter(output, clip.frame_rate, format=format, quality=quality, audio=track, overwrite=overwrite,
                       sample_aspect_ratio=clip.info.sample_aspect_ratio, subtitles=texts)


def _retimed_track(input: Path, info: VideoInfo, first: int, timeline: Timeline, mode: str) -> Audio | None:
    """The output's audio. A function of its own so the source track is freed before the frames are rendered."""
    if not info.has_audio or mode == "none":
        return None
    fps = float(info.frame_rate)
    source = read_audio(input, first / fps, (first + timeline.source_count) / fps)
    return retime_audio(source, timeline, info.frame_rate, mode)


def _retimed_subtitles(input: Path, info: VideoInfo, first: int, timeline: Timeline) -> list[subtitles.SubtitleTrack]:
    """The input's text subtitle tracks timed like the output's audio (picture subtitles: one warning)."""
    try:
        found = subtitles.read_subtitles(input)
    except MediaError as error:  # the picture and the sound are fine: go on without the subtitles, and say so
        warnings.warn(f"{error}; the output has no subtitles", DeepshopWarning, stacklevel=3)
        return []
    if found.left_out:
        warnings.warn(f"{len(found.left_out)} picture subtitle track(s) ({', '.join(found.left_out)}) cannot be "
                      f"retimed and are left out; only text subtitles are carried", DeepshopWarning, stacklevel=3)
    mapping = time_map(timeline, info.frame_rate, first / float(info.frame_rate))
    duration = len(timeline) / float(info.frame_rate * timeline.rate_multiplier)
    return [subtitles.retime(t, mapping, duration) for t in found.tracks]


class _EncodeBehind:
    """Encodes frames on a thread of its own while the next pair is interpolated: PyAV releases the GIL while
    encoding, so on a few cores encoding overlaps interpolation instead of following it. A short queue keeps memory
    bounded; an encoder error surfaces at the next ``write``; leaving with an exception (a cancel) drops what is
    queued instead of encoding it."""

    def __init__(self, writer: VideoWriter, depth: int = 4):
        self._writer = writer
        self._queue: queue.Queue = queue.Queue(depth)
        self._error: BaseException | None = None
        self._discard = False
        self.seconds = 0.0  # time spent encoding, on the thread
        self._thread = threading.Thread(target=self._run, name="deepshop-encode", daemon=True)

    def __enter__(self) -> "_EncodeBehind":
        self._thread.start()
        return self

    def _run(self) -> None:
        while (frame := self._queue.get()) is not None:
            if self._error is None and not self._discard:
                started = time.perf_counter()
                try:
                    self._writer.write(frame)
                except BaseException as error:  # handed to the caller's thread
                    self._error = error
                self.seconds += time.perf_counter() - started

    def write(self, frame: np.ndarray) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(frame)

    def __exit__(self, exc_type, exc, tb) -> None:
        self._discard = exc_type is not None
        self._queue.put(None)
        self._thread.join()
        if self._error is not None and exc_type is None:
            raise self._error


def _engine_seconds(engine: engines.Engine) -> dict[str, float]:
    return dict(engine.stats.seconds)


def _check_output(input: Path, output: Path, overwrite: bool) -> None:
    require_input(input)
    if output.exists() and (output.resolve() == input.resolve() or output.samefile(input)):
        raise OutputError(f"the output {output} is the input video itself: choose another output path")
    refuse_existing(output, overwrite)


def _crop(info: VideoInfo, crop: tuple[int, int] | None) -> tuple[int, int]:
    """(first frame, frame count) of the part of the clip to process."""
    if not crop:
        return 0, info.frame_count
    first, last = (int(v) for v in crop)
    if not 0 <= first <= last < info.frame_count:
        raise InputError(f"frame range {first}..{last} is outside the clip (frames 0..{info.frame_count - 1})")
    return first, last - first + 1


def _shift(ranges: Iterable, first: int, info: VideoInfo) -> list:
    """Ranges given in the clip's frame numbers, moved to the cropped clip's."""
    if not first:
        return list(ranges)
    shifted = []
    for item in ranges:
        if isinstance(item, Segment):
            shifted.append(Segment(item.start - first, item.end - first, item.factor, item.ramp))
        else:
            start, end = parse_range(item, info.frame_rate, info.frame_count) if isinstance(item, str) else item
            shifted.append((int(start) - first, int(end) - first))
    return shifted


class SlowMotion:
    """The original notebook's call, kept for people who know it::

        SlowMotion().run("clip.mp4", slow_rate=0.25, frame_range=[], slow_range=[120, 150])

    ``slow_rate`` is 1 / factor; ``frame_range`` ``[first, last]`` crops the output to those source frames (empty:
    the whole clip); ``slow_range`` ``[start, end]`` is the range to slow down.
    """

    def __init__(self, engine: str = engines.DEFAULT_ENGINE, output_dir: str | Path | None = None, **options):
        self.engine = engine
        self.output_dir = Path(output_dir) if output_dir is not None else None
        self.options = options

    def run(self, path: str | Path, slow_rate: float = 0.25, frame_range: Sequence[int] = (),
            slow_range: Sequence[int] = (), output: str | Path | None = None) -> Path:
        if not 0 < slow_rate <= 1:
            raise InputError(f"slow_rate must be in (0, 1] (1/4 plays four times slower), got {slow_rate}")
        if len(slow_range) != 2:
            raise InputError(f"slow_range must be [start, end], got {list(slow_range)}")
        if frame_range and len(frame_range) != 2:
            raise InputError(f"frame_range must be [first, last] or empty, got {list(frame_range)}")
        path = Path(path)
        if output is None:
            folder = self.output_dir or path.parent
            output = folder / f"{path.stem}_slowmo{path.suffix or '.mp4'}"
        result = slow_motion(path, output, ranges=[tuple(slow_range)], factor=1 / slow_rate,
                             crop=tuple(frame_range) or None, engine=self.engine, **self.options)
        return result.output
