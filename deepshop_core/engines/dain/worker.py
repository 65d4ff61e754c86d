"""The DAIN worker process: Paddle lives here, never in the caller's process.

Started by :mod:`.engine` as a fresh interpreter (``python -c ... main()``), it connects back over a
``multiprocessing.connection`` socket/pipe (authenticated), then serves requests until told to stop or until the
connection drops:

- ``("load", key, weights_dir, device, rewrite)`` -> ``("ok", info)``: load the legacy inference program once per
  weights folder and device (kept for the life of the process), check its structure, rewrite the ``correlation``
  ops on CPU, turn the time constants into inputs when found (:func:`find_time_ops`, :func:`add_time_inputs`),
  and build a ``paddle.inference`` predictor from it;
- ``("interp", key, shm_name, h, w, times, tolerances)`` -> ``("ok", stats)``: frames 0 and 1 are read from shared
  memory (``uint8 [2, h, w, 3]`` at offset 0), the frames at ``times`` are written after them;
- ``("stop",)``.
Errors come back as ``("err", kind, message)`` with kind ``WeightsError`` / ``EngineError`` / ``OutOfMemory``.

The pure parts (padding, the time mapping) are in :mod:`.timemap`.
"""

from __future__ import annotations

import os
import sys
import time
import traceback

import numpy as np

from .timemap import from_model, grid_times, map_times, pad_amounts, to_model

# ---------------------------------------------------------------------------------------------- paddle model
DIV_FLOW = 20.0


def find_time_ops(block, n: int, tol: float = 1e-5):
    """The ``scale`` ops holding the time constants, as (forward ops, backward ops), or None.

    PaddleGAN's ``DAIN_slowmotion`` scales the flow as ``div_flow * flow * t`` (div_flow = 20): a scale op by 20
    feeding a scale op by t, for t = k/(N+1) in order (forward flow), then for the reversed times (backward flow);
    output k uses forward k and backward k (= 1 - t_k). Only that exact signature counts; anything else (the
    constants fused, other values) returns None and the caller falls back to recursive refinement.
    """
    producers = {}
    for op in block.ops:
        for name in op.output_arg_names:
            producers[name] = op
    found = []
    for idx, op in enumerate(block.ops):
        if op.type != "scale" or abs(float(op.attr("bias"))) > 0:
            continue
        if op.input("ScaleTensor"):
            continue
        src = producers.get(op.input("X")[0])
        if src is None or src.type != "scale" or abs(float(src.attr("scale")) - DIV_FLOW) > 1e-6:
            continue
        if abs(float(src.attr("bias"))) > 0:
            continue
        found.append((idx, float(op.attr("scale"))))
    grid = grid_times(n)
    expected = grid + grid[::-1]
    if len(found) != 2 * n or any(abs(v - e) > tol for (_, v), e in zip(found, expected)):
        return None
    return [i for i, _ in found[:n]], [i for i, _ in found[n:]]


ONEDNN_OPS = ("conv2d", "conv2d_transpose", "depthwise_conv2d")


def _has_onednn(paddle) -> bool:
    core = paddle.base.core
    for name in ("is_compiled_with_onednn", "is_compiled_with_mkldnn"):
        if hasattr(core, name):
            return bool(getattr(core, name)())
    return False


def use_onednn_convs(program) -> int:
    """Mark the convolutions of ``program`` for Paddle's oneDNN CPU kernels (3x faster than the default
    im2col path on this kind of machine); returns how many. Other ops keep the plain CPU kernels."""
    count = 0
    for block in program.blocks:
        for op in block.ops:
            if op.type in ONEDNN_OPS and op.has_attr("use_mkldnn"):
                op._set_attr("use_mkldnn", True)
                if op.has_attr("is_test"):  # oneDNN's transposed convolution is inference-only
                    op._set_attr("is_test", True)
                count += 1
    return count


def resolve_device(paddle, device: str):
    """(``"cpu"`` or ``"gpu:N"``, the Paddle place) for ``auto | cpu | gpu:N``."""
    from ...errors import EngineError

    has_cuda = paddle.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0
    if device == "auto":
        device = "gpu:0" if has_cuda else "cpu"
    if device.startswith("gpu"):
        if not paddle.is_compiled_with_cuda():
            raise EngineError(f"device {device} requested, but the installed paddlepaddle has no CUDA support: "
                              "install paddlepaddle-gpu (see the README), or use device='cpu'")
        index = int(device.split(":")[1]) if ":" in device else 0
        count = paddle.device.cuda.device_count()
        if index >= count:
            raise EngineError(f"device {device} requested, but Paddle sees {count} CUDA device(s)")
        return f"gpu:{index}", paddle.CUDAPlace(index)
    return "cpu", paddle.CPUPlace()


