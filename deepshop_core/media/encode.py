"""Encoding: `VideoWriter` streams frames (and the retimed audio and subtitles) into a file or a PNG folder and puts
it in place only when complete."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import uuid
import warnings
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import ColorPrimaries, ColorRange, ColorTrc

from ..clock import exact_rate
from ..errors import DeepshopWarning, InputError, OutputError
from ..files import refuse_existing
from . import subtitles as subs
from .audio import Audio, audio_frame
from .formats import CONTAINERS, FORMATS, PNG_PATTERN, FormatSpec, format_for_path
from .opener import ffmpeg_reason

_AVCOL_SPC_BT709 = 1  # FFmpeg's AVColorSpace value; PyAV names only swscale's colorspace numbers
_AUDIO_BITRATE_PER_CHANNEL = 64_000  # AAC/Opus; FLAC is lossless and ignores it
_COMMON_LAYOUTS = ("mono", "stereo", "3.0", "2.1", "quad", "5.0", "5.1", "6.1", "7.1")


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
        self.frame_rate = exact_rate(frame_rate)
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
        self._audio_encoding = None if audio is None else _audio_encoding(CONTAINERS[self._suffix].audio_codec, audio)
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
                self._container = av.open(str(self._temp), "w", format=CONTAINERS[self._suffix].muxer,
                                          options=dict(CONTAINERS[self._suffix].muxer_options))
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
    refuse_existing(path, overwrite)
    if not (path.exists() or path.is_symlink()):
        return
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
