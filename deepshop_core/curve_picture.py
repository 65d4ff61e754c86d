"""A speed curve as a picture: its speed over source time, and source time against output time.

What the Speed Curve node shows and returns as an IMAGE, and what the README's picture is made of; drawn with
OpenCV (a dependency already), so the core needs no plotting library and the picture is testable without ComfyUI.

* Top: the playback speed (realised: after the whole-frame rounding) over source seconds, on a log scale so that
  4x slower and 4x faster are as far from 1x; slower parts shaded blue, faster parts orange, keyframes as dots,
  freezes as bars with their length.
* Bottom: the source second shown at each output second (the time map the picture, the sound and the subtitles
  follow), with 1x as a dashed diagonal: flatter is slower, steeper is faster, flat is a freeze.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import cv2
import numpy as np

from .speed.curve import SpeedCurve
from .speed.realise import RealisedCurve, realise

BACKGROUND = (30, 30, 34)
GRID = (70, 70, 78)
TEXT = (225, 225, 230)
CURVE = (250, 250, 250)
ONE_X = (150, 150, 160)
SLOWER = (70, 130, 230)
FASTER = (240, 150, 50)
KEYFRAME = (250, 210, 60)
FREEZE = (200, 90, 200)
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_TICKS = (0.001, 0.01, 0.1, 0.25, 0.5, 1, 2, 3, 4, 5, 10, 25, 50, 100)


@dataclass(frozen=True)
class _Panel:
    """A plot area: pixel box ``x0..x1`` by ``y0..y1`` (y grows downwards) for data ``u0..u1`` by ``v0..v1``."""

    x0: int
    y0: int
    x1: int
    y1: int
    u0: float
    u1: float
    v0: float
    v1: float

    def point(self, u, v) -> np.ndarray:
        """Pixel coordinates (x, y) of data points (u, v), as int32 pairs for OpenCV."""
        u, v = np.broadcast_arrays(np.asarray(u, np.float64), np.asarray(v, np.float64))
        x = self.x0 + (u - self.u0) / max(self.u1 - self.u0, 1e-12) * (self.x1 - self.x0)
        y = self.y1 - (v - self.v0) / max(self.v1 - self.v0, 1e-12) * (self.y1 - self.y0)
        return np.stack([np.round(x), np.round(y)], axis=-1).astype(np.int32)


def draw_curve(curve: SpeedCurve, frame_rate, width: int = 800, height: int = 560, title: str = "") -> np.ndarray:
    """The picture of ``curve`` on a clip at ``frame_rate`` (see the module doc), HxWx3 uint8 RGB."""
    fps = float(Fraction(frame_rate))
    realised = realise(curve)
    image = np.full((height, width, 3), BACKGROUND, np.uint8)
    scale = width / 800
    line = max(1, round(1.4 * scale))
    lengths = f"{curve.frame_count / fps:.2f} s -> {realised.output_count / fps:.2f} s"
    heading = f"{title}   ({lengths})" if title else lengths
    _text(image, heading, (round(12 * scale), round(24 * scale)), 0.6 * scale, line)
    left, right = round(70 * scale), width - round(20 * scale)
    middle = round(36 * scale) + (height - round(36 * scale)) // 2
    _speed_panel(image, curve, realised, fps, (left, round(44 * scale), right, middle - round(34 * scale)), scale)
    _map_panel(image, curve, realised, fps, (left, middle + round(10 * scale), right, height - round(42 * scale)),
               scale)
    return image


def _speed_panel(image, curve: SpeedCurve, realised: RealisedCurve, fps: float, box, scale: float) -> None:
    x = np.linspace(0.0, curve.frame_count - 1, 1200)
    speeds = 1.0 / realised.slowdown_at(x)
    low, high = min(float(speeds.min()), 1.0), max(float(speeds.max()), 1.0)
    panel = _Panel(*box, 0.0, (curve.frame_count - 1) / fps, math.log2(low) - 0.4, math.log2(high) + 0.4)
    gap = (panel.v1 - panel.v0) / 10  # labels at least a tenth of the height apart, 1x always
    ticks = [1]
    for tick in (t for t in _TICKS if panel.v0 <= math.log2(t) <= panel.v1):
        if all(abs(math.log2(tick) - math.log2(t)) >= gap for t in ticks):
            ticks.append(tick)
    _grid(image, panel, _seconds_ticks(panel.u1), [(math.log2(t), f"{t:g}x") for t in ticks], scale)
    cv2.line(image, *panel.point([panel.u0, panel.u1], [0, 0]), ONE_X, max(1, round(scale)), cv2.LINE_AA)
    points = panel.point(x / fps, np.log2(speeds))
    base = panel.point(0, 0)[1]
    for (xa, ya), (xb, yb) in zip(points[:-1], points[1:]):
        colour = SLOWER if ya + yb > 2 * base else FASTER
        if ya != base or yb != base:
            cv2.fillConvexPoly(image, np.array([[xa, base], [xa, ya], [xb, yb], [xb, base]], np.int32), colour,
                               cv2.LINE_AA)
    cv2.polylines(image, [points], False, CURVE, max(1, round(2 * scale)), cv2.LINE_AA)
    for key in curve.keyframes:
        speed = 1.0 / float(realised.slowdown_at(np.array([key.position]))[0])
        cv2.circle(image, tuple(panel.point(key.position / fps, math.log2(speed))), max(2, round(4 * scale)),
                   KEYFRAME, -1, cv2.LINE_AA)
    for freeze in curve.freezes:
        bottom, top = panel.point(freeze.position / fps, [panel.v0, panel.v1])
        cv2.line(image, tuple(bottom), tuple(top), FREEZE, max(1, round(2 * scale)), cv2.LINE_AA)
        _text(image, f"freeze {freeze.frames / fps:.2g}s", (top[0] + 4, top[1] + round(14 * scale)), 0.4 * scale, 1,
              FREEZE)
    _labels(image, panel, "source time (s)", "speed", scale)


def _map_panel(image, curve: SpeedCurve, realised: RealisedCurve, fps: float, box, scale: float) -> None:
    positions = realised.positions()
    out_end = (len(positions) - 1) / fps
    panel = _Panel(*box, 0.0, max(out_end, 1 / fps), 0.0, max((curve.frame_count - 1) / fps, 1 / fps))
    _grid(image, panel, _seconds_ticks(panel.u1), _seconds_ticks(panel.v1), scale)
    diagonal = min(panel.u1, panel.v1)
    _dashed(image, panel.point(0, 0), panel.point(diagonal, diagonal), ONE_X, max(1, round(scale)))
    _text(image, "1x", tuple(panel.point(0.6 * diagonal, 0.6 * diagonal) + [round(10 * scale), round(6 * scale)]),
          0.45 * scale, 1, ONE_X)
    points = panel.point(np.arange(len(positions)) / fps, positions / fps)
    cv2.polylines(image, [points], False, CURVE, max(1, round(2 * scale)), cv2.LINE_AA)
    times = realised.output_time(np.array([k.position for k in curve.keyframes]))
    for key, t in zip(curve.keyframes, times):
        cv2.circle(image, tuple(panel.point(t / fps, key.position / fps)), max(2, round(4 * scale)), KEYFRAME, -1,
                   cv2.LINE_AA)
    _labels(image, panel, "output time (s)", "source (s)", scale)


def _seconds_ticks(end: float) -> list[tuple[float, str]]:
    """Round second marks from 0 to ``end``, about six of them."""
    step = next((s for s in (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600) if end / s <= 8), 1200)
    return [(k * step, f"{k * step:g}") for k in range(int(end / step + 1e-9) + 1)]


def _grid(image, panel: _Panel, u_ticks, v_ticks, scale: float) -> None:
    cv2.rectangle(image, (panel.x0, panel.y0), (panel.x1, panel.y1), GRID, 1)
    for u, label in u_ticks:
        x = int(panel.point(u, panel.v0)[0])
        cv2.line(image, (x, panel.y0), (x, panel.y1), GRID, 1)
        _text(image, label, (x - round(8 * scale), panel.y1 + round(16 * scale)), 0.4 * scale, 1)
    for v, label in v_ticks:
        y = int(panel.point(panel.u0, v)[1])
        cv2.line(image, (panel.x0, y), (panel.x1, y), GRID, 1)
        _text(image, label, (panel.x0 - round(52 * scale), y + round(5 * scale)), 0.4 * scale, 1)


def _labels(image, panel: _Panel, across: str, up: str, scale: float) -> None:
    _text(image, across, (panel.x1 - round(118 * scale), panel.y1 + round(32 * scale)), 0.45 * scale, 1)
    _text(image, up, (panel.x0 + round(6 * scale), panel.y0 + round(16 * scale)), 0.45 * scale, 1)


def _dashed(image, start: np.ndarray, end: np.ndarray, colour, thickness: int, dash: int = 8) -> None:
    length = float(np.hypot(*(end - start)))
    for k in range(0, int(length), 2 * dash):
        a = start + (end - start) * (k / length)
        b = start + (end - start) * (min(k + dash, length) / length)
        cv2.line(image, tuple(int(v) for v in a), tuple(int(v) for v in b), colour, thickness, cv2.LINE_AA)


def _text(image, text: str, origin, size: float, thickness: int, colour=TEXT) -> None:
    cv2.putText(image, text, (int(origin[0]), int(origin[1])), _FONT, size, colour, thickness, cv2.LINE_AA)
