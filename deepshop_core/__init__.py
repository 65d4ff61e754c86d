"""Deepshop core: slow motion and frame interpolation, without ComfyUI.

    from deepshop_core import slow_motion
    slow_motion("clip.mp4", "clip_slow.mp4", ranges=["120:150"], factor=4)
    slow_motion("clip.mp4", "clip_curve.mp4", speed="0s:1,1s:0.25,2s:0.25,2.5s:3,3.5s:1")   # a speed curve

Never imports comfy, torch or paddle (engines import their heavy dependencies only when loaded).
"""

__version__ = "0.1.0"

from .api import SlowMotion, interpolate_frames, slow_motion
from .engines import EngineChoice
from .errors import (
                     Cancelled,
                     DeepshopError,
                     DeepshopWarning,
                     EngineError,
                     InputError,
                     MediaError,
                     OutputError,
                     WeightsError,
)
from .job import Crop, Job
from .media.probe import VideoInfo, probe
from .plan import dry_run
from .render import SlowMotionResult
from .speed.request import SpeedRequest
from .timeline import Segment

__all__ = [
    "Cancelled", "Crop", "DeepshopError", "DeepshopWarning", "EngineChoice", "EngineError", "InputError", "Job",
    "MediaError", "OutputError", "Segment", "SlowMotion", "SlowMotionResult", "SpeedRequest", "VideoInfo",
    "WeightsError", "dry_run", "interpolate_frames", "probe", "slow_motion",
]
