"""A batch on Ray: a local cluster using every core, or an existing cluster (``--ray ADDRESS`` / RAY_ADDRESS).

Ray (the ``cluster`` extra) is imported only here, and this module only when a batch asks for Ray. Per input,
three kinds of Ray task: plan the clip (timeline, scene cuts, render plan: once per clip), render it (whole, or as
chunks into intermediates of raw frames, `chunks.py`), and stitch the chunks into the output. Ray schedules them; a
worker process killed mid-task is retried (``max_retries``) and, since a task's result depends only on its
arguments and an intermediate is renamed into place only when whole, the output is the same. Tasks on a lost node are
retried on the others. An input whose tasks fail is reported; the others go on.

Inputs, the output folder and DAIN weights must be reachable at the same paths on every node (a shared file
system), and every node needs deepshop installed in the Python that runs Ray.
"""

from __future__ import annotations

import os
import socket
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

from . import chunks as chunking
from . import engines
from .batch import DONE, Item, Job, Outcome, failed
from .errors import DeepshopWarning, InputError
from .pipeline import ClipPlan, Progress

TASK_CPUS = 1  # CPUs Ray reserves for a task that renders; its engine and OpenCV use that many threads
RETRIES = 3  # attempts after a worker process or node dies mid-task (Ray's max_retries)
_POLL_SECONDS = 0.25  # how often the driver refreshes progress while waiting
_REPORT_SECONDS = 0.5  # how often a task sends its progress
_CONNECT_TIMEOUT_S = 5


def import_ray():
    """The ``ray`` module, or an InputError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise InputError("running on Ray needs the cluster extra: pip install 'deepshop[cluster]' "
                         "(or run without --ray/--workers for one file after the other)") from None
    return ray


def connect(address: str = "", workers: int | None = None) -> bool:
    """Join the cluster at ``address``, or start a local one with ``workers`` CPUs (default: all) when it is empty.
    Returns whether this call connected (and so should shut Ray down when done)."""
    if not address:
        # A local cluster serves this process only: keep it on the loopback interface. Ray would advertise and
        # listen on the machine's network address; this variable of Ray's (meant for one-machine clusters on
        # Windows and macOS) makes it use 127.0.0.1. It acts where Ray is imported after it is set.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    else:
        _check_reachable(address)
    ray = import_ray()
    if ray.is_initialized():  # this process is connected already (a library user, the tests): use that
        return False
    if address:
        ray.init(address=address, logging_level="ERROR", log_to_driver=False)
    else:
        ray.init(address="local", num_cpus=workers or os.cpu_count(), include_dashboard=False,
                 logging_level="ERROR", log_to_driver=False)
    return True


def _check_reachable(address: str) -> None:
    """An InputError at once when nothing answers at a ``host:port`` address (Ray itself would retry for minutes)."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or "://" in address:
        return  # "auto", a ray:// client address: Ray's to resolve
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=_CONNECT_TIMEOUT_S).close()
    except OSError as error:
        raise InputError(f"no Ray cluster answers at {address} ({error.strerror or error}): start one with "
                         "`ray start --head`, or check --ray / RAY_ADDRESS") from None


def cluster_cpus() -> int:
    return max(1, int(import_ray().cluster_resources().get("CPU", 1)))


# --- the tasks (module functions: Ray ships them by reference, so workers import deepshop) ------------------------


class _Progress:
    """A Ray actor holding each task's latest frame count; a retried task starts its count again."""

    def __init__(self) -> None:
        self._done: dict[str, int] = {}

    def set(self, key: str, done: int) -> None:
        self._done[key] = done

    def total(self) -> int:
        return sum(self._done.values())


def _reporter(counter, key: str) -> Progress:
    last = [0.0]

    def report(done: int, total: int) -> None:
        now = time.monotonic()
        if done == total or now - last[0] >= _REPORT_SECONDS:
            last[0] = now
            counter.set.remote(key, done)

    return report


def _within_allotment(job: Job) -> Job:
    """``job`` set to use the CPUs Ray gave its task and no more: OpenCV would start a thread per core in every
    worker, and a threaded engine (flow) would run its own pool beside it; on a full node either steals the cores
    of the other tasks."""
    import cv2

    cv2.setNumThreads(TASK_CPUS)
    if not engines.describe(job.engine).threaded:
        return job
    return replace(job, engine_options={**job.engine_options, "threads": TASK_CPUS})


