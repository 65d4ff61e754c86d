"""Slow Motion (Deepshop): the whole job in one node, a thin adapter over the core's plan and render steps.

Given core ComfyUI's VIDEO backed by a file, the clip streams file to file through ``plan_clip`` + ``render_clip``
(bounded memory whatever the clip's length, audio stretched) into ComfyUI's temp folder, and comes out as a
``VideoFromFile`` that core Save Video / Get Video Components take. Given an IMAGE batch (+ frame rate, audio) it
renders in memory and returns IMAGE, AUDIO and the frame rate (and the same result as a VIDEO).

Classic node style rather than the V3 schema: the classic style runs unchanged on both servers we test (0.3.75
and 0.33.0), and the pack's other nodes use it, so one set of conventions (INPUT_TYPES, progress, cancel) holds.
"""

from __future__ import annotations

from .. import deepshop_core as core
from ..deepshop_core.clock import exact_rate
from ..deepshop_core.engines import EngineChoice
from ..deepshop_core.job import Crop, Job
from ..deepshop_core.media.encode import VideoWriter
from ..deepshop_core.plan import build_timeline, plan_clip, plan_frames
from ..deepshop_core.render import render_clip, render_frames
from ..deepshop_core.retime import retime_audio
from .comfy import Progress, temp_video_path, video_file, video_from_file
from .convert import (
    FrameView,
    alloc_images,
    from_comfy_audio,
    put_frame,
    to_comfy_audio,
)
from ..deepshop_core.speed.shutter import DEFAULT_SHUTTER_ANGLE, SAMPLINGS
from .widgets import (
    CATEGORY,
    SLOW_MOTION_NOTE,
    SPEED_TYPE,
    audio_mode_widget,
    chosen_engine,
    engine_widgets,
    factor_widget,
    live_engine,
    model_input,
    ramp_widget,
    shutter_widgets,
)


class DeepshopSlowMotion:
    """Slow down ranges of a clip in one step: VIDEO in, VIDEO out (streamed), or IMAGE in, IMAGE out."""

    CATEGORY = CATEGORY
    DESCRIPTION = (
        "The whole slow-motion job in one node. Connect a VIDEO (core Load Video, or any node that makes one) or an "
        "IMAGE batch with its frame rate and optional audio. ranges: one or more, separated by commas, in frames "
        "(30:60) or seconds (1.0s:2.0s). Each range plays factor x slower, easing in and out over 'ramp' source "
        "frames; the audio is stretched (pitch kept), silent in the ranges, or dropped; scene-cut protection holds "
        "a frame instead of morphing two shots. Connect a Speed Curve (Deepshop) to 'speed' for any speed over time "
        "instead (slower and faster parts, freezes; ranges, factor and ramp are then unused): faster parts get motion "
        "blur over 'shutter_angle' degrees. A VIDEO backed by a file is streamed file to file, so memory stays "
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
        optional["speed"] = (SPEED_TYPE, {"tooltip": "Optional: a speed curve from Speed Curve (Deepshop), any "
                                                     "speed over time; with it ranges, factor and ramp are unused."})
        optional.update(shutter_widgets())
        return {
            "required": {
                "ranges": ("STRING", {"default": "1.0s:2.0s",
                                      "tooltip": "The ranges to slow: frames (30:60) or seconds (1.0s:2.0s), "
                                                 "several separated by commas. Unused when speed is connected."}),
                "factor": factor_widget("How many times slower each range plays. Unused when speed is connected."),
                "ramp": ramp_widget("Source frames over which the speed eases from 1x into the factor and back (0 = "
                                    "a hard switch). Unused when speed is connected."),
                "audio_mode": audio_mode_widget(),
                **engine_widgets(),
            },
            "optional": optional,
        }

    def slow_motion(self, ranges, factor, ramp=0.0, audio_mode="stretch", engine=None, device="auto",
                    scene_cut_protection=True, video=None, images=None, frame_rate=None, audio=None,
                    interpolation_model=None, speed=None, shutter_angle=DEFAULT_SHUTTER_ANGLE, blur=SAMPLINGS[0]):
        if (video is None) == (images is None):
            raise core.InputError("connect either a VIDEO (core Load Video) or an IMAGE batch to Slow Motion, "
                                  "not both and not neither")
        # the job's engine: the connected Deepshop model, the menu's, or none where core's own model runs
        choice = interpolation_model if isinstance(interpolation_model, EngineChoice) else \
            chosen_engine(engine, device) if interpolation_model is None else None
        retime = {"ranges": ranges, "factor": factor, "ramp": ramp} if speed is None else {"speed": speed}
        job = Job(**retime, shutter=shutter_angle, blur=blur, audio=audio_mode, engine=choice,
                  scene_cuts=scene_cut_protection, dedupe=scene_cut_protection)
        if speed is None and not job.ranges:
            raise core.InputError("ranges is empty: give at least one range, e.g. 30:60 (frames) or 1.0s:2.0s "
                                  "(seconds), or connect a Speed Curve to speed")
        with live_engine(engine, device, interpolation_model) as live:
            if video is not None:
                found = video_file(video)
                if found is not None:
                    return _stream(found, job, live)
                components = video.get_components()  # a VIDEO made in memory: its frames are already loaded
                images, frame_rate, audio = components.images, components.frame_rate, components.audio
            return _in_memory(images, frame_rate, audio, job, live)


def _stream(found, job: Job, live):
    """File to file through the core pipeline: only a few frames are in memory at any time. A trimmed VIDEO is
    planned as its crop, its ranges counting from the trim's start, as the user sees it."""
    path, (start_s, duration_s) = found
    if start_s or duration_s:
        job = job.replace(crop=Crop(f"{start_s!r}s", f"{start_s + duration_s!r}s" if duration_s else None,
                                    relative=True))
    clip = plan_clip(path, job)
    result = render_clip(clip, temp_video_path(), engine=live, progress=Progress(len(clip.steps)))
    return (video_from_file(str(result.output)), None, None, float(result.frame_rate))


def _in_memory(images, frame_rate, audio, job: Job, live):
    if frame_rate is None:
        raise core.InputError("an IMAGE batch needs its frame_rate (connect Load Video Frames' frame_rate)")
    rate = exact_rate(frame_rate)
    frames = FrameView(images)
    timeline = build_timeline(len(frames), rate, job)
    height, width = int(images.shape[1]), int(images.shape[2])
    out = alloc_images(len(timeline), height, width)
    track = retime_audio(from_comfy_audio(audio), timeline, rate, job.audio)
    plan = plan_frames(frames, timeline, scene_cuts=job.scene_cuts, dedupe=job.dedupe, shutter=job.shutter_of)
    rendered = render_frames(frames, plan, live, Progress(len(timeline)))
    with VideoWriter(temp_video_path(), rate, audio=track) as writer:  # the same frames as a VIDEO, written once
        for i, frame in enumerate(rendered):
            put_frame(out, i, frame)
            writer.write(frame)
    return (video_from_file(str(writer.path)), out, to_comfy_audio(track), float(rate))


NODE_CLASS_MAPPINGS = {"DeepshopSlowMotion": DeepshopSlowMotion}
NODE_DISPLAY_NAME_MAPPINGS = {"DeepshopSlowMotion": "Slow Motion (Deepshop)"}
