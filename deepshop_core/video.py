"""Video files in and out, in-process with PyAV: `probe`, streaming decode (`read_frames`), streaming atomic encode
(`VideoWriter`).

Frames are HxWx3 uint8 RGB arrays with the file's rotation already applied. Frame indices count frames in
presentation order. Frame rates are exact `Fraction`s: a constant-rate clip keeps its container rate (30000/1001
stays 30000/1001); a variable-rate clip (phone footage, GIF) is described by the constant rate its frames are
retimed to, frame_count / duration.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import uuid
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from types import MappingProxyType

import av
import numpy as np
from av.video.reformatter import ColorPrimaries, ColorRange, ColorTrc

from . import subtitles as subs
from .audio import Audio, audio_frame, ffmpeg_reason, open_media
from .errors import DeepshopWarning, InputError, MediaError, OutputError

# ---------------------------------------------------------------------------------------------------------------------
# Probing


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

    @property
    def has_audio(self) -> bool:
        return self.audio is not None


@dataclass(frozen=True)
class _Timing:
    """The video stream's timestamps, from a demux pass (packet headers; at most the first frame is decoded)."""

    pts: tuple[int, ...] | None  # presentation timestamps in order; None when the container has none
    count: int  # frames (packets that carry a picture)
    end: int | None  # timestamp just after the last frame (its pts + its duration), when known
    rotation: int  # clockwise degrees, from the display matrix of the first decoded frame
    damaged: tuple[int, ...] = ()  # frames whose packet the demuxer flagged corrupt (never the last: that is refused)


# A variable-rate clip's retimed rate frame_count / duration is kept as a fraction with at most this denominator:
# exact for GIF delays and NTSC-style rates, and a sane time base for the writer.
_VFR_RATE_DENOMINATOR = 1001
# A frame whose timestamp is within this fraction of a frame (or within one tick) of the constant-rate grid counts
# as on time: coarse time bases (Matroska's milliseconds) and muxer rounding are not variable frame rate.
_GRID_TOLERANCE = 0.02
# The largest picture Deepshop reads: 2**26 pixels (8192x8192; 8K UHD, 7680x4320, is half of it). One RGB frame at the
# limit is 192 MiB and interpolation holds several plus their optical flow, so anything larger is refused from the
# file's header, before a frame is decoded or allocated (a damaged or hostile header can claim any size).
MAX_PIXELS = 8192 * 8192


def probe(path) -> VideoInfo:
    """Describe the first video stream of ``path`` (and its first audio stream). Raises `MediaError` for anything that
    is not a readable video: a missing, empty, truncated or non-video file, or a picture over `MAX_PIXELS`."""
    with _VideoInput(path) as (container, stream):
        timing = _scan(container, stream, path)
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