def add_time_inputs(program, time_ops) -> list[str]:
    """Turn the time constants into inputs: each time ``scale`` op reads its factor from a new fed ``[1]`` tensor
    (the op's ``ScaleTensor`` input, which takes precedence over its ``scale`` attribute). Returns the input names,
    forward ops first then backward ones. One predictor then serves every time, the grid's included."""
    block = program.global_block()
    feeds = [op for op in block.ops if op.type == "feed"]
    holder = feeds[0].input("X")[0] if feeds else "feed"
    col = max((int(op.attr("col")) for op in feeds), default=-1) + 1
    fwd, bwd = time_ops
    names = []
    for j, idx in enumerate(list(fwd) + list(bwd)):
        name = f"deepshop_time_{j}"
        block.create_var(name=name, shape=[1], dtype="float32", persistable=False)
        block.ops[idx].desc.set_input("ScaleTensor", [name])
        names.append(name)
    for j, name in enumerate(names):
        block._prepend_op(type="feed", inputs={"X": [holder]}, outputs={"Out": [block.var(name)]},
                          attrs={"col": col + j})
    return names


class PaddleModel:
    """One loaded DAIN program, checked, rewritten for CPU if needed, run by a Paddle inference predictor.

    The program is read with ``load_inference_model`` (old IR), checked (:func:`.weights.check_program`), its
    ``correlation`` ops rewritten on CPU, its convolutions marked for oneDNN on CPU, its time constants made inputs
    when found; then serialized into a ``paddle.inference`` predictor (IR passes off: they take a minute on this
    program; oneDNN convolutions and a bounded oneDNN cache keep memory flat from pair to pair, which the static
    executor's does not).
    """

    def __init__(self, weights_dir: str, device: str = "auto", rewrite: bool | None = None, onednn: bool = True):
        os.environ["FLAGS_enable_pir_api"] = "0"
        import paddle
        from paddle import inference

        from ...errors import WeightsError
        from . import weights as W
        from .correlation import rewrite_correlation_ops

        paddle.enable_static()
        device, place = resolve_device(paddle, device)
        self.device = device
        exe = paddle.static.Executor(paddle.CPUPlace())
        scope = paddle.static.Scope()
        try:
            with paddle.static.scope_guard(scope):
                prog, feeds, fetch = paddle.static.load_inference_model(
                    weights_dir, exe, model_filename=W.MODEL_FILE, params_filename=W.PARAMS_FILE)
        except Exception as e:  # a damaged or foreign file: say which and why
            msg = str(e).strip().splitlines()
            raise WeightsError(f"cannot load the DAIN program in {weights_dir} ({type(e).__name__}: "
                               f"{msg[-1] if msg else ''}); the files are damaged or not PaddleGAN's DAIN weights: "
                               "delete them and download again") from None
        del scope, exe
        self.n = W.check_program(feeds, [f.shape for f in fetch], weights_dir)
        self.rewritten = 0
        if rewrite is None:
            rewrite = device == "cpu"
        if rewrite:
            self.rewritten = rewrite_correlation_ops(prog)
        self.onednn = 0
        if device == "cpu" and onednn and _has_onednn(paddle):
            self.onednn = use_onednn_convs(prog)
        self.time_ops = find_time_ops(prog.global_block(), self.n)
        self.time_names = add_time_inputs(prog, self.time_ops) if self.time_ops else []
        model_bytes = prog.desc.serialize_to_string()
        with open(os.path.join(weights_dir, W.PARAMS_FILE), "rb") as f:
            params_bytes = f.read()
        cfg = inference.Config()
        cfg.set_model_buffer(model_bytes, len(model_bytes), params_bytes, len(params_bytes))
        cfg.switch_ir_optim(False)
        if hasattr(cfg, "enable_new_ir"):
            cfg.enable_new_ir(False)
        if device.startswith("gpu"):
            cfg.enable_use_gpu(256, int(device.split(":")[1]))
        else:
            cfg.disable_gpu()
            cfg.set_cpu_math_library_num_threads(max(1, len(os.sched_getaffinity(0))
                                                     if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))
            if self.onednn:
                cfg.enable_mkldnn()
                cfg.set_mkldnn_cache_capacity(4)
        cfg.enable_memory_optim()  # reuse activation buffers: halves the peak
        cfg.disable_glog_info()
        self.predictor = inference.create_predictor(cfg)
        self.input = self.predictor.get_input_handle(W.FEED_NAME)
        self.times_in = [self.predictor.get_input_handle(n) for n in self.time_names]
        self.output = self.predictor.get_output_handle(fetch[0].name)

    @property
    def retimable(self) -> bool:
        return self.time_ops is not None

    def run(self, a: np.ndarray, b: np.ndarray, times=None) -> list[np.ndarray]:
        """The N frames at ``times`` (default: the program's k/(N+1)); ``times`` only if :attr:`retimable`."""
        if times is not None and not self.retimable:
            raise ValueError("this program's times cannot be changed")
        x = np.ascontiguousarray(np.stack([a, b])[:, None], dtype=np.float32)  # [2, 1, 3, H, W]
        self.input.reshape(list(x.shape))
        self.input.copy_from_cpu(x)
        if self.times_in:
            ts = grid_times(self.n) if times is None else [float(t) for t in times]
            values = ts + [1.0 - t for t in ts]  # forward ops t_k, backward ops 1 - t_k (output k uses both)
            for handle, v in zip(self.times_in, values):
                handle.reshape([1])
                handle.copy_from_cpu(np.array([v], np.float32))
        self.predictor.run()
        y = self.output.copy_to_cpu()
        return [np.clip(y[k, 0], 0.0, 1.0) for k in range(y.shape[0])]


