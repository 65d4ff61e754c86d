"""Splice processed frames back into the untouched source clip: frames ``0..start-1`` and ``end..`` are copied
from the source, the processed frames (any number: a slowed window is longer) take the place of ``start..end-1``,
and the audio is spliced the same way. Used by the nodes' Save Video and by ``deepshop splice``.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .clock import exact_rate, parse_range
from .errors import InputError
from .media import audio as media_audio
from .media.audio import Audio
from .media.decode import read_frames
from .media.encode import VideoWriter
from .media.probe import probe

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class SourceWindow:
    """A window ``start..end-1`` of a source clip: what was loaded, and where processed frames go back."""

    path: Path
    start: int
    end: int  # exclusive
    frame_count: int  # the whole source's
    frame_rate: Fraction
    width: int
    height: int
    has_audio: bool

    @classmethod
    def of(cls, path: str | Path, start: int = 0, end: int | None = None) -> "SourceWindow":
        info = probe(path)
        end = info.frame_count if end is None else int(end)
        if not 0 <= int(start) < end <= info.frame_count:
            raise InputError(f"the window {start}:{end} is not inside {Path(path).name}, which has "
                             f"{info.frame_count} frames (0..{info.frame_count - 1})")
        return cls(Path(path), int(start), end, info.frame_count, info.frame_rate, info.width, info.height,
                   info.has_audio)

    def check_fits(self, width: int, height: int, frame_rate) -> Fraction:
        """The frames' rate, exact, once their size and rate are known to match the source's."""
        rate = exact_rate(frame_rate)
        if (width, height) != (self.width, self.height):
            raise InputError(f"cannot splice {width}x{height} frames into the {self.width}x{self.height} source "
                             f"clip: splicing needs the source's size")
        if rate != self.frame_rate:
            raise InputError(f"cannot splice frames at {float(rate):g} fps into the {float(self.frame_rate):g} fps "
                             f"source clip: splicing needs the source's frame rate")
        return rate


def spliced_audio(window: SourceWindow, track: Audio | None, frames: int) -> Audio | None:
    """The full clip's audio with the window's part replaced by ``track`` (the window's own audio is kept when no
    track is given and the window kept its length; silence where neither has sound). None when there is no audio."""
    rate = window.frame_rate
    full = media_audio.read_audio(window.path) if window.has_audio else None
    if full is None and track is None:
        return None
    like = full if full is not None else track
    if track is not None and (track.sample_rate, track.channels) != (like.sample_rate, like.channels):
        raise InputError(f"cannot splice {track.channels}-channel {track.sample_rate} Hz audio into the source's "
                         f"{like.channels}-channel {like.sample_rate} Hz track")
    start, end = float(window.start / rate), float(window.end / rate)
    total = float(window.frame_count / rate)

    def part(a, b):
        return media_audio.cut(full, a, b) if full is not None else media_audio.silence(b - a, like=like)

    want = float(Fraction(frames) / rate)
    if track is not None:
        middle = media_audio.fit(track, want)
    elif frames == window.end - window.start:
        middle = part(start, end)
    else:  # retimed frames without their audio: silence rather than sound out of sync
        middle = media_audio.silence(want, like=like)
    return media_audio.concat([media_audio.fit(part(0.0, start), start), middle, part(end, total)])


def splice(window: SourceWindow, frames: Iterable[np.ndarray], count: int, output: str | Path, *,
           audio: Audio | None = None, with_audio: bool = True, format: str | None = None,
           quality: int | None = None, overwrite: bool = False, progress: Progress | None = None) -> Path:
    """Write the source with ``frames`` (``count`` of them) in place of the window into ``output`` (atomic)."""
    track = spliced_audio(window, audio, count) if with_audio else None
    before, after = window.start, window.frame_count - window.end
    total = before + count + after
    done = 0
    with VideoWriter(output, window.frame_rate, format=format, quality=quality, audio=track,
                     overwrite=overwrite) as writer:
        parts = (read_frames(window.path, 0, before) if before else (), frames,
                 read_frames(window.path, window.end, None) if after else ())
        for part in parts:
            for frame in part:
                writer.write(frame)
                done += 1
                if progress is not None:
                    progress(done, total)
    return writer.path


def splice_files(source: str | Path, processed: str | Path, output: str | Path, window: str, *,
                 overwrite: bool = False, progress: Progress | None = None) -> Path:
    """``deepshop splice``: the frames (and audio) of the video ``processed`` in place of ``window`` ("120:150",
    "4.8s:6.0s", end exclusive) of ``source``."""
    start, end = parse_range(window, probe(source).frame_rate)
    place = SourceWindow.of(source, start, end)
    done = probe(processed)
    place.check_fits(done.width, done.height, done.frame_rate)
    track = media_audio.read_audio(processed) if done.has_audio else None
    return splice(place, read_frames(done), done.frame_count, output, audio=track, overwrite=overwrite,
                  progress=progress)
