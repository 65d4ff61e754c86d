"""Speed Curve (Deepshop): a speed curve from keyframe text, a preset or a FLOAT list, for the Slow Motion node.

The clip's exact frame rate is known only when Slow Motion plans it, so the curve travels as the request the user
gave (`speed.request.SpeedRequest`, type DEEPSHOP_SPEED), checked for its form here and realised there. The node
also shows the curve, drawn by the core (`curve_picture`) at the frame rate and length its widgets give: on the node
as a preview and as an IMAGE output.
"""

from __future__ import annotations

from ..deepshop_core.clock import exact_rate
from ..deepshop_core.curve_picture import draw_curve
from ..deepshop_core.speed.parse import FORMS
from ..deepshop_core.speed.presets import PRESETS
from ..deepshop_core.speed.request import SpeedRequest
from .comfy import preview_image
from .convert import float_list, image_batch
from .widgets import CATEGORY, SPEED_TYPE

NO_PRESET = "none (use keyframes)"
EXAMPLE = "0s:1, 1s:0.25, 2s:0.25, 2.5s:3, 3.5s:1"


class DeepshopSpeedCurve:
    """Any speed over time: keyframes, a preset or one speed per frame in; a curve for Slow Motion and its picture
    out."""

    CATEGORY = CATEGORY
    DESCRIPTION = (
        "A speed curve for Slow Motion (Deepshop): any playback speed over the clip's time, slower and faster, with "
        "freezes. Speed 1 is normal, 0.25 four times slower (in-between frames), 3 three times faster (motion blur "
        "instead of dropped frames, see Slow Motion's shutter_angle). Give keyframes TIME:SPEED[:EASE] (TIME in "
        "seconds with s, or frames; EASE smooth, linear or hold), freezes TIME:freeze=DURATION and presets "
        "NAME@TIME[/LENGTH]; or pick a preset below; or connect one speed per frame (KJNodes' Spline Editor's float "
        "output). The picture shows the speed over source time and the source time shown at each output time."
    )
    RETURN_TYPES = (SPEED_TYPE, "IMAGE")
    RETURN_NAMES = ("speed", "picture")
    OUTPUT_TOOLTIPS = (
        "The curve, for Slow Motion's speed input (realised there at the clip's own frame rate and length).",
        "The curve's picture: speed over source time, and source time against output time.",
    )
    FUNCTION = "curve"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "keyframes": ("STRING", {"multiline": True, "default": EXAMPLE,
                                         "tooltip": f"The curve as text: {FORMS}. Unused when a preset is chosen or "
                                                    "speeds is connected."}),
                "preset": ([NO_PRESET, *PRESETS], {"default": NO_PRESET,
                                                   "tooltip": "A named ramp (CapCut's curve presets) placed on "
                                                              "preset_start..preset_start + preset_length; unused "
                                                              "when speeds is connected. In keyframes: "
                                                              "hero@2s/1.5s."}),
                "preset_start": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 36000.0, "step": 0.1,
                                           "tooltip": "Where the preset starts, in source seconds."}),
                "preset_length": ("FLOAT", {"default": 1.0, "min": 0.01, "max": 36000.0, "step": 0.1,
                                            "tooltip": "How long the preset lasts, in source seconds."}),
                "frame_rate": ("FLOAT", {"default": 25.0, "min": 0.01, "max": 1000.0, "step": 0.001,
                                         "tooltip": "For the picture only (Slow Motion uses the clip's own rate)."}),
                "frame_count": ("INT", {"default": 0, "min": 0, "max": 10_000_000,
                                        "tooltip": "For the picture only: the clip's frames (0: one second past "
                                                   "the last keyframe, or the speed list's length)."}),
            },
            "optional": {
                "speeds": ("FLOAT", {"forceInput": True,
                                     "tooltip": "One speed per source frame (a FLOAT list, e.g. KJNodes' Spline "
                                                "Editor's float output), linear between frames; its length must "
                                                "be the clip's frame count."}),
            },
        }

    def curve(self, keyframes, preset=NO_PRESET, preset_start=1.0, preset_length=1.0, frame_rate=25.0,
              frame_count=0, speeds=None):
        if speeds is not None:
            request = SpeedRequest(speeds=float_list(speeds))
        elif preset != NO_PRESET:
            request = SpeedRequest(text=f"{preset}@{float(preset_start)!r}s/{float(preset_length)!r}s")
        else:
            request = SpeedRequest(text=keyframes)
        rate = exact_rate(frame_rate)
        count = int(frame_count) or request.preview_count(rate)
        picture = draw_curve(request.curve(rate, count), rate, title=request.describe())
        return {"ui": {"images": [preview_image(picture)]}, "result": (request, image_batch(picture))}


NODE_CLASS_MAPPINGS = {"DeepshopSpeedCurve": DeepshopSpeedCurve}
NODE_DISPLAY_NAME_MAPPINGS = {"DeepshopSpeedCurve": "Speed Curve (Deepshop)"}
