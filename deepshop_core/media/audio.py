"""Audio as plain arrays: read a file's track, cut it, stretch it with the pitch kept, pad it, join it.

`Audio` holds float32 samples shaped ``(channels, n)`` and a sample rate. Everything here except `read_audio` is a
pure in-memory function of `Audio` values; `encode.VideoWriter` muxes an `Audio` into the output file.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import pairwise

import av
import numpy as np

from ..errors import InputError, MediaError
from .opener import ffmpeg_reason, open_media

# Decoders such as MP3 (bit reservoir) and AAC (overlapped windows) need some audio before the first sample they
# give back correctly, so a seek lands this much before the requested start and the excess is dropped.
_SEEK_PREROLL_S = 0.5
# atempo accepts a tempo in [0.5, 100], but FFmpeg 8.1's atempo aborts the whole process (a failed assertion in
# af_atempo.c) for tempos above ~5 fed large frames; [0.5, 2] (atempo's original range) in frames of 4096 samples
# never did. Larger changes are a chain of atempo filters.
_ATEMPO_MIN, _ATEMPO_MAX = 0.5, 2.0
_ATEMPO_CHUNK = 4096


@dataclass(frozen=True, eq=False)
class Audio:
    """A block of audio: ``samples`` float32 ``(channels, n)`` in about [-1, 1] at ``sample_rate`` Hz.

    ``layout`` is an FFmpeg channel-layout name ("stereo", "5.1(side)"); "" means the default layout for the channel
    count. A 1-D array is taken as mono. Treat the samples as read-only: the functions here never modify them.
    """

    samples: np.ndarray
    sample_rate: int
    layout: str = ""

    def __post_init__(self) -> None:
        samples = np.asarray(self.samples, dtype=np.float32)
        if samples.ndim == 1:
            samples = samples[np.newaxis]
        if samples.ndim != 2 or samples.shape[0] < 1:
            raise InputError(f"audio samples must be shaped (channels, n); got shape {np.shape(self.samples)}")
        if int(self.sample_rate) != self.sample_rate or self.sample_rate <= 0:
            raise InputError(f"the sample rate must be a positive whole number of Hz; got {self.sample_rate!r}")
        if self.layout:
            try:
                layout_channels = av.AudioLayout(self.layout).nb_channels
            except (ValueError, av.FFmpegError) as error:
                raise InputError(
                    f"unknown channel layout {self.layout!r}: use an FFmpeg name such as 'stereo'"
                ) from error
            if layout_channels != samples.shape[0]:
                raise InputError(
                    f"layout {self.layout!r} has {layout_channels} channels but the samples have {samples.shape[0]}"
                )
        object.__setattr__(self, "samples", np.ascontiguousarray(samples))
        object.__setattr__(self, "sample_rate", int(self.sample_rate))

    @property
    def channels(self) -> int:
        return self.samples.shape[0]

    @property
    def num_samples(self) -> int:
        """Samples per channel."""
        return self.samples.shape[1]

    @property
    def duration(self) -> float:
        """Seconds."""
        return self.num_samples / self.sample_rate

    @property
    def layout_name(self) -> str:
        """``layout``, or FFmpeg's default layout for the channel count when ``layout`` is ""."""
        return self.layout or default_layout(self.channels)

    def _with(self, samples: np.ndarray) -> Audio:
        return Audio(samples, self.sample_rate, self.layout)


def default_layout(channels: int) -> str:
    """FFmpeg's default layout name for a channel count: 1 -> "mono", 2 -> "stereo", 6 -> "5.1"."""
    return av.AudioLayout(f"{channels}c").name


