"""Probing: what a video file holds (`VideoInfo`), from one demux pass whose timing travels with the result.

Frame rates are exact `Fraction`s: a constant-rate clip keeps its container rate (30000/1001 stays 30000/1001); a
variable-rate clip (phone footage, GIF) is described by the constant rate its frames are retimed to,
frame_count / duration. `VideoInfo.timing` keeps the pass's timestamps, so `decode.read_frames` given the
`VideoInfo` instead of a path seeks without scanning the file again.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field
from fractions import Fraction

import av
import numpy as np

from ..errors import DeepshopWarning, MediaError
from .opener import VideoInput, ffmpeg_reason


@dataclass(frozen=True)
class Timing:
    """The video stream's timestamps, from a demux pass (packet headers; at most the first frame is decoded)."""

    pts: tuple[int, ...] | None  # presentation timestamps in order; None when the container has none
    count: int  # frames (packets that carry a picture)
    end: int | None  # timestamp just after the last frame (its pts + its duration), when known
    rotation: int  # clockwise degrees, from the display matrix of the first decoded frame
    damaged: tuple[int, ...] = ()  # frames whose packet the demuxer flagged corrupt (never the last: that is refused)





@dataclass(frozen=True)
class AudioInfo:
    """The first audio stream of a file."""

    codec: str
    channels: int
    sample_rate: int
    layout: str  # FFmpeg layout name: "mono", "stereo", "5.1(side)"
    duration: float | None  # seconds: the stream's, else the container's (Matroska), else None


@dataclass(frozen=True)
class VideoInfo:
    """What `probe` finds out about a file's first video stream."""

    path: str
    width: int  # as displayed: after rotation, in stored pixels (the sample aspect ratio is not applied)
    height: int
    frame_rate: Fraction  # exact; for a variable-rate clip the constant rate its frames are retimed to
    frame_count: int  # exact: counted by a demux pass
    duration: Fraction  # frame_count / frame_rate, in seconds
    sample_aspect_ratio: Fraction  # 1 for square pixels
    rotation: int  # 0, 90, 180 or 270: degrees clockwise to turn the stored picture for display
    pix_fmt: str
    codec: str
    variable_frame_rate: bool
    audio: AudioInfo | None
    damaged_frames: tuple[int, ...] = ()  # frames the demuxer flagged corrupt inside the file (decoded through)
    # The probe's demux pass, kept so reads of this clip seek without scanning again (`decode.read_frames`)
    timing: Timing | None = field(default=None, repr=False, compare=False)

    @property
    def has_audio(self) -> bool:
        return self.audio is not None

    def as_json(self) -> dict:
        """The description as JSON values (``deepshop info --json``): fractions as text ("30000/1001"), the audio
        as an object or null; the demux pass (``timing``) is the reader's, not a description, and is left out."""
        def plain(value):
            return str(value) if isinstance(value, Fraction) else list(value) if isinstance(value, tuple) else value

        fields = {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self) if f.name != "timing"}
        fields["audio"] = None if self.audio is None else {f.name: plain(getattr(self.audio, f.name))
                                                            for f in dataclasses.fields(self.audio)}
        return fields


# A variable-rate clip's retimed rate frame_count / duration is kept as a fraction with at most this denominator:
# exact for GIF delays and NTSC-style rates, and a sane time base for the writer.
_VFR_RATE_DENOMINATOR = 1001
# A frame whose timestamp is within this fraction of a frame (or within one tick) of the constant-rate grid counts
# as on time: coarse time bases (Matroska's milliseconds) and muxer rounding are not variable frame rate.
_GRID_TOLERANCE = 0.02


