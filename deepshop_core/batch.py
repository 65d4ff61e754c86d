"""Many inputs, one job (or a manifest with a job per file), outputs into a folder; resumable.

    items = batch.items(batch.find_inputs(["clips/", "extra/*.mov"]), Job(ranges=("2s:3s",), factor=4), "out/")
    outcomes = batch.run(items)            # in this process, one file after the other
    outcomes = batch.run(items, ray="")    # on a local Ray cluster using every core (cluster.py)
    print(batch.summary(outcomes))

An output that exists already is skipped, so running the same batch again finishes what an interrupted run left
(the writer is atomic: an output exists only when complete). A file that fails is reported with its reason and the
others go on.
"""

from __future__ import annotations

import csv
import dataclasses
import glob
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from . import engines
from .errors import DeepshopError, InputError, OutputError
from .files import require_input
from .job import RETIMING, SETTINGS, Job
from .media.formats import CONTAINERS, FORMATS, VIDEO_SUFFIXES
from .plan import plan_clip
from .render import Progress, SlowMotionResult, render_clip

OUTPUT_TAG = "_slowmo"  # clip.mp4 -> clip_slowmo.mp4: an output never takes an input's name
# An input in a container that carries sound keeps it for its output by default.
_KEPT_SUFFIXES = tuple(c.extension for c in CONTAINERS.values() if c.audio_codec)
DONE, SKIPPED, FAILED = "done", "skipped", "failed"


@dataclass(frozen=True)
class Item:
    """One input of a batch, its output and its job."""

    input: Path
    output: Path
    job: Job


@dataclass(frozen=True)
class Outcome:
    """What became of one item: done, skipped (its output existed) or failed (with the reason)."""

    item: Item
    status: str
    reason: str = ""
    result: SlowMotionResult | None = None


# --- inputs -----------------------------------------------------------------------------------------------------


def find_inputs(patterns: Iterable[str | Path]) -> list[Path]:
    """The videos named by files, folders (their video files) and glob patterns, in order, each once."""
    found: list[Path] = []
    for pattern in patterns:
        text = str(pattern)
        path = Path(text)
        if path.is_dir():
            matches = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
            if not matches:
                raise InputError(f"the folder {path} holds no video files ({', '.join(VIDEO_SUFFIXES)})")
        elif path.is_file():
            matches = [path]
        elif glob.has_magic(text):
            matches = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
            if not matches:
                raise InputError(f"no file matches {text!r}")
        else:
            raise InputError(f"input not found: {text} (give video files, folders or glob patterns)")
        found.extend(matches)
    unique = list(dict.fromkeys(p.resolve() for p in found))
    if not unique:
        raise InputError("no inputs: give video files, folders or glob patterns (or --manifest)")
    return unique


def output_for(input: Path, folder: Path, format: str | None) -> Path:
    """``folder/<name>_slowmo<suffix>``: the format's usual extension, else the input's container, else .mp4
    (a PNG sequence is a folder without extension)."""
    if format is not None:
        if format not in FORMATS:
            raise InputError(f"unknown output format {format!r}; choose one of {', '.join(FORMATS)}")
        extensions = FORMATS[format].extensions
        suffix = extensions[0] if extensions else ""
        if input.suffix.lower() in extensions:
            suffix = input.suffix.lower()
    else:
        suffix = input.suffix.lower() if input.suffix.lower() in _KEPT_SUFFIXES else ".mp4"
    return folder / f"{input.stem}{OUTPUT_TAG}{suffix}"


def items(inputs: Iterable[Path | tuple[Path, Job, Path | None]], job: Job, folder: str | Path) -> list[Item]:
    """The batch: each input (or ``(input, its job, its output or None)`` from a manifest) with its output in
    ``folder``. Two inputs may not share an output."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"the output folder {folder} is a file: give a folder for the outputs")
    result: list[Item] = []
    for entry in inputs:
        input, own_job, output = entry if isinstance(entry, tuple) else (entry, job, None)
        output = folder / output if output is not None else output_for(input, folder, own_job.format)
        result.append(Item(Path(input), output, own_job))
    seen: dict[Path, Path] = {}
    for item in result:
        key = item.output.resolve()
        if key in seen:
            raise InputError(f"{seen[key]} and {item.input} would both be written to {item.output}: rename one, "
                             "or give each its output in a manifest")
        if key == item.input.resolve():
            raise InputError(f"the output of {item.input} would be the input itself: choose another output folder")
        seen[key] = item.input
    return result


# --- manifests --------------------------------------------------------------------------------------------------

_ENGINE_KEYS = ("engine", *engines.user_options())  # the engine and the options the engines declare
_UNRETIMED = {f.name: f.default for f in dataclasses.fields(Job) if f.name in RETIMING}
MANIFEST_KEYS = ("input", "output", *_ENGINE_KEYS, *(s.name for s in SETTINGS))


def read_manifest(path: str | Path, job: Job) -> list[tuple[Path, Job, Path | None]]:
    """``(input, job, output or None)`` for each row of a CSV (with a header) or JSON (a list of objects) manifest.

    Keys: input (required; relative to the manifest's folder), output (relative to the output folder), and any
    option of a job under its API name (`MANIFEST_KEYS`: ranges as "120:150;4.8s:6s" or in JSON a list, factor,
    engine, preset, ...). A key left out or empty takes ``job``'s value (the command line's)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"manifest not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read the manifest {path}: {error}") from None
    if path.suffix.lower() == ".json":
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as error:
            raise InputError(f"the manifest {path} is not valid JSON ({error})") from None
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise InputError(f"the manifest {path} must be a JSON list of objects, one per input")
    elif path.suffix.lower() == ".csv":
        rows = list(csv.DictReader(text.splitlines()))
    else:
        raise InputError(f"a manifest is a .csv or .json file, got {path.name}")
    if not rows:
        raise InputError(f"the manifest {path} lists no inputs")
    return [_manifest_row(row, n, path, job) for n, row in enumerate(rows, start=1)]