def audio_frame(samples: np.ndarray, sample_rate: int, layout: str, pts: int) -> av.AudioFrame:
    """A PyAV frame of float32 ``(channels, n)`` samples, timestamped ``pts`` in units of 1 / ``sample_rate``.

    Interleaved ("flt"): PyAV 18 cannot build planar frames of 8 or more channels (7.1 failed with an IndexError).
    """
    interleaved = np.ascontiguousarray(samples.T, dtype=np.float32).reshape(1, -1)
    frame = av.AudioFrame.from_ndarray(interleaved, format="flt", layout=layout)
    frame.sample_rate = sample_rate
    frame.time_base = Fraction(1, sample_rate)
    frame.pts = pts
    return frame


def read_audio(path, start: float | None = None, end: float | None = None) -> Audio | None:
    """The first audio track of ``path`` from ``start`` to ``end`` seconds (the whole track by default).

    None when the file has no audio stream. All channels are kept (5.1 stays 6 channels) at the stream's own rate.
    Times count from the first video frame (from the file's start when it has no video), so sample
    ``round(t * rate)`` plays with the video frame at ``t``: a track that starts late or has a gap is filled with
    silence, sound before the first frame is dropped. The range is cut to the sample (``round(t * rate)``); a range
    that runs past the track's end gives what there is.
    """
    start = 0.0 if start is None else float(start)
    if not start >= 0 or (end is not None and not end >= start):
        raise InputError(f"the audio range must satisfy 0 <= start <= end; got start={start}, end={end}")
    with open_media(path) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        if stream.codec_context is None:  # no decoder for its codec (unsupported, or a damaged header)
            raise MediaError(f"the audio track of {path} cannot be decoded by FFmpeg; convert the audio (e.g. to "
                             "AAC) first, or leave the audio out")
        try:
            return _decode_range(container, stream, start, end, _first_frame_overrun(path))
        except av.FFmpegError as error:
            raise MediaError(
                f"decoding the audio of {path} failed ({ffmpeg_reason(error)}); the file may be truncated or corrupt"
            ) from error
        except MediaError:
            raise
        except InputError as error:  # what the file states cannot make an Audio: no channels, no sample rate
            raise MediaError(f"the audio track of {path} is damaged ({error}); export or copy the file again, "
                             "or leave the audio out") from error


def clock_origin(container) -> Fraction:
    """Seconds on the file's clock that count as time 0 (for audio and subtitles): the first video frame's, else the
    file's start."""
    video = next(iter(container.streams.video), None)
    if video is not None and video.start_time is not None and video.time_base:
        return video.start_time * Fraction(video.time_base)
    return Fraction(container.start_time or 0, av.time_base)


def _first_frame_overrun(path) -> tuple[int, int]:
    """(pts of the track's first packet, ticks by which that packet's stated duration exceeds one codec frame).

    Some phone muxers (mpy_fire2.mp4: 8471 ticks for a 1024-sample AAC frame; realshort.mp4: 1618) give the first
    audio sample the time between the track's start and the second sample, though the decoder gives one frame of
    samples. The track's own duration counts the samples back to back, and FFmpeg's decode (``ffmpeg -i x -f wav``)
    plays them so: the second frame follows the first at once. Taken literally, the timestamps would put silence
    after the first frame and everything after it late (155 ms and 12 ms on those files). (0, 0) when the first
    packet is ordinary or the codec has no fixed frame size.
    """
    with open_media(path) as container:
        stream = container.streams.audio[0]
        frame_size = stream.codec_context.frame_size
        if not frame_size or not stream.time_base:
            return 0, 0
        packets = []
        for packet in container.demux(stream):
            if packet.pts is not None and packet.size:
                packets.append(packet)
            if len(packets) == 2:
                break
        if len(packets) < 2:
            return 0, 0
        frame_ticks = round(Fraction(frame_size, stream.codec_context.sample_rate) / Fraction(stream.time_base))
        overrun = packets[1].pts - packets[0].pts - frame_ticks
        return packets[0].pts, (overrun if overrun > 1 else 0)


