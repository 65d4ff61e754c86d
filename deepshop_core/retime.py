"""Retiming what plays beside the picture: the audio and the subtitles follow the timeline.

Outside the slowed ranges the sound keeps its speed; inside, it is time-stretched with the pitch kept (``stretch``),
silent (``silence``), or the track is dropped (``none``: `job.AUDIO_MODES`). Every result lasts exactly as long as
the output video. Subtitles are retimed by the same source -> output time map as the audio (`time_map`).
"""

from __future__ import annotations

import warnings
from fractions import Fraction
from typing import TYPE_CHECKING, Callable

import numpy as np

from .errors import DeepshopWarning, InputError, MediaError
from .job import AUDIO_MODES
from .media import subtitles
from .media.audio import Audio, concat, cut, fit, read_audio, silence, stretch
from .timeline import Timeline

if TYPE_CHECKING:  # the plan imports nothing from here; only its type is named
    from .plan import ClipPlan

# Ramps yield one audio piece per source frame; merge them into chunks at least this long before time-stretching,
# because atempo on 40 ms snippets sounds choppy. Total durations stay exact.
_MIN_AUDIO_CHUNK_S = 0.25


def retime_audio(audio: Audio | None, timeline: Timeline, frame_rate: Fraction, mode: str = "stretch") -> Audio | None:
    """The source audio retimed like the video (``frame_rate`` is the *source* frame rate); None for no track."""
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
    """Source seconds -> output seconds, as the audio is retimed: 1x outside the slowed ranges, stretched inside
    them. ``offset`` is the source time that becomes 0 (a crop's first frame); ``frame_rate`` is the source's.
    Beyond the clip's ends time runs at 1x."""
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


def retimed_track(clip: ClipPlan) -> Audio | None:
    """The output's audio for a planned clip (its job's audio mode), read and retimed once; the source track is
    freed before a frame is rendered."""
    info, mode = clip.info, clip.job.audio
    if not info.has_audio or mode == "none":
        return None
    fps = float(info.frame_rate)
    source = read_audio(clip.input, clip.first / fps, (clip.first + clip.timeline.source_count) / fps)
    return retime_audio(source, clip.timeline, info.frame_rate, mode)


def retimed_subtitles(clip: ClipPlan) -> list[subtitles.SubtitleTrack]:
    """The input's text subtitle tracks timed like the output's audio (picture subtitles: one warning)."""
    info, timeline = clip.info, clip.timeline
    try:
        found = subtitles.read_subtitles(clip.input)
    except MediaError as error:  # the picture and the sound are fine: go on without the subtitles, and say so
        warnings.warn(f"{error}; the output has no subtitles", DeepshopWarning, stacklevel=3)
        return []
    if found.left_out:
        warnings.warn(f"{len(found.left_out)} picture subtitle track(s) ({', '.join(found.left_out)}) cannot be "
                      f"retimed and are left out; only text subtitles are carried", DeepshopWarning, stacklevel=3)
    mapping = time_map(timeline, info.frame_rate, clip.first / float(info.frame_rate))
    duration = len(timeline) / float(info.frame_rate * timeline.rate_multiplier)
    return [subtitles.retime(t, mapping, duration) for t in found.tracks]
