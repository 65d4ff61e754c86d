"""DAIN Interpolate and Slow Motion Retime: thin adapters over deepshop_core.pipeline / timeline / engines."""

from __future__ import annotations

import logging

import numpy as np

from .. import deepshop_core as core
from ..deepshop_core import range_batches
from ..deepshop_core.clock import exact_rate
from ..deepshop_core.plan import plan_frames
from ..deepshop_core.render import render_frames
from ..deepshop_core.retime import retime_audio
from ..deepshop_core.timeline import smooth_timeline
from .comfy import Progress
from .convert import (
    FrameView,
    alloc_images,
    as_numpy,
    check_image,
    from_comfy_audio,
    put_frame,
    to_comfy_audio,
)
from .widgets import (
    CATEGORY,
    CORE_MODEL_FOLDER,
    PLAN_TYPE,
    RANGE_TYPE,
    SLOW_MOTION_NOTE,
    audio_mode_widget,
    engine_widgets,
    factor_widget,
    live_engine,
    model_input,
    ramp_widget,
)

log = logging.getLogger(__name__)


class DeepshopInterpolate:
    """In-between frames for a whole IMAGE batch (factor x as many frames)."""

    CATEGORY = CATEGORY
    DESCRIPTION = (
        "Synthesizes in-between frames: the batch comes out with about factor x as many frames (frame k shows "
        "time k / factor). " + SLOW_MOTION_NOTE + " Alone, with its output frame rate (input x factor), this is "
        "frame-rate up-conversion of the whole clip (24 -> 48 fps at 2x). Scene-cut protection holds the last frame "
        "of a shot instead of morphing two shots into each other. Engines: optical flow (OpenCV DIS, CPU; presets "
        "fast/balanced/best), DAIN (PaddleGAN weights: put DAIN_weight.tar or its folder in models/dain, or let it "
        "download), blend (plain cross-fade). Or connect core ComfyUI's Load Frame Interpolation Model (RIFE 4.x or "
        f"FILM weights in models/{CORE_MODEL_FOLDER}; ComfyUI 0.33 and newer): its network then makes the frames, at "
        "any time, with Deepshop's ranges, ramps, factors and cut protection."
    )
    RETURN_TYPES = ("IMAGE", "FLOAT", "INT", PLAN_TYPE)
    RETURN_NAMES = ("images", "frame_rate", "frame_count", "plan")
    OUTPUT_TOOLTIPS = (
        "The frames with the in-betweens.",
        "Input frame rate x factor: use it to keep the duration (smoother), or keep the input rate for slow motion.",
        "Frames out.",
        "With a range connected: the batch's timeline, for Slow Motion Retime's plan input (the factor and ramp "
        "are then chosen here only).",
    )
    FUNCTION = "interpolate"

    @classmethod
    def INPUT_TYPES(cls):
        optional = {
            "frame_rate": ("FLOAT", {"forceInput": True,
                                     "tooltip": "The input's frame rate, for the frame_rate output."}),
            "range": (RANGE_TYPE, {"tooltip": "Optional, from Select Range (images = its segment): the range is "
                                              "rendered as slow motion with the ramp at its exact eased times, and "
                                              "the plan output carries the timeline to Slow Motion Retime."}),
            "ramp": ramp_widget("With a range: source frames over which the speed eases from 1x into the factor and "
                                "back (0 = a hard switch)."),
        }
        optional.update(model_input())
        return {
            "required": {
                "images": ("IMAGE",),
                "factor": factor_widget("Frames out per frame in: 4 = three new frames between each pair. At the same "
                                        "frame rate the clip becomes this many times slower."),
                **engine_widgets(),
            },
            "optional": optional,
        }

    def interpolate(self, images, factor, engine, device="auto", scene_cut_protection=True, frame_rate=None,
                    interpolation_model=None, range=None, ramp=0.0):
        frames = FrameView(images)
        plan = None
        if range is None:  # the whole batch at factor x the frames (frame-rate up-conversion)
            timeline = smooth_timeline(len(frames), float(factor))
        else:  # the range's own slow-motion timeline, ramps at their exact times; Retime takes it as it is
            selected = as_range(range)
            if len(frames) != selected.end - selected.start + 1:
                raise core.InputError(
                    f"images has {len(frames)} frames but the range {selected.start}:{selected.end} has "
                    f"{selected.end - selected.start + 1}: connect Select Range's segment to images")
            timeline = selected.range_timeline(float(factor), float(ramp))
            plan = range_batches.RenderedRange(selected, float(factor), float(ramp), timeline.positions)
        live = live_engine(engine, device, interpolation_model)
        out = _render(frames, timeline, live, scene_cut_protection)
        rate_out = 0.0 if frame_rate is None else float(exact_rate(frame_rate) * timeline.rate_multiplier)
        return (out, rate_out, int(out.shape[0]), plan)