class _VideoInput:
    """``with _VideoInput(path) as (container, stream)``: the file and its first video stream, or a `MediaError`
    at once (so `read_frames` can fail before its first frame)."""

    def __init__(self, path):
        self.container = open_media(path)
        # Cover art in a music file is a one-picture "video" stream: not footage.
        streams = [s for s in self.container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
        if not self.container.streams:
            self._refuse(f"{path} holds no streams at all (a video saved with no frames?); export or copy it again")
        if not streams:
            self._refuse(f"{path} has no video stream; give a video file (audio-only files cannot be slowed)")
        if self.container.format.name == "tty":  # FFmpeg shows any text file as ANSI art
            self._refuse(f"{path} is text, not a video; give a video file")
        self.stream = streams[0]
        if self.stream.codec_context is None or not self.stream.codec_context.width:
            self._refuse(f"{path}: FFmpeg cannot decode its video stream; convert it to MP4 (H.264) first")
        width, height = self.stream.codec_context.width, self.stream.codec_context.height
        if width * height > MAX_PIXELS:
            self._refuse(f"{path} is {width}x{height} ({width * height / 1e6:.0f} megapixels), more than Deepshop "
                         f"reads ({MAX_PIXELS / 1e6:.0f} megapixels, e.g. 8192x8192); scale it down first")

    def _refuse(self, message: str):
        self.container.close()
        raise MediaError(message)

    def __enter__(self):
        return self.container, self.stream

    def __exit__(self, *exc) -> None:
        self.container.close()


def _scan(container, stream, path, find_rotation: bool = True) -> _Timing:
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
    return _Timing(pts=None if missing_pts else tuple(pts), count=count, end=end, rotation=rotation or 0,
                   damaged=tuple(damaged))


def _first_frame_rotation(packet) -> int | None:
    """Clockwise display rotation of the first frame the packet decodes to; None while the decoder has no frame yet."""
    try:
        frames = packet.decode()
    except av.FFmpegError:
        return None  # a broken leading packet: try the next one
    return _clockwise(frames[0].rotation) if frames else None


def _clockwise(counterclockwise: float) -> int:
    """FFmpeg's display-matrix angle (counterclockwise) as the clockwise quarter turn to apply: 0, 90, 180 or 270."""
    return int(round(-counterclockwise / 90.0)) % 4 * 90


def _frame_rate(stream, timing: _Timing, path) -> tuple[Fraction, bool]:
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


# ---------------------------------------------------------------------------------------------------------------------
# Decoding


def read_frames(path, start: int = 0, end: int | None = None) -> Iterator[np.ndarray]:
    """Frames ``[start, end)`` of ``path`` by presentation index, as HxWx3 uint8 RGB with the rotation applied.

    Streaming: a generator that holds one frame at a time. A range that starts past frame 0 seeks to the keyframe
    before it and decodes forward, discarding frames whose timestamp (looked up in a demux pass) comes before
    ``start``; so the result is exactly the slice of a full decode. The file is closed when the generator finishes,
    is closed, or is garbage-collected. The arguments and the file are checked at once, not at the first frame.
    """
    if int(start) != start or start < 0 or (end is not None and (int(end) != end or end < start)):
        raise InputError(f"the frame range must satisfy 0 <= start <= end (whole numbers); got {start}:{end}")
    opened = _VideoInput(path)  # fails now, with a clear MediaError, for a bad file
    return _frames(opened, path, int(start), None if end is None else int(end))


def _frames(opened: _VideoInput, path, start: int, end: int | None) -> Iterator[np.ndarray]:
    index = start
    try:
        with opened as (container, stream):
            if end is not None and end <= start:
                return
            for index, frame in _indexed(container, stream, start, path):
                if index < start:
                    continue
                if end is not None and index >= end:
                    return
                yield _to_rgb(frame)
    except av.FFmpegError as error:
        raise MediaError(
            f"decoding {path} failed near frame {index} ({ffmpeg_reason(error)}); the file may be truncated or corrupt"
        ) from error


def _indexed(container, stream, start: int, path) -> Iterator[tuple[int, av.VideoFrame]]:
    """(presentation index, frame) from a keyframe at or before ``start`` on; the caller drops the early ones."""
    stream.thread_type = "AUTO"  # frame + slice threads: decoding runs in FFmpeg's threads, outside the GIL
    if start == 0:
        yield from enumerate(container.decode(stream))
        return
    timing = _scan(container, stream, path, find_rotation=False)
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
    quarter_turns = _clockwise(frame.rotation) // 90
    if quarter_turns:
        image = np.ascontiguousarray(np.rot90(image, k=-quarter_turns))  # rot90 turns counterclockwise for k > 0
    return image


# ---------------------------------------------------------------------------------------------------------------------
# Output formats

_X26X_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow",
                 "placebo")


