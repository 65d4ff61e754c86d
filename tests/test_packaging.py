"""The package's shape: metadata, light imports, the ComfyUI entry point's contract."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import tomllib

from tests.support import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_importing_the_core_never_imports_comfy_torch_or_paddle():
    code = (
        "import sys, deepshop_core, deepshop_core.cli, deepshop_core.api, deepshop_core.batch, deepshop_core.synthetic\n"
        "from deepshop_core import engines\n"
        "engines.load('flow'); engines.load('blend')\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'comfy', 'torch', 'paddle', 'folder_paths'})\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_metadata_is_valid_for_pypi_and_the_comfy_registry():
    project = PYPROJECT["project"]
    assert project["name"] == "deepshop"
    assert re.fullmatch(r"\d+\.\d+\.\d+", project["version"])
    assert project["requires-python"] == ">=3.10"
    assert project["urls"]["Repository"].startswith("https://")
    assert project["scripts"]["deepshop"] == "deepshop_core.cli:main"
    assert {"dain", "dain-gpu", "test", "bench", "cluster"} <= set(project["optional-dependencies"])
    comfy = PYPROJECT["tool"]["comfy"]
    assert re.fullmatch(r"[a-z0-9-]+", comfy["PublisherId"]) and comfy["DisplayName"]
    assert "Icon" in comfy


def test_version_is_stated_once_in_spirit():
    import deepshop_core

    assert deepshop_core.__version__ == PYPROJECT["project"]["version"]


def test_requirements_txt_mirrors_the_dependencies():
    """ComfyUI-Manager installs requirements.txt; pip installs pyproject's list: they must agree."""
    lines = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    assert sorted(line for line in lines if line and not line.startswith("#")) == sorted(PYPROJECT["project"]["dependencies"])


def test_the_wheel_ships_only_the_core():
    """`pip install .` must not install a top-level `nodes` package: it would shadow ComfyUI's nodes.py."""
    assert PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"] == ["deepshop_core*"]


@pytest.mark.slow  # builds a wheel
def test_pip_install_builds_a_wheel_of_the_core_with_the_cli(tmp_path):
    """`pip install .` works: the wheel holds deepshop_core (not nodes/, tests/ or the ComfyUI entry) and the
    `deepshop` console script."""
    import zipfile

    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), str(ROOT)],
                   check=True, capture_output=True)
    wheel, = tmp_path.glob("deepshop-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names}
    assert {"deepshop_core"} == {t for t in top if not t.endswith(".dist-info")}
    assert {"deepshop_core/engines/flow/engine.py", "deepshop_core/engines/dain/engine.py"} <= set(names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "deepshop = deepshop_core.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_comfy_registry_validation_passes():
    """`comfy node validate` (comfy-cli, the Comfy Registry's tool) accepts pyproject.toml."""
    from pathlib import Path

    comfy = Path(sys.executable).parent / "comfy"
    proc = subprocess.run([str(comfy), "--skip-prompt", "--no-enable-telemetry", "node", "validate"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "All validation checks passed" in proc.stdout + proc.stderr
