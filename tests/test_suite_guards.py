"""The suite's own rules, run on small test files in a scratch folder (pytest's ``pytester``): under CI a skip fails
the run unless tests/support/skips.py lists it; a deselected run is not a skip; a ComfyUI version marker that names
no tested server is refused."""

from __future__ import annotations

import pytest

from tests.support import skips

SKIPPING = """
import pytest

def test_runs():
    pass

def test_skips():
    pytest.skip("no such thing here")

@pytest.fixture
def missing():
    pytest.skip("a fixture found nothing")

def test_skipped_by_its_fixture(missing):
    pass
"""


@pytest.fixture(autouse=True)
def bare(monkeypatch):
    """No installed pytest plugins in the scratch runs (they would only take time)."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")


def run(pytester, source: str, *args: str):
    pytester.makepyfile(test_scratch=source)
    return pytester.runpytest("-p", "tests.support.skips", "-p", "no:cacheprovider", *args)


def test_outside_ci_a_skip_is_a_skip(pytester, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    result = run(pytester, SKIPPING)
    result.assert_outcomes(passed=1, skipped=2)
    assert result.ret == pytest.ExitCode.OK


def test_under_ci_any_skip_fails_the_run_and_is_named(pytester, monkeypatch):
    monkeypatch.setenv("CI", "true")
    result = run(pytester, SKIPPING)
    result.assert_outcomes(passed=1, skipped=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*skips under CI*", "*2 skipped test(s) fail this run*",
                                 "SKIPPED test_scratch.py::test_skipped_by_its_fixture: *a fixture found nothing*",
                                 "SKIPPED test_scratch.py::test_skips: *no such thing here*"])


def test_under_ci_a_listed_skip_passes(pytester, monkeypatch):
    monkeypatch.setenv("CI", "true")
    monkeypatch.setitem(skips.ALLOWED_SKIPS, "test_scratch.py::test_skips", "the reason it may")
    monkeypatch.setitem(skips.ALLOWED_SKIPS, "test_scratch.py::test_skipped_by_its_fixture", "the reason it may")
    assert run(pytester, SKIPPING).ret == pytest.ExitCode.OK


def test_under_ci_a_module_skipped_at_import_fails_the_run(pytester, monkeypatch):
    monkeypatch.setenv("CI", "true")
    result = run(pytester, "import pytest\npytest.importorskip('no_such_module_here')\n\ndef test_x():\n    pass\n")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["SKIPPED test_scratch.py: *no_such_module_here*"])


def test_under_ci_an_expected_failure_fails_the_run(pytester, monkeypatch):
    monkeypatch.setenv("CI", "true")
    result = run(pytester, "import pytest\n\n@pytest.mark.xfail(reason='later')\ndef test_x():\n    assert False\n")
    assert result.ret == pytest.ExitCode.TESTS_FAILED


SERVERS = """
import pytest

@pytest.fixture(params=["0.3.75", "0.33.0"])
def comfy(request):
    return request.param

@pytest.mark.comfyui_versions("0.3.75")
def test_oldest_only(comfy):
    assert comfy == "0.3.75"

def test_every_server(comfy):
    pass
"""


def test_a_run_deselected_by_server_version_is_not_a_skip(pytester, monkeypatch):
    monkeypatch.setenv("CI", "true")
    pytester.makeini("[pytest]\nmarkers =\n    comfyui_versions(*versions): servers\n")
    result = run(pytester, SERVERS)
    result.assert_outcomes(passed=3, deselected=1)
    assert result.ret == pytest.ExitCode.OK


def test_a_version_marker_naming_no_tested_server_is_refused(pytester, monkeypatch):
    monkeypatch.setenv("CI", "true")
    pytester.makeini("[pytest]\nmarkers =\n    comfyui_versions(*versions): servers\n")
    result = run(pytester, SERVERS.replace('comfyui_versions("0.3.75")', 'comfyui_versions("9.9")'))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*test_oldest_only*names no tested ComfyUI*every run of it would be deselected*"])


def test_the_allow_list_is_empty():
    """Every test runs under CI: no skip is allowed there (a new entry needs its reason, and a good one)."""
    assert skips.ALLOWED_SKIPS == {}
