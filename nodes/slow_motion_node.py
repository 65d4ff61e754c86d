"""Slow Motion (Deepshop): the whole job in one node, a thin adapter over ``deepshop_core.pipeline``.

Given core ComfyUI's VIDEO backed by a file, the clip streams file to file through ``plan_clip`` + ``render_clip``
(bounded memory whatever the clip's length, audio stretched) into ComfyUI's temp folder, and comes out as a
``VideoFromFile`` that core Save Video / Get Video Components take. Given an IMAGE batch (+ frame rate, audio) it
renders in memory and returns IMAGE, AUDIO and the frame rate (and the same result as a VIDEO).

Classic node style rather than the V3 schema: the classic style runs unchanged on both servers we test (0.3.75
and 0.33.0), and the pack's other nodes use it, so one set of conventions (INPUT_TYPES, progress, cancel) holds.
"""

from __future__ import annotations

import os
import uuid
from fractions import Fraction

from .common import (CATEGORY, SLOW_MOTION_NOTE, FrameView, Progress, alloc_images, core, engine_choices,
                     folder_paths, from_comfy_audio, put_frame, to_comfy_audio)
from .interpolate_nodes import engine_widgets, live_engine, model_input
from ..deepshop_core import pipeline, timeline as timelines
from ..deepshop_core.media.encode import VideoWriter
from ..deepshop_core.timeline import MAX_FACTOR, exact_rate


def split_ranges(text: str) -> list[str]:
    """``"30:60, 2.5s:4s"`` -> the ranges as the core parses them (commas, semicolons or new lines between)."""
    parts = [p.strip() for p in str(text).replace(";", ",").replace("\n", ",").split(",")]
    ranges = [p for p in parts if p]
    if not ranges:
        raise core.InputError("ranges is empty: give at least one range, e.g. 30:60 (frames) or 1.0s:2.0s (seconds)")
    return ranges


def temp_video_path(suffix: str = ".mp4") -> str:
    """A new file name in ComfyUI's temp folder (cleared by ComfyUI at start-up), where VIDEO results live."""
    if folder_paths is not None and hasattr(folder_paths, "get_temp_directory"):
        base = folder_paths.get_temp_directory()
    else:  # outside a server: the system's temp folder
        import tempfile
        base = tempfile.gettempdir()
    os.makedirs(base, exist_ok=True)
    return os.path.join(base, f"deepshop_slowmo_{uuid.uuid4().hex[:12]}{suffix}")


def video_from_file(path: str):
    """Core's ``VideoFromFile`` over ``path`` (the VIDEO type core Save Video and Get Video Components take)."""
    try:
        from comfy_api.input_impl import VideoFromFile
    except ImportError:  # outside ComfyUI (the node unit tests without core on the path)
        from comfy_api.latest import InputImpl
        VideoFromFile = InputImpl.VideoFromFile
    return VideoFromFile(path)


def video_file(video) -> tuple[str, tuple[float, float]] | None:
    """The file behind a VIDEO and its trim window (start, duration; 0 = to the end), or None when it is not a
    file on disk (then its components are used)."""
    try:
        from comfy_api.input_impl import VideoFromComponents
    except ImportError:
        VideoFromComponents = ()
    if isinstance(video, VideoFromComponents):  # frames in memory: asking for a stream would encode them first
        return None
    source = getattr(video, "get_stream_source", None)
    path = source() if source is not None else None
    if not isinstance(path, (str, os.PathLike)) or not os.path.isfile(path):
        return None
    trim = getattr(video, "get_active_trim_window", None)  # 0.33's trimmed VideoFromFile
    return str(path), (tuple(float(v) for v in trim()) if trim is not None else (0.0, 0.0))


