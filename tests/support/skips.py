"""What runs and what may be skipped: a pytest plugin of tests/conftest.py.

- The skip guard: under CI (``CI=true``) a skipped test fails the run, whatever skipped it (a fixture, a module's
  import, a bare ``pytest.skip``), unless ``ALLOWED_SKIPS`` lists it with the reason it may pass there. The list is
  empty: every test must run under CI. (The skips the suite makes itself already fail under CI one by one, see
  ``tests.support.skip_or_fail``; the guard catches the ones that do not.) An expected failure (xfail) counts as a
  skip: it passes for a pass without running.
- ComfyUI versions: ``@pytest.mark.comfyui_versions("0.3.75", ...)`` runs a test only against those servers (the
  ``comfy`` fixture is parametrised by version); its other runs are deselected, not skipped, so the guard does not
  count them. A marker naming no tested version would deselect every run of its test: refused at collection.
"""

from __future__ import annotations

import pytest

from tests.support import under_ci

# node id (as pytest prints it) -> why it may be skipped under CI. None may: keep it empty unless a skip is truly
# beyond the project's reach, and say why here.
ALLOWED_SKIPS: dict[str, str] = {}


class SkipGuard:
    """Collects the skips of a run; under CI, fails the run when one is not in ``allowed``."""

    def __init__(self, allowed: dict[str, str]):
        self.allowed = allowed
        self.skipped: dict[str, str] = {}

    def _note(self, report) -> None:
        if report.skipped:
            reason = getattr(report, "wasxfail", None)
            if reason is not None:
                reason = f"xfail: {reason}"
            elif isinstance(report.longrepr, tuple):
                reason = str(report.longrepr[2])
            else:
                reason = str(report.longrepr)
            self.skipped.setdefault(report.nodeid, reason)

    def pytest_runtest_logreport(self, report) -> None:
        self._note(report)

    def pytest_collectreport(self, report) -> None:
        self._note(report)

    def unlisted(self) -> dict[str, str]:
        return {node: why for node, why in self.skipped.items() if node not in self.allowed}

    def pytest_sessionfinish(self, session, exitstatus) -> None:
        # a run whose every test was skipped collected none: under CI that is a failure too
        if under_ci() and self.unlisted() and exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter) -> None:
        unlisted = self.unlisted()
        if not (under_ci() and unlisted):
            return
        terminalreporter.section("skips under CI", sep="=", red=True, bold=True)
        terminalreporter.line(f"{len(unlisted)} skipped test(s) fail this run: under CI=true every test must run "
                              "(tests/support/skips.py lists the only skips allowed there, with their reasons)")
        for node, why in sorted(unlisted.items()):
            terminalreporter.line(f"SKIPPED {node}: {why}")


def pytest_configure(config) -> None:
    config.pluginmanager.register(SkipGuard(ALLOWED_SKIPS), "deepshop-skip-guard")


def pytest_collection_modifyitems(config, items) -> None:
    keep_versions(config, items)


def keep_versions(config, items, versions=None) -> None:
    """Deselect the runs of a ``comfyui_versions`` test against the servers it does not name (see above)."""
    if versions is None:
        from tools.comfy_server import VERSIONS as versions
    keep, drop = [], []
    for item in items:
        marker = item.get_closest_marker("comfyui_versions")
        if marker is not None and not set(marker.args) & set(versions):
            raise pytest.UsageError(f"{item.nodeid}: comfyui_versions{marker.args} names no tested ComfyUI "
                                    f"({', '.join(versions)}): every run of it would be deselected")
        params = getattr(item, "callspec", None)
        version = params.params.get("comfy") if params is not None else None
        (drop if marker and version is not None and version not in marker.args else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
