"""A dry run of a speed curve: where each keyframe and freeze lands in the output, and how long the output is.

What the command line's ``--dry-run`` prints before anything is decoded, and what a node can show; the times are
the realised curve's (after the whole-frame rounding), so they are the ones the render will have.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .curve import SpeedCurve
from .realise import realise


@dataclass(frozen=True)
class Landing:
    """Where one keyframe (or freeze) of the curve lands: source frame and time -> output frame and time."""

    what: str
    source_frame: float
    source_seconds: float
    output_frame: float
    output_seconds: float


@dataclass(frozen=True)
class DryRun:
    landings: tuple[Landing, ...]
    source_frames: int
    output_frames: int
    frame_rate: Fraction

    @property
    def source_seconds(self) -> float:
        return self.source_frames / float(self.frame_rate)

    @property
    def output_seconds(self) -> float:
        return self.output_frames / float(self.frame_rate)

    def lines(self) -> list[str]:
        """The report as text lines, one per keyframe or freeze and one for the lengths."""
        lines = [f"{l.what:<28} source {l.source_seconds:8.3f}s (frame {l.source_frame:9.2f})  ->  output "
                 f"{l.output_seconds:8.3f}s (frame {l.output_frame:9.2f})" for l in self.landings]
        lines.append(f"output: {self.output_frames} frames, {self.output_seconds:.3f}s "
                     f"(source: {self.source_frames} frames, {self.source_seconds:.3f}s)")
        return lines


def dry_run(curve: SpeedCurve, frame_rate) -> DryRun:
    """Where ``curve``'s keyframes and freezes land at ``frame_rate`` (the source's, which the output keeps)."""
    rate = Fraction(frame_rate)
    fps = float(rate)
    realised = realise(curve)
    landings = []
    keyframe_times = realised.output_time(np.array([k.position for k in curve.keyframes], dtype=np.float64))
    for index, (key, out) in enumerate(zip(curve.keyframes, keyframe_times), 1):
        landings.append(Landing(f"keyframe {index} ({key.speed:.4g}x, {key.ease})", key.position,
                                key.position / fps, float(out), float(out) / fps))
    starts = iter(realised.freeze_spans())
    freezes = sorted(curve.freezes, key=lambda f: f.position)
    for freeze, (start, frames) in zip(freezes, starts):
        landings.append(Landing(f"freeze ({frames} frames)", float(freeze.position), freeze.position / fps,
                                start, start / fps))
    landings.sort(key=lambda l: (l.output_frame, l.source_frame))
    return DryRun(tuple(landings), curve.frame_count, realised.output_count, rate)