class DeepshopSlowMotion:
    """Slow down ranges of a clip in one step: VIDEO in, VIDEO out (streamed), or IMAGE in, IMAGE out."""

    CATEGORY = CATEGORY
    DESCRIPTION = (
        "The whole slow-motion job in one node. Connect a VIDEO (core Load Video, or any node that makes one) or an "
        "IMAGE batch with its frame rate and optional audio. ranges: one or more, separated by commas, in frames "
        "(30:60) or seconds (1.0s:2.0s). Each range plays factor x slower, easing in and out over 'ramp' source "
        "frames; the audio is stretched (pitch kept), silent in the ranges, or dropped; scene-cut protection holds "
        "a frame instead of morphing two shots. A VIDEO backed by a file is streamed file to file, so memory stays "
        "flat whatever the clip's length; the result is a VIDEO for core Save Video. With an IMAGE batch the "
        "result is also given as IMAGE, AUDIO and frame rate. " + SLOW_MOTION_NOTE
    )
    RETURN_TYPES = ("VIDEO", "IMAGE", "AUDIO", "FLOAT")
    RETURN_NAMES = ("video", "images", "audio", "frame_rate")
    OUTPUT_TOOLTIPS = (
        "The slowed clip as a file-backed VIDEO (for core Save Video or Get Video Components).",
        "The frames (IMAGE input only; with a VIDEO input use Get Video Components, the frames stay on disk).",
        "The retimed audio (IMAGE input only; a VIDEO carries its own).",
        "The output's frame rate: the clip's own (that is what makes the ranges slow).",
    )
    FUNCTION = "slow_motion"

    @classmethod
    def INPUT_TYPES(cls):
        optional = {
            "video": ("VIDEO", {"tooltip": "The clip (core Load Video). Streamed from its file when it has one."}),
            "images": ("IMAGE", {"tooltip": "Or the clip as an IMAGE batch (then frame_rate is needed)."}),
            "frame_rate": ("FLOAT", {"forceInput": True, "tooltip": "The IMAGE batch's frame rate."}),
            "audio": ("AUDIO", {"tooltip": "The IMAGE batch's audio (optional)."}),
        }
        optional.update(model_input())
        return {
            "required": {
                "ranges": ("STRING", {"default": "1.0s:2.0s",
                                      "tooltip": "The ranges to slow: frames (30:60) or seconds (1.0s:2.0s), "
                                                 "several separated by commas."}),
                "factor": ("FLOAT", {"default": 4.0, "min": 1.0, "max": MAX_FACTOR, "step": 0.5,
                                     "tooltip": "How many times slower each range plays."}),
                "ramp": ("FLOAT", {"default": 0.0, "min": 0.0, "max": 1000.0, "step": 1.0,
                                   "tooltip": "Source frames over which the speed eases from 1x into the factor "
                                              "and back (0 = a hard switch); rendered at their exact times."}),
                "audio_mode": (list(pipeline.AUDIO_MODES),
                               {"default": "stretch", "tooltip": "stretch: slowed with the pitch kept. silence: the "
                                                                 "ranges are silent. none: no audio out."}),
                **engine_widgets(),
            },
            "optional": optional,
        }

    def slow_motion(self, ranges, factor, ramp=0.0, audio_mode="stretch", engine=None, device="auto",
                    scene_cut_protection=True, video=None, images=None, frame_rate=None, audio=None,
                    interpolation_model=None):
        wanted = split_ranges(ranges)
        if (video is None) == (images is None):
            raise core.InputError("connect either a VIDEO (core Load Video) or an IMAGE batch to Slow Motion, "
                                  "not both and not neither")
        engine = engine or engine_choices()[0]
        live = live_engine(engine, device, interpolation_model)
        try:
            if video is not None:
                found = video_file(video)
                if found is not None:
                    return _stream(found, wanted, factor, ramp, audio_mode, live, scene_cut_protection)
                components = video.get_components()  # a VIDEO made in memory: its frames are already loaded
                images, frame_rate, audio = components.images, components.frame_rate, components.audio
            return _in_memory(images, frame_rate, audio, wanted, factor, ramp, audio_mode, live,
                              scene_cut_protection)
        finally:
            live.close()


def _stream(found, ranges, factor, ramp, audio_mode, live, scene_cuts: bool):
    """File to file through the core pipeline: only a few frames are in memory at any time."""
    path, (start_s, duration_s) = found
    crop = None
    if start_s or duration_s:  # a trimmed VIDEO: the ranges count from its first frame, as the user sees it
        from ..deepshop_core.media.probe import probe
        info = probe(path)
        first = timelines.seconds_to_frame(start_s, info.frame_rate)
        last = info.frame_count - 1 if not duration_s else min(
            info.frame_count - 1, timelines.seconds_to_frame(start_s + duration_s, info.frame_rate) - 1)
        crop = (first, last)
        ranges = [_shifted(r, first, info.frame_rate, last - first + 1) for r in ranges]
    clip = pipeline.plan_clip(path, ranges=ranges, factor=float(factor), ramp=float(ramp), scene_cuts=scene_cuts,
                              dedupe=scene_cuts, crop=crop)
    target = temp_video_path()
    result = pipeline.render_clip(clip, target, engine=live, audio=audio_mode, progress=Progress(len(clip.steps)))
    return (video_from_file(str(result.output)), None, None, float(result.frame_rate))


def _shifted(text: str, first: int, rate: Fraction, count: int) -> tuple[int, int]:
    start, end = timelines.parse_range(text, rate, count)
    return start + first, end + first


def _in_memory(images, frame_rate, audio, ranges, factor, ramp, audio_mode, live, scene_cuts: bool):
    if frame_rate is None:
        raise core.InputError("an IMAGE batch needs its frame_rate (connect Load Video Frames' frame_rate)")
    rate = exact_rate(frame_rate)
    frames = FrameView(images)
    timeline = pipeline.build_timeline(len(frames), rate, ranges, float(factor), float(ramp))
    height, width = int(images.shape[1]), int(images.shape[2])
    out = alloc_images(len(timeline), height, width)
    track = pipeline.retime_audio(from_comfy_audio(audio), timeline, rate, audio_mode)
    rendered = pipeline.interpolate_frames(frames, timeline, live, scene_cuts=scene_cuts, dedupe=scene_cuts,
                                           progress=Progress(len(timeline)))
    with VideoWriter(temp_video_path(), rate, audio=track) as writer:  # the same frames as a VIDEO, written once
        for i, frame in enumerate(rendered):
            put_frame(out, i, frame)
            writer.write(frame)
    return (video_from_file(str(writer.path)), out, to_comfy_audio(track), float(rate))


NODE_CLASS_MAPPINGS = {"DeepshopSlowMotion": DeepshopSlowMotion}
NODE_DISPLAY_NAME_MAPPINGS = {"DeepshopSlowMotion": "Slow Motion (Deepshop)"}
