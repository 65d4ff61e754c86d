"""Shared fixtures.

Tests that need the real footage or the Middlebury set in ``../shared/testdata`` use the ``testdata`` fixture:
it skips with a clear reason on a fresh clone without ``../shared``, and fails instead under CI (``CI=true``),
where a skipped real-data test must never pass for a pass.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TESTDATA = ROOT.parent / "shared" / "testdata"


def _require(path: Path) -> Path:
    if path.exists():
        return path
    reason = f"needs {path} (the project's shared test data), which is absent: clone the project beside shared/"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"under CI every real-data test must run: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def testdata() -> Path:
    """``../shared/testdata``."""
    return _require(TESTDATA)


@pytest.fixture(scope="session")
def videos(testdata) -> Path:
    """``../shared/testdata/videos`` (cockatoo.mp4, mpy_chaplin.mp4, ...)."""
    return _require(testdata / "videos")


@pytest.fixture(scope="session")
def middlebury(testdata) -> Path:
    """``../shared/testdata/middlebury`` (other-data/, other-gt-interp/)."""
    return _require(testdata / "middlebury")


@pytest.fixture(scope="session")
def davis22(testdata) -> Path:
    """``../shared/testdata/davis22`` (input/<seq>/frame10.png, frame11.png; gt/<seq>/frame10i11.png)."""
    return _require(testdata / "davis22")


def import_or_skip(module: str, reason: str):
    """``pytest.importorskip``, except under CI (``CI=true``), where the test environment must have installed it:
    there a missing module fails the test instead of skipping it."""
    try:
        return __import__(module)
    except ImportError:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"under CI every test must run: {reason}")
        pytest.skip(reason, allow_module_level=True)


def pytest_collection_modifyitems(config, items):
    """``@pytest.mark.comfyui_versions("0.3.75", ...)``: run a test only against those ComfyUI servers (the
    ``comfy`` fixture is parametrised by version); its other runs are deselected, not skipped."""
    keep, drop = [], []
    for item in items:
        marker = item.get_closest_marker("comfyui_versions")
        params = getattr(item, "callspec", None)
        version = params.params.get("comfy") if params is not None else None
        (drop if marker and version is not None and version not in marker.args else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
