"""The DAIN engine end to end on CPU with stand-in archives: find, unpack, validate, load in the worker, rewrite
``correlation``, pad, run, crop, map times; worker reuse, crash, cancel."""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest

from tools.dain_standin import import_paddle

paddle = import_paddle()

# Paddle's static-graph API warns about its own deprecations on every op: not this project's business.
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::UserWarning")]

from deepshop_core import engines  # noqa: E402
from deepshop_core.engines import dain  # noqa: E402
from deepshop_core.engines.dain import DainEngine  # noqa: E402
from deepshop_core.engines.dain.timemap import from_model, pad_amounts, to_model  # noqa: E402
from deepshop_core.errors import Cancelled, EngineError, InputError, WeightsError  # noqa: E402


@pytest.fixture(autouse=True)
def user_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "xdg"))


def frames(h=50, w=70, shift=3, seed=0):
    rng = np.random.default_rng(seed)
    f0 = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    f0 = (f0.astype(np.float32) * 0.3 + np.linspace(0, 170, w)[None, :, None]).astype(np.uint8)
    return f0, np.roll(f0, shift, axis=1)


def test_end_to_end_on_cpu(dain_standins):
    eng = engines.load("dain", weights=dain_standins("n1"), device="cpu")
    try:
        assert eng.name == "dain" and eng.n == 1 and eng.device == "cpu"
        assert eng.correlation_rewritten == 10  # PWC-Net: 5 levels x 2 directions
        assert eng.retimable
        assert eng.model_times() == [0.5]
        f0, f1 = frames()
        out = eng.interpolate(f0, f1, [0.5])
        assert len(out) == 1 and out[0].shape == f0.shape and out[0].dtype == np.uint8
        again = eng.interpolate(f0, f1, [0.5])
        assert np.array_equal(out[0], again[0])  # deterministic, program reused
        assert eng.interpolate(f0, f1, []) == []
        counts, seconds = eng.stats.counts, eng.stats.seconds
        assert counts == {"pairs": 2, "runs": 2} and all(seconds[k] > 0 for k in ("run", "pad", "crop"))
        for shape in ((128, 256), (37, 53)):  # multiple of 128 (pad 32) and odd sizes
            g0, g1 = frames(*shape)
            assert eng.interpolate(g0, g1, [0.5])[0].shape == g0.shape
        with pytest.raises(InputError):
            eng.interpolate(f0, f1[:-1], [0.5])
        with pytest.raises(InputError):
            eng.interpolate(f0, f1, [1.0])
    finally:
        eng.close()
        eng.close()  # idempotent
    with pytest.raises(EngineError, match="closed"):
        eng.interpolate(f0, f1, [0.5])


def _direct(folder, f0, f1):
    """The composed stand-in (correlation built from standard ops at export) run in this process, padded and
    cropped by hand: what the engine must reproduce with the rewritten correlation."""
    exe = paddle.static.Executor(paddle.CPUPlace())
    scope = paddle.static.Scope()
    with paddle.static.scope_guard(scope):
        prog, feeds, fetch = paddle.static.load_inference_model(str(folder), exe, model_filename="model",
                                                                params_filename="params")
        assert "correlation" not in {op.type for op in prog.global_block().ops}
        h, w = f0.shape[:2]
        pads = (pad_amounts(h), pad_amounts(w))
        x = np.stack([to_model(f0, pads), to_model(f1, pads)])[:, None]
        y = exe.run(prog, feed={"image": x}, fetch_list=fetch)[0]
    return from_model(np.clip(y[0, 0], 0, 1), pads, h, w)


def test_rewrite_matches_composed_network(dain_standins):
    """The whole network with its 10 rewritten correlation ops equals the same network built with the composition."""
    f0, f1 = frames(45, 61)
    expected = _direct(dain_standins("composed"), f0, f1)
    with engines.load("dain", weights=dain_standins("n1"), device="cpu") as eng:
        got = eng.interpolate(f0, f1, [0.5])[0]
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1


def test_retimed_equals_model_exported_for_that_time(dain_standins):
    """t = 1/3 and 2/3 from the N=1 program (time constants re-set) equal the N=2 program's own outputs."""
    f0, f1 = frames()
    with engines.load("dain", weights=dain_standins("n2"), device="cpu") as e2:
        assert e2.n == 2 and e2.retimable
        native = e2.interpolate(f0, f1, [1 / 3, 2 / 3])
        assert e2.stats.counts["runs"] == 1
    with engines.load("dain", weights=dain_standins("n1"), device="cpu") as e1:
        runs = e1.stats.counts.get("runs", 0)
        retimed = e1.interpolate(f0, f1, [1 / 3, 2 / 3])
        assert e1.stats.counts["runs"] - runs == 2 and e1.last_times == [1 / 3, 2 / 3]
        mid = e1.interpolate(f0, f1, [0.5])[0]
    for a, b in zip(native, retimed):
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 1
    assert np.abs(native[0].astype(int) - mid.astype(int)).max() > 1  # the time really matters


def test_fallback_refinement(dain_standins):
    f0, f1 = frames()
    with DainEngine(weights=dain_standins("fused"), device="cpu", refine_tolerance=1e-2) as eng:
        assert not eng.retimable
        out = eng.interpolate(f0, f1, [0.25, 0.5, 0.3])
        assert eng.last_times[:2] == [0.25, 0.5]
        assert abs(eng.last_times[2] - 0.3) <= 1e-2
        assert len(out) == 3 and all(o.shape == f0.shape for o in out)