def _manifest_row(row: dict, n: int, manifest: Path, job: Job) -> tuple[Path, Job, Path | None]:
    where = f"{manifest} entry {n}"
    unknown = sorted(str(k) for k in row if k not in MANIFEST_KEYS)
    if unknown:
        raise InputError(f"{where}: unknown key(s) {', '.join(unknown)}; the keys are {', '.join(MANIFEST_KEYS)}")
    given = {k: v for k, v in row.items() if v not in (None, "")}
    if "input" not in given:
        raise InputError(f"{where}: no input: every entry names its video")
    input = Path(str(given.pop("input")))
    input = input if input.is_absolute() else manifest.parent / input
    try:
        require_input(input, "input")
    except InputError as error:
        raise InputError(f"{where}: {error}") from None
    output = given.pop("output", None)
    if "speed_file" in given and not Path(str(given["speed_file"])).is_absolute():
        given["speed_file"] = manifest.parent / str(given["speed_file"])  # like the input: from the manifest's folder
    if given.keys() & set(RETIMING):  # a row's ranges, curve or smooth mode replace the command line's retiming
        given = {**{k: _UNRETIMED[k] for k in RETIMING}, **given}
    engine = {k: given.pop(k) for k in _ENGINE_KEYS if k in given}
    try:
        if engine:
            name = str(engine.pop("engine", job.engine.name))
            # the command line's engine options belong to its engine
            base = job.engine.settings if name == job.engine.name else {}
            given["engine"] = engines.EngineChoice.from_settings(name, {**base, **engine})
        return input.resolve(), job.replace(**given), None if output is None else Path(str(output))
    except DeepshopError as error:
        raise InputError(f"{where}: {error}") from None


# --- running ----------------------------------------------------------------------------------------------------


def run(batch: Sequence[Item], *, overwrite: bool = False, ray: str | None = None, workers: int | None = None,
        chunks: int | None = None, progress: Progress | None = None) -> list[Outcome]:
    """Process ``batch``; return one `Outcome` per item, in order.

    ``ray`` None: in this process, one file after the other. Otherwise on Ray: ``""`` starts a local cluster with
    ``workers`` CPUs (default: all), an address joins that cluster; long clips are split into ``chunks`` pieces
    (default: enough for the cluster's CPUs, see `chunks.chunk_count`). ``progress(done, total)`` counts output
    frames over the whole batch. Ctrl-C (KeyboardInterrupt) cancels every task and writes nothing more."""
    outcomes: dict[int, Outcome] = {}
    todo: list[tuple[int, Item]] = []
    for n, item in enumerate(batch):
        if item.output.exists() and not overwrite:
            outcomes[n] = Outcome(item, SKIPPED, "the output exists (from an earlier run)")
        else:
            todo.append((n, item))
    for _, item in todo:
        item.output.parent.mkdir(parents=True, exist_ok=True)
    if ray is None:
        outcomes.update(_run_here(todo, overwrite, progress))
    else:
        from . import cluster  # Ray is imported only there

        ended = cluster.run([(n, item.input, item.output, item.job) for n, item in todo], overwrite=overwrite,
                            address=ray, workers=workers, chunks=chunks, progress=progress)
        items_by_n = dict(todo)
        outcomes.update({n: Outcome(items_by_n[n], DONE, result=value) if isinstance(value, SlowMotionResult)
                         else failed(items_by_n[n], value) for n, value in ended.items()})
    return [outcomes[n] for n in range(len(batch))]


def _run_here(todo: Sequence[tuple[int, Item]], overwrite: bool, progress: Progress | None) -> dict[int, Outcome]:
    outcomes: dict[int, Outcome] = {}
    finished = 0  # output frames of the items done
    for n, item in todo:
        def report(done: int, total: int) -> None:
            if progress is not None:
                progress(finished + done, finished + total)

        try:
            result = render_clip(plan_clip(item.input, item.job), item.output, overwrite=overwrite, progress=report)
        except Exception as error:  # noqa: BLE001 - one input's failure, whatever it is, must not stop the others
            outcomes[n] = failed(item, error)
            continue
        finished += result.frames_out
        outcomes[n] = Outcome(item, DONE, result=result)
    return outcomes


def failed(item: Item, error: BaseException) -> Outcome:
    return Outcome(item, FAILED, f"{type(error).__name__}: {error}")


def summary(outcomes: Sequence[Outcome]) -> str:
    """A table: one line per input with its status and output (or the reason), then the counts."""
    rows = [("status", "input", "output / reason")]
    for o in outcomes:
        detail = o.reason if o.status != DONE else \
            f"{o.item.output} ({o.result.frames_in} -> {o.result.frames_out} frames)"
        if o.status == SKIPPED:
            detail = f"{o.item.output}: {o.reason}"
        rows.append((o.status, str(o.item.input), detail))
    widths = [max(len(r[c]) for r in rows) for c in range(2)]
    lines = [f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]}" for r in rows]
    counts = {s: sum(o.status == s for o in outcomes) for s in (DONE, SKIPPED, FAILED)}
    lines.append(", ".join(f"{v} {k}" for k, v in counts.items()))
    return "\n".join(lines)


__all__ = ["Item", "Outcome", "find_inputs", "items", "read_manifest", "run", "summary", "output_for", "DONE",
           "SKIPPED", "FAILED", "MANIFEST_KEYS"]
