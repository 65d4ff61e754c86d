"""The ``flow`` engine: classical optical-flow frame interpolation, weight-free, CPU only (numpy + OpenCV).

Per pair (done once for all times):

1. luma of both frames, lightly smoothed (Gaussian sigma 1), downscaled with INTER_AREA when the frame has more
   pixels on its long side than the preset's ``max_flow_side`` (720p with ``balanced`` -> 640x360), padded when tiny
   (DIS needs >= ~12 px a side);
2. dense bidirectional flow F01, F10 with OpenCV's DIS (both directions in parallel threads), then downscaled to
   the selection grid (``select_scale`` of the flow's size) with small luma copies of both frames. What depends on
   one frame alone (its luma, its small luma, the upsampled copy the warp reads) is kept for the next pair, which in
   a clip starts with the same frame (recognised by content, so the result never depends on what came before).

Per time t (on the selection grid, then upsampled once to the frame size; with ``threads`` = 2 the times run on
two threads, each from its trajectories to its finished frame):

3. trajectories: for each pixel x at time t, the frame-0 pixel y whose motion carries it to x (x = y + t F01(y),
   solved by fixed-point iteration G <- -t F01(x + G)), and likewise the frame-1 pixel along F10. Super SloMo's
   approximation (used before) reads the flow at x itself, which is wrong as soon as things move further than
   their own size; the fixed point reads it where the moving content comes from;
4. candidates: both trajectories at the pixel and, for ``balanced``/``best``, those found ``neighbour_shift`` flow
   pixels left, right, up and down (at a motion boundary the fixed point may land on the wrong side, and a
   neighbour's trajectory is the right one); per pixel the candidate whose two samples (frame 0 at its start,
   frame 1 at its end) differ least, over a ``window`` square (11x11 for ``balanced``). The neighbour at offset o
   samples img(x + G(x + o)), which is img shifted by -o sampled along G itself at x + o: so each frame is sampled
   once per anchor, its four shifted copies as one 4-channel image, and every candidate is a view of the result
   (per time 4 maps and 8 remaps, 4 of them 4-channel, instead of 20 and 20; the same samples, the same choice);
5. weights: a sample whose position falls outside its frame gets weight 0 (content entering at a border comes from
   the other frame); where even the best trajectory leaves the samples disagreeing (the disagreement less the
   frame's overall brightness change, so that fades and flicker still blend), only the sample of the frame the
   trajectory is anchored in is kept: a sharp frame, never two translucent copies;
6. backward warp of the full-resolution frames, BORDER_REPLICATE, along maps made on the selection grid (the
   grid's own coordinates added before the bilinear upsampling, the clamped border pixels corrected: no full-size
   pass for them): Lanczos-4 remap for ``best``; for ``balanced`` up to 600k pixels a frame ("upsampled") a
   fixed-point bilinear remap of a copy of the frame upsampled 3x with Lanczos-3 (made once per frame; sharper
   than bicubic and a third of its cost per time); fixed-point bilinear for ``fast`` and above 600k pixels. Blend
   with weights (1-t) v0 and t v1 (cv2.blendLinear), and where the disagreement (less the overall brightness change:
   a fade stays sharp) stays high a Gaussian blur mixed in (``soften``, only in the tiles of a 16x16 grid that have
   such pixels, exactly as a whole-frame blur would): where nothing explains the motion, a detail in the wrong
   place costs more than a detail lost.

Nothing is cropped or resized in the output: the warp is at the input's resolution and shape, any size works.

Measured (t = 0.5, mean PSNR dB; bench/quality.py and a quick script over the same data):

| balanced | davis22 | Middlebury / IE |
|---|---|---|
| v0.1.0: Super SloMo approximation, FB-occlusion weights (lam 0.5) | 26.79 | 35.37 / 2.35 |
| fixed-point trajectories, chosen per pixel, no occlusion weights | 27.01 | 35.57 / 2.31 |
| + neighbours' trajectories (8 px) | 27.10 | 35.75 / 2.28 |
| + soften where unexplained | 27.24 | 35.56 / 2.32 |
| on the 0.6 grid, luma error, 9x9 window, single-frame fallback | 27.26 | 35.55 / 2.33 |
| 3 fixed-point iterations, neighbours 12 px, 11x11 window, soften sigma 2.2 on the brightness-corrected disagreement | 27.30 | 35.51 / 2.35 |
| the "upsampled" warp (bilinear from a 3x Lanczos-3 copy) instead of bicubic | 27.31 | 35.58 / 2.33 |

What did not help: FB-occlusion weights with the new trajectories (lam 0.5: -0.03 dB davis22, lam 1: -0.13);
extra DIS flows as candidates (full resolution unsmoothed, or half resolution: +0.03 for twice the flow time);
the quadratic approximation as a third candidate (0); more fixed-point iterations than 2 (0); soft per-pixel
mixing of the candidates (+0.07 for twice the warps); a 3x3 or 5x5 error window (-0.1); a camera-motion
(similarity fitted to the flow) candidate pair (0); the error computed once per pair in the anchor frame's
coordinates (-0.12); DIS at 480 px instead of 640 (-0.08 davis22, -0.17 Middlebury); a 0.5 selection grid
(-0.13 Middlebury; with the upsampled warp still -0.03 davis22, below 27.3); bilinear instead of bicubic warps at
640x360 (-1.0 Middlebury); fewer DIS refinement or descent iterations (-0.05 to -0.09).

Speed (issue 12's start, git 464f7ca -> now; a 2-core machine shared with other jobs, same-run comparisons): end
to end, bench/speed.py --against 464f7ca (4x slow motion of 60 frames, medians of 3): 640x360 5.9 -> 4.8 s (0.97x
-> 1.20x minterpolate), 1280x720 11.7 -> 9.1 s (2.93x -> 3.74x); under heavier load 9.7 -> 7.7 s and 19.4 -> 15.1
s (minterpolate, single-threaded, suffers less from the load: 0.71x -> 0.90x, 1.91x -> 2.45x); CPU per pair of 3 times on one thread (threads=1,
OpenCV single-threaded) at 640x360: 135 -> 116 ms. Of a pair at 640x360, DIS medium both ways is ~27 ms on a quiet
machine (unchanged: every cheaper setting measured loses quality), the choice ~7 ms a time (was ~12: the stacked
candidates above; the neighbours now cost about a third of it, so evaluating them only where the flow is not smooth
would save little, and it is exact only where the flow is exactly constant), the full-size work ~6 ms a time (was
~13: the upsampled warp, maps built on the selection grid, soften per tile). What did not pay: a 2x upsampled copy
read bilinearly (bicubic 2x: -0.23 dB Middlebury, IE 2.49; Lanczos 2x: IE 2.41; with a sharpening pre-filter IE
2.38: each too soft); 4x (Lanczos: 35.65 dB / IE 2.31, but 12-34 ms to make per frame, more than it saves);
cv2.remap with float maps for the 8-bit luma (no faster; for float arrays, the trajectories, they are: sampling.sample).
Tried later and not kept (issue 12, 3rd round; the pipeline is CPU-bound at ~1.75 of 2 cores, so only less CPU
helps): rendering each time in two bands of rows queued as soon as its maps are ready, so that 3 times keep 2
threads busy (same output; 4x and 2x slow motion end to end unchanged within the machine's spread); decoding
ahead on a thread of its own (the same); OpenCV's own pool at 1 thread (-5% CPU, same wall time); cheaper DIS
(variational refinement 4 or 3 iterations, descent 20, DIS fast, finest scale 2: davis22 27.28, 27.24, 27.27,
26.86, 26.92); F10 started from the inverted F01 (full settings 27.30, cheap settings 27.27); fixed-point
iterations 2 (27.29). What bounds it now: DIS (~40% of the
engine at 640x360) and x264 (~20 ms of CPU a pair at 640x360, on the encoder's thread): 59 pairs take ~8 s of CPU
on this machine, ~4 s on 2 fully used cores, while 2.5x minterpolate means the whole job in ~2.3 s.
Known limit: an object smaller than its own motion between the frames (a ball crossing more than its diameter)
is lost by DIS's coarse-to-fine search; the single-frame fallback fires only where the disagreement is strong,
so such an object can still show twice, faintly (with plain DIS it shows twice at half strength).

Four frames: given the pair's neighbours (the pipeline does, inside a shot), the trajectories of step 3 follow
quadratic curves where the four frames agree on an acceleration (flow_motion, which has the measurements: real
footage at half rate, balanced, 31.94 -> 32.10 dB; with the speed work above, two frames 31.96, four 32.12, RIFE
v3.6 32.09); the neighbour flows are the neighbour pairs' own, kept (recognised by content, like the frames'). On a
quiet machine, with four frames as the pipeline gives them, bench/speed.py --runs 3: balanced 1.32x minterpolate
at 640x360 and 3.39x at 1280x720 (464f7ca on the same machine, quiet, 1 run: 0.99x and 2.86x); after the float
maps of sampling.sample (engine CPU a pair at 640x360 on one thread ~7% less, output within 0.001 dB on every set),
1.38x and 3.26x in a run where minterpolate itself took 30% longer than the day before: the same, within the spread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import pairwise

import cv2
import numpy as np

from ..errors import InputError
from . import flow_motion
from .base import Engine, EngineInfo, EngineStats, Option, check_pair, one_of, whole_number
from .sampling import BORDER as _BORDER
from .sampling import fixed_map as _fixed_map
from .sampling import remap as _remap
from .sampling import sample as _sample

# Preset -> settings. ``dis``: OpenCV DIS preset; ``finest_scale``: override of DIS's finest pyramid level (0 = full
# resolution patches); ``max_flow_side``: the flow is computed on a copy downscaled to at most this many pixels on
# the long side (720p -> 640x360: on 720p footage flow at half size loses nothing measurable and halves the time);
# ``select_scale``: the trajectories are followed and chosen on a grid this fraction of the flow's;
# ``fixed_point_iters``: iterations that follow each trajectory; ``neighbour_shift``: the neighbours' trajectories
# (this many flow pixels away) are candidates too (0: off); ``window``: side of the square (selection grid pixels)
# a trajectory's error is averaged over; ``unexplained``: (lo, hi) disagreement (0..255, less
# the overall brightness change) over which a pixel goes from a blend of both frames to the anchor frame alone;
# ``soften``: (lo, hi, sigma) disagreement over which a pixel goes from sharp to blurred by sigma, or None;
# ``warp``: how the frames are interpolated: "lanczos" or "cubic" (cv2.remap's), "upsampled" (bilinear from a copy
# of the frame upsampled 3x with Lanczos-3, made once per frame: sharper than bicubic and cheaper), "linear", or
# "auto" = upsampled up to ``sharp_max_pixels`` per frame and linear above (a sharp warp costs ~2-4x fixed-point
# bilinear and measured no better on 720p footage).
PRESETS: dict[str, dict] = {
    "fast": {"dis": cv2.DISOPTICAL_FLOW_PRESET_FAST, "finest_scale": None, "max_flow_side": 640,
             "select_scale": 0.5, "fixed_point_iters": 2, "neighbour_shift": 0, "window": 9,
             "unexplained": (30.0, 80.0), "soften": None, "warp": "linear"},
    "balanced": {"dis": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM, "finest_scale": None, "max_flow_side": 640,
                 "select_scale": 0.6, "fixed_point_iters": 3, "neighbour_shift": 12, "window": 11,
                 "unexplained": (30.0, 80.0), "soften": (5.0, 30.0, 2.2), "warp": "auto", "sharp_max_pixels": 600_000},
    "best": {"dis": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM, "finest_scale": 0, "max_flow_side": 1280,
             "select_scale": 1.0, "fixed_point_iters": 6, "neighbour_shift": 8, "window": 9,
             "unexplained": (30.0, 80.0), "soften": (5.0, 30.0, 1.5), "warp": "lanczos"},
}
DEFAULT_PRESET = "balanced"
_PRESET_MENU = (DEFAULT_PRESET, *(p for p in PRESETS if p != DEFAULT_PRESET))  # the default first
WARPS = ("lanczos", "cubic", "upsampled", "linear", "auto")

_LUMA_SIGMA = 1.0      # Gaussian smoothing of the luma the flow is computed on
_MIN_FLOW_SIDE = 32    # DIS refuses images smaller than ~12 px a side; pad up to this
_MEAN3 = np.full((1, 3), 1.0 / 3.0, np.float32)  # cv2.transform matrix: mean of the three channels
_EPS = 1e-3
_SHARP = {"cubic": cv2.INTER_CUBIC, "lanczos": cv2.INTER_LANCZOS4}  # warps by cv2.remap's own interpolation
_UPSAMPLE = 3          # the "upsampled" warp reads the frame upsampled this many times (bilinear from it ~ Lanczos)
_LANCZOS_A = 3         # ... with Lanczos-3 (6 taps)


class FlowEngine(Engine):
    """Optical-flow interpolation. ``preset``: "fast", "balanced" (default) or "best".

    ``flow_scale`` (0 < s <= 1) forces the resolution the flow is computed at (as a fraction of the frame size);
    by default it is 1 up to the preset's ``max_flow_side`` (long side, pixels) and shrinks above. ``warp``
    overrides the preset's frame interpolation: "lanczos", "cubic", "upsampled" (bilinear from the frame upsampled
    3x with Lanczos-3), "linear", or "auto" (upsampled up to 600k pixels a frame, linear above). ``threads``: 2 (the
    default) computes the two flow directions, and then the times, on two threads (OpenCV releases the GIL); 1
    keeps all of the engine's work on the calling thread. The output does not depend on it.

    One engine serves one caller at a time (it reuses work buffers between calls); use one engine per thread.

    ``stats`` accumulates seconds per stage over all calls, summed over the engine's threads (with threads=2 the
    times overlap, so the sum can exceed the wall time): ``flow`` (luma, DIS both ways, trajectories and their
    choice, the maps at the frame size), ``warp`` (upsampling frames for the "upsampled" warp, remapping the frames),
    ``blend`` (the blend and the softening), plus ``pairs`` (number of calls that did work).
    """

    info = EngineInfo(
        "flow", "optical flow on the CPU (OpenCV DIS), no weights needed",
        options=(Option("preset", "quality/speed trade-off", one_of("flow preset", _PRESET_MENU), _PRESET_MENU),
                 Option("threads", "CPU threads the engine may use", whole_number("threads"), user=False)),
        context_frames=1,  # interpolate() takes the pair's neighbours (before, after): quadratic motion
        threaded=True)

    def __init__(self, preset: str = DEFAULT_PRESET, *, flow_scale: float | None = None, warp: str | None = None,
                 threads: int = 2):
        if preset not in PRESETS:
            raise InputError(f"unknown flow preset {preset!r}: choose one of {', '.join(PRESETS)}")
        if warp is not None and warp not in WARPS:
            raise InputError(f"warp must be one of {', '.join(map(repr, WARPS))}, got {warp!r}")
        if flow_scale is not None and not 0.0 < float(flow_scale) <= 1.0:
            raise InputError(f"flow_scale must be in (0, 1], got {flow_scale!r}")
        self.preset = preset
        self.settings = dict(PRESETS[preset])
        if warp is not None:
            self.settings["warp"] = warp
            self.settings.setdefault("sharp_max_pixels", 600_000)
        self.flow_scale = None if flow_scale is None else float(flow_scale)
        self._dis = [self._make_dis(), self._make_dis()]
        self._pool = ThreadPoolExecutor(max_workers=2) if threads and threads > 1 else None
        self._grids: dict[tuple, object] = {}
        self._last_frame = _Recent(1)  # the last pair's second frame's work: the next pair's first frame
        self._recent_pairs = _Recent(3)  # the last pairs' flows: the neighbour flows of a four-frame call
        self.stats = EngineStats()

    # ------------------------------------------------------------------ public
    def interpolate(self, frame0: np.ndarray, frame1: np.ndarray, times: Sequence[float], *,
                    before: np.ndarray | None = None, after: np.ndarray | None = None) -> list[np.ndarray]:
        """The frames at ``times`` between ``frame0`` and ``frame1``. With both neighbours (``before`` frame0 and
        ``after`` frame1, evenly spaced in time, same shot) motion follows quadratic curves where the four frames
        agree on an acceleration (flow_motion); with either missing, the two-frame result exactly."""
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
        t_start = time.perf_counter()
        warp_before = self.stats.seconds.get("warp", 0.0)
        pair = self._four_frame_pair(before, frame0, frame1, after) if four else self._pair(frame0, frame1.copy())
        self.stats.add("flow", time.perf_counter() - t_start - (self.stats.seconds.get("warp", 0.0) - warp_before))
        # the times are independent of each other: on the pool's two threads (OpenCV releases the GIL), each from
        # its trajectories to its finished frame
        mapper = self._pool.map if self._pool is not None and len(times) > 1 else map
        out = []
        for frame, seconds in mapper(lambda t: self._frame_at(pair, t), times):
            out.append(frame)
            for stage, spent in seconds.items():
                self.stats.add(stage, spent)
        return out

    def _frame_at(self, pair: dict, t: float) -> tuple[np.ndarray, dict]:
        """The frame at time t, and the seconds its stages took (flow, warp, blend)."""
        h, w = pair["size"]
        kind = self.warp_kind(h, w)
        scale = _UPSAMPLE if kind == "upsampled" else 1
        t0 = time.perf_counter()
        buf = self._buffers(h, w)
        small = self._intermediate(pair, t)
        w0, w1, soft = self._to_frame_size(small, h, w, buf, scale)
        t1 = time.perf_counter()
        for source, name in zip(pair["sources"], ("0", "1")):
            if kind in _SHARP:
                cv2.remap(source, buf["map" + name], None, _SHARP[kind], dst=buf["warp" + name], borderMode=_BORDER)
            else:  # fixed-point maps (1/32 px, what remap uses internally anyway) make bilinear remap ~2x faster
                _remap(source, cv2.convertMaps(buf["map" + name], None, cv2.CV_16SC2), dst=buf["warp" + name])
        t2 = time.perf_counter()
        mid = cv2.blendLinear(buf["warp0"], buf["warp1"], w0, w1)  # (w0 a + w1 b) / (w0 + w1)
        if soft is not None:
            # where no trajectory explains the pixels, a detail put in the wrong place costs more than a detail
            # lost: blur there, in proportion
            _soften_in_place(mid, soft, self.settings["soften"][2], coarse=small[4])
        return mid, {"flow": t1 - t0, "warp": t2 - t1, "blend": time.perf_counter() - t2}

    def close(self) -> None:
        self._last_frame.clear()
        self._recent_pairs.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None

    def warp_kind(self, height: int, width: int) -> str:
        """"lanczos", "cubic", "upsampled" or "linear": how frames of this size are warped."""
        warp = self.settings["warp"]
        if warp == "auto":
            warp = "upsampled" if height * width <= self.settings["sharp_max_pixels"] else "linear"
        return warp

    def flow_size(self, height: int, width: int) -> tuple[int, int]:
        """(height, width) the flow is computed at for frames of this size."""
        s = self.flow_scale
        if s is None:
            s = min(1.0, self.settings["max_flow_side"] / float(max(height, width)))
        return max(1, round(height * s)), max(1, round(width * s))

    def __repr__(self) -> str:
        return f"FlowEngine(preset={self.preset!r})"

    # ------------------------------------------------------------------ per pair
    def _make_dis(self):
        dis = cv2.DISOpticalFlow_create(self.settings["dis"])
        if self.settings["finest_scale"] is not None:
            dis.setFinestScale(self.settings["finest_scale"])
        return dis

    def _grid(self, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
        """Pixel coordinates x, y as two HxW float32 arrays (cached per size)."""
        key = ("xy", h, w)
        g = self._grids.get(key)
        if g is None:
            g = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
            self._cache(key, g)
        return g

    def _grid2(self, h: int, w: int, scale: int = 1) -> np.ndarray:
        """Pixel coordinates (times ``scale``) as one HxWx2 float32 array, the form cv2.remap takes as a single
        map."""
        key = ("xy2", h, w, scale)
        g = self._grids.get(key)
        if g is None:
            g = cv2.merge(self._grid(h, w)) * np.float32(scale)
            self._cache(key, g)
        return g

    def _buffers(self, h: int, w: int) -> dict[str, np.ndarray]:
        """Full-size work arrays reused from call to call (fresh large arrays cost page faults every time), one set
        per thread."""
        key = ("buf", h, w, threading.get_ident())
        b = self._grids.get(key)
        if b is None:
            b = {name: np.empty((h, w, 2), np.float32) for name in ("map0", "map1")}
            b.update({name: np.empty((h, w), np.float32) for name in ("w0", "w1")})
            b.update({name: np.empty((h, w, 3), np.uint8) for name in ("warp0", "warp1")})
            self._cache(key, b)
        return b

    def _cache(self, key, value) -> None:
        if len(self._grids) > 16:
            self._grids.clear()
        self._grids[key] = value

    def _luma(self, frame: np.ndarray, fh: int, fw: int) -> np.ndarray:
        g = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        if (fh, fw) != g.shape:
            g = cv2.resize(g, (fw, fh), interpolation=cv2.INTER_AREA)
        g = cv2.GaussianBlur(g, (0, 0), _LUMA_SIGMA)
        ph, pw = max(0, _MIN_FLOW_SIDE - fh), max(0, _MIN_FLOW_SIDE - fw)
        if ph or pw:
            g = cv2.copyMakeBorder(g, 0, ph, 0, pw, cv2.BORDER_REPLICATE)
        return g

    def _flows(self, l0: np.ndarray, l1: np.ndarray, fh: int, fw: int):
        if self._pool is not None:
            fut = self._pool.submit(self._dis[1].calc, l1, l0, None)
            f01 = self._dis[0].calc(l0, l1, None)
            f10 = fut.result()
        else:
            f01 = self._dis[0].calc(l0, l1, None)
            f10 = self._dis[1].calc(l1, l0, None)
        return np.ascontiguousarray(f01[:fh, :fw]), np.ascontiguousarray(f10[:fh, :fw])

    def _pair(self, frame0: np.ndarray, frame1: np.ndarray) -> dict:
        """The flows and per-frame work of a pair. ``frame1`` is kept (the next pair's first frame is recognised
        against it): an array of the engine's own, which no caller writes to."""
        h, w = frame0.shape[:2]
        fh, fw, sh, sw, shift = self._geometry(h, w)
        # what depends on one frame alone; the first frame's kept from the previous pair when it was that pair's
        # second frame, as in a clip
        work0 = self._last_frame.get(frame0)
        if work0 is None:
            work0 = self._frame_work(frame0)
        work1 = self._frame_work(frame1)
        self._last_frame.keep((frame1,), work1)
        f01, f10 = self._flows(work0.luma, work1.luma, fh, fw)
        # trajectories are followed and chosen on a coarser grid than the flow's (smooth at that scale anyway)
        if (sh, sw) != (fh, fw):
            to_select = np.array([sw / fw, sh / fh], np.float32)
            f01 = cv2.resize(f01, (sw, sh), interpolation=cv2.INTER_AREA) * to_select
            f10 = cv2.resize(f10, (sw, sh), interpolation=cv2.INTER_AREA) * to_select
        return {"size": (h, w), "f01": f01, "f10": f10, "sh": sh, "sw": sw, "shift": shift,
                "samples": (work0.samples, work1.samples),
                "sources": (frame0 if work0.source is None else work0.source,
                            frame1 if work1.source is None else work1.source)}

    def _geometry(self, h: int, w: int) -> tuple[int, int, int, int, int]:
        """For frames of this size: the flow's size (fh, fw), the selection grid's (sh, sw) and the neighbours'
        distance on it (0: none)."""
        fh, fw = self.flow_size(h, w)
        sel = self.settings["select_scale"]
        sh, sw = (round(fh * sel), round(fw * sel)) if min(fh, fw) * sel >= _MIN_FLOW_SIDE else (fh, fw)
        shift = round(self.settings["neighbour_shift"] * sw / fw)
        return fh, fw, sh, sw, shift if 2 * shift < min(sh, sw) else 0

    def _frame_work(self, frame: np.ndarray) -> _FrameWork:
        h, w = frame.shape[:2]
        fh, fw, sh, sw, shift = self._geometry(h, w)
        small = cv2.cvtColor(cv2.resize(frame, (sw, sh), interpolation=cv2.INTER_AREA) if (sh, sw) != (h, w)
                             else frame, cv2.COLOR_RGB2GRAY)
        t0 = time.perf_counter()
        source = _upsampled(frame, _UPSAMPLE) if self.warp_kind(h, w) == "upsampled" else None
        self.stats.add("warp", time.perf_counter() - t0)
        return _FrameWork(self._luma(frame, fh, fw), _Samples.of(small, shift), source)

    def _recent_pair(self, frame0: np.ndarray, frame1: np.ndarray) -> dict:
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
                         after: np.ndarray) -> dict:
        """``_pair`` of frame0, frame1 with the guarded accelerations from the neighbour pairs' flows."""
        here = self._recent_pair(frame0, frame1)
        f0_prev = self._recent_pair(before, frame0)["f10"]
        f1_next = self._recent_pair(frame1, after)["f01"]
        grid = self._grid2(here["sh"], here["sw"])
        return dict(here, motion=flow_motion.acceleration(here["f01"], here["f10"], f0_prev, f1_next, grid))

    # ------------------------------------------------------------------ per time
    def _intermediate(self, pair: dict, t: float):
        """F_t0, F_t1 (HxWx2 float32), the blend weights w0, w1 (HxW float32) at t, and how much to soften each
        pixel (HxW float32 in 0..1, or None for nowhere), on the selection grid."""
        sh, sw = pair["sh"], pair["sw"]
        grid = self._grid2(sh, sw)
        s = self.settings
        motion = pair.get("motion")  # four frames: quadratic trajectories instead of the linear ones
        bases = None if motion is None else flow_motion.quadratic_bases(pair["f01"], pair["f10"], motion, t, grid,
                                                                          s["fixed_point_iters"])
        margin = pair["shift"]
        choice = _choose_trajectory(pair["samples"], pair["f01"], pair["f10"], t, grid,
                                    self._grid2(sh + 2 * margin, sw + 2 * margin), s["fixed_point_iters"], s["window"],
                                    bases)
        ft0, ft1 = choice.ft0, choice.ft1
        # a sample whose position falls outside its frame gets weight 0 (content entering at a border comes from
        # the other frame)
        v0 = _inside(grid, ft0)
        v1 = _inside(grid, ft1)
        # where even the best trajectory leaves its samples disagreeing (motion the flow cannot
        # explain), an average would show two translucent copies: keep only the anchor frame's sample there
        lo, hi = s["unexplained"]
        keep = 1.0 - np.clip((choice.unexplained - lo) * (1.0 / (hi - lo)), 0.0, 1.0)
        v0 = np.where(choice.anchor0, v0, v0 * keep)
        v1 = np.where(choice.anchor0, v1 * keep, v1)
        # blend weights (1-t) v0 and t v1, + eps: blendLinear divides by their sum, which must stay positive
        w0 = cv2.addWeighted(v0, 1.0 - t, v0, 0.0, _EPS * (1.0 - t))
        w1 = cv2.addWeighted(v1, t, v1, 0.0, _EPS * t)
        soft = None
        if s["soften"] is not None:
            lo, hi, _ = s["soften"]
            soft = np.clip((choice.unexplained - lo) * (1.0 / (hi - lo)), 0.0, 1.0)
            if not soft.any():
                soft = None
        return ft0, ft1, w0, w1, soft

    def _to_frame_size(self, small: tuple, h: int, w: int, buf: dict, scale: int = 1):
        """What _intermediate made, at the frame size (bilinear): the warp's maps x + F_t0(x) and x + F_t1(x) in
        pixels of the image the warp reads (``scale`` times the frame's) into buf["map0"], buf["map1"]; returns
        the blend weights w0, w1 and the softening (or None)."""
        ft0, ft1, w0, w1, soft = small
        sh, sw = w0.shape
        base, corrections = self._map_base(sh, sw, h, w, scale)
        to_frame = np.array([w / sw * scale, h / sh * scale], np.float32)
        for ft, name in ((ft0, "map0"), (ft1, "map1")):
            m = cv2.resize(cv2.add(ft * to_frame, base), (w, h), dst=buf[name], interpolation=cv2.INTER_LINEAR)
            for where, channel, delta in corrections:
                m[where + (channel,)] += delta
        if (sh, sw) != (h, w):
            w0 = cv2.resize(w0, (w, h), dst=buf["w0"], interpolation=cv2.INTER_LINEAR)
            w1 = cv2.resize(w1, (w, h), dst=buf["w1"], interpolation=cv2.INTER_LINEAR)
            if soft is not None:
                soft = cv2.resize(soft, (w, h), interpolation=cv2.INTER_LINEAR)
        return w0, w1, soft

    def _map_base(self, sh: int, sw: int, h: int, w: int, scale: int):
        """The selection grid's own pixel coordinates in the warp's (frame pixels times ``scale``), and the
        corrections that make their bilinear upsampling the frame's pixel grid exactly: it reproduces a linear
        function except in the outermost pixels, where it clamps (a pixel or two wide). Added to the flow before
        the upsampling, the grid costs no full-size pass. Corrections: (rows/columns, channel, amount) (cached per
        size)."""
        key = ("base", sh, sw, h, w, scale)
        found = self._grids.get(key)
        if found is None:
            xs = ((np.arange(sw, dtype=np.float64) + 0.5) * (w / sw) - 0.5) * scale
            ys = ((np.arange(sh, dtype=np.float64) + 0.5) * (h / sh) - 0.5) * scale
            base = cv2.merge(np.meshgrid(xs.astype(np.float32), ys.astype(np.float32)))
            off = self._grid2(h, w, scale) - cv2.resize(base, (w, h), interpolation=cv2.INTER_LINEAR)
            corrections = []
            for channel, line in ((0, off[0, :, 0]), (1, off[:, 0, 1])):  # x depends on the column, y on the row
                for at in np.flatnonzero(np.abs(line) > 1e-3):
                    where = (slice(None), int(at)) if channel == 0 else (int(at), slice(None))
                    corrections.append((where, channel, np.float32(line[at])))
            found = base, corrections
            self._cache(key, found)
        return found