def test_worker_shared_and_reused(dain_standins):
    f0, f1 = frames()
    a = engines.load("dain", weights=dain_standins("n1"), device="cpu")
    pid = dain.worker_pid()
    b = engines.load("dain", weights=dain_standins("n1"), device="auto")  # resolves to the same loaded model
    assert pid is not None and dain.worker_pid() == pid and b.device == "cpu"
    a.close()
    b.interpolate(f0, f1, [0.5])
    b.close()
    assert dain.worker_pid() == pid  # kept for the next job


def test_bad_weights_say_what_is_wrong(tmp_path, dain_standins):
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "model").write_bytes(b"\x00not a program")
    (junk / "params").write_bytes(b"\x00")
    with pytest.raises(WeightsError, match="cannot load the DAIN program"):
        engines.load("dain", weights=junk, device="cpu")
    # a valid program whose interface is not DAIN's
    main, startup = paddle.static.Program(), paddle.static.Program()
    with paddle.static.program_guard(main, startup):
        x = paddle.static.data("frames", [2, 3, -1, -1], "float32")
        y = x * 2.0
    exe = paddle.static.Executor(paddle.CPUPlace())
    paddle.static.save_inference_model(str(tmp_path / "other" / "inf"), [x], [y], exe, program=main)
    other = tmp_path / "other"
    os.replace(other / "inf.pdmodel", other / "model")
    os.replace(other / "inf.pdiparams", other / "params") if (other / "inf.pdiparams").exists() else \
        (other / "params").write_bytes(b"")
    with pytest.raises(WeightsError, match="feed named 'image'"):
        engines.load("dain", weights=other, device="cpu")


def test_devices(dain_standins):
    assert dain.paddle_device("GPU") == "gpu:0"
    assert dain.paddle_device("cuda:1") == "gpu:1" and dain.paddle_device("gpu:2") == "gpu:2"
    assert dain.paddle_device("auto") == "auto"
    with pytest.raises(InputError):
        dain.paddle_device("tpu")
    if not paddle.is_compiled_with_cuda():
        with pytest.raises(EngineError, match="no CUDA support"):
            engines.load("dain", weights=dain_standins("n1"), device="gpu:0")
        with engines.load("dain", weights=dain_standins("n1"), device="auto") as eng:
            assert eng.device == "cpu"


def test_absent_weights_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("DEEPSHOP_MODELS", raising=False)
    with pytest.raises(WeightsError, match="switched off") as e:
        engines.load("dain", download=False, search_dirs=[tmp_path / "comfy_models_dain"])
    assert "https://paddlegan.bj.bcebos.com/applications/DAIN_weight.tar" in str(e.value)
    assert str(tmp_path / "comfy_models_dain") in str(e.value)


def test_worker_crash_becomes_clear_error(dain_standins):
    f0, f1 = frames(700, 700)
    with engines.load("dain", weights=dain_standins("n1"), device="cpu") as eng:
        pid = dain.worker_pid()
        threading.Timer(0.3, os.kill, (pid, signal.SIGKILL)).start()
        with pytest.raises(EngineError, match="SIGKILL.*out of memory"):
            eng.interpolate(f0, f1, [0.2, 0.4, 0.6, 0.8])  # four runs: still running when the kill comes
        assert dain.worker_pid() is None
        out = eng.interpolate(*frames(), [0.5])  # a fresh worker, the model loaded again
        assert out[0].shape == (50, 70, 3)
        assert dain.worker_pid() not in (None, pid)


def test_cancel_stops_worker_promptly(dain_standins):
    f0, f1 = frames(700, 700)
    start = [None]

    def should_cancel():
        return time.monotonic() - start[0] > 0.3

    with engines.load("dain", weights=dain_standins("n1"), device="cpu") as eng:
        eng.should_cancel = should_cancel
        start[0] = time.monotonic()
        with pytest.raises(Cancelled):
            eng.interpolate(f0, f1, [0.2, 0.4, 0.6, 0.8])
        assert time.monotonic() - start[0] < 2.0
        assert dain.worker_pid() is None  # killed; the next call starts a fresh one (as after a crash)


def test_shutdown_worker():
    dain.shutdown_worker()
    assert dain.worker_pid() is None
    dain.shutdown_worker()  # idempotent


def test_cli_slowmo_with_dain_on_cpu(dain_standins, videos, tmp_path):
    """The issue's acceptance line: `deepshop slowmo --engine dain --weights <stand-in archive>` on CPU, end to end,
    at a factor the model was not exported for (2.5 with N = 1)."""
    from deepshop_core.cli import main
    from deepshop_core.media.audio import read_audio
    from deepshop_core.media.decode import read_frames
    from deepshop_core.media.probe import probe

    src, out = videos / "realshort.mp4", tmp_path / "slow dain.mp4"
    code = main(["slowmo", str(src), "-o", str(out), "--range", "2:6", "--factor", "2.5", "--engine", "dain",
                 "--weights", str(dain_standins("n1")), "--device", "cpu", "-q"])
    assert code == 0
    info, source = probe(out), probe(src)
    assert info.frame_count == 36 + 4 * 2.5 - 4 and info.frame_rate == source.frame_rate and info.has_audio
    assert abs(read_audio(out).duration - float(info.duration)) <= 1 / float(info.frame_rate)
    assert all(f.shape == (240, 320, 3) for f in read_frames(out, 0, 3))
