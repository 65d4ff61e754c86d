"""`FlowEngine`: the flow engine's settings, its per-pair and per-time steps in order, its threads and its stats.

Per pair (once for all its times): what depends on one frame alone (`FrameWork`: its luma for DIS, its small luma
for the trajectory choice, what the warp reads), kept for the next pair, which in a clip starts with the same frame;
then the flows both ways on the selection grid (`Pair`). With the pair's neighbours, the guarded accelerations
from the neighbour pairs' flows, which are kept too. Per time, on its own thread with ``threads`` = 2: the chosen
trajectories, the frame made from them (`render`). Frames are recognised by content, so the output never depends
on what came before.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ...errors import InputError
from ..base import (
    Engine,
    EngineInfo,
    EngineStats,
    Option,
    check_pair,
    one_of,
    whole_number,
)
from . import acceleration, motion, render
from .acceleration import Acceleration
from .cache import BySize, Recent
from .motion import Samples, Trajectories
from .presets import DEFAULT_PRESET, PRESET_MENU, PRESETS, Geometry
from .sampling import pixel_grid


@dataclass(frozen=True, eq=False)
class FrameWork:
    """What the engine derives from one frame alone."""

    luma: np.ndarray    # smoothed luma at the flow's size, what DIS reads
    samples: Samples    # small luma, what the trajectory choice reads
    source: np.ndarray  # what the warp reads: the frame, or its upsampled copy


@dataclass(frozen=True, eq=False)
class Pair:
    """A pair's work, shared by all its times."""

    size: tuple[int, int]                   # the frames' (height, width)
    geometry: Geometry
    f01: np.ndarray                         # HxWx2 float32 on the selection grid: flow from frame 0 to frame 1
    f10: np.ndarray                         # ... from frame 1 to frame 0
    samples: tuple[Samples, Samples]
    sources: tuple[np.ndarray, np.ndarray]
    acceleration: Acceleration | None = None  # with the neighbours: quadratic trajectories instead of linear ones


