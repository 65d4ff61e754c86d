"""Rendering: a plan's steps become frames (decode -> interpolate only the pairs that need it -> encode).

`render_steps` is the one render loop: copies are the source frames themselves (bit-identical), each pair is given
to the engine once for all its times, progress is reported per pair, and an exception raised by the progress
callback (a cancel) stops the engine and the job between two pairs. `render_slice` renders any contiguous slice of a
clip's plan from a window of decoded frames (the whole clip here, a chunk in `chunks.py`); `render_clip` encodes it
into a file on a thread of its own, with the audio and subtitles retimed once (`retime.py`). The writer is atomic:
a cancelled or failed job leaves no file.
"""

from __future__ import annotations

import queue
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from . import retime
from .engines import Engine, EngineChoice
from .errors import MediaError
from .media.decode import read_ahead, read_frames
from .media.encode import VideoWriter
from .plan import ClipPlan, Neighbours, RenderPlan
from .speed.shutter import render_blend
from .steps import Blend, Step, same_pair

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class SlowMotionResult:
    """What a render produced."""

    output: Path
    frames_in: int
    frames_out: int
    frame_rate: Fraction
    # Both in the input clip's frame numbers (like the ranges, also with a crop), and only what the plan acted on:
    cuts: tuple[int, ...]  # frames that start a new shot, held before instead of morphed (none if scene_cuts=False)
    duplicates: tuple[int, ...]  # repeated source frames interpolated across (none if dedupe=False)
    has_audio: bool
    seconds: dict = field(default_factory=dict)  # time per stage: decode, analyse, the engine's stages, encode

    @property
    def duration(self) -> Fraction:
        return Fraction(self.frames_out) / self.frame_rate


class FrameWindow:
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

    def close(self) -> None:
        """Stop decoding (a finished or cancelled render): the stream's thread and file are let go now."""
        self._frames.close()
        self._held.clear()


def _groups(steps: Sequence[Step | Blend]) -> Iterator[tuple[Step | Blend, list[Step | Blend]]]:
    """Consecutive steps that share a frame pair, so the engine sees each pair once for all its times."""
    i = 0
    while i < len(steps):
        j = i + 1
        while j < len(steps) and same_pair(steps[i], steps[j]):
            j += 1
        yield steps[i], list(steps[i:j])
        i = j


def render_steps(steps: Sequence[Step | Blend], get_frame: Callable[[int], np.ndarray], engine: Engine,
                 progress: Progress | None = None, release: Callable[[int], None] | None = None,
                 neighbours: Neighbours | None = None) -> Iterator[np.ndarray]:
    """Every output frame of ``steps``, in order: a copy is the source frame itself, a pair's times are one engine
    call, a blend (a faster frame's motion blur) averages its samples, each pair of them one call. ``neighbours``:
    the frames around each pair, given to an engine that reads them, for a blend's pairs as for a sharp pair
    (``get_frame`` must then reach one frame beyond the steps' frames on each side)."""
    total = len(steps)
    done = 0
    context = neighbours if neighbours is not None and engine.info.context_frames > 0 else None

    def interpolate(left: int, right: int, times: list[float]) -> list[np.ndarray]:
        around = {}
        if context is not None:
            before, after = context.around(left, right)
            around = {"before": None if before is None else get_frame(before),
                      "after": None if after is None else get_frame(after)}
        return engine.interpolate(get_frame(left), get_frame(right), times, **around)

    for first, group in _groups(steps):
        if release is not None:
            release(first.left - (1 if context is not None else 0))
        if isinstance(first, Blend):
            out = [render_blend(first, get_frame, interpolate)]
        elif first.is_copy:
            out = [get_frame(first.left)]
        else:
            out = interpolate(first.left, first.right, [s.t for s in group])
        yield from out
        done += len(group)
        if progress is not None:
            try:
                progress(done, total)
            except BaseException:  # a cancel between two pairs: an engine with a worker stops it now
                engine.cancel()
                raise


@contextmanager
def engine_for(choice: EngineChoice, given: Engine | None = None) -> Iterator[Engine]:
    """The engine to render with: ``given`` (the caller's, left open), or ``choice`` loaded here and closed after."""
    if given is not None:
        yield given
        return
    with choice.load() as engine:
        yield engine


def render_slice(clip: ClipPlan, steps: Sequence[Step | Blend], engine: Engine,
                 progress: Progress | None = None) -> tuple[Iterator[np.ndarray], FrameWindow]:
    """The frames of ``steps`` (a contiguous slice of ``clip.steps``), decoded from the first source frame they read
    (less the engine's context frames) and released as soon as they are behind; and the window (its decode time)."""
    context = engine.info.context_frames
    lo = max(0, min((s.left for s in steps), default=0) - context)
    hi = min(clip.timeline.source_count, max((s.right for s in steps), default=-1) + 1 + context)
    window = FrameWindow(read_ahead(read_frames(clip.info, clip.first + lo, clip.first + max(lo, hi))), lo)
    frames = render_steps(steps, window.get, engine, progress, release=window.release_before,
                          neighbours=clip.render.neighbours)
    return frames, window


def open_writer(clip: ClipPlan, output: str | Path, *, overwrite: bool = False) -> VideoWriter:
    """The writer of ``clip``'s output, with the whole clip's audio and subtitles retimed once."""
    job = clip.job
    return VideoWriter(output, clip.frame_rate, format=job.format, quality=job.quality,
                       audio=retime.retimed_track(clip), overwrite=overwrite,
                       sample_aspect_ratio=clip.info.sample_aspect_ratio, subtitles=retime.retimed_subtitles(clip))


def render_clip(clip: ClipPlan, output: str | Path, *, engine: Engine | None = None, overwrite: bool = False,
                progress: Progress | None = None) -> SlowMotionResult:
    """Render every frame of a planned clip into ``output``, with ``engine`` (the caller's) or the job's own."""
    with engine_for(clip.job.engine, engine) as live, open_writer(clip, output, overwrite=overwrite) as writer:
        frames, window = render_slice(clip, clip.steps, live, progress)
        try:
            with EncodeBehind(writer) as encoder:
                for frame in frames:
                    encoder.write(frame)
        finally:
            window.close()
        started = time.perf_counter()
    finish = time.perf_counter() - started  # flushing the encoder, muxing the audio's tail, renaming
    seconds = {"analyse": clip.analyse_seconds, "decode": window.decode_seconds,
               "encode": encoder.seconds + finish, **live.stats.seconds}
    return result_of(clip, writer, seconds)


def result_of(clip: ClipPlan, writer: VideoWriter, seconds: dict) -> SlowMotionResult:
    return SlowMotionResult(writer.path, clip.timeline.source_count, len(clip.steps), clip.frame_rate, clip.cuts,
                            clip.duplicates, writer.audio is not None, seconds)


def render_frames(frames: Sequence[np.ndarray], plan: RenderPlan, engine: Engine,
                  progress: Progress | None = None) -> Iterator[np.ndarray]:
    """Every output frame of ``plan`` from frames in memory (what the nodes render)."""
    return render_steps(plan.steps, frames.__getitem__, engine, progress, neighbours=plan.neighbours)


class EncodeBehind:
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

    def __enter__(self) -> EncodeBehind:
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


__all__ = ["EncodeBehind", "FrameWindow", "Progress", "SlowMotionResult", "engine_for", "open_writer",
           "render_clip", "render_frames", "render_slice", "render_steps", "result_of"]
