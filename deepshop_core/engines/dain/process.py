"""The DAIN worker process seen from the caller's side: starting it as a fresh interpreter, the authenticated
connection, the shared-memory block frames travel through, requests with cancel polling, and turning a death
(out-of-memory kill, segfault) into an `EngineError` naming the signal and the worker's log. One worker per
process (`worker`), reused by every engine and job; a cancel kills it and the next request starts a fresh one."""

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
from typing import Callable

from ...errors import Cancelled, EngineError, WeightsError

_PACKAGE_ROOT = Path(os.path.abspath(__file__)).parents[3]  # the folder holding deepshop_core/


class WorkerProcess:
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


_WORKER: WorkerProcess | None = None
_WORKER_LOCK = threading.Lock()


def worker() -> WorkerProcess:
    """This process's DAIN worker (one per process, started on first use; a cache of one, kept for every job)."""
    global _WORKER
    with _WORKER_LOCK:
        if _WORKER is None:
            _WORKER = WorkerProcess()
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
