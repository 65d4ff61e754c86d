"""The layer rules of docs/ARCHITECTURE.md, read from the source: every import of deepshop_core and nodes/ (module
level and inside functions), checked against the layer table; no cycles; no private name used across modules; the
size limits of a room (modules, functions)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support import ROOT

CORE = ROOT / "deepshop_core"

# Each layer imports only its own and the layers above it in this list (docs/ARCHITECTURE.md, "Layers").
LAYERS: dict[str, tuple[str, ...]] = {
    "base": ("errors", "files", "clock", "speed", "timeline", "steps", "range_batches"),
    "media, engines, analysis": ("media", "engines", "scenes", "curve_picture"),
    "job": ("job",),
    "pipeline": ("plan", "retime", "render", "api", "splice", "synthetic"),
    "jobs": ("chunks", "batch", "cluster"),
    "faces": ("cli", "__init__", "__main__"),
}
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
# Third-party packages the core imports only inside the code that runs them (never at a module's top level), and
# never at all (ComfyUI).
LAZY = {"torch", "paddle", "ray", "safetensors"}
NEVER_IN_CORE = {"comfy", "comfy_api", "comfy_extras", "folder_paths", "nodes"}
# The modules that run inside another process on purpose (the DAIN worker is Paddle's own interpreter).
LAZY_EXEMPT = {"deepshop_core.engines.dain.worker", "deepshop_core.engines.dain.correlation"}


def modules(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module of a package folder."""
    base = root.parent
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(base).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    """The absolute module a ``from ... import`` names."""
    if not node.level:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(module: str, path: Path) -> list[tuple[str, str | None, int, bool]]:
    """(imported module, name imported from it or None, line, at the module's top level) for every import."""
    tree = ast.parse(path.read_text(), str(path))
    top = {id(n) for n in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, None, node.lineno, id(node) in top) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = resolve(module, path, node)
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.append((sub if sub in ALL else target, None if sub in ALL else alias.name, node.lineno,
                              id(node) in top))
    return found


ALL = {**modules(CORE), **modules(ROOT / "nodes")}


def layer_of(module: str) -> int | None:
    """The layer index of a core module (None outside the core)."""
    parts = module.split(".")
    if parts[0] != "deepshop_core":
        return None
    name = parts[1] if len(parts) > 1 else "__init__"
    for index, members in enumerate(LAYERS.values()):
        if name in members:
            return index
    raise AssertionError(f"{module} is in no layer: add it to LAYERS here and to docs/ARCHITECTURE.md")


def test_every_core_module_is_in_a_layer():
    for module in modules(CORE):
        layer_of(module)


def test_no_core_module_imports_a_layer_below_it():
    upward = []
    for module, path in modules(CORE).items():
        for target, _, line, _ in imports(module, path):
            if target.startswith("deepshop_core") and layer_of(target) > layer_of(module):
                upward.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert upward == []


def eagerly_imported() -> set[str]:
    """The core modules that importing the package, its command line or describing any engine loads: the closure of
    module-level imports from those (an engine's network module, imported only when it loads, is not among them)."""
    registry = next(node.value for node in ast.walk(ast.parse((CORE / "engines" / "__init__.py").read_text()))
                    if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "_REGISTRY")
    engine_modules = {"deepshop_core.engines" + ast.literal_eval(v).split(":")[0] for v in registry.values}
    roots = {"deepshop_core", "deepshop_core.cli", "deepshop_core.api", "deepshop_core.batch", *engine_modules}
    core = modules(CORE)
    seen, todo = set(), list(roots)
    while todo:
        module = todo.pop()
        if module in seen or module not in core:
            continue
        seen.add(module)
        todo += [t for t, _, _, top in imports(module, core[module]) if top]
        todo += [module.rsplit(".", 1)[0]] if "." in module else []  # a module's package __init__ runs first
    return seen


def test_the_core_never_imports_comfyui_and_heavy_packages_only_where_used():
    """ComfyUI never; torch, Paddle and Ray only in code that runs when an engine loads or a cluster starts: never at
    the top of a module that importing the core, its command line or describing an engine loads."""
    eager, found = eagerly_imported(), []
    for module, path in modules(CORE).items():
        for target, _, line, top in imports(module, path):
            root = target.split(".")[0]
            heavy_at_top = top and root in LAZY and module in eager and module not in LAZY_EXEMPT
            if root in NEVER_IN_CORE or heavy_at_top:
                found.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert found == []


def test_node_modules_import_the_core_and_the_shared_node_modules_only():
    shared = {"nodes.comfy", "nodes.convert", "nodes.widgets"}
    crossing = []
    for module, path in modules(ROOT / "nodes").items():
        for target, _, line, _ in imports(module, path):
            if target.startswith("nodes") and module != "nodes" and target not in shared:
                crossing.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert crossing == []


def test_no_import_cycles():
    graph = {m: {t for t, _, _, _ in imports(m, p) if t in ALL and t != m} for m, p in ALL.items()}
    # a package's __init__ re-exporting its modules is no cycle: drop the edges from a module to its own package
    graph = {m: {t for t in targets if not m.startswith(t + ".")} for m, targets in graph.items()}
    cycles, state = [], {}

    def visit(m: str, stack: list[str]) -> None:
        state[m] = "open"
        for t in sorted(graph[m]):
            if state.get(t) == "open":
                cycles.append(" -> ".join(stack[stack.index(t):] + [t]))
            elif t not in state:
                visit(t, stack + [t])
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert cycles == []


def test_no_private_name_is_used_across_modules():
    found = []
    for module, path in ALL.items():
        tree = ast.parse(path.read_text())
        aliases = {}
        for target, name, line, _ in imports(module, path):
            if target in ALL and target != module and name and name.startswith("_") and not name.startswith("__"):
                found.append(f"{path.relative_to(ROOT)}:{line} imports {name} from {target}")
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level:
                for alias in node.names:
                    if f"{resolve(module, path, node)}.{alias.name}" in ALL:
                        aliases[alias.asname or alias.name] = alias.name
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases \
                    and node.attr.startswith("_") and not node.attr.startswith("__"):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} uses {node.value.id}.{node.attr}")
    assert found == []


@pytest.mark.parametrize("module", sorted(modules(CORE)))
def test_a_core_module_is_a_room_read_in_one_sitting(module):
    path = modules(CORE)[module]
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_MODULE_LINES, f"{path.relative_to(ROOT)} has {lines} lines: split it by responsibility"
    long = [f"{node.name} ({node.end_lineno - node.lineno + 1} lines, line {node.lineno})"
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert long == [], f"{path.relative_to(ROOT)}: functions over {MAX_FUNCTION_LINES} lines: {', '.join(long)}"
