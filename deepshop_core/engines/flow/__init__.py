"""The ``flow`` engine: classical optical-flow frame interpolation, weight-free, on the CPU (numpy + OpenCV).

    engine = FlowEngine("balanced")
    mids = engine.interpolate(frame0, frame1, [0.25, 0.5, 0.75], before=frame_before, after=frame_after)

Per pair, dense flows both ways (OpenCV's DIS); per time, for each pixel the trajectory that best explains it
(followed by fixed-point iteration, chosen among both frames' and their neighbours'), then both frames warped
along it and blended, blurred where nothing explains the motion. Given the pair's neighbours the trajectories
follow quadratic curves where the four frames agree on an acceleration.

| module | what |
|---|---|
| `presets` | `FlowPreset` (typed settings), `PRESETS`, the grids a frame size maps to |
| `motion` | luma, DIS both ways, trajectories and their choice |
| `acceleration` | four-frame quadratic motion |
| `render` | weights, warp maps at frame size, the upsampled source, remap, blend, soften |
| `cache` | the content-keyed cache of recent frames' work, the per-size arrays |
| `sampling` | pixel grids, bilinear sampling along a flow |
| `engine` | `FlowEngine`: settings, the per-pair and per-time steps, the thread pool, stats |

What was measured, and what was tried and not kept: docs/flow-engine.md.
"""

from .engine import FlowEngine
from .presets import DEFAULT_PRESET, PRESETS, FlowPreset

__all__ = ["DEFAULT_PRESET", "PRESETS", "FlowEngine", "FlowPreset"]
