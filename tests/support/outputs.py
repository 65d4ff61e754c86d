"""What an output holds, whatever its format, read independently of deepshop_core's own reader: a video file with
PyAV (every frame decoded and counted), an animated WebP with Pillow (FFmpeg decodes none), a PNG-sequence folder
file by file. For the checks that a format, quality or rate really reached the file (the command line, the API, the
nodes and the ComfyUI servers)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av


@dataclass(frozen=True)
class Sound:
    codec: str
    channels: int
    sample_rate: int
    seconds: float  # from the decoded samples


@dataclass(frozen=True)
class Output:
    codec: str  # FFmpeg's decoder name ("h264", "hevc", "vp9", "gif", "png", ...), "webp" for an animated WebP
    frames: int
    rate: Fraction | None  # from the frames' own timestamps; None for a PNG folder (it stores no rate)
    size: tuple[int, int]  # (width, height)
    audio: Sound | None
    pix_fmt: str | None = None


def describe(path: Path) -> Output:
    path = Path(path)
    if path.is_dir():
        return _png_folder(path)
    if path.suffix.lower() == ".webp":
        return _webp(path)
    return _video(path)


def _rate(times: list[Fraction]) -> Fraction | None:
    """Frames per second from presentation times: (n - 1) intervals over the span, as a simple fraction."""
    if len(times) < 2 or times[-1] == times[0]:
        return None
    return (Fraction(len(times) - 1) / (times[-1] - times[0])).limit_denominator(1001)


def _video(path: Path) -> Output:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        codec, size, pix_fmt = stream.codec_context.name, (stream.width, stream.height), stream.codec_context.pix_fmt
        times = sorted(Fraction(frame.pts) * frame.time_base for frame in container.decode(stream))
    sound = None
    with av.open(str(path)) as container:
        if container.streams.audio:
            stream = container.streams.audio[0]
            samples = sum(frame.samples for frame in container.decode(stream))
            sound = Sound(stream.codec_context.name, stream.channels, stream.rate, samples / stream.rate)
    return Output(codec, len(times), _rate(times), size, sound, pix_fmt)


def _webp(path: Path) -> Output:
    from PIL import Image

    with Image.open(path) as image:
        assert image.format == "WEBP", f"{path} is {image.format}, not WebP"
        durations = []
        for index in range(image.n_frames):
            image.seek(index)
            image.load()  # the frame's duration is read with its data
            durations.append(image.info["duration"])
        size = image.size
    # frame k is shown from the sum of the durations before it: the same timestamps the other formats give
    starts = [Fraction(sum(durations[:k]), 1000) for k in range(len(durations))]
    return Output("webp", len(durations), _rate(starts), size, None)


def _png_folder(path: Path) -> Output:
    from PIL import Image

    files = sorted(path.glob("*.png"))
    assert files, f"{path} holds no PNG frames"
    with Image.open(files[0]) as first:
        assert first.format == "PNG"
        size = first.size
    return Output("png", len(files), None, size, None)
