"""The output formats and containers: one table each, read by the writer, the CLI, batch and the nodes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from ..errors import InputError

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


@dataclass(frozen=True)
class Container:
    """A file extension Deepshop writes: its muxer, the format a bare path implies, its audio codec."""

    extension: str
    muxer: str
    default_format: str  # what `format_for_path` picks for this extension
    audio_codec: str | None = None  # the container's usual one; None: no sound
    subtitle_codec: str | None = None  # the text subtitle codec it takes; None: no subtitles
    muxer_options: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "muxer_options", MappingProxyType(dict(self.muxer_options)))


_FASTSTART = {"movflags": "+faststart"}  # index at the front: plays while downloading
_LOOP = {"loop": "0"}  # loop forever
CONTAINERS: Mapping[str, Container] = MappingProxyType({c.extension: c for c in (
    Container(".mp4", "mp4", "h264", "aac", "mov_text", _FASTSTART),
    Container(".mov", "mov", "h264", "aac", "mov_text", _FASTSTART),
    Container(".mkv", "matroska", "lossless", "flac", "subrip"),  # keeps ASS as ASS (`subtitles.output_codec`)
    Container(".webm", "webm", "vp9", "libopus", "webvtt"),
    Container(".gif", "gif", "gif", muxer_options=_LOOP),
    Container(".webp", "webp", "webp", muxer_options=_LOOP),
)})
# The extensions of the video files an input folder is searched for (`batch.find_inputs`): what FFmpeg reads.
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".mpg", ".mpeg", ".ts", ".wmv", ".flv")
PNG_PATTERN = "frame_%06d.png"  # files in a PNG-sequence folder: frame_000000.png, frame_000001.png, ...


def format_for_path(path) -> str:
    """The format name an output path implies: .mp4/.mov -> h264, .webm -> vp9, .mkv -> lossless, .gif, .webp;
    a folder or a name without extension -> png (a PNG sequence)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if path.is_dir() or not suffix:
        return "png"
    if suffix not in CONTAINERS:
        known = ", ".join(sorted(CONTAINERS))
        raise InputError(f"cannot tell the output format from the extension {suffix!r} of {path}; use one of {known}, "
                         "or a folder name for PNG frames")
    return CONTAINERS[suffix].default_format


