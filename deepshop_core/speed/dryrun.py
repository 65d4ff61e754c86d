"""A dry run of a speed curve: where each keyframe and freeze lands in the output, and how long the output is.

What the command line's ``--dry-run`` prints before anything is decoded, and what a node can show; the times are
the realised curve's (after the whole-frame rounding), so they are the ones the render will have.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .curve import SpeedCurve
from .realise import RealisedCurve, realise


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
    """The landings, in output order, and the lengths (``output_rate``: the output's, when not the source's)."""

    landings: tuple[Landing, ...]
    source_frames: int
    output_frames: int
    frame_rate: Fraction
    output_rate: Fraction | None = None

    @property
    def source_seconds(self) -> float:
        return self.source_frames / float(self.frame_rate)

    @property
    def output_seconds(self) -> float:
        return self.output_frames / float(self.output_rate or self.frame_rate)

    def lines(self) -> list[str]:
        """The report as text lines, one per keyframe or freeze and one for the lengths."""
        lines = [f"{l.what:<28} source {l.source_seconds:8.3f}s (frame {l.source_frame:9.2f})  ->  output "
                 f"{l.output_seconds:8.3f}s (frame {l.output_frame:9.2f})" for l in self.landings]
        lines.append(f"output: {self.output_frames} frames, {self.output_seconds:.3f}s "
                     f"(source: {self.source_frames} frames, {self.source_seconds:.3f}s)")
        return lines


def keyframe_marks(curve: SpeedCurve) -> list[tuple[str, float]]:
    """(what, source frame) of every keyframe of ``curve``, to be placed by `landings`."""
    return [(f"keyframe {index} ({key.speed:.4g}x, {key.ease})", key.position)
            for index, key in enumerate(curve.keyframes, 1)]


def landings(realised: RealisedCurve | None, marks: list[tuple[str, float]], frame_rate, source_frames: int,
             output_frames: int, first: int = 0, output_rate=None) -> DryRun:
    """Where ``marks`` (what, source frame) and every freeze of ``realised`` land; None: no retime (smooth mode).
    ``first``: the clip's frame that is frame 0 here (a crop), so the report names the clip's frames."""
    rate = Fraction(frame_rate)
    fps = float(rate)
    found = []
    if realised is not None:
        times = realised.output_time(np.array([x for _, x in marks], dtype=np.float64))
        found += [Landing(what, x + first, (x + first) / fps, float(t), float(t) / fps)
                  for (what, x), t in zip(marks, times)]
        frozen = [(stretch.start, frame, frames) for stretch in realised.stretches for frame, frames in stretch.freezes]
        for (_, frame, frames), (start, _) in zip(frozen, realised.freeze_spans()):
            found.append(Landing(f"freeze ({frames} frames)", float(frame + first), (frame + first) / fps,
                                 start, start / fps))
    found.sort(key=lambda l: (l.output_frame, l.source_frame))
    output_rate = None if output_rate is None else Fraction(output_rate)
    return DryRun(tuple(found), source_frames, output_frames, rate, output_rate)


def dry_run(curve: SpeedCurve, frame_rate) -> DryRun:
    """Where ``curve``'s keyframes and freezes land at ``frame_rate`` (the source's, which the output keeps)."""
    realised = realise(curve)
    return landings(realised, keyframe_marks(curve), frame_rate, curve.frame_count, realised.output_count)
