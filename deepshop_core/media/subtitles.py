"""Subtitle tracks: a file's text subtitles as timed cues, retimed like the picture, and the packets an output
container takes for them.

Text subtitles (SubRip, ASS/SSA, WebVTT, MP4's mov_text) are carried: read as cues timed from the first video frame
(like the audio), moved through the same time map as the audio (``retime``), and written as the codec the output
container takes (``output_codec``: Matroska keeps ASS styling or takes SubRip, MP4 and MOV take mov_text, WebM
WebVTT). Picture subtitles (DVD, Blu-ray PGS, DVB bitmaps) and containers without subtitles (GIF, WebP, PNG) cannot
be carried: the caller says so in one warning line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from fractions import Fraction

import av

from ..errors import MediaError
from .audio import clock_origin
from .formats import CONTAINERS
from .opener import ffmpeg_reason, open_media

TIME_BASE = Fraction(1, 1000)  # of the subtitle streams written (Matroska's and mov_text's usual milliseconds)

_TEXT_CODECS = {"subrip": "subrip", "srt": "subrip", "text": "subrip", "ass": "ass", "ssa": "ass",
                "webvtt": "webvtt", "mov_text": "mov_text"}
_ASS_FIELDS = 9  # ReadOrder, Layer, Style, Name, MarginL, MarginR, MarginV, Effect, Text (Matroska's ASS packets)
_ASS_TAG = re.compile(r"\{[^}]*\}")
# What FFmpeg's text subtitle encoders need to open: an ASS script header (Matroska SubRip, mov_text and WebVTT
# ignore the styles; an ASS track brings its own header).
_DEFAULT_HEADER = (
    "[Script Info]\nScriptType: v4.00+\nPlayResX: 384\nPlayResY: 288\n\n[V4+ Styles]\n"
    "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, "
    "Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, "
    "MarginR, MarginV, Encoding\n"
    "Style: Default,Arial,16,&Hffffff,&Hffffff,&H0,&H0,0,0,0,0,100,100,0,0,1,1,0,2,10,10,10,0\n\n"
    "[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
)


@dataclass(frozen=True)
class Cue:
    """One subtitle: ``text`` shown from ``start`` to ``end`` seconds (counted from the first video frame).

    ``text`` is plain (lines separated by newlines); ``ass`` keeps an ASS event's fields after its ReadOrder
    (Layer, Style, ..., Text with its override tags) when the track is ASS, so ASS output keeps the styling.
    """

    start: float
    end: float
    text: str
    ass: str = ""


@dataclass(frozen=True)
class SubtitleTrack:
    """A text subtitle track: its source ``codec`` (subrip, ass, webvtt or mov_text), cues, language, ASS header."""

    codec: str
    cues: tuple[Cue, ...]
    language: str | None = None
    header: str = ""


@dataclass(frozen=True)
class SubtitleStreams:
    """What ``read_subtitles`` found: the text tracks, and the codecs of the picture tracks left out."""

    tracks: tuple[SubtitleTrack, ...]
    left_out: tuple[str, ...]


def read_subtitles(path) -> SubtitleStreams:
    """Every subtitle stream of ``path``: text ones as cues, picture ones named in ``left_out``.

    A `MediaError` when the file or its subtitle packets cannot be read."""
    with open_media(path) as container:
        streams = list(container.streams.subtitles)
        if not streams:
            return SubtitleStreams((), ())
        codecs = {s.index: s.codec_context.name if s.codec_context is not None else "unknown" for s in streams}
        text = [s for s in streams if codecs[s.index] in _TEXT_CODECS]
        cues: dict[int, list[Cue]] = {s.index: [] for s in text}
        try:
            origin = clock_origin(container)
            for packet in container.demux(text) if text else ():
                if packet.pts is None or not packet.size or packet.stream.index not in cues:
                    continue
                stream = packet.stream
                start = float(packet.pts * stream.time_base - origin)
                end = float((packet.pts + (packet.duration or 0)) * stream.time_base - origin)
                cue = _cue(_TEXT_CODECS[codecs[stream.index]], bytes(packet), start, end)
                if cue.text:  # MP4 fills the time between mov_text cues with empty samples
                    cues[stream.index].append(cue)
        except av.FFmpegError as error:
            raise MediaError(f"the subtitles of {path} cannot be read ({ffmpeg_reason(error)})") from error
        tracks = tuple(
            SubtitleTrack(_TEXT_CODECS[codecs[s.index]], tuple(sorted(cues[s.index], key=lambda c: c.start)),
                          s.metadata.get("language"), _header(s))
            for s in text
        )
        left_out = tuple(codecs[s.index] for s in streams if s not in text)
    return SubtitleStreams(tracks, left_out)


def retime(track: SubtitleTrack, time_map: Callable[[float], float], duration: float) -> SubtitleTrack:
    """``track`` with every cue's times moved through ``time_map`` (source seconds -> output seconds, increasing);
    cues that end before 0 or start at or after ``duration`` dropped, the others clipped to ``[0, duration]``."""
    cues = []
    for cue in track.cues:
        start, end = max(0.0, time_map(cue.start)), min(duration, time_map(cue.end))
        if end > start:
            cues.append(replace(cue, start=start, end=end))
    return replace(track, cues=tuple(cues))


def output_codec(track: SubtitleTrack, suffix: str) -> str | None:
    """The codec a container (by file suffix) takes for ``track``; None when it takes no subtitles."""
    if suffix == ".mkv" and track.codec == "ass":
        return "ass"
    container = CONTAINERS.get(suffix)
    return None if container is None else container.subtitle_codec


def add_stream(container, track: SubtitleTrack, codec: str):
    """A subtitle stream for ``track`` in the output ``container`` (millisecond time base, language kept)."""
    stream = container.add_stream(codec)
    stream.codec_context.subtitle_header = (track.header if codec == "ass" and track.header else _DEFAULT_HEADER).encode()
    stream.time_base = TIME_BASE
    if track.language:
        stream.metadata["language"] = track.language
    return stream


def packet(cue: Cue, codec: str, index: int, stream) -> av.Packet:
    """``cue`` as a packet of ``stream`` in ``codec``; ``index`` is its ReadOrder (ASS)."""
    if codec == "ass":
        data = f"{index},{cue.ass or '0,Default,,0,0,0,,' + cue.text.replace(chr(10), chr(92) + 'N')}".encode()
    else:
        data = cue.text.encode()
        if codec == "mov_text":
            data = len(data).to_bytes(2, "big") + data
    out = av.Packet(data)
    out.stream, out.time_base = stream, TIME_BASE
    out.pts = out.dts = round(cue.start / TIME_BASE)
    out.duration = max(1, round(cue.end / TIME_BASE) - out.pts)
    return out


def _cue(codec: str, data: bytes, start: float, end: float) -> Cue:
    if codec == "mov_text":
        length = int.from_bytes(data[:2], "big")
        return Cue(start, end, data[2 : 2 + length].decode("utf-8", "replace"))
    text = data.decode("utf-8", "replace")
    if codec == "ass":
        fields = text.split(",", _ASS_FIELDS - 1)
        if len(fields) == _ASS_FIELDS:
            plain = _ASS_TAG.sub("", fields[-1]).replace("\\N", "\n").replace("\\n", "\n")
            return Cue(start, end, plain, ",".join(fields[1:]))
    return Cue(start, end, text)


def _header(stream) -> str:
    extradata = stream.codec_context.extradata
    return extradata.decode("utf-8", "replace") if extradata else ""