# ---------------------------------------------------------------------- helpers
def _soften_in_place(image: np.ndarray, amount: np.ndarray, sigma: float, coarse: np.ndarray | None = None,
                     tiles: int = 16) -> None:
    """image <- (1 - amount) image + amount blur(image), blurred only where amount > 0: per tile of a ``tiles`` x ``tiles``
    grid (runs of such tiles along a row as one box), each box blurred from ``image`` with the blur's reach around
    it, so that the result equals blurring the whole image (the unexplained pixels are a few percent of the frame,
    scattered: their bounding box is most of it). ``coarse``: the amount on the grid ``amount`` was upsampled
    (bilinear) from, where finding the tiles to blur is cheaper (a tile is taken when the coarse pixels around it,
    one more each side, have any amount: every tile with amount > 0 and maybe a few without, which changes
    nothing)."""
    h, w = amount.shape
    ys = np.linspace(0, h, min(tiles, h) + 1).astype(int)
    xs = np.linspace(0, w, min(tiles, w) + 1).astype(int)
    if coarse is None:
        some = cv2.compare(amount, 0.0, cv2.CMP_GT)
        active = np.array([[cv2.countNonZero(some[y0:y1, x0:x1]) > 0 for x0, x1 in pairwise(xs)]
                           for y0, y1 in pairwise(ys)])
    else:
        ch, cw = coarse.shape
        cy = np.floor((ys + 0.5) * (ch / h) - 0.5).astype(int)  # the coarse row under each tile edge
        cx = np.floor((xs + 0.5) * (cw / w) - 0.5).astype(int)
        active = np.array([[coarse[max(0, y0 - 1): y1 + 2, max(0, x0 - 1): x1 + 2].any()
                            for x0, x1 in pairwise(cx)] for y0, y1 in pairwise(cy)])
    reach = int(np.ceil(3 * sigma))  # cv2's 8-bit Gaussian kernel for sigma reaches at most this far
    boxes = []  # every box blurred before any is written: each blur reads the image as it was
    for r, c0, c1 in _runs(active):
        y0, y1, x0, x1 = ys[r], ys[r + 1], xs[c0], xs[c1]
        py0, py1, px0, px1 = max(0, y0 - reach), min(h, y1 + reach), max(0, x0 - reach), min(w, x1 + reach)
        blurred = cv2.GaussianBlur(image[py0:py1, px0:px1], (0, 0), sigma)
        boxes.append((y0, y1, x0, x1, blurred[y0 - py0: y1 - py0, x0 - px0: x1 - px0]))
    for y0, y1, x0, x1, blurred in boxes:
        part = np.ascontiguousarray(amount[y0:y1, x0:x1])
        image[y0:y1, x0:x1] = cv2.blendLinear(image[y0:y1, x0:x1], blurred, 1.0 - part, part)