@dataclass(frozen=True)
class FormatSpec:
    """How `VideoWriter` writes one output format."""

    name: str
    codec: str  # FFmpeg encoder
    pix_fmt: str  # what the encoder is given
    extensions: tuple[str, ...]  # the file extensions it may be written to, usual one first; () = a folder of PNGs
    options: Mapping[str, str] = field(default_factory=dict)  # fixed encoder options (stored read-only)
    quality_option: str | None = None  # the encoder option that `quality` sets
    quality_default: int | None = None
    quality_range: tuple[int, int] | None = None
    quality_meaning: str = ""
    preset_option: str | None = None  # the encoder option that `preset` sets
    preset_default: str | None = None
    presets: tuple[str, ...] = ()  # the accepted preset values
    bt709: bool = False  # RGB -> YUV with the BT.709 matrix, limited range, and the stream tagged so
    even_size: bool = False  # 4:2:0 chroma: an odd width/height gets one more column/row copied from the edge
    audio: bool = True  # whether the format carries an audio track
    max_rate: int | None = None  # the highest frame rate the format can hold

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))

    @property
    def is_folder(self) -> bool:
        return not self.extensions


FORMATS: Mapping[str, FormatSpec] = MappingProxyType({spec.name: spec for spec in (
    FormatSpec("h264", "libx264", "yuv420p", (".mp4", ".mov", ".mkv"),
               quality_option="crf", quality_default=18, quality_range=(0, 51), quality_meaning="CRF, lower is better",
               preset_option="preset", preset_default="veryfast", presets=_X26X_PRESETS, bt709=True, even_size=True),
    FormatSpec("h265", "libx265", "yuv420p", (".mp4", ".mov", ".mkv"), options={"x265-params": "log-level=error"},
               quality_option="crf", quality_default=22, quality_range=(0, 51), quality_meaning="CRF, lower is better",
               preset_option="preset", preset_default="veryfast", presets=_X26X_PRESETS, bt709=True, even_size=True),
    FormatSpec("vp9", "libvpx-vp9", "yuv420p", (".webm", ".mkv"), options={"b": "0", "row-mt": "1", "deadline": "good"},
               quality_option="crf", quality_default=30, quality_range=(0, 63), quality_meaning="CRF, lower is better",
               preset_option="cpu-used", preset_default="4", presets=tuple(str(n) for n in range(9)), bt709=True),
    # H.264 coding the RGB planes themselves at qp 0: decodes back to bit-identical RGB, any size (odd too), and
    # encodes/decodes several times faster than FFV1 here (40 frames of 720p: 0.7 s vs 2.8 s to encode).
    FormatSpec("lossless", "libx264rgb", "rgb24", (".mkv", ".mp4", ".mov"), options={"qp": "0"},
               preset_option="preset", preset_default="ultrafast", presets=_X26X_PRESETS),
    FormatSpec("png", "png", "rgb24", (), audio=False),
    # GIF delays are whole centiseconds, and players treat delays under 2 of them as 10: at most 50 fps.
    FormatSpec("gif", "gif", "pal8", (".gif",), audio=False, max_rate=50),
    FormatSpec("webp", "libwebp_anim", "bgra", (".webp",),
               quality_option="quality", quality_default=90, quality_range=(0, 100),
               quality_meaning="0-100, higher is better", audio=False),
)})

_MUXERS = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm", ".gif": "gif", ".webp": "webp"}
_AUDIO_CODECS = {".mp4": "aac", ".mov": "aac", ".mkv": "flac", ".webm": "libopus"}  # each container's usual one
_MUXER_OPTIONS = {
    ".mp4": {"movflags": "+faststart"},  # index at the front: plays while downloading
    ".mov": {"movflags": "+faststart"},
    ".gif": {"loop": "0"},  # loop forever
    ".webp": {"loop": "0"},
}
_AVCOL_SPC_BT709 = 1  # FFmpeg's AVColorSpace value; PyAV names only swscale's colorspace numbers
PNG_PATTERN = "frame_%06d.png"  # files in a PNG-sequence folder: frame_000000.png, frame_000001.png, ...
_AUDIO_BITRATE_PER_CHANNEL = 64_000  # AAC/Opus; FLAC is lossless and ignores it
_COMMON_LAYOUTS = ("mono", "stereo", "3.0", "2.1", "quad", "5.0", "5.1", "6.1", "7.1")