def _render(frames: FrameView, timeline, live, scene_cuts: bool):
    """Render ``timeline`` with the engine ``live`` (closed afterwards) into a new IMAGE batch."""
    height, width = frames.images.shape[1], frames.images.shape[2]
    with live:
        out = alloc_images(len(timeline), height, width)
        plan = plan_frames(frames, timeline, scene_cuts=scene_cuts, dedupe=scene_cuts)
        for i, frame in enumerate(render_frames(frames, plan, live, Progress(len(timeline)))):
            put_frame(out, i, frame)
    return out


class DeepshopSlowMotionRetime:
    """Put the interpolated range back into the clip, slowed, and retime the audio the same way."""

    CATEGORY = CATEGORY
    DESCRIPTION = (
        "Stitches the interpolated range (from DAIN Interpolate, run on Select Range's segment with the same factor) "
        "back into the clip: frames before and after the range are kept as they are, the range shows its in-between "
        "frames, so at the clip's own frame rate it plays factor x slower. ramp eases in and out of the slow "
        "motion over that many source frames. The audio is retimed the same way: stretched (pitch kept), silent "
        "in the range, or dropped. " + SLOW_MOTION_NOTE
    )
    RETURN_TYPES = ("IMAGE", "AUDIO", "INT", "FLOAT")
    RETURN_NAMES = ("images", "audio", "frame_count", "frame_rate")
    OUTPUT_TOOLTIPS = (
        "The whole clip with the range slowed down.",
        "The audio retimed to match (None when there was none or audio_mode is none).",
        "Frames out.",
        "The clip's frame rate, unchanged (that is what makes the range slow).",
    )
    FUNCTION = "retime"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "images": ("IMAGE", {"tooltip": "The whole clip (or window) the range was selected from."}),
                "interpolated": ("IMAGE", {"tooltip": "The range's segment interpolated: by DAIN Interpolate "
                                                       "(N x factor frames) or by core FrameInterpolate / another "
                                                       "pack ((N - 1) x factor + 1 frames); the log says which it "
                                                       "read."}),
                "range": (RANGE_TYPE, {"tooltip": "From Select Range."}),
                "frame_rate": ("FLOAT", {"forceInput": True, "tooltip": "The clip's frame rate."}),
                "factor": factor_widget("Unused when plan is connected (DAIN Interpolate chose it). Otherwise how "
                                        "many times slower the range plays; the same factor as the "
                                        "interpolation's."),
                "ramp": ramp_widget("Unused when plan is connected. Otherwise source frames over which the speed "
                                    "eases from 1x into the factor and back (0 = a hard switch; ramp times between "
                                    "in-betweens are cross-faded)."),
                "audio_mode": audio_mode_widget(),
            },
            "optional": {
                "audio": ("AUDIO", {"tooltip": "The clip's audio (from Load Video Frames)."}),
                "plan": (PLAN_TYPE, {"tooltip": "From DAIN Interpolate's plan (given a range): its frames are "
                                                "taken as they are, at the factor and ramp chosen there."}),
            },
        }

    def retime(self, images, interpolated, range, frame_rate, factor, ramp=0.0, audio_mode="stretch", audio=None,
               plan=None):
        check_image(images)
        check_image(interpolated, "interpolated")
        count = int(images.shape[0])
        range = as_range(range)
        if range.source_count != count:
            raise core.InputError(f"the range was selected on {range.source_count} frames but images has "
                                  f"{count}: connect the same batch to Select Range and Slow Motion Retime")
        if tuple(images.shape[1:3]) != tuple(interpolated.shape[1:3]):
            raise core.InputError(
                f"interpolated frames are {interpolated.shape[2]}x{interpolated.shape[1]} but the clip is "
                f"{images.shape[2]}x{images.shape[1]}: resize both the same way")
        rate = range.frame_rate or exact_rate(frame_rate)
        if plan is not None:
            return _splice_plan(images, interpolated, plan, rate, audio_mode, audio)
        count_out = int(interpolated.shape[0])
        log.info("Slow Motion Retime: %s", range_batches.interpolated_batch(
            range.end - range.start + 1, float(factor), count_out).describe(range.end - range.start + 1))
        recipe = range_batches.retime_batch(range, float(factor), float(ramp), count_out)
        timeline = recipe.timeline
        out = alloc_images(len(timeline), int(images.shape[1]), int(images.shape[2]))
        progress = Progress(len(timeline))
        target, clip, mids = out.numpy(), as_numpy(images), as_numpy(interpolated)
        for i, clip_frame in enumerate(recipe.clip):  # (``range`` is the input's name here)
            if clip_frame >= 0:
                src = clip[clip_frame]
            elif recipe.weight[i] == 0:
                src = mids[recipe.left[i]]
            else:  # a ramp's time between two interpolated frames (1/factor of a frame apart): mix those two
                w = np.float32(recipe.weight[i])
                src = mids[recipe.left[i]] * (1 - w) + mids[recipe.right[i]] * w
            target[i] = _rgb(src)
            if i % 16 == 15:
                progress(i + 1, len(timeline))
        progress(len(timeline), len(timeline))
        track = retime_audio(from_comfy_audio(audio), timeline, rate, audio_mode)
        return (out, to_comfy_audio(track), len(timeline), float(rate))


