"""The ``dain`` engine: PaddleGAN's published DAIN weights, run with PaddlePaddle in a worker process.

::

    engine = engines.load("dain", weights=None, device="auto")   # finds / downloads DAIN_weight.tar
    mids = engine.interpolate(frame0, frame1, [0.25, 0.5, 0.75])
    engine.close()

**Process isolation.** Paddle is never imported into the caller's process (ComfyUI's torch and Paddle never share
a process or a CUDA context). One worker per process, started on first use as a fresh interpreter
(``subprocess`` + an authenticated ``multiprocessing.connection``: like the 'spawn' start method, it inherits no
torch/CUDA state, and unlike it, it does not re-run the host program's ``__main__``, e.g. ComfyUI's ``main.py``).
It keeps each loaded program (as a ``paddle.inference`` predictor) for its whole life, so engines and jobs reuse
them. Frames travel through one ``multiprocessing.shared_memory`` block (inputs and outputs in place, no pickling
of pixels). On CPU the program's convolutions run on oneDNN and activation buffers are reused. A worker
crash (out-of-memory kill, segfault) becomes an :class:`EngineError` naming the exit status and the worker's log;
Paddle's own out-of-memory errors say to lower the resolution or use the CPU. Cancelling (``should_cancel()``
returning true, :meth:`DainEngine.cancel` from another thread, or Ctrl-C) kills the worker at once and raises
:class:`Cancelled`; the next call starts a fresh one. ``close()`` releases an engine's use of the worker; the worker
itself stays up for the next job and is shut down at exit (``atexit``) or by :func:`shutdown_worker`.

**Devices.** ``device="auto"`` takes the first CUDA device when the installed Paddle has CUDA (paddlepaddle-gpu),
else the CPU; ``"gpu:N"`` insists. On CPU every ``correlation`` op (no CPU kernel in Paddle) is rewritten into
standard operators (:mod:`.correlation`). Pairs are run one at a time: PaddleGAN's program takes one pair per run
(feed ``[2, 1, 3, H, W]``), so batching pairs would need a re-export.

**Padding.** As PaddleGAN does it: each of H and W is edge-padded up to the next multiple of 128, split evenly, or
by 32 on each side if already a multiple of 128; the outputs are cropped back.

**Time mapping.** The program produces N frames (N read from its fetch target's shape, fixed at export) at
t_k = k/(N+1). For requested times:

1. times within ``time_tolerance`` (1e-6) of some t_k come from one run on the pair;
2. other times (2.5x slow motion, a factor F that does not divide N+1) are produced *exactly* when the program has
   PaddleGAN's time constants: DAIN_slowmotion scales the flow as ``20 * flow * t`` (a ``scale`` op by 20 feeding a
   ``scale`` op by t) for t_1..t_N (forward flow) then t_N..t_1 (backward flow). When exactly that signature is
   found, those 2N constants become inputs of the program (each op's ``ScaleTensor``), fed (s_k, 1 - s_k) for the
   wanted times s_k: any N times per run, the same arithmetic as the exported constants (bit-identical at the grid).
   ``engine.retimable`` says whether this applies;
3. otherwise (a program without that signature), recursive refinement: the model is re-run on the two nearest
   known frames around t (the grid frames first), which yields N more times between them, until a frame lies
   within ``refine_tolerance`` (1e-3 of the pair interval) of t. That frame is returned; its true time is reported
   in ``engine.last_times``. For N = 1 a time costs at most 10 runs.

Never does a frame stand for a time it was not computed for (unlike ppgan's ``zip``).
"""

from __future__ import annotations

import os
import time
from typing import Callable, Sequence

import numpy as np

from ...errors import EngineError, InputError
from ..base import Engine, EngineInfo, EngineStats, Option, check_pair, yes_no
from ..devices import DEVICES, gpu_index, parse_device
from .process import worker
from .timemap import grid_times


def paddle_device(device: str) -> str:
    """A device (`engines.devices`) as Paddle spells it: auto, cpu or gpu:N."""
    index = gpu_index(device)
    return parse_device(device) if index is None else f"gpu:{index}"


def _weights_path(value) -> str:
    return os.fspath(value)