def format_for_path(path) -> str:
    """The format name an output path implies: .mp4/.mov -> h264, .webm -> vp9, .mkv -> lossless, .gif, .webp;
    a folder or a name without extension -> png (a PNG sequence)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if path.is_dir() or not suffix:
        return "png"
    by_extension = {".mp4": "h264", ".mov": "h264", ".webm": "vp9", ".mkv": "lossless", ".gif": "gif", ".webp": "webp"}
    if suffix not in by_extension:
        known = ", ".join(sorted(by_extension))
        raise InputError(f"cannot tell the output format from the extension {suffix!r} of {path}; use one of {known}, "
                         "or a folder name for PNG frames")
    return by_extension[suffix]


# ---------------------------------------------------------------------------------------------------------------------
# Encoding


class VideoWriter:
    """Encode frames into a video file (or a PNG-sequence folder) as they come, and put it in place only when done.

    ``frame_rate`` is exact: frame i has timestamp i / frame_rate, so the file probes back with the same rate, frame
    count and duration. MP4/MOV keep every rate exactly. Matroska/WebM keep timestamps in milliseconds and the rate
    as nanoseconds per frame: whole and NTSC rates (25, 60, 24000/1001, 60000/1001, ...) and simple fractions come
    back exactly, an unusual one such as 45000/1499 comes back as FFmpeg's nearby 29990/999. GIF keeps
    centiseconds: rates that do not divide 100 come back approximately, and more than 50 fps is refused.

    ``format`` is a name in `FORMATS` (default: from the extension, see `format_for_path`). ``quality`` is the
    encoder's own number: CRF for h264 (default 18), h265 (22) and vp9 (30), lower is better; 0-100 for webp (90).
    ``preset`` is the encoder's speed setting: an x264/x265 preset name (default "veryfast"; "ultrafast" for
    lossless) or libvpx's cpu-used 0-8 for vp9 (default 4).

    Odd sizes: h264/h265 store 4:2:0 chroma, which needs an even width and height, so an odd-sized picture gets one
    extra column/row copied from its right/bottom edge (the picture is not scaled, so nothing is distorted; the file
    is one pixel wider/taller). vp9, lossless, png, gif and webp keep the exact size.

    ``audio`` is muxed in, interleaved with the video as it is written: AAC in MP4/MOV, FLAC in Matroska, Opus in
    WebM. The track is made exactly as long as the video: cut at the video's end, padded with silence if shorter.
    png/gif/webp carry no audio: it is dropped with a warning. ``sample_aspect_ratio`` is written to the stream.
    ``subtitles`` (text tracks, already timed for the output) are muxed as the codec the container takes (see
    `subtitles.output_codec`); a container that takes none drops them with one warning.

    The output goes to a hidden temporary file beside the target and is renamed into place by `close`; `abort` (or
    an exception inside ``with``) removes it. An existing output is an `OutputError` unless ``overwrite=True``.
    """

    def __init__(self, path, frame_rate: Fraction, *, format: str | None = None, quality: int | None = None,
                 audio: Audio | None = None, overwrite: bool = False, preset: str | None = None,
                 sample_aspect_ratio: Fraction = Fraction(1), subtitles: Sequence[subs.SubtitleTrack] = ()):
        self.path = Path(path)
        self.frames_written = 0
        self._container = None
        self._temp: Path | None = None
        self._done = False
        self.frame_rate = _checked_rate(frame_rate)
        self.format = format or format_for_path(self.path)
        if self.format not in FORMATS:
            raise InputError(f"unknown output format {self.format!r}; choose one of {', '.join(FORMATS)}")
        self.spec = FORMATS[self.format]
        if self.spec.max_rate is not None and self.frame_rate > self.spec.max_rate:
            raise InputError(f"{self.format} output plays at most {self.spec.max_rate} frames per second "
                             f"(got {float(self.frame_rate):.6g}); choose another format such as webp or h264")
        self._suffix = _checked_suffix(self.path, self.spec)
        self._options = _encoder_options(self.spec, quality, preset)
        if audio is not None and not self.spec.audio:
            warnings.warn(f"{self.format} output carries no sound: the audio track is left out", DeepshopWarning,
                          stacklevel=2)
            audio = None
        self.audio = audio
        codecs = [None if self.spec.is_folder else subs.output_codec(t, self._suffix) for t in subtitles]
        if None in codecs:
            warnings.warn(f"{self.format} output in {self._suffix or 'a folder'} carries no subtitles: "
                          f"{codecs.count(None)} subtitle track(s) left out", DeepshopWarning, stacklevel=2)
        self.subtitles = [(t, c) for t, c in zip(subtitles, codecs) if c is not None]
        self._subtitle_streams: list = []
        self._cues_written = [0] * len(self.subtitles)
        self._audio_encoding = None if audio is None else _audio_encoding(_AUDIO_CODECS[self._suffix], audio)
        self.sample_aspect_ratio = Fraction(sample_aspect_ratio)
        _check_target(self.path, self.spec, overwrite)
        self._video = self._audio = None
        self._shape: tuple[int, ...] | None = None
        self._audio_cursor = 0
        self._open_temp()

    # -- public ---------------------------------------------------------------------------------------------------

    def write(self, frame: np.ndarray) -> None:
        """Encode one HxWx3 uint8 RGB frame; all frames must have the first one's size."""
        self._check_writable()
        image = np.asarray(frame)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise InputError(f"frames must be HxWx3 uint8 RGB arrays; got shape {image.shape}, dtype {image.dtype}")
        if self._shape is not None and image.shape != self._shape:
            raise InputError(f"frame {self.frames_written} is {image.shape[1]}x{image.shape[0]} but the video is "
                             f"{self._shape[1]}x{self._shape[0]}; all frames must have one size")
        try:
            if self._shape is None:
                self._start(image.shape)
            self._mux(self._video.encode(self._video_frame(image)))
            self.frames_written += 1
            self._mux_audio_until(self.frames_written / self.frame_rate)
            self._mux_subtitles_until(self.frames_written / self.frame_rate)
        except (av.FFmpegError, OSError) as error:
            raise OutputError(
                f"writing frame {self.frames_written} of {self.path} failed ({_write_failure(error)})"
            ) from error

    def close(self) -> None:
        """Finish the file and rename it into place. Closing twice does nothing."""
        if self._done:
            return
        if self.frames_written == 0:
            self.abort()
            raise OutputError(f"no frames were written, so {self.path} was not created")
        try:
            self._mux(self._video.encode(None))
            if self._audio is not None:
                self._mux_audio_until(self.frames_written / self.frame_rate, pad=True)
                self._mux(self._audio.encode(None))
            self._mux_subtitles_until(None)
            self._container.close()
            _move_into_place(self._temp, self.path)
        except (av.FFmpegError, OSError) as error:
            self.abort()
            raise OutputError(f"finishing {self.path} failed ({_write_failure(error)}); nothing was written") \
                from error
        self._done = True

    def abort(self) -> None:
        """Stop and remove the temporary output; the target path is left as it was."""
        if self._done:
            return
        self._done = True
        if self._container is not None:
            try:
                self._container.close()
            except (av.FFmpegError, OSError):
                pass  # it is being thrown away
        if self._temp is not None:
            if self._temp.is_dir():
                shutil.rmtree(self._temp, ignore_errors=True)
            else:
                self._temp.unlink(missing_ok=True)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def __del__(self) -> None:
        # A writer dropped without close() must not leave its temporary file behind.
        if getattr(self, "_done", True) is False:
            with contextlib.suppress(Exception):  # at interpreter exit the modules it needs may be gone
                self.abort()

    # -- setup ----------------------------------------------------------------------------------------------------

    def _open_temp(self) -> None:
        hidden = f".{self.path.name}.{uuid.uuid4().hex[:8]}.partial"
        self._temp = self.path.parent / (hidden + self._suffix)
        try:
            if self.spec.is_folder:
                self._temp.mkdir()
                self._container = av.open(str(self._temp / PNG_PATTERN), "w", format="image2",
                                          options={"start_number": "0"})
            else:
                self._container = av.open(str(self._temp), "w", format=_MUXERS[self._suffix],
                                          options=_MUXER_OPTIONS.get(self._suffix, {}))
        except (av.FFmpegError, OSError) as error:
            self.abort()
            raise OutputError(f"cannot create {self.path} "
                              f"({_write_failure(error, '; check that the folder is writable')})") from error

    def _start(self, shape: tuple[int, ...]) -> None:
        """Add the streams once the picture size is known (the header is written with the first packet)."""
        height, width = shape[:2]
        self._pad = (height % 2, width % 2) if self.spec.even_size else (0, 0)
        stream = self._container.add_stream(self.spec.codec, rate=self.frame_rate, time_base=1 / self.frame_rate,
                                            options=self._options)
        stream.width, stream.height = width + self._pad[1], height + self._pad[0]
        stream.pix_fmt = self.spec.pix_fmt
        context = stream.codec_context
        # Frame threads run the encoder in FFmpeg's threads (PyAV releases the GIL around avcodec_send_frame);
        # x264 does better with frame threads than with the slice threads PyAV picks by default.
        context.thread_type = "FRAME" if self.spec.codec.startswith("libx26") else "AUTO"
        context.thread_count = 0
        if self.sample_aspect_ratio != 1:
            context.sample_aspect_ratio = self.sample_aspect_ratio
        if self.spec.bt709:  # tag what _video_frame converts with, so players and read_frames undo it exactly
            context.colorspace = _AVCOL_SPC_BT709
            context.color_primaries, context.color_trc = ColorPrimaries.BT709, ColorTrc.BT709
            context.color_range = ColorRange.MPEG
        if self.spec.codec == "libx265" and self._suffix in (".mp4", ".mov"):
            context.codec_tag = "hvc1"  # the HEVC tag Apple players require
        self._video = stream
        if self.audio is not None:
            self._audio = self._add_audio_stream(self.audio)
        self._subtitle_streams = [subs.add_stream(self._container, t, c) for t, c in self.subtitles]
        self._shape = shape

    def _add_audio_stream(self, audio: Audio):
        codec, rate, layout = self._audio_encoding
        stream = self._container.add_stream(codec, rate=rate, layout=layout)
        stream.codec_context.time_base = Fraction(1, rate)
        if codec != "flac":
            stream.codec_context.bit_rate = _AUDIO_BITRATE_PER_CHANNEL * audio.channels
        return stream

    # -- per frame ------------------------------------------------------------------------------------------------

    def _video_frame(self, image: np.ndarray) -> av.VideoFrame:
        if any(self._pad):
            image = np.pad(image, ((0, self._pad[0]), (0, self._pad[1]), (0, 0)), mode="edge")
        if self.spec.pix_fmt == "pal8":
            frame = _palette_frame(image)
        else:
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            if self.spec.bt709:
                frame = frame.reformat(format=self.spec.pix_fmt, dst_colorspace="ITU709", dst_color_range="MPEG")
            elif self.spec.pix_fmt != "rgb24":
                frame = frame.reformat(format=self.spec.pix_fmt)
        frame.pts = self.frames_written
        frame.time_base = 1 / self.frame_rate
        frame.duration = 1
        return frame

    def _mux_audio_until(self, seconds: Fraction, pad: bool = False) -> None:
        """Encode the audio up to ``seconds`` (the video written so far), so the file is interleaved as it grows."""
        if self._audio is None:
            return
        audio = self.audio
        target = round(seconds * audio.sample_rate)
        available = target if pad else min(target, audio.num_samples)
        while self._audio_cursor < available:
            stop = min(available, self._audio_cursor + (1 << 15))
            if self._audio_cursor >= audio.num_samples:  # past the track's end: silence up to the video's end
                chunk = np.zeros((audio.channels, stop - self._audio_cursor), np.float32)
            else:
                stop = min(stop, audio.num_samples)
                chunk = audio.samples[:, self._audio_cursor : stop]
            frame = audio_frame(chunk, audio.sample_rate, audio.layout_name, self._audio_cursor)
            self._mux(self._audio.encode(frame))  # the encoder resamples/remixes to its own rate and layout
            self._audio_cursor = stop

    def _mux_subtitles_until(self, seconds: Fraction | None) -> None:
        """Mux the cues that start before ``seconds`` (all of them for None), interleaved like the audio."""
        for i, ((track, codec), stream) in enumerate(zip(self.subtitles, self._subtitle_streams)):
            cues = track.cues
            while self._cues_written[i] < len(cues) and (seconds is None or cues[self._cues_written[i]].start < seconds):
                self._mux(subs.packet(cues[self._cues_written[i]], codec, self._cues_written[i], stream))
                self._cues_written[i] += 1

    def _mux(self, packets) -> None:
        self._container.mux(packets)

    def _check_writable(self) -> None:
        if self._done:
            raise OutputError(f"the writer for {self.path} is already closed; open a new VideoWriter")


