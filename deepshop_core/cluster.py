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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from . import chunks as chunking
from .engines import EngineChoice
from .engines.devices import gpu_requested
from .errors import DeepshopWarning, InputError
from .job import Job
from .plan import ClipPlan, plan_clip
from .render import Progress, SlowMotionResult, render_clip

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


def gpu_options(engine: EngineChoice, cluster_gpus: float) -> dict:
    """Ray's options for a task rendering with ``engine``: one GPU when its device names one, or is ``auto`` on a
    cluster that has GPUs (an engine without a device runs on the CPU); none otherwise."""
    if engine.info.option("device") is None:
        return {}
    device = engine.get("device", "auto")
    return {"num_gpus": 1} if gpu_requested(device) or (device == "auto" and cluster_gpus > 0) else {}


def within_allotment(engine: EngineChoice, gpu_ids: list) -> EngineChoice:
    """``engine`` set to use what Ray gave its task and no more: its CPUs (OpenCV would start a thread per core in
    every worker, and a threaded engine its own pool beside it; on a full node either steals the cores of the other
    tasks) and, when Ray assigned it a GPU, that GPU: Ray makes it the task's only visible CUDA device, cuda:0."""
    import cv2

    cv2.setNumThreads(TASK_CPUS)
    if engine.info.threaded:
        engine = engine.replace(threads=TASK_CPUS)
    if gpu_ids and engine.info.option("device") is not None:
        engine = engine.replace(device="cuda:0")
    return engine


def allotted(engine: EngineChoice) -> EngineChoice:
    """`within_allotment` for the task this runs in."""
    import ray

    return within_allotment(engine, ray.get_gpu_ids())


