"""Interpolation engines: one small interface, engines as plugins.

An engine is a function from two frames and some times to frames (the shape of Practical-RIFE's inference
scripts)::

    engine = engines.load("flow", preset="balanced")
    mids = engine.interpolate(frame0, frame1, [0.25, 0.5, 0.75])

Frames are HxWx3 uint8 RGB numpy arrays of any size; ``times`` are floats in (0, 1). Work that depends only on
the pair (optical flow, a network's features) is done once per call, for all times.

Each engine class describes its own vocabulary, read through ``describe(name)`` (an `EngineInfo`) by the CLI,
batch, the nodes and the benches: ``presets`` and ``default_preset``, ``options`` (the keyword options a user sets:
command line, manifest, node), ``devices``, ``context_frames`` (how many source frames it reads on each side of
a pair; chunked runs decode that much overlap) and ``threaded`` (it takes ``threads=N``, the CPU threads it may
use).

Neighbour frames, an optional capability: an engine whose ``context_frames`` is 1 (``flow``: acceleration-aware
motion) also takes ``interpolate(frame0, frame1, times, before=..., after=...)``, the source frames just before
``frame0`` and just after ``frame1`` (evenly spaced, same shot), either of them None where the pipeline has none to
give (a clip's edge, a scene cut, a held frame); with none it gives exactly its two-frame result. The pipeline
gives them only to engines that declare it (`reads_neighbours`); the others are called as before.

Engines are looked up by name in ``_REGISTRY`` and imported only when loaded, so heavy dependencies (Paddle for
DAIN) are imported only by the code that needs them. An engine around a network object the caller already holds
(``timestep_net.TimestepNetEngine(net)``: core ComfyUI's RIFE 4.x / FILM models) is made directly, not by name.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from ..errors import InputError

DEFAULT_ENGINE = "flow"

# name -> "module:factory", relative to this package. The factory takes the keyword options given to load().
_REGISTRY: dict[str, str] = {
    "flow": ".flow:FlowEngine",
    "blend": ".blend:BlendEngine",
    "dain": ".dain:DainEngine",
}


@runtime_checkable
class Engine(Protocol):
    """What every engine provides. Optional beyond it: ``cancel()``, for an engine whose work outlives a call (a
    worker process): the pipeline calls it when a job is cancelled between two pairs (see `stop_on_cancel`)."""

    name: str

    def interpolate(self, frame0: np.ndarray, frame1: np.ndarray, times: Sequence[float]) -> list[np.ndarray]:
        """Frames at each of ``times`` (0 < t < 1) between ``frame0`` (t=0) and ``frame1`` (t=1)."""
        ...

    def close(self) -> None:
        """Release what the engine holds (worker processes, device memory). Idempotent."""
        ...


@dataclass(frozen=True)
class EngineInfo:
    """What an engine class declares about itself (`describe`)."""

    name: str
    presets: tuple[str, ...] = ()  # the quality/speed presets it accepts
    default_preset: str | None = None
    options: tuple[str, ...] = ()  # the keyword options a user sets (command line, manifest, node)
    devices: tuple[str, ...] = ()  # the devices it accepts; () = the CPU only
    context_frames: int = 0  # source frames it reads on each side of the pair it interpolates
    threaded: bool = False  # takes ``threads=N``, the CPU threads it may use (a Ray task gives it its CPU allotment)


def names() -> list[str]:
    """The names ``load`` accepts."""
    return sorted(_REGISTRY)


def load(name: str = DEFAULT_ENGINE, **options) -> Engine:
    """The engine called ``name``, built with ``options`` (e.g. ``preset="best"`` for flow)."""
    return _factory(name)(**options)


def check_pair(frame0: np.ndarray, frame1: np.ndarray, times: Sequence[float]) -> list[float]:
    """Validate an ``interpolate`` call; return the times as floats. Shared by all engines."""
    for label, frame in (("frame0", frame0), ("frame1", frame1)):
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            got = f"{getattr(frame, 'dtype', type(frame).__name__)} {getattr(frame, 'shape', '')}"
            raise InputError(f"{label} must be an HxWx3 uint8 RGB array, got {got}")
    if frame0.shape != frame1.shape:
        raise InputError(f"frames differ in size: {frame0.shape[:2]} vs {frame1.shape[:2]}; resize them to match")
    out = [float(t) for t in times]
    bad = [t for t in out if not 0.0 < t < 1.0]
    if bad:
        raise InputError(f"interpolation times must lie strictly between 0 and 1, got {bad[:3]}")
    return out


def describe(name: str) -> EngineInfo:
    """The vocabulary of the engine called ``name``, as its class declares it (the one owner of presets, options
    and devices)."""
    factory = _factory(name)
    return EngineInfo(name=name, presets=tuple(getattr(factory, "presets", ())),
                      default_preset=getattr(factory, "default_preset", None),
                      options=tuple(getattr(factory, "options", ())), devices=tuple(getattr(factory, "devices", ())),
                      context_frames=int(getattr(factory, "context_frames", 0)),
                      threaded=bool(getattr(factory, "threaded", False)))


def context_frames(engine: str | Engine) -> int:
    """Source frames an engine (a name, or an instance: a caller's own engine may not declare it) reads on each
    side of the pair it interpolates (0 for engines that see only the pair). The one place the pipeline's frame
    window and the chunked runs' overlap are taken from."""
    if isinstance(engine, str):
        return describe(engine).context_frames
    return int(getattr(engine, "context_frames", 0))


def reads_neighbours(engine: Engine) -> bool:
    """Whether ``engine`` (an instance) takes the pair's neighbours (``before=``, ``after=``)."""
    return context_frames(engine) > 0


def stop_on_cancel(engine: Engine) -> None:
    """Tell ``engine`` its job was cancelled, if it has anything to stop (``cancel()``; most engines do not)."""
    cancel = getattr(engine, "cancel", None)
    if cancel is not None:
        cancel()


def _factory(name: str):
    """The class (or function) that builds the engine called ``name``, imported now."""
    try:
        target = _REGISTRY[name]
    except KeyError:
        raise InputError(f"unknown engine {name!r}: choose one of {', '.join(names())}") from None
    module_name, factory_name = target.split(":")
    return getattr(importlib.import_module(module_name, __name__), factory_name)
