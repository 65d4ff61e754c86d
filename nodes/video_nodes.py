"""Load Video Frames, Select Range and Save Video: thin adapters over deepshop_core.media / timeline."""

from __future__ import annotations

import os
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path

from .. import deepshop_core as core
from ..deepshop_core import range_batches, splice
from ..deepshop_core.clock import exact_rate, parse_range
from ..deepshop_core.files import require_input
from ..deepshop_core.media import audio as media_audio
from ..deepshop_core.media.decode import read_frames
from ..deepshop_core.media.encode import VideoWriter
from ..deepshop_core.media.formats import FORMATS
from ..deepshop_core.media.probe import probe, warn_about
from ..deepshop_core.splice import SourceWindow
from .comfy import Progress, folder_paths, input_files
from .convert import (
    check_image,
    fill_images,
    from_comfy_audio,
    to_comfy_audio,
    to_uint8,
)
from .widgets import CATEGORY, RANGE_TYPE, SLOW_MOTION_NOTE, SOURCE_TYPE


def _resolve_video(video: str, path: str = "") -> str:
    """The file to load: ``path`` when given (absolute, or relative to the input folder), else the picked file."""
    path = (path or "").strip().strip('"')
    if path:
        if not os.path.isabs(path) and folder_paths is not None:
            path = os.path.join(folder_paths.get_input_directory(), path)
        candidate = path
    elif folder_paths is not None:
        candidate = folder_paths.get_annotated_filepath(video)
    else:
        candidate = video
    require_input(candidate, "video file", core.MediaError)
    return candidate


class DeepshopLoadVideoFrames:
    """Decode a window of a video into an IMAGE batch, with its frame rate, audio and a handle to the file."""

    CATEGORY = CATEGORY
    DESCRIPTION = (
        "Loads frames start_frame .. start_frame + frame_load_cap - 1 of a video (all when the cap is 0) into an "
        "IMAGE batch, decoding only that window, so a long video never has to fit in memory. Also gives the exact "
        "frame rate, the audio of the same window (None when the clip has no audio track) and a source handle that "
        "lets Save Video (Deepshop) splice the processed window back into the untouched file."
    )
    RETURN_TYPES = ("IMAGE", "FLOAT", "AUDIO", "INT", SOURCE_TYPE)
    RETURN_NAMES = ("images", "frame_rate", "audio", "frame_count", "source")
    OUTPUT_TOOLTIPS = (
        "The frames of the window, RGB.",
        "The clip's frame rate (frames per second).",
        "The audio of the window, or None when the clip has none.",
        "Frames loaded.",
        "The file and window, for splicing the result back into the full clip (Save Video's 'source').",
    )
    FUNCTION = "load"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "video": (input_files("video"), {"video_upload": True,
                                                 "tooltip": "A video in ComfyUI's input folder (upload one here)."}),
                "start_frame": ("INT", {"default": 0, "min": 0, "max": 10_000_000, "step": 1,
                                        "tooltip": "First frame to load (0 = the first frame of the clip)."}),
                "frame_load_cap": ("INT", {"default": 0, "min": 0, "max": 10_000_000, "step": 1,
                                           "tooltip": "Most frames to load; 0 = up to the end of the clip."}),
            },
            "optional": {
                "path": ("STRING", {"default": "", "multiline": False,
                                    "tooltip": "A file path to load instead of the picked video (absolute, or "
                                               "relative to the input folder)."}),
            },
        }

    @classmethod
    def IS_CHANGED(cls, video, start_frame=0, frame_load_cap=0, path=""):
        try:
            return os.path.getmtime(_resolve_video(video, path))
        except Exception:
            return float("nan")

    @classmethod
    def VALIDATE_INPUTS(cls, video, path="", **_):
        if (path or "").strip():
            return True
        if folder_paths is not None and not folder_paths.exists_annotated_filepath(video):
            return f"Invalid video file: {video}"
        return True

    def load(self, video, start_frame=0, frame_load_cap=0, path=""):
        file = _resolve_video(video, path)
        info = probe(file)
        warn_about(info)
        start = int(start_frame)
        if start >= info.frame_count:
            raise core.InputError(f"start_frame {start} is past the end: {os.path.basename(file)} has "
                                  f"{info.frame_count} frames (0..{info.frame_count - 1})")
        end = info.frame_count if int(frame_load_cap) <= 0 else min(info.frame_count, start + int(frame_load_cap))
        count = end - start
        frames = read_frames(file, start, end)
        images = fill_images(frames, count, info.height, info.width, Progress(count))
        end = start + images.shape[0]
        audio = None
        if info.has_audio:
            rate = info.frame_rate
            audio = media_audio.read_audio(file, float(start / rate), float(end / rate))
        source = SourceWindow(Path(file), start, end, info.frame_count, info.frame_rate, info.width, info.height,
                              info.has_audio)
        return (images, float(info.frame_rate), to_comfy_audio(audio), int(images.shape[0]), source)