class FlowEngine(Engine):
    """Optical-flow interpolation on the CPU (OpenCV DIS), no weights. ``preset``: a name of `PRESETS`.

    ``threads``: 2 (the default) computes the two flow directions, and then the times, on two threads (OpenCV
    releases the GIL); 1 keeps all of the engine's work on the calling thread. The output does not depend on it.
    One engine serves one caller at a time (it reuses work buffers between calls); use one engine per thread.

    ``stats``: seconds per stage, summed over the engine's threads: ``flow`` (luma, DIS both ways, trajectories and
    their choice, the maps at the frame size), ``warp`` (the upsampled copies, the remaps), ``blend`` (the blend and
    the softening); count ``pairs`` (calls that did work).
    """

    info = EngineInfo(
        "flow", "optical flow on the CPU (OpenCV DIS), no weights needed",
        options=(Option("preset", "quality/speed trade-off", one_of("flow preset", PRESET_MENU), PRESET_MENU),
                 Option("threads", "CPU threads the engine may use", whole_number("threads"), user=False)),
        context_frames=1,  # interpolate() takes the pair's neighbours (before, after): quadratic motion
        threaded=True)

    def __init__(self, preset: str = DEFAULT_PRESET, *, threads: int = 2):
        if preset not in PRESETS:
            raise InputError(f"unknown flow preset {preset!r}: choose one of {', '.join(PRESETS)}")
        self.preset = PRESETS[preset]
        self._dis = (motion.make_dis(self.preset), motion.make_dis(self.preset))
        self._pool = ThreadPoolExecutor(max_workers=2) if threads and threads > 1 else None
        self._by_size = BySize()
        self._last_frame = Recent(1)  # the last pair's second frame's work: the next pair's first frame
        self._recent_pairs = Recent(3)  # the last pairs: the neighbour flows of a four-frame call
        self.stats = EngineStats()

    def interpolate(self, frame0: np.ndarray, frame1: np.ndarray, times: Sequence[float], *,
                    before: np.ndarray | None = None, after: np.ndarray | None = None) -> list[np.ndarray]:
        """The frames at ``times`` between ``frame0`` and ``frame1``. With both neighbours (``before`` frame0 and
        ``after`` frame1, evenly spaced in time, same shot) motion follows quadratic curves where the four frames
        agree on an acceleration; with either missing, the two-frame result exactly."""
        times = check_pair(frame0, frame1, times)
        four = before is not None and after is not None
        if four:
            check_pair(before, frame0, ())
            check_pair(frame1, after, ())
        if not times:
            return []
        if np.array_equal(frame0, frame1):
            return [frame0.copy() for _ in times]
        self.stats.count("pairs")
        frame0, frame1, before, after = (None if f is None else np.ascontiguousarray(f)
                                         for f in (frame0, frame1, before, after))
        pair = self._four_frame_pair(before, frame0, frame1, after) if four else self._pair(frame0, frame1.copy())
        # the times are independent of each other: on the pool's two threads, each from its trajectories to its
        # finished frame
        mapper = self._pool.map if self._pool is not None and len(times) > 1 else map
        return list(mapper(lambda t: self._frame_at(pair, t), times))

    def close(self) -> None:
        self._last_frame.clear()
        self._recent_pairs.clear()
        self._by_size.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None

    def __repr__(self) -> str:
        return f"FlowEngine(preset={self.preset.name!r})"

    # ------------------------------------------------------------------------------------------------ per pair
    def _pair(self, frame0: np.ndarray, frame1: np.ndarray) -> Pair:
        """The flows and per-frame work of a pair. ``frame1`` is kept (the next pair's first frame is recognised
        against it): an array of the engine's own, which no caller writes to."""
        h, w = frame0.shape[:2]
        geometry = self.preset.geometry(h, w)
        work0 = self._last_frame.get(frame0)  # kept when it was the previous pair's second frame, as in a clip
        if work0 is None:
            work0 = self._frame_work(frame0, geometry)
        work1 = self._frame_work(frame1, geometry)
        self._last_frame.keep((frame1,), work1)
        with self.stats.timed("flow"):
            f01, f10 = motion.flows(self._dis, work0.luma, work1.luma, geometry.flow, self._pool)
            f01, f10 = (motion.to_selection_grid(f, geometry.select) for f in (f01, f10))
        return Pair((h, w), geometry, f01, f10, (work0.samples, work1.samples), (work0.source, work1.source))

    def _frame_work(self, frame: np.ndarray, geometry: Geometry) -> FrameWork:
        """What depends on ``frame`` alone; the upsampled copy only for the "upsampled" warp."""
        with self.stats.timed("flow"):
            luma = motion.luma(frame, geometry.flow)
            samples = Samples.of(motion.small_luma(frame, geometry.select), geometry.shift)
        source = frame
        if self.preset.warp_for(*frame.shape[:2]) == "upsampled":
            with self.stats.timed("warp"):
                source = render.upsampled(frame)
        return FrameWork(luma, samples, source)

    def _recent_pair(self, frame0: np.ndarray, frame1: np.ndarray) -> Pair:
        """``_pair`` of these frames, kept for the last three pairs: in a clip a pair's neighbour flows are its
        neighbour pairs' own flows, so a four-frame call costs one new pair, like a two-frame one. Recognised by
        content, on copies: exact whatever the caller does with its arrays (a frame batch sliced anew on each
        access, a buffer reused for the next frame)."""
        pair = self._recent_pairs.get(frame0, frame1)
        if pair is None:
            frame0, frame1 = frame0.copy(), frame1.copy()  # the pair's warp sources are these copies
            pair = self._pair(frame0, frame1)
            self._recent_pairs.keep((frame0, frame1), pair)
        return pair

    def _four_frame_pair(self, before: np.ndarray, frame0: np.ndarray, frame1: np.ndarray,
                         after: np.ndarray) -> Pair:
        """The pair of frame0, frame1 with the guarded accelerations from the neighbour pairs' flows."""
        here = self._recent_pair(frame0, frame1)
        f0_prev = self._recent_pair(before, frame0).f10
        f1_next = self._recent_pair(frame1, after).f01
        with self.stats.timed("flow"):
            found = acceleration.measure(here.f01, here.f10, f0_prev, f1_next, self._grid(here.geometry.select))
        return dataclasses.replace(here, acceleration=found)

    # ------------------------------------------------------------------------------------------------ per time
    def _frame_at(self, pair: Pair, t: float) -> np.ndarray:
        """The frame at time t: the trajectories and the maps (stage ``flow``), the warp, the blend."""
        (h, w), select = pair.size, pair.geometry.select
        kind = self.preset.warp_for(h, w)
        scale = render.source_scale(kind)
        with self.stats.timed("flow"):
            mix = render.intermediate(self._trajectories(pair, t), t, self._grid(select), self.preset)
            buffers = self._by_size.get(("buffers", h, w, threading.get_ident()), lambda: render.Buffers.of(h, w))
            base = self._by_size.get(("base", select, h, w, scale), lambda: render.map_base(select, (h, w), scale))
            maps = render.to_frame_size(mix, base, buffers)
        with self.stats.timed("warp"):
            warped = render.warp(pair.sources, maps, kind, buffers)
        with self.stats.timed("blend"):
            return render.blend(warped, maps, self.preset.soften)

    def _trajectories(self, pair: Pair, t: float) -> Trajectories:
        """The trajectory chosen for each pixel at t: among the linear ones, or the quadratic ones of a four-frame
        pair."""
        grid, iters = self._grid(pair.geometry.select), self.preset.fixed_point_iters
        if pair.acceleration is None:
            bases = motion.linear_bases(pair.f01, pair.f10, t, grid, iters)
        else:
            bases = acceleration.quadratic_bases(pair.f01, pair.f10, pair.acceleration, t, grid, iters)
        (sh, sw), margin = pair.geometry.select, pair.geometry.shift
        return motion.choose(pair.samples, bases, self._grid((sh + 2 * margin, sw + 2 * margin)), self.preset.window)

    def _grid(self, size: tuple[int, int]) -> np.ndarray:
        """Pixel coordinates of a grid of this (height, width), kept."""
        return self._by_size.get(("grid", size), lambda: pixel_grid(*size))
