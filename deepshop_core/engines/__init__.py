"""Interpolation engines: one small interface (`base.Engine`), engines as plugins, chosen by one typed value.

    choice = engines.EngineChoice.of("flow", preset="best")     # checked now: name and options
    with choice.load() as engine:
        mids = engine.interpolate(frame0, frame1, [0.25, 0.5, 0.75])

An `EngineChoice` is made once, from the command line, a manifest row or a node menu, and travels as one value (a
job's ``engine``; pickled to Ray tasks). Each engine class declares its vocabulary (`describe(name)` -> its
`EngineInfo`). Engines are looked up by name and imported only when described or loaded, so heavy dependencies
(Paddle for DAIN, torch) are imported only by the code that needs them. An engine around a network object the caller
already holds (``timestep_net.TimestepNetEngine(net)``: core ComfyUI's RIFE 4.x / FILM models) is made directly;
``rife`` and ``film`` are Deepshop's own torch networks for the same weight files (``learned/``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Mapping

from ..errors import InputError
from .base import Engine, EngineInfo, EngineStats, Option, check_pair

DEFAULT_ENGINE = "flow"

# name -> "module:class", relative to this package.
_REGISTRY: dict[str, str] = {
    "flow": ".flow:FlowEngine",
    "blend": ".blend:BlendEngine",
    "dain": ".dain:DainEngine",
    "rife": ".learned.engine:RifeEngine",
    "film": ".learned.engine:FilmEngine",
}


def names() -> list[str]:
    """The engine names a choice accepts."""
    return sorted(_REGISTRY)


def describe(name: str) -> EngineInfo:
    """The vocabulary of the engine called ``name``, as its class declares it."""
    return _engine_class(name).info


def user_options() -> dict[str, dict[str, Option]]:
    """Every option users may set, by name, with each engine's declaration of it (engine name -> `Option`; two
    engines may mean different things by ``device``): the command line's and the manifests' engine settings."""
    found: dict[str, dict[str, Option]] = {}
    for name in names():
        for option in describe(name).options:
            if option.user:
                found.setdefault(option.name, {})[name] = option
    return found


@dataclass(frozen=True)
class EngineChoice:
    """An engine by name with its checked options (sorted ``(name, value)`` pairs; an option given as None takes
    the engine's default and is left out)."""

    name: str = DEFAULT_ENGINE
    options: tuple[tuple[str, object], ...] = ()

    def __post_init__(self) -> None:
        info = describe(self.name)
        known = {o.name: o for o in info.options}
        checked = {}
        for key, value in dict(self.options).items():
            if key not in known:
                offered = ", ".join(known) or "none"
                raise InputError(f"the {self.name} engine has no option {key!r} (its options: {offered})")
            if value is not None:
                checked[key] = known[key].check(value)
        object.__setattr__(self, "options", tuple(sorted(checked.items())))

    @classmethod
    def of(cls, name: str = DEFAULT_ENGINE, **options) -> EngineChoice:
        return cls(name, tuple(options.items()))

    @classmethod
    def from_settings(cls, name: str, settings: Mapping[str, object]) -> EngineChoice:
        """The choice of ``name`` with those of ``settings`` (command line arguments, a manifest row) that are its
        options; the other engines' settings are ignored."""
        return cls(name, tuple((o.name, settings.get(o.name)) for o in describe(name).options if o.user))

    @property
    def info(self) -> EngineInfo:
        return describe(self.name)

    @property
    def settings(self) -> dict[str, object]:
        return dict(self.options)

    def get(self, option: str, default=None):
        return self.settings.get(option, default)

    def replace(self, **options) -> EngineChoice:
        """The same engine with these options changed."""
        return EngineChoice(self.name, tuple({**self.settings, **options}.items()))

    def load(self, **context) -> Engine:
        """The engine, built with the choice's options and what the caller's situation adds (``search_dirs``, a
        ``progress`` or ``should_cancel`` callback: no part of the choice), as far as the engine takes it
        (``info.context``)."""
        wanted = self.info.context
        return _engine_class(self.name)(**self.settings, **{k: v for k, v in context.items() if k in wanted})

    def __str__(self) -> str:
        settings = ", ".join(f"{k}={v}" for k, v in self.options)
        return f"{self.name} ({settings})" if settings else self.name


def choice(engine: EngineChoice | str | None) -> EngineChoice:
    """An `EngineChoice` from a choice or a bare name (None: the default engine)."""
    if isinstance(engine, EngineChoice):
        return engine
    if engine is None or isinstance(engine, str):
        return EngineChoice.of(engine or DEFAULT_ENGINE)
    raise InputError(f"an engine is chosen by name ({', '.join(names())}) or EngineChoice, got "
                     f"{type(engine).__name__}")


def load(name: str = DEFAULT_ENGINE, **options) -> Engine:
    """The engine called ``name`` with ``options`` checked and applied; the engine's context keys (``search_dirs``,
    callbacks: `EngineInfo.context`) pass through."""
    info = describe(name)
    context = {k: options.pop(k) for k in list(options) if k in info.context}
    return EngineChoice.of(name, **options).load(**context)


def _engine_class(name: str) -> type[Engine]:
    """The class of the engine called ``name``, imported now."""
    try:
        target = _REGISTRY[name]
    except KeyError:
        raise InputError(f"unknown engine {name!r}: choose one of {', '.join(names())}") from None
    module_name, class_name = target.split(":")
    return getattr(importlib.import_module(module_name, __name__), class_name)


__all__ = ["DEFAULT_ENGINE", "Engine", "EngineChoice", "EngineInfo", "EngineStats", "Option", "check_pair",
           "choice", "describe", "load", "names", "user_options"]