class DeepshopSelectRange:
    """Pick the range to slow down, by frames or seconds."""

    CATEGORY = CATEGORY
    DESCRIPTION = (
        "Chooses the range to slow down: '120:150' (frames) or '4.8s:6.0s' (seconds), or a mix. The range "
        "start:end names the frames start..end; their end - start intervals get the in-between frames. With the "
        "optional source (from Load Video Frames), numbers count from the start of the whole clip, not the window."
    )
    RETURN_TYPES = ("IMAGE", RANGE_TYPE, "INT", "INT")
    RETURN_NAMES = ("segment", "range", "start", "end")
    OUTPUT_TOOLTIPS = (
        "Frames start..end of the batch (a view, no copy): feed it to DAIN Interpolate.",
        "The range, for Slow Motion Retime.",
        "First frame of the range, in the batch.",
        "Last frame of the range, in the batch.",
    )
    FUNCTION = "select"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "images": ("IMAGE",),
                "frame_rate": ("FLOAT", {"forceInput": True, "tooltip": "The clip's frame rate (for seconds)."}),
                "range": ("STRING", {"default": "1.0s:2.0s", "multiline": False,
                                     "tooltip": "'START:END' in frames (120:150) or seconds (4.8s:6.0s)."}),
            },
            "optional": {
                "source": (SOURCE_TYPE, {"tooltip": "Count frames/seconds from the start of the whole clip."}),
            },
        }

    @classmethod
    def VALIDATE_INPUTS(cls, range=None, **_):
        if not isinstance(range, str):
            return True  # linked: checked when it runs
        try:
            parse_range(range, Fraction(1000), None)
        except core.InputError as error:
            return str(error)
        return True

    def select(self, images, frame_rate, range, source=None):
        check_image(images)
        count = int(images.shape[0])
        if source is None:
            selection = range_batches.select_range(range, count, frame_rate)
        else:
            window = as_window(source)
            selection = range_batches.select_range(range, count, window.frame_rate, offset=window.start,
                                                   total=window.frame_count)
        return (images[selection.start:selection.end + 1], selection, selection.start, selection.end)


def _output_prefix(filename_prefix: str) -> str:
    """``filename_prefix`` checked to name a file inside ComfyUI's output folder: an absolute path or one that climbs
    out with ``..`` is refused (never silently rewritten, so nothing lands where the user did not expect)."""
    prefix = (filename_prefix or "").strip()
    normal = os.path.normpath(prefix) if prefix else ""
    if not prefix or normal in (".", ""):
        raise core.InputError("filename_prefix is empty: give a name such as deepshop/slowmo")
    if os.path.isabs(prefix) or os.path.splitdrive(prefix)[0] or normal == ".." or normal.startswith(".." + os.sep):
        raise core.InputError(f"filename_prefix {filename_prefix!r} points outside ComfyUI's output folder: use a "
                              "name or sub-folder inside it, such as deepshop/slowmo (no absolute path, no '..')")
    return prefix


def _format_menu():
    return [name for name in FORMATS]


FORMAT_TOOLTIP = ("h264: MP4, plays everywhere (default). h265: smaller MP4. vp9: WebM. lossless: MKV, "
                  "bit-exact. png: a folder of PNG frames. gif / webp: animated, no audio.")