# Why a write failed, by errno, with what to do: the disk's refusals are told apart from other errors.
_WRITE_FAILURES = {
    errno.ENOSPC: "the disk is full: free some space or write to another disk",
    errno.EDQUOT: "the disk quota is used up: free some space or write to another disk",
    errno.EFBIG: "a file-size limit (ulimit -f) or the disk refused the write: free space, raise the limit or write "
                 "to another disk",
    errno.EROFS: "the disk is read-only: write to another folder",
    errno.EACCES: "permission denied: check that the folder is writable",
    errno.EPERM: "permission denied: check that the folder is writable",
}


def _write_failure(error: Exception, otherwise: str = "") -> str:
    """The cause of a failed write, with advice where the disk refused it (else ``otherwise``)."""
    advice = _WRITE_FAILURES.get(getattr(error, "errno", None))
    return f"{ffmpeg_reason(error)}: {advice}" if advice else f"{ffmpeg_reason(error)}{otherwise}"


def _audio_encoding(codec_name: str, audio: Audio) -> tuple[str, int, str]:
    """(encoder, sample rate, layout) for ``audio``: its own rate where the encoder takes it (Opus: 48 kHz), and a
    layout players know: AAC and Opus get the common layout of the channel count (5.1(side) is written as 5.1, which
    MP4 names and Opus accepts), FLAC in Matroska keeps any layout. The encoder's resampler converts and remixes."""
    codec = av.Codec(codec_name, "w")
    rates = codec.audio_rates
    rate = audio.sample_rate if not rates or audio.sample_rate in rates else max(rates)
    same_count = [name for name in _COMMON_LAYOUTS if av.AudioLayout(name).nb_channels == audio.channels]
    preferred = [audio.layout_name, *same_count] if codec.name == "flac" else [*same_count, audio.layout_name]
    for layout in dict.fromkeys(preferred):
        if _encoder_opens(codec, rate, layout):
            return codec.name, rate, layout
    raise OutputError(f"the {codec.name} audio encoder cannot take {audio.channels} channels ({audio.layout_name}); "
                      "mix the sound down to stereo or 5.1 first")