def _decode_range(container, stream, start: float, end: float | None,
                  first_frame_overrun: tuple[int, int] = (0, 0)) -> Audio:
    rate = stream.codec_context.sample_rate
    first = round(start * rate)
    last = None if end is None else round(end * rate)
    time_base = Fraction(stream.time_base) if stream.time_base else None
    origin = clock_origin(container)
    if first > 0 and time_base:
        try:
            seek_to = max(Fraction(0), origin + Fraction(start) - Fraction(_SEEK_PREROLL_S))
            container.seek(int(seek_to / time_base), stream=stream, backward=True)
        except av.FFmpegError:
            pass  # an unseekable file is decoded from the beginning instead
    # Timestamps within a tick of the running position are the running position: a coarse time base (Matroska's
    # milliseconds) must not turn into clicks from tiny gaps or overlaps.
    tolerance = 2 + (math.ceil(rate * time_base) if time_base else 0)
    chunks: list[np.ndarray] = []
    cursor = first  # absolute index of the next sample the result needs
    expected = None  # where the next decoded frame starts if the track is contiguous
    channels, layout = stream.codec_context.channels, stream.codec_context.layout.name
    for frame, data in _decoded(container, stream):
        channels, layout = data.shape[0], frame.layout.name
        position = expected if expected is not None else 0  # without timestamps: one frame after the other
        if frame.pts is not None and time_base:
            first_pts, overrun = first_frame_overrun
            pts = frame.pts - overrun if frame.pts > first_pts else frame.pts  # see _first_frame_overrun
            stamped = round((pts * time_base - origin) * rate)
            if expected is None or abs(stamped - expected) > tolerance:
                position = stamped
        expected = position + data.shape[1]
        if position > cursor:  # a gap, or a track that starts late: silence keeps the sync
            gap_end = position if last is None else min(position, last)
            chunks.append(np.zeros((channels, gap_end - cursor), np.float32))
            cursor = gap_end
        stop = expected if last is None else min(expected, last)
        if stop > cursor:
            chunks.append(data[:, cursor - position : stop - position])
            cursor = stop
        if last is not None and cursor >= last:
            break
    samples = np.concatenate(chunks, axis=1) if chunks else np.zeros((channels, 0), np.float32)
    return Audio(samples, rate, layout)


def _decoded(container, stream) -> Iterator[tuple[av.AudioFrame, np.ndarray]]:
    """Each decoded frame with its samples as float32 ``(channels, n)``, whatever FFmpeg's sample format."""
    # Through interleaved float: PyAV 18 crashes reading planar frames of 8 or more channels.
    to_float = av.AudioResampler(format="flt")
    for frame in container.decode(stream):
        parts = to_float.resample(frame)  # same rate and layout: no delay, every sample comes straight back
        if parts:
            yield frame, np.concatenate([_samples(part) for part in parts], axis=1)


def _samples(frame: av.AudioFrame) -> np.ndarray:
    """The float32 ``(channels, n)`` samples of an interleaved-float ("flt") frame."""
    return frame.to_ndarray().reshape(-1, frame.layout.nb_channels).T


def cut(audio: Audio, start_s: float, end_s: float) -> Audio:
    """Samples ``round(start_s * rate)`` to ``round(end_s * rate)``, both clamped to the clip."""
    if not end_s >= start_s:
        raise InputError(f"cut needs start <= end; got start={start_s}, end={end_s}")
    first, last = (min(max(round(t * audio.sample_rate), 0), audio.num_samples) for t in (start_s, end_s))
    return audio._with(audio.samples[:, first:last])


def silence(seconds: float, like: Audio) -> Audio:
    """``seconds`` of silence (``round(seconds * rate)`` samples) with the rate, channels and layout of ``like``."""
    if not seconds >= 0:
        raise InputError(f"silence needs a duration >= 0 seconds; got {seconds}")
    return like._with(np.zeros((like.channels, round(seconds * like.sample_rate)), np.float32))