def _runs(active: np.ndarray) -> list[tuple[int, int, int]]:
    """(row, first column, end column) of each run of True along the rows of a 2-D bool array."""
    runs = []
    for r, row in enumerate(active):
        edges = np.flatnonzero(np.diff(np.concatenate(([0], row.astype(np.int8), [0]))))
        runs += [(r, int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]
    return runs


def _lanczos_taps(phase: float) -> np.ndarray:
    """Lanczos weights (normalised) of the 2a samples around a point ``phase`` (0..1) past a sample, the first
    a - 1 samples before it."""
    x = np.arange(1 - _LANCZOS_A, _LANCZOS_A + 1) - phase
    k = np.sinc(x) * np.sinc(x / _LANCZOS_A)
    return (k / k.sum()).astype(np.float32)


def _upsampled(image: np.ndarray, n: int) -> np.ndarray:
    """``image`` upsampled n times along both axes with Lanczos (separable: per axis one filter per phase, the
    phases interleaved), its own samples kept: pixel (y, x) of the image is pixel (n y, n x) of the result; border
    replicated. Bilinear reads of it are sharper than cv2's bicubic and cost a fraction."""
    h, w = image.shape[:2]
    # along x: the phases as the channels of one image (cv2.merge), which is the interleaved row in memory
    phases = [image] + [cv2.filter2D(image, -1, _lanczos_taps(p / n)[None, :], anchor=(_LANCZOS_A - 1, 0),
                                     borderType=_BORDER) for p in range(1, n)]
    rows = cv2.merge(phases).reshape((h, n * w) + image.shape[2:])
    # along y: whole rows interleaved
    out = np.empty((h, n, n * w) + image.shape[2:], image.dtype)
    out[:, 0] = rows
    for p in range(1, n):
        out[:, p] = cv2.filter2D(rows, -1, _lanczos_taps(p / n)[:, None], anchor=(0, _LANCZOS_A - 1),
                                 borderType=_BORDER)
    return out.reshape((n * h, n * w) + image.shape[2:])


def _same_frame(kept: np.ndarray, frame: np.ndarray) -> bool:
    """Whether two frames (HxWx3 uint8) are equal, a sparse sample first (most differing frames differ there,
    cheaply); then cv2.norm, half the cost of np.array_equal (no temporary array)."""
    return (kept.shape == frame.shape and np.array_equal(kept[::16, ::16], frame[::16, ::16])
            and cv2.norm(kept, frame, cv2.NORM_INF) == 0)


class _Recent:
    """What was derived from frames (a frame's work, a pair's flows), for the last ``size`` of them: in a clip the
    next call starts with the frames of the last. Recognised by content, on the frames as kept (the caller gives
    copies): exact whatever the caller does with its arrays (a buffer refilled, a batch sliced anew)."""

    def __init__(self, size: int):
        self._size = size
        self._items: list[tuple[tuple[np.ndarray, ...], object]] = []

    def get(self, *frames: np.ndarray):
        """What was kept for these frames, or None."""
        for kept, derived in self._items:
            if all(_same_frame(k, f) for k, f in zip(kept, frames)):
                return derived
        return None

    def keep(self, frames: tuple[np.ndarray, ...], derived) -> None:
        self._items = [*self._items, (frames, derived)][-self._size:]

    def clear(self) -> None:
        self._items = []


@dataclass
class _FrameWork:
    """What the engine derives from one frame alone (kept for the next pair, which in a clip starts with it)."""

    luma: np.ndarray            # smoothed luma at the flow's size, what DIS reads
    samples: _Samples           # small luma, what the trajectory choice samples
    source: np.ndarray | None   # what the "upsampled" warp reads; None: the warp reads the frame itself


@dataclass
class Trajectories:
    """The trajectory chosen for each pixel at time t (arrays at the selection resolution)."""

    ft0: np.ndarray        # HxWx2 float32: flow from t to frame 0
    ft1: np.ndarray        # HxWx2 float32: flow from t to frame 1
    anchor0: np.ndarray    # HxW bool: anchored in frame 0 (its frame-0 sample is the trusted one)
    error: np.ndarray      # HxW float32: mean absolute difference of its two samples (0..255, window square)
    unexplained: np.ndarray  # HxW float32: that difference less the frame's overall brightness change


@dataclass
class _Samples:
    """A frame's small luma as the trajectory choice samples it: ``image`` extended by ``margin`` pixels on each
    side (replicated), and (margin > 0) ``shifted``, its four copies shifted by -o for each neighbour offset o in
    ``offsets(margin)`` as one 4-channel image. Made once per pair, read at every time."""

    image: np.ndarray
    shifted: np.ndarray | None
    margin: int

    @staticmethod
    def offsets(margin: int) -> tuple[tuple[int, int], ...]:
        """(dx, dy) of the four neighbours (none without a margin), in the order they compete."""
        return ((margin, 0), (-margin, 0), (0, margin), (0, -margin)) if margin else ()

    @classmethod
    def of(cls, small: np.ndarray, margin: int) -> _Samples:
        image = cv2.copyMakeBorder(small, margin, margin, margin, margin, _BORDER) if margin else small
        shifted = np.dstack([_shifted(image, -dx, -dy) for dx, dy in cls.offsets(margin)]) if margin else None
        return cls(image, shifted, margin)


def _inside(grid: np.ndarray, f: np.ndarray) -> np.ndarray:
    """1.0 where x + f(x) lies inside the image, else 0.0 (HxW float32)."""
    h, w = f.shape[:2]
    return cv2.inRange(cv2.add(grid, f), (-0.5, -0.5), (w - 0.5, h - 0.5)).astype(np.float32) * (1.0 / 255.0)


def _trajectory(f: np.ndarray, s: float, grid: np.ndarray, iters: int) -> np.ndarray:
    """The flow G from time s back to the anchor frame, for linear motion along the anchor's flow f: the anchor
    pixel y = x + G(x) reaches x at s, so G(x) = -s f(x + G(x)); solved by fixed-point iteration from G = -s f.
    Unlike the Super SloMo approximation, which reads the flow at x itself, this reads it where the moving
    content comes from, which matters once motion is larger than the moving things."""
    g = f * -s
    for _ in range(iters):
        g = _sample(f, grid, g)
        g *= -s
    return g


def _choose_trajectory(samples: tuple[_Samples, _Samples], f01: np.ndarray, f10: np.ndarray, t: float,
                       grid: np.ndarray, wide: np.ndarray, iters: int, window: int,
                       bases: list | None = None) -> Trajectories:
    """Per pixel at time t, the best of the linear trajectories through it: anchored in frame 0 (along F01) or
    in frame 1 (along F10), each as found at the pixel and (``samples`` with a margin) as found ``margin`` pixels
    right, left, down and up (at a motion boundary the fixed point can land on the wrong side; a neighbour's
    trajectory is then the right one); the one whose two samples (luma) differ least, summed over a ``window``
    square (the first one wins a tie). ``grid``, ``wide``: the pixel coordinates of the frame and of the frame
    extended by the margin.

    ``unexplained`` is the chosen samples' difference less its median over the frame (a fade or a flicker changes
    the whole frame's brightness and is no disagreement), averaged over the window: large where two different
    things meet, which an average would show as a double image.

    How: the neighbour at offset o has trajectory G(x + o), and its samples along it, img(x + G(x + o)), are those
    of img shifted by -o along the trajectory G, read at x + o. So each frame is sampled once per anchor, as its
    four shifted copies in one 4-channel image (_Samples), on the frame extended by the margin (G replicated, as a
    neighbour past the border is the border's), and every candidate is a view of the result at its offset: 4 maps
    and 8 remaps per time instead of 20 and 20. The errors are integer sums of 8-bit differences, exact in any
    order; each candidate's error is summed on the frame (reflected at its border), as for a candidate alone.

    ``bases``: other trajectories to start from instead of the linear ones (flow_motion's quadratic ones), as
    ``(flow to frame 0, flow to frame 1, anchored in frame 0)``.
    """
    if bases is None:
        a0 = _trajectory(f01, t, grid, iters)
        b1 = _trajectory(f10, 1.0 - t, grid, iters)
        # each trajectory also to the other frame: y + F01(y) = x + (1 - t) F01(y)
        bases = [(a0, a0 * (-(1.0 - t) / t), True), (b1 * (-t / (1.0 - t)), b1, False)]
    s = samples[0].margin
    h, w = bases[0][0].shape[:2]
    depth = cv2.CV_16U if window * window * 255 <= 65535 else cv2.CV_32F  # exact sums either way
    at_pixel = (slice(s, s + h), slice(s, s + w))
    cands = []  # (g0, g1, anchor, error, signed difference) per candidate, in the order they compete
    around = []  # per anchor: the same for the four neighbours, each as one extended image
    for g0, g1, anchor in bases:
        g0, g1 = (cv2.copyMakeBorder(g, s, s, s, s, _BORDER) if s else g for g in (g0, g1))
        m0, m1 = _fixed_map(wide, g0), _fixed_map(wide, g1)
        d = cv2.subtract(_remap(samples[0].image, m0), _remap(samples[1].image, m1), dtype=cv2.CV_16S)
        cands.append((g0[at_pixel], g1[at_pixel], anchor, _window_sum(d[at_pixel], window, depth), d[at_pixel]))
        if s:
            d = cv2.subtract(_remap(samples[0].shifted, m0), _remap(samples[1].shifted, m1), dtype=cv2.CV_16S)
            around.append((g0, g1, anchor, cv2.split(d)))
    for k, (dx, dy) in enumerate(_Samples.offsets(s)):
        at = (slice(s + dy, s + dy + h), slice(s + dx, s + dx + w))
        cands += [(g0[at], g1[at], anchor, _window_sum(d[k][at], window, depth), d[k][at])
                  for g0, g1, anchor, d in around]
    g0, g1, anchor, err, d = cands[0]
    best = Trajectories(g0.copy(), g1.copy(), np.full(err.shape, 255 * anchor, np.uint8), err.copy(), d.copy())
    for g0, g1, anchor, err, d in cands[1:]:
        better = cv2.compare(err, best.error, cv2.CMP_LT)
        cv2.copyTo(g0, better, best.ft0)
        cv2.copyTo(g1, better, best.ft1)
        cv2.copyTo(err, better, best.error)
        cv2.copyTo(d, better, best.unexplained)
        if anchor:  # anchor0 as a 0/255 mask meanwhile: cv2's bitwise operations are cheaper than numpy's indexing
            cv2.bitwise_or(best.anchor0, better, dst=best.anchor0)
        else:
            cv2.bitwise_and(best.anchor0, cv2.bitwise_not(better), dst=best.anchor0)
    best.anchor0 = best.anchor0 > 0
    d = best.unexplained.astype(np.float32)
    best.unexplained = cv2.blur(np.abs(d - float(np.median(d))), (window, window))
    return best


def _window_sum(d: np.ndarray, window: int, depth: int) -> np.ndarray:
    """Sum of |d| over the ``window`` square around each pixel (per channel), exact."""
    return cv2.boxFilter(cv2.convertScaleAbs(d), depth, (window, window), normalize=False)


def _shifted(img: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """img(x + dx, y + dy), border replicated; one of dx, dy is 0 (slices: cheaper than cv2's border copies)."""
    out = np.empty_like(img)
    if dx > 0:
        out[:, :-dx] = img[:, dx:]
        out[:, -dx:] = img[:, -1:]
    elif dx < 0:
        out[:, -dx:] = img[:, :dx]
        out[:, :-dx] = img[:, :1]
    elif dy > 0:
        out[:-dy] = img[dy:]
        out[-dy:] = img[-1:]
    elif dy < 0:
        out[-dy:] = img[:dy]
        out[:-dy] = img[:1]
    else:
        out[:] = img
    return out