def _encoder_opens(codec: av.Codec, rate: int, layout: str) -> bool:
    context = av.CodecContext.create(codec, "w")
    context.sample_rate, context.layout, context.format = rate, layout, codec.audio_formats[0]
    try:
        context.open()
    except (av.FFmpegError, ValueError):
        return False
    return True


def _checked_rate(frame_rate) -> Fraction:
    try:
        # A float such as 29.97 is taken as the nearest simple fraction (2997/100), not its exact binary value,
        # whose huge denominator no container time base could hold.
        rate = Fraction(frame_rate).limit_denominator(1001) if isinstance(frame_rate, float) else Fraction(frame_rate)
    except (TypeError, ValueError) as error:
        raise InputError(f"the frame rate must be a number such as Fraction(30000, 1001); got {frame_rate!r}") \
            from error
    if rate <= 0:
        raise InputError(f"the frame rate must be positive; got {frame_rate!r}")
    return rate


def _checked_suffix(path: Path, spec: FormatSpec) -> str:
    suffix = path.suffix.lower()
    if spec.is_folder:
        return ""
    if suffix not in spec.extensions:
        raise InputError(f"{spec.name} output needs a file name ending in {' or '.join(spec.extensions)}; got {path}")
    return suffix


def _encoder_options(spec: FormatSpec, quality: int | None, preset: str | None) -> dict[str, str]:
    options = dict(spec.options)
    if quality is not None:
        if spec.quality_option is None:
            raise InputError(f"{spec.name} output has no quality setting (it is lossless or palette-based); "
                             "leave quality unset")
        low, high = spec.quality_range
        if int(quality) != quality or not low <= quality <= high:
            raise InputError(f"{spec.name} quality must be a whole number {low}-{high} ({spec.quality_meaning}); "
                             f"got {quality!r}")
    if spec.quality_option is not None:
        options[spec.quality_option] = str(int(quality if quality is not None else spec.quality_default))
    if preset is not None:
        if spec.preset_option is None:
            raise InputError(f"{spec.name} output has no speed preset; leave preset unset")
        if str(preset) not in spec.presets:
            raise InputError(f"{spec.name} preset must be one of {', '.join(spec.presets)}; got {preset!r}")
    if spec.preset_option is not None:
        options[spec.preset_option] = str(preset if preset is not None else spec.preset_default)
    return options


