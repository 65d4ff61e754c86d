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

import atexit
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from multiprocessing import shared_memory
from multiprocessing.connection import Listener
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ...errors import Cancelled, EngineError, InputError, WeightsError
from ..base import Engine, EngineInfo, EngineStats, Option, check_pair
from .worker import grid_times

_PACKAGE_ROOT = Path(os.path.abspath(__file__)).parents[3]  # the folder holding deepshop_core/


DEVICES = ("auto", "cpu", "gpu:N")  # what `parse_device` accepts ("gpu" and "cuda:N" are spellings of gpu:N)


def parse_device(device: str) -> str:
    """Normalise ``auto | cpu | gpu | gpu:N | cuda:N``."""
    d = str(device).strip().lower()
    if d in ("auto", "cpu"):
        return d
    if d in ("gpu", "cuda"):
        return "gpu:0"
    for prefix in ("gpu:", "cuda:"):
        if d.startswith(prefix) and d[len(prefix):].isdigit():
            return f"gpu:{int(d[len(prefix):])}"
    raise InputError(f"device must be auto, cpu or gpu:N, got {device!r}")


class _Worker:
    """The per-process DAIN worker (one at a time), its connection and its shared-memory block."""

    START_TIMEOUT = 60.0

    def __init__(self):
        self.lock = threading.RLock()
        self.proc: subprocess.Popen | None = None
        self.conn = None
        self.shm: shared_memory.SharedMemory | None = None
        self.loaded: set = set()
        self.log_path: str | None = None
        self._cancel = threading.Event()

    # -------------------------------------------------------------- life cycle
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _start(self):
        authkey = secrets.token_bytes(32)
        listener = Listener(authkey=authkey)
        env = dict(os.environ)
        env["FLAGS_enable_pir_api"] = "0"
        env.setdefault("GLOG_minloglevel", "2")
        env["DEEPSHOP_DAIN_AUTHKEY"] = authkey.hex()
        code = (f"import sys; sys.path.insert(0, {str(_PACKAGE_ROOT)!r}); "
                "from deepshop_core.engines.dain.worker import main; main()")
        if self.log_path:
            try:
                os.unlink(self.log_path)
            except OSError:
                pass
        fd, self.log_path = tempfile.mkstemp(prefix="deepshop-dain-worker-", suffix=".log")
        try:
            with os.fdopen(fd, "wb") as log:
                self.proc = subprocess.Popen([sys.executable, "-c", code, str(listener.address)], env=env,
                                             stdin=subprocess.DEVNULL, stdout=log, stderr=log, close_fds=True)
            deadline = time.monotonic() + self.START_TIMEOUT
            # accept() blocks: wait for the connection in a thread so a dead child is noticed
            box: dict = {}

            def accept():
                try:
                    box["conn"] = listener.accept()
                except Exception as e:  # noqa: BLE001
                    box["error"] = e

            t = threading.Thread(target=accept, daemon=True)
            t.start()
            while t.is_alive():
                t.join(0.05)
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    break
            if "conn" not in box:
                self._kill()
                raise EngineError(f"the DAIN worker process did not start{self._log_tail()}")
            self.conn = box["conn"]
        finally:
            listener.close()
        self.loaded = set()

    def _kill(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        if self.conn is not None:
            try:
                self.conn.close()
            except OSError:
                pass
        self.proc = None
        self.conn = None
        self.loaded = set()

    def shutdown(self):
        with self.lock:
            if self.alive() and self.conn is not None:
                try:
                    self.conn.send(("stop",))
                    if self.conn.poll(5):
                        self.conn.recv()
                    self.proc.wait(5)
                except (OSError, EOFError, subprocess.TimeoutExpired):
                    pass
            self._kill()
            if self.log_path:  # a clean stop: the log is of no more use
                try:
                    os.unlink(self.log_path)
                except OSError:
                    pass
                self.log_path = None
            if self.shm is not None:
                _release(self.shm)
                self.shm = None

    def _log_tail(self, n: int = 15) -> str:
        if not self.log_path or not os.path.exists(self.log_path):
            return ""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(max(0, os.path.getsize(self.log_path) - 20000))
                lines = f.read().decode("utf-8", "replace").strip().splitlines()
        except OSError:
            return ""
        lines = [ln for ln in lines if ln.strip()][-n:]
        if not lines:
            return f" (worker log: {self.log_path})"
        return f"; last lines of the worker log {self.log_path}:\n  " + "\n  ".join(lines)

    # -------------------------------------------------------------- requests
    def cancel(self):
        self._cancel.set()  # a request in flight polls this and kills the worker
        if self.lock.acquire(blocking=False):  # none in flight (a cancel between two pairs): stop it now
            try:
                self._kill()
            finally:
                self.lock.release()

    def request(self, msg, should_cancel: Callable[[], bool] | None = None):
        if not self.alive():
            self._kill()
            self._start()
        self._cancel.clear()
        try:
            self.conn.send(msg)
            while True:
                if self.conn.poll(0.05):
                    reply = self.conn.recv()
                    break
                if self.proc.poll() is not None:
                    raise EOFError
                if self._cancel.is_set() or (should_cancel is not None and should_cancel()):
                    self._kill()
                    raise Cancelled("DAIN interpolation cancelled")
        except (EOFError, OSError, ConnectionError):
            self.raise_death()
        except BaseException:  # KeyboardInterrupt, a cancel raised by should_cancel: stop the worker promptly
            if self.alive():
                self._kill()
            raise
        if reply[0] == "ok":
            return reply[1]
        kind, text = reply[1], reply[2]
        if kind == "WeightsError":
            raise WeightsError(text)
        if kind == "OutOfMemory":
            raise EngineError(f"DAIN ran out of memory ({text}); try a smaller resolution, or device='cpu'")
        raise EngineError(f"DAIN failed in the worker: {text}")

    def raise_death(self, when: str = "") -> None:
        """Collect a worker that ended by itself and raise the EngineError saying how it ended."""
        code = self.proc.poll() if self.proc is not None else None
        if code is None and self.proc is not None:
            try:
                code = self.proc.wait(5)
            except subprocess.TimeoutExpired:
                code = None
        tail = self._log_tail()
        self._kill()
        if code is not None and code < 0:
            try:
                sig = signal.Signals(-code).name
            except ValueError:
                sig = str(-code)
            why = f"was killed by {sig}"
            if -code == signal.SIGKILL:
                why += " (most likely out of memory: try a smaller resolution, or device='cpu' with more RAM)"
        else:
            why = f"exited unexpectedly (exit status {code})"
        raise EngineError(f"the DAIN worker process {why}{when}{tail}") from None

    def ended_by_itself(self, pid: int | None) -> bool:
        """Whether the worker with process id ``pid`` has ended without this process stopping it."""
        return pid is not None and self.proc is not None and self.proc.pid == pid and self.proc.poll() is not None

    def buffer(self, nbytes: int) -> shared_memory.SharedMemory:
        if self.shm is None or self.shm.size < nbytes:
            if self.shm is not None:
                _release(self.shm)
            self.shm = shared_memory.SharedMemory(create=True, size=max(nbytes, 1 << 20))
        return self.shm


def _release(shm: shared_memory.SharedMemory) -> None:
    try:
        shm.close()
    except BufferError:  # a caller still holds a view: the mapping goes when that view does
        pass
    try:
        shm.unlink()
    except OSError:
        pass


_WORKER: _Worker | None = None
_WORKER_LOCK = threading.Lock()


def _worker() -> _Worker:
    global _WORKER
    with _WORKER_LOCK:
        if _WORKER is None:
            _WORKER = _Worker()
            atexit.register(shutdown_worker)
        return _WORKER


def shutdown_worker() -> None:
    """Stop the DAIN worker process now (it restarts on the next use). Registered with atexit."""
    if _WORKER is not None:
        _WORKER.shutdown()


def worker_pid() -> int | None:
    """The worker's process id, or None if none is running (for tests and diagnostics)."""
    w = _WORKER
    return w.proc.pid if w is not None and w.alive() else None


def _weights_path(value) -> str:
    return os.fspath(value)


def _flag(value) -> bool:
    if isinstance(value, bool):
        return value
    raise InputError(f"download must be True or False, got {value!r}")


class DainEngine(Engine):
    """DAIN (PaddleGAN's published weights) behind the engine interface."""

    info = EngineInfo(
        "dain", "PaddleGAN's DAIN network on PaddlePaddle (pip install 'deepshop[dain]'; weights found or downloaded)",
        options=(Option("weights", "DAIN weights: DAIN_weight.tar or its unpacked folder", _weights_path),
                 Option("device", f"where DAIN runs: {', '.join(DEVICES)}", parse_device, DEVICES),
                 Option("download", "fetch the weights when none are found", _flag, user=False)),
        devices=DEVICES)

    def __init__(self, weights: str | os.PathLike | None = None, device: str = "auto",
                 search_dirs: Sequence[str | os.PathLike] = (), download: bool = True,
                 progress: Callable[[int, int], object] | None = None,
                 should_cancel: Callable[[], bool] | None = None, time_tolerance: float = 1e-6,
                 refine_tolerance: float = 1e-3, rewrite_correlation: bool | None = None):
        from . import weights as W

        self.device_request = parse_device(device)
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
        self._worker = _worker()
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