def probe(path) -> VideoInfo:
    """Describe the first video stream of ``path`` (and its first audio stream). Raises `MediaError` for anything that
    is not a readable video: a missing, empty, truncated or non-video file, or a picture over `MAX_PIXELS`."""
    with VideoInput(path) as (container, stream):
        timing = scan(container, stream, path)
        rate, variable = _frame_rate(stream, timing, path)
        context = stream.codec_context
        width, height = context.width, context.height
        if timing.rotation in (90, 270):
            width, height = height, width
        return VideoInfo(
            path=str(path),
            width=width,
            height=height,
            frame_rate=rate,
            frame_count=timing.count,
            duration=timing.count / rate,
            sample_aspect_ratio=Fraction(stream.sample_aspect_ratio or context.sample_aspect_ratio or 1),
            rotation=timing.rotation,
            pix_fmt=context.pix_fmt or "",
            codec=context.codec.canonical_name,
            variable_frame_rate=variable,
            audio=_audio_info(container),
            damaged_frames=timing.damaged,
            timing=timing,
        )


def warn_about(info: VideoInfo, stacklevel: int = 2) -> None:
    """A `DeepshopWarning` for each thing in ``info`` that the frames will show but the user may not expect: a
    variable frame rate, retimed onto a constant one (each frame shown for the same time: slow motion needs evenly
    spaced frames), and damaged frames FFmpeg decodes through (a broadcast recording's glitch: artefacts there)."""
    if info.damaged_frames:
        warnings.warn(f"{info.path} has {len(info.damaged_frames)} damaged frame(s) (the first is frame "
                      f"{info.damaged_frames[0]}): they may show artefacts where the file is corrupt",
                      DeepshopWarning, stacklevel=stacklevel + 1)
    if info.variable_frame_rate:
        warnings.warn(f"{info.path} has a variable frame rate: its {info.frame_count} frames are treated as evenly "
                      f"spaced at {float(info.frame_rate):.6g} fps (same length), so motion may speed up or slow down "
                      "slightly where the rate varied; convert it to a constant rate first for exact timing",
                      DeepshopWarning, stacklevel=stacklevel + 1)



def scan(container, stream, path, find_rotation: bool = True) -> Timing:
    """One demux pass over the video stream: every frame's timestamp, and the rotation from the first frame.

    Counting packets is exact where the container's frame count is missing (Matroska, GIF) or wrong; packets that
    an edit list marks as discarded are not frames. Only the first frame is decoded (for its display matrix), and
    only with ``find_rotation``.
    """
    pts: list[int] = []
    missing_pts, count, discarded, end, rotation = False, 0, 0, None, None
    damaged: list[int] = []
    try:
        for packet in container.demux(stream):
            if packet.size and packet.is_corrupt:
                damaged.append(count)
            if packet.size == 0 or packet.is_discard:
                discarded += packet.size > 0
                continue
            count += 1
            if packet.pts is None:
                missing_pts = True
            else:
                pts.append(packet.pts)
                frame_end = packet.pts + (packet.duration or 0)
                end = frame_end if end is None else max(end, frame_end)
            if find_rotation and rotation is None:
                rotation = _first_frame_rotation(packet)
    except av.FFmpegError as error:
        raise MediaError(
            f"{path} could not be read to the end ({ffmpeg_reason(error)}); it may be truncated"
        ) from error
    if count == 0:
        raise MediaError(f"{path} has a video stream with no frames in it")
    if damaged and damaged[-1] >= count - 1:  # the last frame is cut off: the file ends early
        raise MediaError(f"{path} is damaged or truncated: frame {damaged[-1]} is cut off or corrupt; "
                         "copy or export the file again")
    if stream.frames > count + discarded:  # MP4/MOV state their frame count in the header: the rest is missing
        raise MediaError(f"{path} is truncated: its header lists {stream.frames} frames but only {count + discarded} "
                         "are in the file; copy or export it again")
    pts.sort()  # decode order -> presentation order
    return Timing(pts=None if missing_pts else tuple(pts), count=count, end=end, rotation=rotation or 0,
                   damaged=tuple(damaged))