class DeepshopSaveVideo:
    """Encode an IMAGE batch (+ audio) to a file in the output folder, optionally spliced into the source clip."""

    CATEGORY = CATEGORY
    OUTPUT_NODE = True
    DESCRIPTION = (
        "Writes the frames at the given frame rate, with the audio, to ComfyUI's output folder. " + SLOW_MOTION_NOTE
        + " With a source (from Load Video Frames), the frames replace the loaded window inside the full original "
          "clip: frames and audio before and after the window are copied from the file."
    )
    RETURN_TYPES = ("STRING",)
    RETURN_NAMES = ("path",)
    OUTPUT_TOOLTIPS = ("The file (or PNG folder) written.",)
    FUNCTION = "save"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "images": ("IMAGE",),
                "frame_rate": ("FLOAT", {"forceInput": True,
                                         "tooltip": "Frames per second of the file. Keep the clip's rate for slow "
                                                    "motion; interpolated frames at a higher rate only smooth."}),
                "filename_prefix": ("STRING", {"default": "deepshop/slowmo",
                                               "tooltip": "Name (and sub-folder) in the output folder."}),
                "format": (_format_menu(), {"default": "h264", "tooltip": FORMAT_TOOLTIP}),
                "quality": ("INT", {"default": -1, "min": -1, "max": 100, "step": 1,
                                    "tooltip": "-1: the format's default. h264/h265/vp9: CRF, lower is better "
                                               "(18/22/30). webp: 0-100, higher is better."}),
            },
            "optional": {
                "audio": ("AUDIO", {"tooltip": "Muxed in (AAC in MP4, Opus in WebM); none for png/gif/webp."}),
                "source": (SOURCE_TYPE, {"tooltip": "Splice the frames into the full original clip."}),
            },
            "hidden": {"prompt": "PROMPT", "extra_pnginfo": "EXTRA_PNGINFO"},
        }

    def save(self, images, frame_rate, filename_prefix, format, quality=-1, audio=None, source=None,
             prompt=None, extra_pnginfo=None):
        check_image(images)
        spec = FORMATS[format]
        rate = exact_rate(frame_rate)
        track = from_comfy_audio(audio)
        height, width = int(images.shape[1]), int(images.shape[2])
        out_dir, filename, counter, subfolder, _ = folder_paths.get_save_image_path(
            _output_prefix(filename_prefix), folder_paths.get_output_directory(), width, height)
        name = f"{filename}_{counter:05}_" + (spec.extensions[0] if spec.extensions else "")
        target = os.path.join(out_dir, name)
        count = int(images.shape[0])
        frames = (to_uint8(images[i]) for i in range(count))
        quality = None if quality < 0 else int(quality)
        if source is None:
            progress = Progress(count)
            with VideoWriter(target, rate, format=format, quality=quality,
                             audio=track if spec.audio else None) as writer:
                for i, frame in enumerate(frames):
                    writer.write(frame)
                    progress(i + 1, count)
        else:
            window = as_window(source)
            try:
                window.check_fits(width, height, rate)
            except core.InputError as error:
                raise core.InputError(f"{error} (drop 'source' to save the frames alone)") from None
            splice.splice(window, frames, count, target, audio=track, with_audio=spec.audio, format=format,
                          quality=quality, progress=Progress(window.start + count + window.frame_count - window.end))
        if spec.is_folder:
            first = sorted(f for f in os.listdir(target) if f.endswith(".png"))[:1]
            preview = [{"filename": f, "subfolder": os.path.join(subfolder, name), "type": "output"} for f in first]
            ui = {"images": preview}
        else:
            ui = {"images": [{"filename": name, "subfolder": subfolder, "type": "output"}], "animated": (True,)}
        return {"ui": ui, "result": (target,)}


def as_window(source) -> SourceWindow:
    """The source handle as a `SourceWindow` (a mapping with the same fields is accepted too)."""
    if isinstance(source, SourceWindow):
        return source
    if isinstance(source, Mapping):
        try:
            return SourceWindow(Path(source.get("path", "")), int(source.get("start", 0)),
                                int(source.get("end", source.get("frame_count", 0))), int(source["frame_count"]),
                                exact_rate(source["frame_rate"]), int(source.get("width", 0)),
                                int(source.get("height", 0)), bool(source.get("has_audio", False)))
        except KeyError as missing:
            raise core.InputError(f"source lacks {missing}: connect Load Video Frames' source output") from None
    raise core.InputError(f"source must come from Load Video Frames, got {type(source).__name__}")


NODE_CLASS_MAPPINGS = {
    "DeepshopLoadVideoFrames": DeepshopLoadVideoFrames,
    "DeepshopSelectRange": DeepshopSelectRange,
    "DeepshopSaveVideo": DeepshopSaveVideo,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "DeepshopLoadVideoFrames": "Load Video Frames (Deepshop)",
    "DeepshopSelectRange": "Select Slow-Motion Range (Deepshop)",
    "DeepshopSaveVideo": "Save Video (Deepshop)",
}