def _noting_warnings(function, *args):
    """``(function(*args), the messages of the DeepshopWarnings it gave)``: a worker's warnings would go to its log
    only; the driver shows them (see `_drive`)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DeepshopWarning)
        value = function(*args)
    return value, tuple(str(w.message) for w in caught if issubclass(w.category, DeepshopWarning))


def _plan_task(job: Job, input: Path) -> tuple[ClipPlan, tuple[str, ...]]:
    return _noting_warnings(plan_clip, input, job)


def _whole_task(clip: ClipPlan, output: Path, overwrite: bool, counter, key: str):
    def render() -> SlowMotionResult:
        with allotted(clip.job.engine).load() as engine:
            return render_clip(clip, output, engine=engine, overwrite=overwrite, progress=_reporter(counter, key))
    return _noting_warnings(render)


def _chunk_task(clip: ClipPlan, chunk: chunking.Chunk, counter, key: str) -> int:
    return chunking.render_chunk(clip, chunk, allotted(clip.job.engine), _reporter(counter, key))


def _stitch_task(clip: ClipPlan, chunks: Sequence[chunking.Chunk], output: Path, overwrite: bool, rendered: list):
    """Started when the first chunk is done; waits for each next one (``rendered``: their ObjectRefs, in a list so
    Ray hands them over unresolved), encoding while the others render."""
    import ray

    return _noting_warnings(lambda: chunking.stitch(clip, chunks, output, overwrite=overwrite,
                                                    wait=lambda chunk: ray.get(rendered[chunk.index])))


# --- the driver ---------------------------------------------------------------------------------------------------

Todo = tuple[int, Path, Path, Job]  # (index in the batch, input, output, job)


@dataclass
class _Run:
    """One input on its way through the cluster (the driver's bookkeeping)."""

    n: int
    input: Path
    output: Path
    job: Job
    frames: int = 0  # output frames, known once planned
    folder: Path | None = None  # the chunks' intermediates
    plan: object = None  # the plan task's ObjectRef, when split
    chunks: list = field(default_factory=list)  # chunking.Chunk, when split
    rendered: list = field(default_factory=list)  # the chunk tasks' ObjectRefs
    refs: list = field(default_factory=list)  # every task submitted for it, for cancelling
    notes: list = field(default_factory=list)  # ObjectRefs of its tasks' warnings


def run(todo: Sequence[Todo], *, overwrite: bool = False, address: str = "", workers: int | None = None,
        chunks: int | None = None, progress: Progress | None = None) -> dict[int, SlowMotionResult | BaseException]:
    """Run ``(index, input, output, job)`` entries on Ray; return each one's result, or the error it failed with,
    by index. See `batch.run`."""
    if not todo:
        return {}
    owned = connect(address, workers)
    ray = import_ray()
    try:
        return _Driver(ray, overwrite, chunks, progress).drive([_Run(*entry) for entry in todo])
    finally:
        if owned:
            ray.shutdown()


class _Driver:
    """Submits each input's tasks as the previous ones finish: plan, then render whole or in chunks, then stitch."""

    def __init__(self, ray, overwrite: bool, pieces: int | None, progress: Progress | None):
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        self.ray, self.overwrite, self.pieces, self.progress = ray, overwrite, pieces, progress
        options = {"num_cpus": TASK_CPUS, "max_retries": RETRIES, "retry_exceptions": False}
        noting = {**options, "num_returns": 2}  # (value, warnings) as two objects: the value travels on alone
        self.plan_task = ray.remote(**noting)(_plan_task)
        self.whole_task = ray.remote(**noting)(_whole_task)
        self.chunk_task = ray.remote(**options)(_chunk_task)
        # No CPU of its own: it mostly waits for chunks, and its encoding fills the gaps between theirs. Started
        # only once a clip's first chunk is done, so a long batch does not hold a waiting process per clip.
        self.stitch_task = ray.remote(**{**noting, "num_cpus": 0})(_stitch_task)
        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
        self.counter = ray.remote(num_cpus=0)(_Progress).options(scheduling_strategy=here).remote()
        self.cpus = cluster_cpus()
        self.gpus = float(ray.cluster_resources().get("GPU", 0))
        self.results: dict[int, SlowMotionResult | BaseException] = {}
        self.waiting: dict = {}  # ObjectRef -> (kind, run)

    def drive(self, runs: list[_Run]) -> dict[int, SlowMotionResult | BaseException]:
        self.runs = runs
        for r in runs:
            self._submit(r, "plan", self.plan_task.remote(r.job, r.input))
        try:
            while self.waiting:
                ready, _ = self.ray.wait(list(self.waiting), num_returns=1, timeout=_POLL_SECONDS)
                self._report()
                for ref in ready:
                    if ref in self.waiting:
                        self._advance(ref, *self.waiting.pop(ref))
            self._report()
        except BaseException:  # Ctrl-C (or anything else): cancel every task, leave no intermediates
            for r in runs:
                if r.n not in self.results:
                    self._cancel(r)
            raise
        return self.results

    def _submit(self, r: _Run, kind: str, refs) -> None:
        """Wait for a task (its (value, warnings) refs when it notes warnings) as the next step of ``r``."""
        ref, notes = refs if isinstance(refs, list) else (refs, None)
        r.refs.append(ref)
        if notes is not None:
            r.notes.append(notes)
        self.waiting[ref] = (kind, r)

    def _advance(self, ref, kind: str, r: _Run) -> None:
        try:
            value = self.ray.get(ref)
        except Exception as error:  # noqa: BLE001 - the input failed; the others go on
            self._finish(r, getattr(error, "cause", None) or error)
            return
        if kind == "done":
            self._finish(r, value)
        elif kind == "first chunk":
            self._submit(r, "done", self.stitch_task.remote(r.plan, r.chunks, r.output, self.overwrite, r.rendered))
        else:
            self._render(r, ref, value)

    def _render(self, r: _Run, plan_ref, clip: ClipPlan) -> None:
        r.frames = len(clip.steps)
        gpu = gpu_options(clip.job.engine, self.gpus)  # a GPU engine's task asks for one
        # Split so every CPU (or GPU) has work: a lone clip into one chunk per worker, each of many files less.
        workers = int(self.gpus) if gpu else self.cpus
        count = self.pieces or chunking.chunk_count(clip.steps, max(1, workers // len(self.runs)))
        if count <= 1:
            whole = self.whole_task.options(**gpu).remote(plan_ref, r.output, self.overwrite, self.counter, f"{r.n}")
            self._submit(r, "done", whole)
            return
        r.plan, r.folder = plan_ref, chunking.chunk_folder(r.output)
        r.chunks = chunking.plan_chunks(clip, count, r.folder)
        chunk_task = self.chunk_task.options(**gpu)
        r.rendered = [chunk_task.remote(plan_ref, c, self.counter, f"{r.n}:{c.index}") for c in r.chunks]
        r.refs.extend(r.rendered)
        self.waiting[r.rendered[0]] = ("first chunk", r)

    def _finish(self, r: _Run, value: SlowMotionResult | BaseException) -> None:
        self.results[r.n] = value
        for ref in r.notes:
            ready, _ = self.ray.wait([ref], timeout=0)
            try:
                messages = self.ray.get(ready[0]) if ready else ()
            except Exception:  # noqa: BLE001 - the task failed: its error is the outcome's reason
                messages = ()
            for message in messages:
                warnings.warn(f"{r.input.name}: {message}", DeepshopWarning, stacklevel=2)
        for ref in r.refs:
            self.waiting.pop(ref, None)
        if isinstance(value, BaseException):
            self._cancel(r)
        elif r.folder is not None:
            chunking.remove_folder(r.folder)

    def _cancel(self, r: _Run) -> None:
        for ref in r.refs:
            self.ray.cancel(ref, force=True)
        if r.folder is not None:
            chunking.remove_folder(r.folder)

    def _report(self) -> None:
        if self.progress is not None:
            self.progress(self.ray.get(self.counter.total.remote()), sum(r.frames for r in self.runs))