def _check_target(path: Path, spec: FormatSpec, overwrite: bool) -> None:
    if not path.parent.is_dir():
        raise OutputError(f"the folder {path.parent} does not exist; create it first")
    if not (path.exists() or path.is_symlink()):
        return
    if not overwrite:
        raise OutputError(f"{path} already exists; choose another name or pass overwrite=True to replace it")
    if spec.is_folder:
        if not path.is_dir() or any(not _is_png_frame(entry.name) for entry in path.iterdir()):
            raise OutputError(f"{path} exists and is not a PNG-frame folder this writer made; it is not replaced "
                              "(overwrite only replaces folders holding nothing but frame_NNNNNN.png files)")
    elif path.is_dir():
        raise OutputError(f"{path} is a folder; give a file name for {spec.name} output")


def _is_png_frame(name: str) -> bool:
    return name.startswith("frame_") and name.endswith(".png") and name[6:-4].isdigit()


def _move_into_place(temp: Path, target: Path) -> None:
    """Rename the finished temporary output onto the target (a previous PNG folder is swapped out, then deleted)."""
    if temp.is_dir() and target.is_dir():
        old = target.parent / f".{target.name}.{uuid.uuid4().hex[:8]}.old"
        os.replace(target, old)
        os.replace(temp, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(temp, target)


def _palette_frame(image: np.ndarray) -> av.VideoFrame:
    """A GIF frame: the image reduced to its own 256-colour palette (median cut), so colours stay faithful."""
    from PIL import Image  # only GIF output needs Pillow

    indexed = Image.fromarray(image).quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    rgb = np.zeros((256, 3), np.uint8)
    used = np.asarray(indexed.getpalette()[: 256 * 3], np.uint8).reshape(-1, 3)
    rgb[: len(used)] = used
    argb = np.concatenate([np.full((256, 1), 255, np.uint8), rgb], axis=1)
    return av.VideoFrame.from_ndarray((np.asarray(indexed), argb), format="pal8")