def _noting_warnings(function, *args):
    """``(function(*args), the messages of the DeepshopWarnings it gave)``: a worker's warnings would go to its log
    only; the driver shows them (see `_drive`)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DeepshopWarning)
        value = function(*args)
    return value, tuple(str(w.message) for w in caught if issubclass(w.category, DeepshopWarning))


def _plan_task(job: Job, input: Path) -> tuple[ClipPlan, tuple[str, ...]]:
    return _noting_warnings(job.plan, input)


def _whole_task(clip: ClipPlan, item: Item, overwrite: bool, counter, key: str):
    job = _within_allotment(item.job)
    return _noting_warnings(lambda: job.render(clip, item.output, overwrite=overwrite,
                                               progress=_reporter(counter, key)))


def _chunk_task(clip: ClipPlan, chunk: chunking.Chunk, job: Job, counter, key: str) -> int:
    job = _within_allotment(job)
    return chunking.render_chunk(clip, chunk, job.engine, dict(job.engine_options), _reporter(counter, key))


def _stitch_task(clip: ClipPlan, chunks: Sequence[chunking.Chunk], item: Item, overwrite: bool, rendered: list):
    """Started when the first chunk is done; waits for each next one (``rendered``: their ObjectRefs, in a list so
    Ray hands them over unresolved), encoding while the others render."""
    import ray

    job = item.job
    return _noting_warnings(lambda: chunking.stitch(clip, chunks, item.output, audio=job.audio, format=job.format,
                                                    quality=job.quality, overwrite=overwrite,
                                                    wait=lambda chunk: ray.get(rendered[chunk.index])))


# --- the driver ---------------------------------------------------------------------------------------------------


@dataclass
class _Run:
    """One input on its way through the cluster (the driver's bookkeeping)."""

    n: int
    item: Item
    frames: int = 0  # output frames, known once planned
    folder: Path | None = None  # the chunks' intermediates
    plan: object = None  # the plan task's ObjectRef, when split
    chunks: list = field(default_factory=list)  # chunking.Chunk, when split
    rendered: list = field(default_factory=list)  # the chunk tasks' ObjectRefs
    refs: list = field(default_factory=list)  # every task submitted for it, for cancelling
    notes: list = field(default_factory=list)  # ObjectRefs of its tasks' warnings


def run(todo: Sequence[tuple[int, Item]], *, overwrite: bool = False, address: str = "", workers: int | None = None,
        chunks: int | None = None, progress: Progress | None = None) -> dict[int, Outcome]:
    """Run ``(index, item)`` pairs on Ray; return their outcomes by index. See `batch.run`."""
    if not todo:
        return {}
    owned = connect(address, workers)
    ray = import_ray()
    try:
        return _drive(ray, todo, overwrite, chunks, progress)
    finally:
        if owned:
            ray.shutdown()


def _drive(ray, todo, overwrite: bool, pieces: int | None, progress: Progress | None) -> dict[int, Outcome]:
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    options = {"num_cpus": TASK_CPUS, "max_retries": RETRIES, "retry_exceptions": False}
    noting = {**options, "num_returns": 2}  # (value, warnings) as two objects: the value travels on alone
    plan_task = ray.remote(**noting)(_plan_task)
    whole_task = ray.remote(**noting)(_whole_task)
    chunk_task = ray.remote(**options)(_chunk_task)
    # No CPU of its own: it mostly waits for chunks, and its encoding fills the gaps between theirs. Started only
    # once a clip's first chunk is done, so a long batch does not hold a waiting process per clip.
    stitch_task = ray.remote(**{**noting, "num_cpus": 0})(_stitch_task)
    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
    counter = ray.remote(num_cpus=0)(_Progress).options(scheduling_strategy=here).remote()
    cpus = cluster_cpus()

    outcomes: dict[int, Outcome] = {}
    waiting: dict = {}  # ObjectRef -> (kind, run)
    runs = [_Run(n, item) for n, item in todo]
    for r in runs:
        ref, notes = plan_task.remote(r.item.job, r.item.input)
        r.refs.append(ref)
        r.notes.append(notes)
        waiting[ref] = ("plan", r)

    def finish(r: _Run, outcome: Outcome) -> None:
        outcomes[r.n] = outcome
        for ref in r.notes:
            ready, _ = ray.wait([ref], timeout=0)
            try:
                messages = ray.get(ready[0]) if ready else ()
            except Exception:  # noqa: BLE001 - the task failed: its error is the outcome's reason
                messages = ()
            for message in messages:
                warnings.warn(f"{r.item.input.name}: {message}", DeepshopWarning, stacklevel=2)
        for ref in r.refs:
            waiting.pop(ref, None)
            if outcome.status != DONE:
                ray.cancel(ref, force=True)
        if r.folder is not None:
            chunking.remove_folder(r.folder)

    try:
        while waiting:
            ready, _ = ray.wait(list(waiting), num_returns=1, timeout=_POLL_SECONDS)
            if progress is not None:
                progress(ray.get(counter.total.remote()), sum(r.frames for r in runs))
            for ref in ready:
                if ref not in waiting:
                    continue
                kind, r = waiting.pop(ref)
                try:
                    value = ray.get(ref)
                except Exception as error:  # noqa: BLE001 - the input failed; the others go on
                    finish(r, failed(r.item, getattr(error, "cause", None) or error))
                    continue
                if kind == "done":
                    finish(r, Outcome(r.item, DONE, result=value))
                    continue
                if kind == "first chunk":
                    done, notes = stitch_task.remote(r.plan, r.chunks, r.item, overwrite, r.rendered)
                    r.refs.append(done)
                    r.notes.append(notes)
                    waiting[done] = ("done", r)
                    continue
                clip: ClipPlan = value
                r.frames = len(clip.steps)
                # Split so every CPU has work: a lone clip into one chunk per CPU, each of many files less.
                count = pieces or chunking.chunk_count(clip.steps, max(1, cpus // len(runs)))
                if count <= 1:
                    done, notes = whole_task.remote(ref, r.item, overwrite, counter, f"{r.n}")
                    r.refs.append(done)
                    r.notes.append(notes)
                    waiting[done] = ("done", r)
                    continue
                r.plan, r.folder = ref, chunking.chunk_folder(r.item.output)
                r.chunks = chunking.plan_chunks(clip, count, r.folder)
                r.rendered = [chunk_task.remote(ref, c, r.item.job, counter, f"{r.n}:{c.index}") for c in r.chunks]
                r.refs.extend(r.rendered)
                waiting[r.rendered[0]] = ("first chunk", r)
        if progress is not None:
            progress(ray.get(counter.total.remote()), sum(r.frames for r in runs))
    except BaseException:  # Ctrl-C (or anything else): cancel every task, leave no intermediates
        for r in runs:
            if r.n not in outcomes:
                for ref in r.refs:
                    ray.cancel(ref, force=True)
                if r.folder is not None:
                    chunking.remove_folder(r.folder)
        raise
    return outcomes
