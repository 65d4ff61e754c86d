"""What the test modules share besides fixtures (those are in ``tests/conftest.py`` and its plugin ``node_pack``):
the project's paths, the shared data's location and the rule for what is absent (skip here, fail under CI)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TESTDATA = ROOT.parent / "shared" / "testdata"


def under_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def require_data(path: Path) -> Path:
    """``path`` (part of ``../shared``), or a skip saying what is missing; a failure under CI (``CI=true``), where a
    skipped real-data test must never pass for a pass."""
    if path.exists():
        return path
    reason = f"needs {path} (the project's shared test data), which is absent: clone the project beside shared/"
    if under_ci():
        pytest.fail(f"under CI every real-data test must run: {reason}")
    pytest.skip(reason)


def import_or_skip(module: str, reason: str):
    """``pytest.importorskip``, except under CI (``CI=true``), where the test environment must have installed it:
    there a missing module fails the test instead of skipping it."""
    try:
        return __import__(module)
    except ImportError:
        if under_ci():
            pytest.fail(f"under CI every test must run: {reason}")
        pytest.skip(reason, allow_module_level=True)
