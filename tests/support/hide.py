"""Run Python as if some modules were not installed:

    python -m tests.support.hide ray -m deepshop_core batch ...     # `python -m deepshop_core batch ...` without Ray
    python -m tests.support.hide ray,torch -m ray                    # "No module named ray", as on a bare install

The import system's path finder is wrapped so that it finds no module of those names (nor their submodules):
``import ray`` raises ModuleNotFoundError and ``importlib.util.find_spec("ray")`` is None, exactly what a machine
without the package gives; nothing else changes (the same interpreter, the same site-packages).
"""

from __future__ import annotations

import runpy
import sys
from importlib.machinery import PathFinder


class _Hiding:
    """The standard path finder, blind to the hidden top-level names."""

    def __init__(self, hidden: set[str]):
        self.hidden = hidden

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in self.hidden:
            return None
        return PathFinder.find_spec(name, path, target)

    def invalidate_caches(self):
        PathFinder.invalidate_caches()


def main() -> None:
    names, how, module, *args = sys.argv[1:]
    if how != "-m":
        raise SystemExit("usage: python -m tests.support.hide NAME[,NAME...] -m MODULE [ARGS...]")
    hidden = set(names.split(","))
    loaded = [name for name in sys.modules if name.partition(".")[0] in hidden]
    if loaded:
        raise SystemExit(f"already imported, cannot hide: {', '.join(sorted(loaded))}")
    sys.meta_path[:] = [_Hiding(hidden) if finder is PathFinder else finder for finder in sys.meta_path]
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