def concat(parts: Sequence[Audio]) -> Audio:
    """The parts one after another; they must share sample rate and channel count (the first one's layout is kept)."""
    if not parts:
        raise InputError("concat needs at least one audio part")
    head = parts[0]
    for index, part in enumerate(parts):
        if (part.sample_rate, part.channels) != (head.sample_rate, head.channels):
            raise InputError(
                f"audio part {index} is {part.channels} channels at {part.sample_rate} Hz but part 0 is "
                f"{head.channels} channels at {head.sample_rate} Hz; convert them to one format first"
            )
    return head._with(np.concatenate([part.samples for part in parts], axis=1))


def fit(audio: Audio, seconds: float) -> Audio:
    """``audio`` trimmed, or padded with silence, to exactly ``round(seconds * rate)`` samples."""
    want = round(seconds * audio.sample_rate)
    have = audio.num_samples
    if want <= have:
        return audio if want == have else audio._with(audio.samples[:, :want])
    padding = np.zeros((audio.channels, want - have), np.float32)
    return audio._with(np.concatenate([audio.samples, padding], axis=1))


def stretch(audio: Audio, factor: float) -> Audio:
    """The audio played ``factor`` times as long (2 = half speed) with its pitch kept.

    Uses FFmpeg's atempo filter (tempo ``1 / factor``, chained when outside atempo's [0.5, 100]) through PyAV's
    filter graph. The result has exactly ``round(n * factor)`` samples: the filter's tail is padded or trimmed.
    """
    if not (math.isfinite(factor) and factor > 0):
        raise InputError(f"the stretch factor must be a positive number; got {factor}")
    if factor == 1:
        return audio
    target = round(audio.num_samples * factor)
    if audio.num_samples == 0 or target == 0:
        return audio._with(np.zeros((audio.channels, target), np.float32))
    try:
        stretched = _run_atempo(audio, 1.0 / factor)
    except av.FFmpegError as error:
        raise InputError(
            f"stretching the audio by {factor} failed in FFmpeg's atempo ({ffmpeg_reason(error)})"
        ) from error
    if stretched.shape[1] < target:
        stretched = np.pad(stretched, ((0, 0), (0, target - stretched.shape[1])))
    return audio._with(stretched[:, :target])


def atempo_chain(tempo: float) -> list[float]:
    """Tempos within atempo's range whose product is ``tempo`` (as few as possible, all equal)."""
    if _ATEMPO_MIN <= tempo <= _ATEMPO_MAX:
        return [tempo]
    limit = _ATEMPO_MIN if tempo < _ATEMPO_MIN else _ATEMPO_MAX
    stages = math.ceil(math.log(tempo) / math.log(limit) - 1e-9)
    return [tempo ** (1.0 / stages)] * stages


def _run_atempo(audio: Audio, tempo: float) -> np.ndarray:
    graph = av.filter.Graph()
    time_base = Fraction(1, audio.sample_rate)
    nodes = [graph.add_abuffer(sample_rate=audio.sample_rate, format="flt", layout=audio.layout_name,
                               time_base=time_base)]
    nodes += [graph.add("atempo", f"{stage:.12g}") for stage in atempo_chain(tempo)]
    nodes.append(graph.add("abuffersink"))
    for upstream, downstream in pairwise(nodes):
        upstream.link_to(downstream)
    graph.configure()

    out: list[np.ndarray] = []

    def drain() -> None:
        while True:
            try:
                out.append(_samples(graph.pull()))  # atempo keeps the input's flt
            except (av.error.BlockingIOError, av.error.EOFError):
                return

    for offset in range(0, audio.num_samples, _ATEMPO_CHUNK):
        chunk = audio.samples[:, offset : offset + _ATEMPO_CHUNK]
        graph.push(audio_frame(chunk, audio.sample_rate, audio.layout_name, offset))
        drain()
    graph.push(None)
    drain()
    return np.concatenate(out, axis=1) if out else np.zeros((audio.channels, 0), np.float32)
