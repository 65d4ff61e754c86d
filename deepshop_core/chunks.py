"""One long clip as chunks rendered in parallel, stitched into the file a single run writes.

The clip is planned once (`plan.plan_clip`: timeline, scene cuts and duplicates found over the whole clip, the
render plan). A chunk is a contiguous slice ``[start, end)`` of the plan's output frames; it decodes the source
frames its steps read (plus the engine's ``context_frames`` on each side: the overlap between neighbouring chunks)
and writes its frames, raw, to an intermediate file. The stitcher reads the intermediates in order and encodes them
once, with the whole clip's audio retimed once. Since every output frame comes from the same step of the same plan
and the intermediates are the frames themselves, the result has the same frames, bit for bit, as
a single run (`render.render_clip`).

Raw frames, not a lossless video: encoding and decoding lossless H.264 costs about 45 ms of CPU per 720p frame, as
much as interpolating it, while raw frames cost a copy. The price is disk: width x height x 3 bytes per frame
rendered but not yet stitched (2.7 MB at 720p), in a hidden folder beside the output, removed at the end.

Chunks end only between two groups of steps (an engine sees each pair once for all its times, as in a single run),
preferably at a copied frame or a scene cut, where the cost of the neighbouring chunks is cut cleanly.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from .engines import EngineChoice
from .errors import MediaError
from .plan import ClipPlan
from .render import (
    EncodeBehind,
    Progress,
    SlowMotionResult,
    open_writer,
    render_slice,
    result_of,
)
from .steps import Blend, Step, same_pair

INTERMEDIATE_SUFFIX = ".frames"  # a sequence of .npy arrays, one per frame
COPY_COST = 0.1  # a copied frame's cost relative to an interpolated one (decode and encode only)
MIN_CHUNK_WORK = 32  # interpolated frames below which a chunk is not worth its intermediate file
MAX_CHUNK_WORK = 600  # interpolated frames above which a clip is split anyway, so long clips balance and retry cheaply


@dataclass(frozen=True)
class Chunk:
    """Output frames ``[start, end)`` of a clip's plan, written to the intermediate ``path``."""

    index: int
    start: int
    end: int
    path: Path

    @property
    def frames(self) -> int:
        return self.end - self.start


def cost(item: Step | Blend) -> float:
    """The rendering cost of one plan item in interpolated frames: a blend costs its samples."""
    if isinstance(item, Blend):
        return sum(cost(sample) for sample in item.samples)
    return COPY_COST if item.is_copy else 1.0


def work(steps: Sequence[Step | Blend]) -> float:
    """The rendering cost of ``steps`` in interpolated frames."""
    return sum(cost(s) for s in steps)