def _splice_plan(images, interpolated, plan, rate, audio_mode, audio):
    """The rendered range (its frames at their exact times) between the source frames before and after it."""
    if not isinstance(plan, range_batches.RenderedRange):
        raise core.InputError(f"plan must come from DAIN Interpolate's plan output, got {type(plan).__name__}")
    if int(interpolated.shape[0]) != len(plan.positions):
        raise core.InputError(f"interpolated has {interpolated.shape[0]} frames but the plan has "
                              f"{len(plan.positions)}: connect the same DAIN Interpolate's images and plan")
    whole, used = plan.splice_into(int(images.shape[0]))
    start, end = plan.range.start, plan.range.end
    out = alloc_images(len(whole), int(images.shape[1]), int(images.shape[2]))
    for i, part in enumerate((images[:start], interpolated[:used], images[end:])):
        at = (0, start, start + used)[i]
        out[at:at + part.shape[0]] = _rgb(part)
    Progress(1)(1, 1)
    track = retime_audio(from_comfy_audio(audio), whole, rate, audio_mode)
    return (out, to_comfy_audio(track), len(whole), float(rate))


def _rgb(batch):
    """Frames (a batch or one frame, channels last) as RGB: alpha dropped, gray repeated."""
    if batch.shape[-1] == 3:
        return batch
    if batch.shape[-1] == 4:
        return batch[..., :3]
    return np.repeat(batch, 3, axis=-1) if isinstance(batch, np.ndarray) else batch.repeat(1, 1, 1, 3)


def as_range(value) -> range_batches.SelectedRange:
    """Select Range's output (a mapping with the same fields, as older versions gave, is accepted too)."""
    if isinstance(value, range_batches.SelectedRange):
        return value
    try:
        return range_batches.SelectedRange(int(value["start"]), int(value["end"]), int(value["source_count"]),
                                           value.get("frame_rate"))
    except (TypeError, KeyError, AttributeError):
        raise core.InputError(f"range must come from Select Range, got {value!r}") from None


NODE_CLASS_MAPPINGS = {
    "DeepshopInterpolate": DeepshopInterpolate,
    "DeepshopSlowMotionRetime": DeepshopSlowMotionRetime,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "DeepshopInterpolate": "DAIN Interpolate (Deepshop)",
    "DeepshopSlowMotionRetime": "Slow Motion Retime (Deepshop)",
}
