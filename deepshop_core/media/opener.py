"""Opening media files for reading: the one place a path becomes a PyAV container (or a clear `MediaError`).

`open_media` opens any audio or video file; `VideoInput` also picks its first video stream and refuses what
Deepshop cannot read (no video, text, an undecodable stream, a picture over `MAX_PIXELS`).
"""

from __future__ import annotations

from pathlib import Path

import av

from ..errors import MediaError
from ..files import require_input

# The largest picture Deepshop reads: 2**26 pixels (8192x8192; 8K UHD, 7680x4320, is half of it). One RGB frame at the
# limit is 192 MiB and interpolation holds several plus their optical flow, so anything larger is refused from the
# file's header, before a frame is decoded or allocated (a damaged or hostile header can claim any size).
MAX_PIXELS = 8192 * 8192


def open_media(path) -> av.container.InputContainer:
    """Open ``path`` for reading with PyAV, turning every way it can fail into a `MediaError` that says what to do."""
    file = Path(path)
    require_input(file, "video or audio file", MediaError)
    if file.is_dir():
        raise MediaError(f"{file} is a folder, not a video or audio file; give the path of a file")
    if file.stat().st_size == 0:
        raise MediaError(f"{file} is empty (0 bytes), so it holds no video; export or copy the file again")
    try:
        return av.open(str(file), metadata_errors="replace")
    except PermissionError as error:
        raise MediaError(f"{file} cannot be read (permission denied); check the file's permissions") from error
    except av.error.EOFError as error:
        raise MediaError(f"{file} ends before its first frame: it is truncated or was saved with no frames; "
                         "copy or export it again") from error
    except (av.FFmpegError, OSError) as error:
        raise MediaError(
            f"{file} is not a video or audio file FFmpeg can read ({ffmpeg_reason(error)}); "
            "check that it is a complete, supported media file"
        ) from error


def ffmpeg_reason(error: Exception) -> str:
    """The short cause of an FFmpeg error, without PyAV's repetition of the file name."""
    return getattr(error, "strerror", None) or str(error)


class VideoInput:
    """``with VideoInput(path) as (container, stream)``: the file and its first video stream, or a `MediaError`
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

