"""The README's promises and the claims table (docs/CLAIMS.md) that names the tests holding each: read both, and the
tests, cheaply (their text and ``ast``: nothing collected or run). Used by tests/test_claims.py; run as a script it
prints what is missing, ready to paste:

    python -m tests.claims

The rule that turns the README into promises is the one docs/CLAIMS.md states at its top.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import cache

from tests.support import ROOT

README = ROOT / "README.md"
CLAIMS = ROOT / "docs" / "CLAIMS.md"

# Sections whose prose is not a promise of the product: measured results (bench/, also fenced off by markers),
# the test suite's own description, the layout and the licence.
SKIPPED_SECTIONS = ("Scene-cut detection (bench/cuts.py)", "Tests", "Layout", "Licence")
COMMANDS = ("deepshop", "make", "pip")  # the bash lines that are promises: the project's own commands
LEVELS = ("unit", "clips", "slow", "server", "browser", "bench")
DATA_FIXTURES = {"testdata", "videos", "middlebury", "davis22"}
# Tables of CLAIMS.md: heading -> kind of promise. "Not promises" lists sentences that promise nothing, with why.
KINDS = {"Sentences": "sentence", "Commands": "command", "Python": "python", "Nodes": "node",
         "Command-line options": "option", "Not promises": "none"}
# A test that runs elsewhere: tests/comfyui/video_node_tests.py runs in each test ComfyUI's venv, started by this one.
RUN_BY = {"tests/comfyui/video_node_tests.py": "tests/test_comfyui_server.py::test_video_node_tests_in_the_comfyui_venv"}


def normal(text: str) -> str:
    return " ".join(text.split())


# --- the README ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Promises:
    sentences: tuple[str, ...]
    commands: tuple[str, ...]
    python: tuple[str, ...]
    nodes: tuple[str, ...]
    options: tuple[str, ...]

    def of(self, kind: str) -> tuple[str, ...]:
        return {"sentence": self.sentences, "command": self.commands, "python": self.python, "node": self.nodes,
                "option": self.options}[kind]


def read_promises(text: str | None = None) -> Promises:
    text = README.read_text() if text is None else text
    text = re.sub(r"<!-- (\w+):results -->.*?<!-- /\1:results -->", "", text, flags=re.S)
    blocks = re.findall(r"```(\w*)\n(.*?)```", text, flags=re.S)
    commands = tuple(normal(line.split("#")[0]) for lang, body in blocks if lang == "bash" for line in body.splitlines()
                     if line.split() and line.split()[0] in COMMANDS)
    python = tuple(normal(line.split("  #")[0]) for lang, body in blocks if lang == "python"
                   for line in body.splitlines() if line.strip() and not line.lstrip().startswith("#"))
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    return Promises(tuple(_sentences(prose)), commands, python, tuple(_nodes(prose)), tuple(_options()))


def _sentences(text: str) -> list[str]:
    """Every sentence of the prose (paragraphs and list items; not tables, pictures, captions or comments) of the
    sections not in SKIPPED_SECTIONS."""
    sections, name, lines = [], "", []
    for line in text.splitlines():
        heading = re.match(r"#+ (.*)", line)
        if heading:
            sections.append((name, lines))
            name, lines = heading.group(1).strip(), []
        else:
            lines.append(line)
    sections.append((name, lines))
    found = []
    for name, lines in sections:
        if name in SKIPPED_SECTIONS:
            continue
        paragraphs, current = [], []
        for line in [*lines, ""]:
            line = line.strip()
            if not line or line.startswith(("|", "![", "<!--")) or (line.startswith("- ") and current):
                if current:
                    paragraphs.append(" ".join(current))
                current = []
            if line and not line.startswith(("|", "![", "<!--")):
                current.append(line.removeprefix("- "))
        for paragraph in paragraphs:
            if paragraph.startswith("*") and paragraph.endswith("*") and not paragraph.startswith("**"):
                continue  # a picture's caption
            found += [normal(s) for s in re.split(r"(?<=[.!?])\s+(?=[A-Z`*(\"])", paragraph)]
    return found


def _nodes(text: str) -> list[str]:
    """The first column of the node table."""
    table = re.search(r"^\| node \| what it does \|\n\|[-| ]+\|\n((?:\|.*\n)+)", text, flags=re.M)
    return [row.split("|")[1].strip() for row in table.group(1).splitlines()] if table else []


def _options() -> list[str]:
    """Every long option of the ``deepshop`` command line, any subcommand: what ``--help`` documents."""
    import argparse

    from deepshop_core.cli import parser

    found, parsers = [], [parser()]
    while parsers:
        current = parsers.pop(0)
        for action in current._actions:
            if isinstance(action, argparse._SubParsersAction):
                parsers += list(action.choices.values())
            found += [o for o in action.option_strings if o.startswith("--") and o != "--help"]
    return list(dict.fromkeys(found))


# --- the claims table ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    kind: str
    promise: str
    tests: tuple[str, ...]  # "tests/file.py::name" or "bench/script.py"; for kind "none": ()
    level: tuple[str, ...]
    why: str  # kind "none": why the sentence promises nothing testable
    line: int


def read_claims(text: str | None = None) -> list[Row]:
    text = CLAIMS.read_text() if text is None else text
    rows, kind = [], None
    for number, line in enumerate(text.splitlines(), start=1):
        heading = re.match(r"## (.*)", line)
        if heading:
            kind = KINDS.get(heading.group(1).strip())
            continue
        if kind is None or not line.startswith("| ") or set(line) <= set("|- ") or line.startswith("| promise"):
            continue
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        promise = normal(cells[0])
        if promise.startswith("`") and promise.endswith("`") and kind in ("command", "python", "option"):
            promise = promise[1:-1]
        if kind == "none":
            rows.append(Row(kind, promise, (), (), cells[1], number))
        else:
            tests = tuple(t.strip() for t in re.split(r",|<br>", cells[1]) if t.strip())
            level = tuple(v.strip() for v in cells[2].split(",") if v.strip())
            rows.append(Row(kind, promise, tests, level, "", number))
    return rows


# --- the tests -------------------------------------------------------------------------------------------------------

def _marks(node) -> set[str]:
    """The ``pytest.mark.X`` names in an expression (a decorator, a pytestmark list)."""
    return {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Attribute)
            and n.value.attr == "mark"}


def _fixtures(tree: ast.Module) -> dict[str, list[str]]:
    """Fixture name -> the names it asks for."""
    found = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and any("fixture" in ast.unparse(d) for d in node.decorator_list):
            found[node.name] = [a.arg for a in node.args.args]
    return found


@cache
def _shared_fixtures() -> dict[str, list[str]]:
    found = {}
    for path in [ROOT / "tests" / "conftest.py", *sorted((ROOT / "tests" / "support").glob("*.py"))]:
        found.update(_fixtures(ast.parse(path.read_text())))
    return found


def _needs_data(names, local: dict, seen: set | None = None) -> bool:
    seen = set() if seen is None else seen
    for name in names:
        if name in DATA_FIXTURES:
            return True
        if name in seen:
            continue
        seen.add(name)
        args = local.get(name, _shared_fixtures().get(name))
        if args and _needs_data(args, local, seen):
            return True
    return False


@cache
def known_tests() -> dict[str, tuple[str, ...]]:
    """Every test in tests/ (``path::name`` and ``path::Class::name``) -> its levels, as tests/conftest.py gives
    them: clips (a data fixture, directly or through fixtures), slow, server (comfyui or cluster), browser; else
    unit."""
    index = {}
    paths = sorted((ROOT / "tests").glob("test_*.py")) + [ROOT / "tests" / "comfyui" / "video_node_tests.py"]
    for path in paths:
        tree = ast.parse(path.read_text())
        module_marks = set()
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "pytestmark" for t in node.targets):
                module_marks |= _marks(node.value)
        local = _fixtures(tree)
        relative = path.relative_to(ROOT).as_posix()
        functions = [(f"{relative}::{n.name}", n, set()) for n in tree.body if isinstance(n, ast.FunctionDef)]
        for cls in (n for n in tree.body if isinstance(n, ast.ClassDef) and n.name.startswith("Test")):
            functions += [(f"{relative}::{cls.name}::{n.name}", n, set().union(*map(_marks, cls.decorator_list)))
                          for n in cls.body if isinstance(n, ast.FunctionDef)]
        for node_id, function, class_marks in functions:
            if not function.name.startswith("test"):
                continue
            marks = module_marks | class_marks | set().union(*map(_marks, function.decorator_list))
            levels = set()
            if _needs_data([a.arg for a in function.args.args], local):
                levels.add("clips")
            if "slow" in marks:
                levels.add("slow")
            if marks & {"comfyui", "cluster", "server"}:
                levels.add("server")
            if "browser" in marks:
                levels.add("browser")
            index[node_id] = tuple(level for level in LEVELS if level in levels) or ("unit",)
    for node_id in [n for n in index if n.split("::")[0] in RUN_BY]:
        index[node_id] = ("server",)
    return index


def levels_of(tests) -> tuple[str, ...]:
    found = set()
    for test in tests:
        found |= {"bench"} if test.startswith("bench/") else set(known_tests().get(test, ()))
    return tuple(level for level in LEVELS if level in found)


# --- what is missing or stale --------------------------------------------------------------------------------------

def covers(row: Row, kind: str, promise: str) -> bool:
    if row.kind in ("sentence", "none"):
        return kind == "sentence" and row.promise in promise
    return row.kind == kind and row.promise == promise


def problems(promises: Promises | None = None, rows: list[Row] | None = None) -> list[str]:
    promises = read_promises() if promises is None else promises
    rows = read_claims() if rows is None else rows
    found = []
    for kind in ("sentence", "command", "python", "node", "option"):
        for promise in promises.of(kind):
            if not any(covers(row, kind, promise) for row in rows):
                found.append(f"no row for the README's {kind}: {promise}")
    for row in rows:
        where = f"docs/CLAIMS.md line {row.line}"
        kind = "sentence" if row.kind == "none" else row.kind
        matches = [p for p in promises.of(kind) if covers(row, kind, p)]
        if not matches:
            found.append(f"{where}: the promise is no longer in the README: {row.promise}")
        elif len(matches) > 1:
            found.append(f"{where}: the promise is in {len(matches)} README sentences (quote more of one): "
                         f"{row.promise}")
        if row.kind == "none":
            if not row.why:
                found.append(f"{where}: a sentence that promises nothing says why")
            continue
        if not row.tests:
            found.append(f"{where}: no test holds: {row.promise}")
        missing = [t for t in row.tests if not ((ROOT / t).is_file() if t.startswith("bench/") else t in known_tests())]
        found += [f"{where}: no such {'bench script' if t.startswith('bench/') else 'test'}: {t}" for t in missing]
        if row.tests and not missing and set(row.level) != set(levels_of(row.tests)):
            found.append(f"{where}: level {', '.join(row.level)}, but its tests are "
                         f"{', '.join(levels_of(row.tests))}")
    return found


if __name__ == "__main__":
    for problem in problems():
        print(problem)
