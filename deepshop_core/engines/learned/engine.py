"""The ``rife`` and ``film`` engines: a weight file found (or downloaded), read safely, loaded into Deepshop's own
network (`ifnet.IFNet`, `film.FILMNet`) on the chosen device and precision, and driven by `TimestepNetEngine`
(padding, all times of a pair in one batch, frames kept on the device from pair to pair, smaller batches when memory
runs out).

    engine = engines.load("rife", weights="rife_v4.26.safetensors", device="cuda:0")   # or EngineChoice.of(...)
    mids = engine.interpolate(frame0, frame1, [0.25, 0.5, 0.75])

Options (declared in each class's ``info``): ``weights``, ``device``, ``precision``, ``download``; ``threads`` (set
by the program: a Ray task's CPU allotment). Context a caller may add: ``search_dirs`` (ComfyUI's
``models/frame_interpolation``), ``progress`` (download progress), ``should_cancel`` (checked while a download runs:
it stops with `Cancelled`, the partial file kept for the next try). Once loaded, an engine is cancelled between pairs
like every engine (one pair is one forward pass). Importing this module does not import torch; loading an engine
does (``pip install 'deepshop[torch]'``).
"""

from __future__ import annotations

import os
import time
from typing import Callable, ClassVar, Iterable

from ...errors import Cancelled, EngineError, InputError, WeightsError
from .. import devices as device_names
from ..base import EngineInfo, Option, whole_number, yes_no
from ..timestep_net import TimestepNetEngine, first_line, memory_advice, out_of_memory
from . import devices, files


def _path_or_name(value) -> str:
    text = os.fspath(value) if isinstance(value, os.PathLike) else str(value)
    if not text.strip():
        raise InputError("weights must name a file (a path, or a file name such as rife_v4.26.safetensors)")
    return text


def _options(kind: str) -> tuple[Option, ...]:
    default = files.default(kind).name
    others = ", ".join(f.name for f in files.known(kind)[1:]) or "none"
    return (
        Option("weights", f"the weight file: a path, or a file name looked for in ComfyUI's "
                          f"models/frame_interpolation, $DEEPSHOP_MODELS and the cache (default {default}; also "
                          f"{others})", _path_or_name),
        Option("device", "where the network runs: auto (the first CUDA GPU, else the CPU), cpu or cuda:N",
               device_names.parse_device),
        Option("precision", "auto (fp16 on CUDA, fp32 on the CPU), fp32 or fp16",
               devices.parse_precision, devices.PRECISIONS),
        Option("download", f"download the weights from {files.REPO} (checksum-verified) when none are found",
               yes_no("download"), switch=True),
        Option("threads", "CPU threads torch may use", whole_number("threads"), user=False),
    )


class LearnedEngine(TimestepNetEngine):
    """A learned network of ``kind`` from a weight file (see the module doc); subclasses only declare it."""

    kind: ClassVar[str]

    def __init__(self, weights: str | os.PathLike | None = None, device: str = "auto", precision: str = "auto",
                 download: bool = False, threads: int | None = None, *,
                 search_dirs: Iterable[str | os.PathLike] = (), progress: Callable[[int, int], object] | None = None,
                 should_cancel: Callable[[], bool] | None = None):
        torch = _import_torch(self.kind)
        started = time.perf_counter()
        device, precision = device_names.parse_device(device), devices.parse_precision(precision)
        if threads is not None:
            torch.set_num_threads(whole_number("threads")(threads))
        where = devices.resolve(device)  # a GPU that does not exist fails before any file is read
        self.weights = files.ensure(self.kind, weights, search_dirs, download=yes_no("download")(download),
                                    progress=_cancellable(progress, should_cancel))
        from . import checkpoint

        net = checkpoint.build(self.kind, checkpoint.read_state(self.weights), str(self.weights))
        dtype = devices.dtype(precision, where)
        try:
            net = net.to(device=where, dtype=dtype).eval()
        except (RuntimeError, MemoryError) as error:
            if out_of_memory(error):
                raise EngineError(f"out of memory on {where} while loading {self.weights.name}: "
                                  f"{memory_advice(where)}") from error
            raise EngineError(f"cannot put the {self.kind} network on {where}: {first_line(error)}") from error
        super().__init__(net, device=where, dtype=dtype)
        self.stats.add("load", time.perf_counter() - started)

    def close(self) -> None:
        """Drop the kept frames and the network (its device memory goes back to the device). Idempotent."""
        super().close()
        self.net = None
        if self.device.type == "cuda":
            import torch

            torch.cuda.empty_cache()

    def interpolate(self, frame0, frame1, times):
        if self.net is None:
            raise EngineError(f"this {self.kind} engine is closed: load a new one")
        return super().interpolate(frame0, frame1, times)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(weights={str(self.weights)!r}, device={str(self.device)!r}, dtype={self.dtype})"


def engine_for_file(path: str | os.PathLike) -> str:
    """``"rife"`` or ``"film"``: the engine a weight file is for, from its tensor names (read safely); a
    `WeightsError` for a file of neither."""
    _import_torch("rife or film")
    from . import checkpoint

    found = checkpoint.architecture(checkpoint.read_state(path))
    if found is None:
        raise WeightsError(f"{path} is not a RIFE 4.x or FILM weight file: put one of those in "
                           "models/frame_interpolation")
    return found


def _cancellable(progress, should_cancel):
    """A download progress callback that also stops the download when ``should_cancel()`` says so."""
    if should_cancel is None:
        return progress

    def report(done: int, total: int) -> None:
        if should_cancel():
            raise Cancelled("download cancelled; the partial file is kept, the next try resumes it")
        if progress is not None:
            progress(done, total)
    return report


def _import_torch(kind: str):
    try:
        import torch
    except ImportError:
        raise EngineError(f"the {kind} engine needs torch: pip install 'deepshop[torch]' (or a CUDA build of torch "
                          f"from pytorch.org, then 'deepshop[torch]')") from None
    return torch


def _info(kind: str, network: str) -> EngineInfo:
    return EngineInfo(kind, f"{network} on torch, CPU or CUDA (pip install 'deepshop[torch]'; weights found or "
                            f"downloaded)", options=_options(kind), devices=device_names.DEVICES, threaded=True,
                      weights_folder="frame_interpolation", context=("search_dirs", "progress", "should_cancel"))


class RifeEngine(LearnedEngine):
    kind = "rife"
    info = _info(kind, "RIFE 4.2x (Practical-RIFE)")


class FilmEngine(LearnedEngine):
    kind = "film"
    info = _info(kind, "FILM (Google Research)")


__all__ = ["FilmEngine", "LearnedEngine", "RifeEngine"]