def _first_frame_rotation(packet) -> int | None:
    """Clockwise display rotation of the first frame the packet decodes to; None while the decoder has no frame yet."""
    try:
        frames = packet.decode()
    except av.FFmpegError:
        return None  # a broken leading packet: try the next one
    return clockwise(frames[0].rotation) if frames else None


def clockwise(counterclockwise: float) -> int:
    """FFmpeg's display-matrix angle (counterclockwise) as the clockwise quarter turn to apply: 0, 90, 180 or 270."""
    return int(round(-counterclockwise / 90.0)) % 4 * 90


def _frame_rate(stream, timing: Timing, path) -> tuple[Fraction, bool]:
    """(rate, variable): the container's exact rate when every frame sits on its grid, else frame_count / duration."""
    candidates = [stream.average_rate, stream.guessed_rate, stream.base_rate]
    pts, time_base = timing.pts, stream.time_base
    if pts is None or len(pts) < 2 or not time_base:
        rate = next((Fraction(r) for r in candidates if r), None)
        if rate is None:
            raise MediaError(f"{path} states no frame rate and has no timestamps to derive one from")
        return rate, False
    time_base = Fraction(time_base)
    candidates = [Fraction(rate) for rate in candidates if rate and rate > 0]
    median_step = int(np.median(np.diff(np.asarray(pts, dtype=np.int64))))
    if median_step > 0:  # the rate the timestamps themselves show, exact for fine time bases such as 1/90000
        candidates.append(1 / (median_step * time_base))
    candidates = [simple for rate in candidates for simple in (_simple_rate(rate, time_base), rate) if simple]
    for rate in candidates:
        if _on_grid(pts, time_base, rate):
            return rate, False
    last_step = (timing.end - pts[-1]) if timing.end is not None and timing.end > pts[-1] else median_step
    seconds = (pts[-1] + last_step - pts[0]) * time_base
    return (timing.count / seconds).limit_denominator(_VFR_RATE_DENOMINATOR), True


def _simple_rate(rate: Fraction, time_base: Fraction) -> Fraction | None:
    """The whole or NTSC (n * 1000/1001) rate within a millionth of ``rate``, when ``time_base`` cannot hold ``rate``
    exactly. Matroska stores nanoseconds per frame, which FFmpeg reads back as a nearby fraction (19001/317 for a file
    written at 60000/1001); the simple rate is what was meant."""
    if (1 / (rate * time_base)).denominator == 1:
        return None  # the container holds this rate exactly: take it as it is
    for simple in (Fraction(round(rate)), Fraction(round(rate * Fraction(1001, 1000)) * 1000, 1001)):
        if simple > 0 and abs(simple / rate - 1) < 1e-6:
            return simple
    return None


def _on_grid(pts: tuple[int, ...], time_base: Fraction, rate: Fraction) -> bool:
    step = float(1 / (rate * time_base))  # one frame, in ticks
    ideal = pts[0] + np.arange(len(pts)) * step
    return bool(np.all(np.abs(np.asarray(pts, dtype=np.float64) - ideal) <= max(1.0, step * _GRID_TOLERANCE)))


def _audio_info(container) -> AudioInfo | None:
    if not container.streams.audio:
        return None
    stream = container.streams.audio[0]
    context = stream.codec_context
    if context is None:  # no decoder for it (an unsupported or damaged codec): the video is still usable
        warnings.warn(f"the audio track of {container.name} cannot be decoded by FFmpeg, so it is left out; "
                      "convert the audio (e.g. to AAC) to keep it", DeepshopWarning, stacklevel=3)
        return None
    if stream.duration is not None and stream.time_base:
        duration = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        duration = container.duration / av.time_base
    else:
        duration = None
    return AudioInfo(
        codec=context.codec.canonical_name,  # "mp3", not the decoder's name "mp3float"
        channels=context.channels,
        sample_rate=context.sample_rate,
        layout=context.layout.name,
        duration=duration,
    )