# ------------------------------------------------------------------------------------------------ the server
class Server:
    def __init__(self):
        self.models: dict = {}  # (weights_dir, resolved device, rewrite) -> PaddleModel
        self.aliases: dict = {}  # the caller's key (device may be "auto") -> the models key
        self.shm = None

    def _attach(self, name: str):
        from multiprocessing import shared_memory

        if self.shm is not None and self.shm.name == name:
            return self.shm
        if self.shm is not None:
            self.shm.close()
        shm = shared_memory.SharedMemory(name=name)
        try:  # the caller owns the block: keep this process's resource tracker from unlinking it
            from multiprocessing import resource_tracker

            resource_tracker.unregister(shm._name, "shared_memory")
        except Exception:
            pass
        self.shm = shm
        return shm

    def load(self, key, weights_dir, device, rewrite):
        os.environ["FLAGS_enable_pir_api"] = "0"
        import paddle

        resolved, _ = resolve_device(paddle, device)
        real_key = (weights_dir, resolved, rewrite)
        model = self.models.get(real_key)
        if model is None:
            model = PaddleModel(weights_dir, resolved, rewrite)
            self.models[real_key] = model
        self.aliases[key] = real_key
        return {"n": model.n, "device": model.device, "retimable": model.retimable,
                "correlation_rewritten": model.rewritten, "onednn_convs": model.onednn}

    def interp(self, key, shm_name, h, w, times, tol, refine_tol):
        model = self.models[self.aliases[key]]
        shm = self._attach(shm_name)
        frames = np.ndarray((2 + len(times), h, w, 3), np.uint8, buffer=shm.buf)
        stats = {"pad": 0.0, "run": 0.0, "crop": 0.0, "runs": 0}
        t0 = time.perf_counter()
        pads = (pad_amounts(h), pad_amounts(w))
        a, b = to_model(frames[0], pads), to_model(frames[1], pads)
        stats["pad"] += time.perf_counter() - t0

        def run(x, y, ts):
            t1 = time.perf_counter()
            res = model.run(x, y, ts)
            stats["run"] += time.perf_counter() - t1
            stats["runs"] += 1
            return res

        outs, actual = map_times(run, a, b, times, model.n, model.retimable, tol, refine_tol)
        t2 = time.perf_counter()
        for i, o in enumerate(outs):
            from_model(o, pads, h, w, out=frames[2 + i])
        stats["crop"] += time.perf_counter() - t2
        del frames
        stats["times"] = actual
        return stats

    def close(self):
        if self.shm is not None:
            self.shm.close()
            self.shm = None


def _error_reply(e: BaseException):
    from ...errors import EngineError, WeightsError

    text = f"{type(e).__name__}: {e}".strip()
    if isinstance(e, WeightsError):
        return ("err", "WeightsError", str(e))
    if isinstance(e, EngineError):
        return ("err", "EngineError", str(e))
    if isinstance(e, MemoryError) or "out of memory" in text.lower() or "ResourceExhausted" in text:
        return ("err", "OutOfMemory", text.splitlines()[-1][:2000])
    tb = traceback.format_exc(limit=6)
    return ("err", "EngineError", f"{text[:2000]}\n{tb[-2000:]}")


def serve(conn) -> None:
    server = Server()
    try:
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                break
            cmd = msg[0]
            if cmd == "stop":
                conn.send(("ok", None))
                break
            try:
                if cmd == "load":
                    reply = ("ok", server.load(*msg[1:]))
                elif cmd == "interp":
                    reply = ("ok", server.interp(*msg[1:]))
                else:
                    reply = ("err", "EngineError", f"unknown worker command {cmd!r}")
            except BaseException as e:  # noqa: BLE001 - everything goes back to the caller
                reply = _error_reply(e)
            try:
                conn.send(reply)
            except (EOFError, OSError):
                break
    finally:
        server.close()


def main() -> None:
    """Entry point of the worker process: connect back to the caller and serve."""
    from multiprocessing.connection import Client

    os.environ["FLAGS_enable_pir_api"] = "0"
    address = sys.argv[1]
    authkey = bytes.fromhex(os.environ.pop("DEEPSHOP_DAIN_AUTHKEY"))
    conn = Client(address, authkey=authkey)
    try:
        serve(conn)
    finally:
        conn.close()
