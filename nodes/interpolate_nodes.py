"""DAIN Interpolate and Slow Motion Retime: thin adapters over deepshop_core.pipeline / timeline / engines."""

from __future__ import annotations

import logging

import numpy as np

from .common import (CATEGORY, MODEL_FOLDER, PLAN_TYPE, RANGE_TYPE, SLOW_MOTION_NOTE, FrameView, Progress, alloc_images,
                     as_numpy, check_image, core, core_model_type, engine_choices, from_comfy_audio, load_engine,
                     load_model_engine, put_frame, to_comfy_audio)
from ..deepshop_core import engines, pipeline, timeline as timelines
from ..deepshop_core.timeline import MAX_FACTOR, exact_rate

# DAIN's devices as a menu: its "gpu:N" spelled out for the first GPUs.
DEVICES = [*(d for d in engines.describe("dain").devices if not d.endswith(":N")), "gpu:0", "gpu:1"]
log = logging.getLogger(__name__)


def engine_widgets() -> dict:
    """The engine menu, DAIN's device and scene-cut protection: the widgets of every node that interpolates."""
    choices = engine_choices()
    return {
        "engine": (choices, {"default": choices[0],
                             "tooltip": "flow: optical flow on the CPU. dain: the DAIN network (weights in "
                                        "models/dain, or downloaded). blend: cross-fade."}),
        "device": (DEVICES, {"default": "auto", "tooltip": "Where DAIN runs (flow and blend use the CPU)."}),
        "scene_cut_protection": ("BOOLEAN", {"default": True,
                                             "tooltip": "Never interpolate across a scene cut: hold the frame "
                                                        "instead of morphing two shots."}),
    }


def model_input() -> dict:
    """The optional input for core's Load Frame Interpolation Model, on a server that has one (0.33+), under
    whichever type name it uses."""
    model_type = core_model_type()
    if model_type is None:
        return {}
    return {"interpolation_model": (model_type, {
        "tooltip": "Optional: a RIFE 4.x or FILM model from Load Frame Interpolation Model (weights in "
                   f"models/{MODEL_FOLDER}). When connected it makes the frames instead of the engine menu "
                   "(and runs where ComfyUI keeps it, whatever 'device' says)."})}


def live_engine(engine: str, device: str, interpolation_model=None):
    """The engine the node runs: core's model when connected, else the menu's choice."""
    return load_engine(engine, device) if interpolation_model is None else load_model_engine(interpolation_model)


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
        f"FILM weights in models/{MODEL_FOLDER}; ComfyUI 0.33 and newer): its network then makes the frames, at "
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
            "ramp": ("FLOAT", {"default": 0.0, "min": 0.0, "max": 1000.0, "step": 1.0,
                               "tooltip": "With a range: source frames over which the speed eases from 1x into "
                                          "the factor and back (0 = a hard switch)."}),
        }
        optional.update(model_input())
        return {
            "required": {
                "images": ("IMAGE",),
                "factor": ("FLOAT", {"default": 4.0, "min": 1.0, "max": MAX_FACTOR, "step": 0.5,
                                     "tooltip": "Frames out per frame in: 4 = three new frames between each pair. "
                                                "At the same frame rate the clip becomes this many times slower."}),
                **engine_widgets(),
            },
            "optional": optional,
        }

    def interpolate(self, images, factor, engine, device="auto", scene_cut_protection=True, frame_rate=None,
                    interpolation_model=None, range=None, ramp=0.0):
        frames = FrameView(images)
        plan = None
        if range is None:  # the whole batch at factor x the frames (frame-rate up-conversion)
            timeline = timelines.smooth_timeline(len(frames), float(factor))
        else:  # the range's own slow-motion timeline, ramps at their exact times; Retime takes it as it is
            selected = as_range(range)
            if len(frames) != selected.end - selected.start + 1:
                raise core.InputError(
                    f"images has {len(frames)} frames but the range {selected.start}:{selected.end} has "
                    f"{selected.end - selected.start + 1}: connect Select Range's segment to images")
            timeline = selected.range_timeline(float(factor), float(ramp))
            plan = timelines.RenderedRange(selected, float(factor), float(ramp), timeline.positions)
        live = live_engine(engine, device, interpolation_model)
        out = _render(frames, timeline, live, scene_cut_protection)
        rate_out = 0.0 if frame_rate is None else float(exact_rate(frame_rate) * timeline.rate_multiplier)
        return (out, rate_out, int(out.shape[0]), plan)


