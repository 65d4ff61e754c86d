"""Retiming what plays beside the picture: the audio and the subtitles follow the timeline's time map.

The timeline's `TimeMap` (source seconds -> output seconds, `Timeline.time_map`) is the one map: the audio follows
it continuously (`media.timestretch`: no joins, so no clicks, and no drift), with the pitch kept (``stretch``), the
pitch following the speed (``varispeed``), silent where the speed is not 1x (``silence``), or the track is dropped
(``none``: `job.AUDIO_MODES`); a freeze is silent in every mode. The subtitles follow the same map (`time_map`).
Every result lasts exactly as long as the output video.
"""

from __future__ import annotations

import warnings
from fractions import Fraction
from typing import TYPE_CHECKING, Callable

from .errors import DeepshopWarning, InputError, MediaError
from .job import AUDIO_MODES
from .media import subtitles
from .media.audio import Audio, fit, read_audio
from .media.timestretch import silence_along, stretch_along, varispeed_along
from .timeline import Timeline

if TYPE_CHECKING:  # the plan imports nothing from here; only its type is named
    from .plan import ClipPlan

_ALONG = {"stretch": stretch_along, "varispeed": varispeed_along, "silence": silence_along}


def retime_audio(audio: Audio | None, timeline: Timeline, frame_rate: Fraction, mode: str = "stretch") -> Audio | None:
    """The source audio retimed like the video (``frame_rate`` is the *source* frame rate); None for no track."""
    if mode not in AUDIO_MODES:
        raise InputError(f"audio mode must be one of {', '.join(AUDIO_MODES)}, got {mode!r}")
    if audio is None or mode == "none":
        return None
    fps = float(frame_rate)
    # Fit the track to the video's length first, so video and audio end together whatever the container held.
    audio = fit(audio, timeline.source_count / fps)
    if timeline.rate_multiplier != 1 or not timeline.retimed_ranges and not _freezes(timeline):
        return audio  # smooth mode, or nothing retimed: same duration, same sound
    time_map = timeline.time_map(frame_rate)
    return _ALONG[mode](audio, time_map.source, time_map.output, len(timeline) / fps)


def _freezes(timeline: Timeline) -> bool:
    return timeline.curve is not None and any(stretch.freezes for stretch in timeline.curve.stretches)


def time_map(timeline: Timeline, frame_rate: Fraction, offset: float = 0.0) -> Callable[[float], float]:
    """Source seconds -> output seconds, as the audio is retimed (``Timeline.time_map``). ``offset`` is the source
    time that becomes 0 (a crop's first frame); ``frame_rate`` is the source's. Beyond the clip's ends time runs
    at 1x; a time on a freeze maps to the freeze's start."""
    return timeline.time_map(frame_rate).as_function(offset)


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
