"""The Python API's entry points: a file slowed into a file, frames in memory, and the original notebook's call.

    slow_motion("clip.mp4", "slow.mp4", ranges=["120:150"], factor=4)           # keywords: the options of a `Job`
    slow_motion("clip.mp4", "slow.mp4", job)                                      # or a job made elsewhere
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from .engines import Engine, EngineChoice
from .errors import InputError
from .files import check_output
from .job import Job
from .plan import plan_clip, plan_frames
from .render import Progress, SlowMotionResult, engine_for, render_clip, render_frames
from .timeline import Timeline


def slow_motion(input: str | Path, output: str | Path, job: Job | None = None, *, overwrite: bool = False,
                progress: Progress | None = None, **options) -> SlowMotionResult:
    """Slow ``ranges`` of the video ``input`` down by ``factor`` and write the result to ``output``.

    The output keeps the input's frame rate, so the ranges play ``factor`` times slower while the rest plays
    normally (``smooth=True`` instead raises the frame rate of the whole clip by ``factor``, same duration).
    ``options`` are a `Job`'s (ranges, factor, ramp, smooth, engine, audio, scene_cuts, dedupe, crop, format,
    quality); ``engine`` is a name ("flow"), an `EngineChoice` (``EngineChoice.of("flow", preset="best")``) or an
    engine the caller holds (left open). ``crop=(first, last)`` keeps only source frames first..last (ranges stay
    in the clip's frame numbers).
    """
    job, live = _job(job, options)
    check_output(input, output, overwrite)
    return render_clip(plan_clip(input, job), output, engine=live, overwrite=overwrite, progress=progress)


def _job(job: Job | None, options: dict) -> tuple[Job, Engine | None]:
    """The job of a call (a `Job`, or the keyword options of one) and the engine instance the caller gave, if any:
    ``engine`` may be a name, an `EngineChoice` or an engine the caller holds (used as it is, left open)."""
    engine = options.pop("engine", None)
    live = engine if isinstance(engine, Engine) else None
    if job is None:
        return Job.of(**options, **({} if engine is None or live is not None else {"engine": engine})), live
    if options or (engine is not None and live is None):
        raise InputError("give either a Job or its options as keywords, not both")
    return job, live


def interpolate_frames(frames: Sequence[np.ndarray], timeline: Timeline, engine: Engine | EngineChoice | str = "flow",
                       *, scene_cuts: bool = True, dedupe: bool = True,
                       progress: Progress | None = None) -> Iterator[np.ndarray]:
    """Render ``timeline`` from frames in memory (``len(frames) == timeline.source_count``); an engine given by
    name or choice is loaded and closed here, an instance is the caller's."""
    plan = plan_frames(frames, timeline, scene_cuts=scene_cuts, dedupe=dedupe)
    given = engine if isinstance(engine, Engine) else None
    choice = EngineChoice.of(engine) if isinstance(engine, str) else engine if given is None else None
    with engine_for(choice, given) as live:
        yield from render_frames(frames, plan, live, progress)


class SlowMotion:
    """The original notebook's call, kept for people who know it::

        SlowMotion().run("clip.mp4", slow_rate=0.25, frame_range=[], slow_range=[120, 150])

    ``slow_rate`` is 1 / factor; ``frame_range`` ``[first, last]`` crops the output to those source frames (empty:
    the whole clip); ``slow_range`` ``[start, end]`` is the range to slow down.
    """

    def __init__(self, engine: str = "flow", output_dir: str | Path | None = None, **options):
        self.engine = engine
        self.output_dir = Path(output_dir) if output_dir is not None else None
        self.options = options

    def run(self, path: str | Path, slow_rate: float = 0.25, frame_range: Sequence[int] = (),
            slow_range: Sequence[int] = (), output: str | Path | None = None) -> Path:
        if not 0 < slow_rate <= 1:
            raise InputError(f"slow_rate must be in (0, 1] (1/4 plays four times slower), got {slow_rate}")
        if len(slow_range) != 2:
            raise InputError(f"slow_range must be [start, end], got {list(slow_range)}")
        if frame_range and len(frame_range) != 2:
            raise InputError(f"frame_range must be [first, last] or empty, got {list(frame_range)}")
        path = Path(path)
        if output is None:
            folder = self.output_dir or path.parent
            output = folder / f"{path.stem}_slowmo{path.suffix or '.mp4'}"
        result = slow_motion(path, output, ranges=[tuple(slow_range)], factor=1 / slow_rate,
                             crop=tuple(frame_range) or None, engine=self.engine, **self.options)
        return result.output
