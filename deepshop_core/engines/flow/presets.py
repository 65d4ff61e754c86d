"""The flow engine's presets: named quality/speed trade-offs, and the grids they put a frame size on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, get_args

import cv2
import numpy as np

Warp = Literal["lanczos", "upsampled", "linear"]
"""How the frames are sampled along the trajectories: ``lanczos``, cv2.remap's Lanczos-4; ``upsampled``,
fixed-point bilinear from a copy of the frame upsampled 3x with Lanczos-3 (made once per frame: sharper than
bicubic, a third of its cost); ``linear``, fixed-point bilinear."""
WARPS: tuple[Warp, ...] = get_args(Warp)

MIN_FLOW_SIDE = 32  # DIS refuses images under ~12 px a side: the flow's image is padded up to this


@dataclass(frozen=True)
class Ramp:
    """0 up to ``lo``, 1 from ``hi``, linear between: how much of an effect a disagreement calls for (grey levels
    0..255, less the frame's overall brightness change)."""

    lo: float
    hi: float

    def of(self, disagreement: np.ndarray) -> np.ndarray:
        return np.clip((disagreement - self.lo) * (1.0 / (self.hi - self.lo)), 0.0, 1.0)


@dataclass(frozen=True)
class Soften:
    """A Gaussian blur of ``sigma`` frame pixels, mixed in by ``ramp`` of the disagreement."""

    ramp: Ramp
    sigma: float


@dataclass(frozen=True)
class Geometry:
    """The grids the engine works on for one frame size, each (height, width): the flow's, the selection grid's
    (where trajectories are followed and chosen), and the neighbour candidates' distance on it (0: none)."""

    flow: tuple[int, int]
    select: tuple[int, int]
    shift: int


@dataclass(frozen=True)
class FlowPreset:
    """One quality/speed trade-off of the flow engine."""

    name: str
    dis_preset: int               # OpenCV's DIS preset (cv2.DISOPTICAL_FLOW_PRESET_*)
    dis_finest_scale: int | None  # DIS's finest pyramid level (0: full-resolution patches); None: the preset's
    max_flow_side: int            # the flow is computed on a copy with at most this many pixels on its long side
    select_scale: float           # the selection grid, as a fraction of the flow's
    fixed_point_iters: int        # iterations that follow each trajectory
    neighbour_shift: int          # the trajectories found this many flow pixels away compete too (0: none)
    window: int                   # side of the square (selection-grid pixels) a trajectory's error is summed over
    unexplained: Ramp             # from a blend of both frames to the trajectory's anchor frame alone
    soften: Soften | None         # blur where the disagreement stays high (None: never)
    warp: Warp
    linear_above: int | None = None  # frames with more pixels than this are warped "linear" (None: all alike)

    def __post_init__(self) -> None:
        if self.warp not in WARPS:
            raise ValueError(f"warp must be one of {', '.join(WARPS)}, got {self.warp!r}")

    def warp_for(self, height: int, width: int) -> Warp:
        """How frames of this size are warped."""
        if self.linear_above is not None and height * width > self.linear_above:
            return "linear"
        return self.warp

    def geometry(self, height: int, width: int) -> Geometry:
        """The grids for frames of this size: the flow at most ``max_flow_side`` on its long side, the selection
        grid ``select_scale`` of it (unless that falls under MIN_FLOW_SIDE), the neighbours' distance scaled to
        it (none unless two of them fit across it)."""
        s = min(1.0, self.max_flow_side / float(max(height, width)))
        fh, fw = max(1, round(height * s)), max(1, round(width * s))
        sel = self.select_scale
        sh, sw = (round(fh * sel), round(fw * sel)) if min(fh, fw) * sel >= MIN_FLOW_SIDE else (fh, fw)
        shift = round(self.neighbour_shift * sw / fw)
        return Geometry((fh, fw), (sh, sw), shift if 2 * shift < min(sh, sw) else 0)


_DISAGREEING = Ramp(30.0, 80.0)

PRESETS: Mapping[str, FlowPreset] = MappingProxyType({p.name: p for p in (
    FlowPreset("fast", cv2.DISOPTICAL_FLOW_PRESET_FAST, None, max_flow_side=640, select_scale=0.5,
               fixed_point_iters=2, neighbour_shift=0, window=9, unexplained=_DISAGREEING, soften=None,
               warp="linear"),
    # a sharp warp costs 2-4x fixed-point bilinear and measured no better on 720p footage: "linear" above 600k
    FlowPreset("balanced", cv2.DISOPTICAL_FLOW_PRESET_MEDIUM, None, max_flow_side=640, select_scale=0.6,
               fixed_point_iters=3, neighbour_shift=12, window=11, unexplained=_DISAGREEING,
               soften=Soften(Ramp(5.0, 30.0), 2.2), warp="upsampled", linear_above=600_000),
    FlowPreset("best", cv2.DISOPTICAL_FLOW_PRESET_MEDIUM, 0, max_flow_side=1280, select_scale=1.0,
               fixed_point_iters=6, neighbour_shift=8, window=9, unexplained=_DISAGREEING,
               soften=Soften(Ramp(5.0, 30.0), 1.5), warp="lanczos"),
)})
DEFAULT_PRESET = "balanced"
PRESET_MENU = (DEFAULT_PRESET, *(p for p in PRESETS if p != DEFAULT_PRESET))  # the default first