def chunk_count(steps: Sequence[Step | Blend], workers: int) -> int:
    """How many chunks to split a clip into for ``workers`` parallel workers: one per worker while each gets at
    least MIN_CHUNK_WORK, more when a chunk would exceed MAX_CHUNK_WORK."""
    cost = work(steps)
    return max(1, math.ceil(cost / MAX_CHUNK_WORK), min(max(1, workers), int(cost // MIN_CHUNK_WORK)))


def boundaries(steps: Sequence[Step | Blend]) -> list[int]:
    """Output indices where a chunk may start: between two groups of steps (a copy, a blend, or a new pair)."""
    return [i for i in range(1, len(steps)) if not same_pair(steps[i - 1], steps[i])]


def split(steps: Sequence[Step | Blend], pieces: int) -> list[tuple[int, int]]:
    """``[start, end)`` output ranges, at most ``pieces`` of them, of about equal cost, covering ``steps``.

    Each cut goes to the group boundary nearest to an equal share of the cost, a copied frame winning a tie (it
    starts its chunk with an exact source frame; scene cuts are held, so they are copies too)."""
    if not steps:
        return []
    allowed = boundaries(steps)
    if pieces <= 1 or not allowed:
        return [(0, len(steps))]
    cumulative, total = [], 0.0
    for s in steps:
        cumulative.append(total)  # cost before step i
        total += cost(s)
    cuts: list[int] = []
    for k in range(1, pieces):
        target = total * k / pieces
        best = min(allowed, key=lambda i: (abs(cumulative[i] - target), not steps[i].is_copy))
        if (not cuts or best > cuts[-1]) and 0 < best < len(steps):
            cuts.append(best)
    edges = [0, *cuts, len(steps)]
    return list(zip(edges, edges[1:]))


def plan_chunks(clip: ClipPlan, pieces: int, folder: Path) -> list[Chunk]:
    """The chunks of ``clip`` with their intermediate files in ``folder``."""
    return [Chunk(i, start, end, folder / f"chunk_{i:05d}{INTERMEDIATE_SUFFIX}")
            for i, (start, end) in enumerate(split(clip.steps, pieces))]


def chunk_folder(output: Path) -> Path:
    """A fresh hidden folder beside ``output`` for its intermediates (on the same disk, seen by every node that
    sees the output folder)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{output.name}.chunks-", dir=output.parent))


def remove_folder(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def render_chunk(clip: ClipPlan, chunk: Chunk, engine: EngineChoice | None = None,
                 progress: Progress | None = None) -> int:
    """Render ``chunk`` of ``clip`` into its intermediate with ``engine`` (default: the job's); return the number of
    frames written.

    The file is written under a temporary name and renamed when complete, so a retry after a killed worker starts
    afresh and a half-written intermediate never passes for a whole one."""
    temp = chunk.path.with_name(f".{chunk.path.name}.{os.getpid()}.part")
    written = 0
    try:
        with (engine or clip.job.engine).load() as live, open(temp, "wb") as file:
            frames, window = render_slice(clip, clip.steps[chunk.start:chunk.end], live, progress)
            try:
                for frame in frames:
                    np.save(file, frame, allow_pickle=False)
                    written += 1
            finally:
                window.close()
        os.replace(temp, chunk.path)
    finally:
        temp.unlink(missing_ok=True)
    return written


def read_chunk(path: Path) -> Iterator[np.ndarray]:
    """The frames of an intermediate, in order."""
    size = path.stat().st_size
    with open(path, "rb") as file:
        while file.tell() < size:
            yield np.load(file, allow_pickle=False)


def stitch(clip: ClipPlan, chunks: Sequence[Chunk], output: str | Path, *, overwrite: bool = False,
           wait: Callable[[Chunk], object] | None = None) -> SlowMotionResult:
    """Encode the chunks' frames, in order, into ``output`` with the whole clip's audio retimed once.

    ``wait(chunk)`` returns when the chunk's intermediate is complete (raising if it failed), so the stitch can
    start with the first chunk and encode while the later ones are still rendered."""
    started = time.perf_counter()
    with open_writer(clip, output, overwrite=overwrite) as writer, EncodeBehind(writer) as encoder:
        for chunk in sorted(chunks, key=lambda c: c.start):
            if wait is not None:
                wait(chunk)
            written = 0
            for frame in read_chunk(chunk.path):
                encoder.write(frame)
                written += 1
            if written != chunk.frames:
                raise MediaError(f"chunk {chunk.index} of {clip.input} ({chunk.path}) holds {written} frames, "
                                 f"not {chunk.frames}: its intermediate file is damaged; run the job again")
    return result_of(clip, writer, {"analyse": clip.analyse_seconds, "stitch": time.perf_counter() - started})


def render_in_chunks(clip: ClipPlan, output: str | Path, pieces: int, *, overwrite: bool = False) -> SlowMotionResult:
    """The chunked path in this process, one chunk after the other: what the cluster does in parallel."""
    output = Path(output)
    folder = chunk_folder(output)
    try:
        chunks = plan_chunks(clip, pieces, folder)
        for chunk in chunks:
            render_chunk(clip, chunk)
        return stitch(clip, chunks, output, overwrite=overwrite)
    finally:
        remove_folder(folder)
