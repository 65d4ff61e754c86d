"""Planning: what every output frame of a job shows, decided before a frame is rendered.

A clip's plan is its timeline (`timeline.py`: which source position each output frame shows), the scene cuts and
duplicate frames found where the timeline interpolates (`scenes.py`, on small signatures of those frames only), and
the render steps (`timeline.plan`: copy a frame, or interpolate a pair at t) that never morph two shots together or
stutter on a held frame. `plan_render` is the one analyse -> plan step, for a file (`plan_clip`) and for frames in
memory (the nodes); a `ClipPlan` is computed once per clip, so any slice of its steps renders exactly the frames a
single run would (chunked and Ray runs rely on it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from . import scenes
from .clock import parse_range
from .errors import InputError
from .job import Crop, Job
from .media.decode import read_frames
from .media.probe import VideoInfo, probe, warn_about
from .speed.dryrun import DryRun, keyframe_marks, landings
from .speed.shutter import Shutter
from .steps import Blend, Step, plan
from .timeline import Segment, Timeline, curve_timeline, slow_timeline, smooth_timeline

# Frames decoded around each interpolated span so the adaptive cut detector sees some context.
_ANALYSIS_MARGIN = 8

SignatureReader = Callable[[int, int], Iterable[np.ndarray]]  # (start, end) -> signatures of frames [start, end)


def build_timeline(frame_count: int, frame_rate: Fraction, job: Job, *, first: int = 0,
                   clip_count: int | None = None) -> Timeline:
    """The timeline of ``job`` on ``frame_count`` frames: its speed curve, its ranges slowed by its factor, or the
    whole clip at factor x the rate (smooth). The ranges and the curve count from the first of these frames; given
    ``clip_count``, these frames are the part from ``first`` on of a ``clip_count``-frame clip, and they count from
    the clip's start (the command line's ``--crop``)."""
    if job.smooth:
        return smooth_timeline(frame_count, job.factor)
    request = job.speed_request
    if request is not None:
        return curve_timeline(request.curve(frame_rate, frame_count, first, clip_count))
    segments = []
    for item in job.ranges:
        if isinstance(item, Segment):
            start, end, factor, ramp = item.start, item.end, item.factor, item.ramp
        else:
            start, end = parse_range(item, frame_rate, clip_count or frame_count) if isinstance(item, str) else item
            factor, ramp = job.factor, job.ramp
        if start < first:
            raise InputError(f"range {start}:{end} starts before the crop's first frame {first}: choose a range "
                             "inside the crop")
        segments.append(Segment(int(start) - first, int(end) - first, factor, ramp))
    if not segments:
        raise InputError("nothing to slow down: give at least one range (e.g. 120:150) or a speed curve (e.g. "
                         "0s:1,1s:0.25,2s:1), or use smooth mode")
    return slow_timeline(frame_count, segments)


def analyse(signature_of: SignatureReader, spans: Sequence[tuple[int, int]], frame_count: int,
            reach: int = 0) -> tuple[list[int], list[int]]:
    """Scene cuts and duplicate frames within ``spans`` (plus a little context), as absolute frame indices; with
    ``reach``, also those up to ``reach`` frames around each span (what an engine reading neighbours sees)."""
    cuts: set[int] = set()
    duplicates: set[int] = set()
    for start, end in spans:
        lo, hi = max(0, start - _ANALYSIS_MARGIN), min(frame_count, end + 1 + _ANALYSIS_MARGIN)
        signatures = list(signature_of(lo, hi))
        cuts.update(lo + k for k in scenes.find_cuts(signatures) if start - reach < lo + k <= end + reach)
        duplicates.update(lo + k for k in scenes.find_duplicates(signatures) if start - reach < lo + k <= end + reach)
    return sorted(cuts), sorted(duplicates)


def _within(frames: Iterable[int], spans: Sequence[tuple[int, int]]) -> list[int]:
    """The frames k with start < k <= end for some span (what `analyse` reports without ``reach``)."""
    return [k for k in frames if any(start < k <= end for start, end in spans)]


@dataclass(frozen=True)
class Neighbours:
    """The source frames an engine that reads neighbours (``info.context_frames`` > 0) sees around a pair: the one
    before its left frame and the one after its right frame, when the pair is consecutive and they are evenly
    spaced pictures of the same shot inside the same slowed range. ``spans``: the slowed ranges; ``breaks``: the
    cuts and held frames found in them and one frame around them.

    Never past a range's ends: a range rendered from its own frames alone (ComfyUI's Select Range -> Interpolate)
    must give the frames it gets rendered from the whole clip (the one node, the command line)."""

    count: int
    spans: tuple[tuple[int, int], ...]
    breaks: frozenset[int]

    def around(self, left: int, right: int) -> tuple[int | None, int | None]:
        """(frame before ``left``, frame after ``right``), each None where there is none to give: the pair is not
        consecutive (it bridges held frames), the clip ends, or a cut or held frame lies in between (or might: a
        frame outside the analysed spans)."""
        if right != left + 1:
            return None, None
        before, after = left - 1, right + 1
        return (before if before >= 0 and self._clear(before, left) else None,
                after if after < self.count and self._clear(right, after) else None)

    def _clear(self, a: int, b: int) -> bool:
        """Frames a, a+1 = b: both in one slowed range, neither a cut nor a held frame (a held frame's picture is
        older than its place in time)."""
        return any(start <= a and b <= end for start, end in self.spans) and a not in self.breaks \
            and b not in self.breaks


@dataclass(frozen=True)
class RenderPlan:
    """How to render a timeline: its steps, the cuts held and duplicates bridged (what the steps act on, in the
    timeline's frames), and the neighbours an engine may read (None when nothing was analysed)."""

    steps: tuple[Step | Blend, ...]
    cuts: tuple[int, ...]
    duplicates: tuple[int, ...]
    neighbours: Neighbours | None


def plan_render(timeline: Timeline, signature_of: SignatureReader, *, scene_cuts: bool = True,
                dedupe: bool = True, shutter: Shutter | None = None) -> RenderPlan:
    """Analyse where ``timeline`` interpolates or blends (cuts, duplicates, and one frame around for the neighbours)
    and plan its steps, the frames faster than 1x exposed by ``shutter`` (`steps.plan`). Without either analysis
    nothing says where a neighbour lies across a cut: none are given then."""
    if not (scene_cuts or dedupe):
        return RenderPlan(tuple(plan(timeline, shutter=shutter)), (), (), None)
    spans = timeline.retimed_ranges
    found_cuts, found_duplicates = analyse(signature_of, spans, timeline.source_count, reach=1)
    # Only what the plan acts on is kept: a cut found but not held (or next to a range) is not reported as held.
    cuts = tuple(_within(found_cuts, spans)) if scene_cuts else ()
    duplicates = tuple(_within(found_duplicates, spans)) if dedupe else ()
    neighbours = Neighbours(timeline.source_count, tuple(spans), frozenset(found_cuts) | frozenset(found_duplicates))
    return RenderPlan(tuple(plan(timeline, cuts, duplicates, shutter)), cuts, duplicates, neighbours)


def plan_frames(frames: Sequence[np.ndarray], timeline: Timeline, *, scene_cuts: bool = True,
                dedupe: bool = True, shutter: Shutter | None = None) -> RenderPlan:
    """`plan_render` for frames in memory (``len(frames) == timeline.source_count``)."""
    if len(frames) != timeline.source_count:
        raise InputError(f"the timeline is for {timeline.source_count} frames but {len(frames)} were given")
    return plan_render(timeline, lambda lo, hi: (scenes.signature(frames[i]) for i in range(lo, hi)),
                       scene_cuts=scene_cuts, dedupe=dedupe, shutter=shutter)


@dataclass(frozen=True)
class ClipPlan:
    """Everything decided about one clip before a frame is rendered: the job, what the probe found, the kept part
    (``first``: the first source frame used), the timeline and its render plan, and how long the analysis took."""

    input: Path
    info: VideoInfo
    job: Job
    first: int
    timeline: Timeline
    render: RenderPlan
    analyse_seconds: float = 0.0

    @property
    def steps(self) -> tuple[Step | Blend, ...]:
        return self.render.steps

    @property
    def frame_rate(self) -> Fraction:
        """The output's frame rate."""
        return self.info.frame_rate * self.timeline.rate_multiplier

    @property
    def cuts(self) -> tuple[int, ...]:
        """The cuts held, in the input clip's frame numbers (like the ranges, also with a crop)."""
        return tuple(self.first + k for k in self.render.cuts)

    @property
    def duplicates(self) -> tuple[int, ...]:
        """The repeated frames interpolated across, in the input clip's frame numbers."""
        return tuple(self.first + k for k in self.render.duplicates)


def plan_clip(input: str | Path, job: Job) -> ClipPlan:
    """Probe ``input``, build ``job``'s timeline on the part its crop keeps, and plan the render."""
    input = Path(input)
    info = probe(input)
    warn_about(info)
    first, count, whole = kept(job, info)
    timeline = build_timeline(count, info.frame_rate, job, **whole)

    def signatures(lo: int, hi: int):
        return (scenes.signature(f) for f in read_frames(info, first + lo, first + hi))

    started = time.perf_counter()
    render = plan_render(timeline, signatures, scene_cuts=job.scene_cuts, dedupe=job.dedupe, shutter=job.shutter_of)
    return ClipPlan(input, info, job, first, timeline, render, time.perf_counter() - started)


def kept(job: Job, info: VideoInfo) -> tuple[int, int, dict]:
    """(first frame, frame count) of the part of the clip ``job`` keeps, and `build_timeline`'s arguments saying
    where its ranges and curve count from: the crop's start for a trimmed VIDEO, the clip's for ``--crop``."""
    first, count = (job.crop or Crop()).frames(info.frame_rate, info.frame_count)
    absolute = job.crop is not None and not job.crop.relative and (first, count) != (0, info.frame_count)
    return first, count, {"first": first, "clip_count": info.frame_count} if absolute else {}


def dry_run(input: str | Path, job: Job) -> DryRun:
    """Where ``job``'s keyframes, freezes or ranges land in the output of ``input``, and its length: read from the
    clip's header, nothing decoded or written (the command line's ``--dry-run``). Source frames are the clip's."""
    info = probe(input)
    first, count, whole = kept(job, info)
    timeline = build_timeline(count, info.frame_rate, job, **whole)
    request = job.speed_request
    if request is not None:
        marks = keyframe_marks(request.curve(info.frame_rate, count, **whole))
    else:
        marks = [mark for s in timeline.segments for mark in
                 ((f"range {s.start + first}:{s.end + first} ({s.factor:g}x) starts", float(s.start)),
                  (f"range {s.start + first}:{s.end + first} ends", float(s.end)))]
    return landings(timeline.curve, marks, info.frame_rate, count, len(timeline), first,
                    info.frame_rate * timeline.rate_multiplier)
