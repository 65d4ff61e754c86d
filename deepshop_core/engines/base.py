"""What every engine is: the interface, what an engine class declares about itself, and its stage timings.

An engine is a function from two frames and some times to frames (the shape of Practical-RIFE's inference)::

    mids = engine.interpolate(frame0, frame1, [0.25, 0.5, 0.75])

Frames are HxWx3 uint8 RGB numpy arrays of any size; ``times`` are floats in (0, 1). Work that depends only on
the pair (optical flow, a network's features) is done once per call, for all times.

Engines subclass `Engine`. Each class declares its vocabulary once, as an `EngineInfo` (``info``): a summary, the
options a user sets (`Option`: name, help, check, menu choices), its devices, how many source frames it reads
around a pair (``context_frames``), and whether it takes ``threads``. The command line, batch manifests, the nodes
and the benches read it; nothing else says what an engine accepts.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, ClassVar, Iterator, Sequence

import numpy as np

from ..errors import InputError


@dataclass(frozen=True)
class Option:
    """A setting a user gives an engine (command line, manifest, node). ``check`` turns what was given (text from a
    command line or a CSV cell, or a value) into the checked value, or raises `InputError` saying what to change.
    ``choices``: the values a menu lists (the first is the default), empty for free values."""

    name: str
    help: str
    check: Callable[[object], object]
    choices: tuple[str, ...] = ()
    user: bool = True  # False: set by the program, not offered to users (a Ray task's CPU allotment)
    switch: bool = False  # a yes/no setting: a flag on the command line (--download), yes/no in a manifest


def one_of(what: str, choices: Sequence[str]) -> Callable[[object], str]:
    """An `Option` check: the value must be one of ``choices``."""
    def check(value) -> str:
        if str(value) not in choices:
            raise InputError(f"unknown {what} {value!r}: choose one of {', '.join(choices)}")
        return str(value)
    return check


def whole_number(what: str, minimum: int = 1) -> Callable[[object], int]:
    """An `Option` check: a whole number >= ``minimum``."""
    def check(value) -> int:
        try:
            number = int(str(value))
        except ValueError:
            raise InputError(f"{what} must be a whole number, got {value!r}") from None
        if number < minimum:
            raise InputError(f"{what} must be at least {minimum}, got {number}")
        return number
    return check


def yes_no(what: str) -> Callable[[object], bool]:
    """An `Option` check: True or False, also written as yes/no, true/false, on/off, 1/0 (a command line, a CSV)."""
    words = {"yes": True, "true": True, "on": True, "1": True, "no": False, "false": False, "off": False, "0": False}

    def check(value) -> bool:
        if isinstance(value, bool):
            return value
        answer = words.get(str(value).strip().lower())
        if answer is None:
            raise InputError(f"{what} must be yes or no (true/false), got {value!r}")
        return answer
    return check


@dataclass(frozen=True)
class EngineInfo:
    """What an engine class declares about itself (its ``info``)."""

    name: str
    summary: str  # one line, for --help and the node menus
    options: tuple[Option, ...] = ()
    devices: tuple[str, ...] = ()  # the devices it accepts; () = the CPU only
    context_frames: int = 0  # source frames it reads on each side of the pair it interpolates
    threaded: bool = False  # takes ``threads=N`` (a Ray task gives it its CPU allotment)
    weights_folder: str | None = None  # the sub-folder of ComfyUI's models/ its weights files live in
    # What its constructor takes from the caller's situation besides the options (`EngineChoice.load`):
    # "search_dirs" (folders to look for weights in), "progress" (a download's), "should_cancel" (polled in a call)
    context: tuple[str, ...] = ()

    def option(self, name: str) -> Option | None:
        return next((o for o in self.options if o.name == name), None)

    @property
    def presets(self) -> tuple[str, ...]:
        """The ``preset`` option's choices, default first (none for an engine without presets)."""
        preset = self.option("preset")
        return preset.choices if preset is not None else ()

    @property
    def default_preset(self) -> str | None:
        return self.presets[0] if self.presets else None


class EngineStats:
    """Seconds an engine spent per stage and what it counted (pairs, model runs), summed over its calls; stages run
    on several threads add up (their sum can exceed the wall time). The pipeline reports ``seconds`` per job."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.seconds: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def add(self, stage: str, seconds: float) -> None:
        with self._lock:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds

    def count(self, what: str, n: int = 1) -> None:
        with self._lock:
            self.counts[what] = self.counts.get(what, 0) + n

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, time.perf_counter() - started)

    def reset(self) -> None:
        with self._lock:
            self.seconds, self.counts = {}, {}


class Engine:
    """The interface every engine provides (subclass it). ``cancel()`` matters for engines whose work outlives a
    call (a worker process): the pipeline calls it when a job is cancelled between two pairs.

    An engine whose ``info.context_frames`` is 1 also takes ``interpolate(..., before=, after=)``: the source frames
    just before ``frame0`` and just after ``frame1`` (evenly spaced, same shot), either of them None where the
    pipeline has none to give (a clip's edge, a scene cut, a held frame)."""

    info: ClassVar[EngineInfo]
    stats: EngineStats

    @property
    def name(self) -> str:
        return self.info.name

    def interpolate(self, frame0: np.ndarray, frame1: np.ndarray, times: Sequence[float]) -> list[np.ndarray]:
        """Frames at each of ``times`` (0 < t < 1) between ``frame0`` (t=0) and ``frame1`` (t=1)."""
        raise NotImplementedError

    def cancel(self) -> None:
        """The job was cancelled: stop what outlives a call. Nothing to stop by default."""

    def close(self) -> None:
        """Release what the engine holds (worker processes, device memory). Idempotent."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


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


__all__ = ["Engine", "EngineInfo", "EngineStats", "Option", "check_pair", "one_of", "whole_number", "yes_no"]