def _render(frames: FrameView, timeline, live, scene_cuts: bool):
    """Render ``timeline`` with the engine ``live`` (closed afterwards) into a new IMAGE batch."""
    height, width = frames.images.shape[1], frames.images.shape[2]
    try:
        out = alloc_images(len(timeline), height, width)
        rendered = pipeline.interpolate_frames(frames, timeline, live, scene_cuts=scene_cuts, dedupe=scene_cuts,
                                               progress=Progress(len(timeline)))
        for i, frame in enumerate(rendered):
            put_frame(out, i, frame)
    finally:
        live.close()
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
                "factor": ("FLOAT", {"default": 4.0, "min": 1.0, "max": MAX_FACTOR, "step": 0.5,
                                     "tooltip": "Unused when plan is connected (DAIN Interpolate chose it). "
                                                "Otherwise how many times slower the range plays; the same factor "
                                                "as the interpolation's."}),
                "ramp": ("FLOAT", {"default": 0.0, "min": 0.0, "max": 1000.0, "step": 1.0,
                                   "tooltip": "Unused when plan is connected. Otherwise source frames over which "
                                              "the speed eases from 1x into the factor and back (0 = a hard "
                                              "switch; ramp times between in-betweens are cross-faded)."}),
                "audio_mode": (list(pipeline.AUDIO_MODES),
                               {"default": "stretch", "tooltip": "stretch: slowed with the pitch kept. silence: the "
                                                                 "range is silent. none: no audio out."}),
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
        start, end = range.start, range.end
        dense = timelines.interpolated_batch(end - start + 1, float(factor), int(interpolated.shape[0]))
        log.info("Slow Motion Retime: %s", dense.describe(end - start + 1))
        timeline = timelines.slow_timeline(count, [timelines.Segment(start, end, float(factor), float(ramp))])
        out = alloc_images(len(timeline), int(images.shape[1]), int(images.shape[2]))
        progress = Progress(len(timeline))
        left, right, weight = _neighbours(dense.positions, np.asarray(timeline.positions) - start)
        target, clip, mids = out.numpy(), as_numpy(images), as_numpy(interpolated)
        for i, position in enumerate(timeline.positions):
            nearest = round(float(position))
            if abs(position - nearest) < 1e-9:
                src = clip[nearest]
            elif weight[i] < 1e-6:  # an interpolated frame shows exactly this time (always, without a ramp)
                src = mids[left[i]]
            else:  # a ramp's time between two interpolated frames (1/factor of a frame apart): mix those two
                src = mids[left[i]] * np.float32(1 - weight[i]) + mids[right[i]] * np.float32(weight[i])
            if src.shape[-1] == 3:
                target[i] = src
            elif src.shape[-1] == 4:
                target[i] = src[..., :3]
            else:
                target[i] = np.repeat(src, 3, axis=-1)
            if i % 16 == 15:
                progress(i + 1, len(timeline))
        progress(len(timeline), len(timeline))
        track = pipeline.retime_audio(from_comfy_audio(audio), timeline, rate, audio_mode)
        return (out, to_comfy_audio(track), len(timeline), float(rate))


def _splice_plan(images, interpolated, plan, rate, audio_mode, audio):
    """The rendered range (its frames at their exact times) between the source frames before and after it."""
    if not isinstance(plan, timelines.RenderedRange):
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
    track = pipeline.retime_audio(from_comfy_audio(audio), whole, rate, audio_mode)
    return (out, to_comfy_audio(track), len(whole), float(rate))


def _rgb(batch):
    if batch.shape[-1] == 3:
        return batch
    return batch[..., :3] if batch.shape[-1] == 4 else batch.repeat(1, 1, 1, 3)


def as_range(value) -> timelines.SelectedRange:
    """Select Range's output (a mapping with the same fields, as older versions gave, is accepted too)."""
    if isinstance(value, timelines.SelectedRange):
        return value
    try:
        return timelines.SelectedRange(int(value["start"]), int(value["end"]), int(value["source_count"]),
                                       value.get("frame_rate"))
    except (TypeError, KeyError, AttributeError):
        raise core.InputError(f"range must come from Select Range, got {value!r}") from None


def _neighbours(grid: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each value, the entries of the sorted ``grid`` around it and its weight towards the right one."""
    grid = np.asarray(grid, dtype=np.float64)
    if len(grid) == 1:
        zeros = np.zeros(len(values), dtype=np.int64)
        return zeros, zeros, np.zeros(len(values))
    right = np.clip(np.searchsorted(grid, values, side="right"), 1, len(grid) - 1)
    left = right - 1
    span = grid[right] - grid[left]
    weight = np.clip((values - grid[left]) / np.where(span > 0, span, 1), 0, 1)
    return left, right, weight


NODE_CLASS_MAPPINGS = {
    "DeepshopInterpolate": DeepshopInterpolate,
    "DeepshopSlowMotionRetime": DeepshopSlowMotionRetime,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "DeepshopInterpolate": "DAIN Interpolate (Deepshop)",
    "DeepshopSlowMotionRetime": "Slow Motion Retime (Deepshop)",
}
