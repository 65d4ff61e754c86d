"""Faults and cancellation: an engine that fails, a cancel, Ctrl-C and a DAIN worker killed mid-job each stop the
job within one frame pair, leave no partial output and no process behind, and the next job works."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from deepshop_core import (  # noqa: E402
    Cancelled,
    DeepshopError,
    EngineChoice,
    EngineError,
    engines,
    slow_motion,
)
from deepshop_core.media.probe import probe  # noqa: E402
from deepshop_core.synthetic import write_clip  # noqa: E402
from tests.support.clips import digest
from tests.support.procstats import command_line, descendants, interruptible, wait_gone

# Building the DAIN stand-in runs Paddle's static-graph API, which warns about its own deprecations.
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings(r"ignore:The Attr\(force_cpu\):UserWarning")]


@pytest.fixture(scope="module")
def clip_3s(make_clip):
    """3 s, 25 fps, 160x96 with audio: 75 frames."""
    return make_clip("scene.mp4", seconds=3)


class CountingEngine(engines.Engine):
    """The blend engine, counting its calls; raises ``error`` on call number ``fail_on`` (1-based)."""

    info = engines.EngineInfo("counting", "the blend engine, counting its calls")

    def __init__(self, fail_on: int | None = None, error: BaseException | None = None):
        self.stats = engines.EngineStats()
        self.inner = engines.load("blend")
        self.calls = 0
        self.fail_on, self.error = fail_on, error

    def interpolate(self, frame0, frame1, times):
        self.calls += 1
        if self.calls == self.fail_on:
            raise self.error
        return self.inner.interpolate(frame0, frame1, times)

    def close(self):
        self.inner.close()


def encode_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "deepshop-encode"]


def test_engine_exception_stops_at_that_pair_and_keeps_the_existing_output(clip_3s, tmp_path):
    """Even with overwrite=True, a job that fails keeps the file it would have replaced, and the input."""
    out = tmp_path / "slow.mp4"
    out.write_bytes(b"last week's render")
    source, processes = digest(clip_3s), descendants()  # a ComfyUI server of earlier tests may run beside us
    engine = CountingEngine(fail_on=6, error=RuntimeError("the engine broke"))
    with pytest.raises(RuntimeError, match="the engine broke"):
        slow_motion(clip_3s, out, ranges=["10:40"], factor=4, engine=engine, overwrite=True)
    assert engine.calls == 6  # no pair was attempted after the failing one
    assert out.read_bytes() == b"last week's render"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["slow.mp4"]  # no temporary file either
    assert digest(clip_3s) == source
    assert encode_threads() == [] and descendants() == processes


def test_cancel_stops_within_one_pair(clip_3s, tmp_path):
    """The progress callback is asked after every pair; its Cancelled stops the job before the next pair."""
    out = tmp_path / "slow.mp4"
    engine = CountingEngine()
    seen = []

    def progress(done, total):
        seen.append(done)
        if engine.calls == 4:
            raise Cancelled("stop now")

    with pytest.raises(Cancelled):
        slow_motion(clip_3s, out, ranges=["10:40"], factor=4, engine=engine, progress=progress)
    assert engine.calls == 4
    assert list(tmp_path.iterdir()) == [] and encode_threads() == []


def test_the_next_job_after_a_failure_works(clip_3s, tmp_path):
    with pytest.raises(RuntimeError):
        slow_motion(clip_3s, tmp_path / "a.mp4", ranges=["10:20"], factor=2,
                    engine=CountingEngine(fail_on=1, error=RuntimeError("boom")))
    result = slow_motion(clip_3s, tmp_path / "a.mp4", ranges=["10:20"], factor=2, engine="blend")
    assert probe(result.output).frame_count == 75 + 10


# --- the DAIN worker ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dain_weights(dain_standins):
    """A tiny stand-in of PaddleGAN's DAIN_weight.tar (same format, random weights)."""
    return dain_standins("n1")


@pytest.fixture
def user_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


def workers_of(pid: int) -> set[int]:
    return {p for p in descendants(pid) if "dain.worker" in command_line(p)}


@pytest.mark.parametrize("fault", ["ctrl-c", "worker killed"])
def test_cli_fault_during_dain_leaves_no_worker_and_no_output(fault, dain_weights, user_cache, tmp_path):
    """Ctrl-C on the CLI, or the DAIN worker killed (as by the out-of-memory killer) mid-job: one clear line,
    the matching exit status, no output, no temporary file, and no worker process left running."""
    src = write_clip(tmp_path / "long clip.mp4", seconds=6, width=320, height=192)
    outdir = tmp_path / "out"
    outdir.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "deepshop_core", "slowmo", str(src), "-o", str(outdir / "slow.mp4"), "--range",
         "0:149", "--factor", "4", "--engine", "dain", "--weights", str(dain_weights), "--device", "cpu"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=interruptible)
    try:
        deadline = time.monotonic() + 120
        workers: set[int] = set()
        # Wait until the worker runs and frames are being written (the temporary output exists).
        while time.monotonic() < deadline and proc.poll() is None and not (workers and any(outdir.iterdir())):
            workers = workers_of(proc.pid)
            time.sleep(0.1)
        assert proc.poll() is None and workers, proc.communicate()
        time.sleep(0.5)
        if fault == "ctrl-c":
            proc.send_signal(signal.SIGINT)
        else:
            for pid in workers:
                os.kill(pid, signal.SIGKILL)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith(("W", "I"))]
    if fault == "ctrl-c":
        assert proc.returncode == 130, err
        assert "cancelled" in err
    else:
        assert proc.returncode == 1, err
        assert "the DAIN worker process was killed by SIGKILL" in err and "out of memory" in err, err
    assert lines, err
    assert list(outdir.iterdir()) == []
    assert wait_gone(workers) == set(), "the DAIN worker outlived the CLI"


