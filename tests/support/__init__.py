"""What the test modules share besides fixtures (those are in ``tests/conftest.py`` and its plugins): the project's
paths, the shared data's location, the rule for what is absent (skip here, fail under CI) and a free port.

The other helpers live once, by subject: ``clips`` (clips the tests write, file comparisons), ``outputs`` (what an
output file holds, any format), ``images`` (picture metrics, a camera pan), ``crafted`` (odd media files),
``procstats`` (processes), ``node_pack`` and ``dain`` (fixture plugins), ``skips`` (the CI skip guard), ``hide``
(running a command as if a module were not installed).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TESTDATA = ROOT.parent / "shared" / "testdata"
LOOPBACK = "127.0.0.1"


def under_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def skip_or_fail(reason: str, what: str = "every test must run") -> None:
    """Skip with ``reason``; under CI (``CI=true``) fail instead: there a skipped test must never pass for a pass."""
    if under_ci():
        pytest.fail(f"under CI {what}: {reason}")
    pytest.skip(reason)


def require_data(path: Path) -> Path:
    """``path`` (part of ``../shared``), or a skip saying what is missing; a failure under CI (``CI=true``), where a
    skipped real-data test must never pass for a pass."""
    if path.exists():
        return path
    skip_or_fail(f"needs {path} (the project's shared test data), which is absent: clone the project beside "
                 "shared/", "every real-data test must run")


def import_or_skip(module: str, reason: str):
    """``pytest.importorskip``, except under CI (``CI=true``), where the test environment must have installed it:
    there a missing module fails the test instead of skipping it."""
    try:
        return __import__(module)
    except ImportError:
        if under_ci():
            pytest.fail(f"under CI every test must run: {reason}")
        pytest.skip(reason, allow_module_level=True)


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port nothing listens on at ``host`` right now (the OS picks it; closed again before returning)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]