class DainEngine(Engine):
    """DAIN (PaddleGAN's published weights) behind the engine interface."""

    info = EngineInfo(
        "dain", "PaddleGAN's DAIN network on PaddlePaddle (pip install 'deepshop[dain]'; weights found or downloaded)",
        options=(Option("weights", "DAIN weights: DAIN_weight.tar or its unpacked folder", _weights_path),
                 Option("device", f"where DAIN runs: {', '.join(DEVICES)} (default auto)", parse_device),
                 Option("download", "fetch the weights when none are found", yes_no("download"), user=False)),
        devices=DEVICES, weights_folder="dain", context=("search_dirs", "progress", "should_cancel"))

    def __init__(self, weights: str | os.PathLike | None = None, device: str = "auto",
                 search_dirs: Sequence[str | os.PathLike] = (), download: bool = True,
                 progress: Callable[[int, int], object] | None = None,
                 should_cancel: Callable[[], bool] | None = None, time_tolerance: float = 1e-6,
                 refine_tolerance: float = 1e-3, rewrite_correlation: bool | None = None):
        from . import weights as W

        self.device_request = paddle_device(device)
        if not 0 < refine_tolerance < 0.5:
            raise InputError(f"refine_tolerance must lie in (0, 0.5), got {refine_tolerance}")
        self.weights_dir = str(W.ensure_weights(weights, search_dirs, download=download, progress=progress))
        self.should_cancel = should_cancel
        self.time_tolerance = float(time_tolerance)
        self.refine_tolerance = float(refine_tolerance)
        self._rewrite = rewrite_correlation
        self._key = (self.weights_dir, self.device_request, rewrite_correlation)
        self._closed = False
        self._pid: int | None = None  # the worker process this engine's job runs on
        self.stats = EngineStats()
        self.last_times: list[float] = []
        self._worker = worker()
        try:
            info = self._load()
        except BaseException:
            self.close()
            raise
        self.n: int = info["n"]
        self.device: str = info["device"]
        self.retimable: bool = info["retimable"]
        self.correlation_rewritten: int = info["correlation_rewritten"]
        self.onednn_convs: int = info.get("onednn_convs", 0)

    def _load(self) -> dict:
        t0 = time.perf_counter()
        with self._worker.lock:
            info = self._worker.request(("load", self._key, self.weights_dir, self.device_request, self._rewrite),
                                        self.should_cancel)
            self._worker.loaded.add(self._key)
            self._pid = self._worker.proc.pid
        self.stats.add("load", time.perf_counter() - t0)
        return info

    def model_times(self) -> list[float]:
        """The times one run of the program produces: k/(N+1)."""
        return grid_times(self.n)

    def cancel(self) -> None:
        """Stop the job: the worker is killed (from another thread during a call, which then raises Cancelled; or
        between two pairs); the next call starts a fresh one."""
        self._worker.cancel()

    def interpolate(self, frame0: np.ndarray, frame1: np.ndarray, times: Sequence[float]) -> list[np.ndarray]:
        if self._closed:
            raise EngineError("this DAIN engine is closed: load a new one")
        times = check_pair(frame0, frame1, times)
        if not times:
            return []
        h, w = frame0.shape[:2]
        w_ = self._worker
        with w_.lock:
            # A worker that died between two pairs of this job (the out-of-memory killer, say) fails the job
            # rather than being replaced silently in the middle of it; the next job starts a fresh one.
            if w_.ended_by_itself(self._pid):
                w_.raise_death(" between two frame pairs")
            if not w_.alive() or self._key not in w_.loaded:
                self._load()
            t0 = time.perf_counter()
            per = h * w * 3
            shm = w_.buffer(per * (2 + len(times)))
            view = np.ndarray((2 + len(times), h, w, 3), np.uint8, buffer=shm.buf)
            try:
                view[0] = frame0
                view[1] = frame1
                t1 = time.perf_counter()
                stats = w_.request(("interp", self._key, shm.name, h, w, times, self.time_tolerance,
                                    self.refine_tolerance), self.should_cancel)
                t2 = time.perf_counter()
                out = [view[2 + i].copy() for i in range(len(times))]
            finally:
                del view  # no view may outlive the call: the block can be closed or replaced later
            t3 = time.perf_counter()
        for stage in ("pad", "run", "crop"):
            self.stats.add(stage, stats[stage])
        self.stats.add("transfer", (t1 - t0) + (t3 - t2))
        self.stats.count("runs", stats["runs"])
        self.stats.count("pairs")
        self.last_times = list(stats["times"])
        return out

    def close(self) -> None:
        self._closed = True

    def __repr__(self) -> str:
        n = getattr(self, "n", "?")
        return f"DainEngine(weights={self.weights_dir!r}, device={getattr(self, 'device', '?')!r}, n={n})"
