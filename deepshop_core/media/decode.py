"""Decoding: frames of a video file by presentation index, streaming, rotation applied."""

from __future__ import annotations

import queue
import threading

from collections.abc import Iterator

import av
import numpy as np

from ..errors import InputError, MediaError
from .opener import VideoInput, ffmpeg_reason
from .probe import Timing, VideoInfo, clockwise, scan


def read_frames(source, start: int = 0, end: int | None = None) -> Iterator[np.ndarray]:
    """Frames ``[start, end)`` of ``source`` (a path, or the `VideoInfo` `probe` gave for it: its timing scan is
    reused) by presentation index, as HxWx3 uint8 RGB with the rotation applied.

    Streaming: a generator that holds one frame at a time. A range that starts past frame 0 seeks to the keyframe
    before it and decodes forward, discarding frames whose timestamp (looked up in a demux pass) comes before
    ``start``; so the result is exactly the slice of a full decode. The file is closed when the generator finishes,
    is closed, or is garbage-collected. The arguments and the file are checked at once, not at the first frame.
    """
    if int(start) != start or start < 0 or (end is not None and (int(end) != end or end < start)):
        raise InputError(f"the frame range must satisfy 0 <= start <= end (whole numbers); got {start}:{end}")
    timing = source.timing if isinstance(source, VideoInfo) else None
    path = source.path if isinstance(source, VideoInfo) else source
    opened = VideoInput(path)  # fails now, with a clear MediaError, for a bad file
    return _frames(opened, path, int(start), None if end is None else int(end), timing)


def _frames(opened: VideoInput, path, start: int, end: int | None, timing: Timing | None) -> Iterator[np.ndarray]:
    index = start
    try:
        with opened as (container, stream):
            if end is not None and end <= start:
                return
            for index, frame in _indexed(container, stream, start, path, timing):
                if index < start:
                    continue
                if end is not None and index >= end:
                    return
                yield _to_rgb(frame)
    except av.FFmpegError as error:
        raise MediaError(
            f"decoding {path} failed near frame {index} ({ffmpeg_reason(error)}); the file may be truncated or corrupt"
        ) from error


def _indexed(container, stream, start: int, path, timing: Timing | None) -> Iterator[tuple[int, av.VideoFrame]]:
    """(presentation index, frame) from a keyframe at or before ``start`` on; the caller drops the early ones."""
    stream.thread_type = "AUTO"  # frame + slice threads: decoding runs in FFmpeg's threads, outside the GIL
    if start == 0:
        yield from enumerate(container.decode(stream))
        return
    if timing is None:
        timing = scan(container, stream, path, find_rotation=False)
    if start >= timing.count:
        return
    if timing.pts is None:  # no timestamps to seek by: count frames from the beginning
        container.seek(0)
        yield from enumerate(container.decode(stream))
        return
    index_of = {pts: index for index, pts in enumerate(timing.pts)}
    container.seek(timing.pts[start], stream=stream, backward=True, any_frame=False)
    frames = _by_timestamp(container.decode(stream), index_of)
    first = next(frames, None)
    # Start from frame 0 instead when the seek overshot (a bad index), or when the keyframe it landed on does not
    # decode on its own (cockatoo.mp4's later IDR frames need state from earlier ones: FFmpeg flags them corrupt).
    if first is not None and (first[0] > start or first[1].is_corrupt):
        container.seek(timing.pts[0], stream=stream, backward=True, any_frame=False)
        frames = _by_timestamp(container.decode(stream), index_of)
    elif first is not None:
        yield first
    yield from frames


def _by_timestamp(frames, index_of: dict[int, int]) -> Iterator[tuple[int, av.VideoFrame]]:
    for frame in frames:
        index = index_of.get(frame.pts)
        if index is not None:  # a frame the demux pass did not list (none in sane files) has no index: skip it
            yield index, frame


def _to_rgb(frame: av.VideoFrame) -> np.ndarray:
    """HxWx3 uint8 RGB, honouring the frame's colour tags, turned upright by its display matrix."""
    image = frame.to_ndarray(format="rgb24")
    quarter_turns = clockwise(frame.rotation) // 90
    if quarter_turns:
        image = np.ascontiguousarray(np.rot90(image, k=-quarter_turns))  # rot90 turns counterclockwise for k > 0
    return image



def read_ahead(frames: Iterator[np.ndarray], depth: int = 4) -> Iterator[np.ndarray]:
    """``frames`` decoded on a thread of its own, up to ``depth`` ahead of the caller: PyAV releases the GIL while
    decoding, so decoding overlaps the interpolation (a GPU then waits on neither decoding nor encoding). The same
    frames in the same order; a decoding error surfaces where that frame would have been; closing the result (a
    finished or cancelled render) stops the thread and closes ``frames``."""
    ready: queue.Queue = queue.Queue(depth)
    stop = threading.Event()
    done = object()

    def offer(item) -> bool:
        """Queue ``item`` unless the reader has gone; False when it has."""
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def decode() -> None:
        try:
            for frame in frames:
                if not offer(frame):
                    return
            offer(done)
        except BaseException as error:  # handed to the caller's thread, in the frames' order
            offer(error)
        finally:
            frames.close()

    thread = threading.Thread(target=decode, name="deepshop-decode", daemon=True)
    thread.start()
    try:
        while (item := ready.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()