def test_dain_worker_killed_mid_job_then_the_next_job_works(clip_3s, dain_weights, user_cache, tmp_path):
    """In one Python process (as in ComfyUI): a killed worker fails the job with a clear error and no output;
    the next job starts a fresh worker and succeeds."""
    from deepshop_core.engines import dain

    killed, processes = [], descendants()

    def kill_the_worker(done, total):
        if done >= 3 and not killed:
            killed.append(dain.worker_pid())
            os.kill(killed[0], signal.SIGKILL)
            time.sleep(0.2)  # let it die before the next pair is sent

    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / "slow.mp4"
    dain_cpu = EngineChoice.of("dain", weights=dain_weights, device="cpu")
    with pytest.raises(EngineError, match="DAIN worker process was killed by SIGKILL"):
        slow_motion(clip_3s, out, ranges=["10:30"], factor=2, engine=dain_cpu,
                    progress=kill_the_worker)
    assert killed and list(out.parent.iterdir()) == []
    assert wait_gone(killed) == set()
    result = slow_motion(clip_3s, out, ranges=["10:30"], factor=2, engine=dain_cpu)
    assert probe(out).frame_count == result.frames_out == 75 + 20
    assert dain.worker_pid() not in (None, *killed)
    dain.shutdown_worker()
    assert {p: command_line(p) for p in descendants() - processes} == {}


def test_a_cancel_between_two_dain_pairs_stops_the_worker(clip_3s, dain_weights, user_cache, tmp_path):
    """A cancel raised by the progress callback (ComfyUI's interrupt lands there between two pairs) stops the worker
    as a cancel during a pair does: nothing written, no process left; the next job starts a fresh worker."""
    from deepshop_core.engines import dain

    seen, processes = [], descendants()

    def cancel_after_two_pairs(done, total):
        if done >= 2:
            seen.append(dain.worker_pid())
            raise Cancelled("stop now")

    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / "slow.mp4"
    dain_cpu = EngineChoice.of("dain", weights=dain_weights, device="cpu")
    with pytest.raises(Cancelled):
        slow_motion(clip_3s, out, ranges=["10:30"], factor=2, engine=dain_cpu,
                    progress=cancel_after_two_pairs)
    assert seen[0] is not None and list(out.parent.iterdir()) == []
    assert wait_gone(seen[:1]) == set() and dain.worker_pid() is None
    result = slow_motion(clip_3s, out, ranges=["10:30"], factor=2, engine=dain_cpu)
    assert probe(out).frame_count == result.frames_out == 75 + 20
    dain.shutdown_worker()
    assert {p: command_line(p) for p in descendants() - processes} == {}


@pytest.mark.parametrize("ending", ["exits", "is killed"])
def test_the_worker_ends_with_the_process_that_started_it(ending, dain_weights, user_cache):
    """A Python process that used DAIN takes its worker with it, whether it exits normally (atexit) or is
    killed with SIGKILL (the worker sees its connection close)."""
    script = ("import sys, time, numpy as np\n"
              "from deepshop_core import engines\n"
              "from deepshop_core.engines import dain\n"
              f"e = engines.load('dain', weights={str(dain_weights)!r}, device='cpu')\n"
              "f = np.zeros((32, 48, 3), np.uint8)\n"
              "e.interpolate(f, f, [0.5])\n"
              "print(dain.worker_pid(), flush=True)\n"
              "if sys.argv[1] == 'is killed':\n"
              "    time.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", script, ending], stdout=subprocess.PIPE, text=True)
    try:
        worker = int(proc.stdout.readline())
        assert workers_of(proc.pid) == {worker}
        if ending == "is killed":
            proc.kill()
        assert proc.wait(120) == (0 if ending == "exits" else -signal.SIGKILL)
    finally:
        proc.kill()
        proc.stdout.close()
    assert wait_gone([worker]) == set()


def test_frames_from_a_failed_job_never_reach_the_file(clip_3s, tmp_path):
    """An engine returning a wrong frame size is an error at that pair, saying which sizes, and nothing is
    written."""
    class WrongSize(CountingEngine):
        def interpolate(self, frame0, frame1, times):
            self.calls += 1
            return [np.zeros((8, 8, 3), np.uint8) for _ in times]

    out, engine = tmp_path / "slow.mp4", WrongSize()
    with pytest.raises(DeepshopError, match=r"is 8x8 but the video is 160x96"):
        slow_motion(clip_3s, out, ranges=["10:20"], factor=2, engine=engine)
    # the writer (on its own thread, a few frames behind) refuses the first wrong frame: the job stops long before
    # the range's 10 pairs are done
    assert 1 <= engine.calls < 10
    assert list(tmp_path.iterdir()) == []
