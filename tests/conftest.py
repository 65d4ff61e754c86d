"""Shared fixtures, and the test levels.

Levels (markers registered in pyproject.toml; ``make test-fast`` runs ``unit``, ``make test`` runs all):

- ``unit``: in-process checks on synthetic data; given to every test that has none of the levels below;
- ``clips``: uses the real footage, Middlebury or davis22 in ``../shared/testdata`` (given by the fixtures below);
- ``slow``: long runs in this process or in workers (soak, fuzzing, faults, the DAIN worker with Paddle): each such
  module says so itself (``pytestmark = pytest.mark.slow``);
- ``server``: starts servers or needs a test ComfyUI (given with the ``comfyui`` and ``cluster`` markers);
- ``browser``: drives Chromium against the ComfyUI server.

Tests that need the real data use the ``testdata`` fixtures: they skip with a clear reason on a fresh clone without
``../shared``, and fail instead under CI (``CI=true``), where a skipped real-data test must never pass for a pass.
Whatever else skips, the plugin ``tests.support.skips`` fails a CI run that skipped a test it does not list (it lists
none).

Plugins: ``tests.support.node_pack`` (the node pack as ComfyUI imports it), ``tests.support.dain`` (DAIN stand-in
archives), ``tests.support.skips`` (the CI skip guard, and the ComfyUI versions a test runs against), ``pytester``
(the guard's own test).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from deepshop_core.synthetic import write_clip
from tests.comfyui import harness
from tests.support import TESTDATA, require_data
from tools.comfy_server import VERSIONS, ServerError

pytest_plugins = ["tests.support.node_pack", "tests.support.dain", "tests.support.skips", "pytester"]

_DATA_FIXTURES = {"testdata", "videos", "middlebury", "davis22"}
_LEVELS = ("clips", "slow", "server", "browser")


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        if _DATA_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.clips)
        if item.get_closest_marker("comfyui") or item.get_closest_marker("cluster"):
            item.add_marker(pytest.mark.server)
        if not any(item.get_closest_marker(level) for level in _LEVELS):
            item.add_marker(pytest.mark.unit)


@pytest.fixture(scope="session")
def testdata() -> Path:
    """``../shared/testdata``."""
    return require_data(TESTDATA)


@pytest.fixture(scope="session")
def videos(testdata) -> Path:
    """``../shared/testdata/videos`` (cockatoo.mp4, mpy_chaplin.mp4, ...)."""
    return require_data(testdata / "videos")


@pytest.fixture(scope="session")
def middlebury(testdata) -> Path:
    """``../shared/testdata/middlebury`` (other-data/, other-gt-interp/)."""
    return require_data(testdata / "middlebury")


@pytest.fixture(scope="session")
def davis22(testdata) -> Path:
    """``../shared/testdata/davis22`` (input/<seq>/frame10.png, frame11.png; gt/<seq>/frame10i11.png)."""
    return require_data(testdata / "davis22")


@pytest.fixture(scope="session")
def make_clip(tmp_path_factory):
    """``make_clip(name, **settings)``: a synthetic clip (`synthetic.write_clip`: the scene with its click track),
    160x96 at 25 fps unless ``settings`` say otherwise, written once a session for each name and settings."""
    made: dict = {}

    def make(name: str = "in put é.mp4", **settings) -> Path:
        key = (name, tuple(sorted(settings.items())))
        if key not in made:
            settings = {"seconds": 2, "width": 160, "height": 96, **settings}
            made[key] = write_clip(tmp_path_factory.mktemp("clip") / name, **settings)
        return made[key]

    return make


@pytest.fixture(scope="session")
def clip(make_clip) -> Path:
    """The usual clip: 2 s at 25 fps, 160x96, AAC stereo: 50 frames; its name has a space and a non-ASCII letter."""
    return make_clip()


# --- the test ComfyUIs (tests/comfyui/harness.py) -----------------------------------------------------------------

@pytest.fixture(scope="session", params=VERSIONS, ids=lambda v: f"comfyui-{v}")
def comfy(request):
    """A running ComfyUI of each tested version with the pack in custom_nodes/ (skips when not set up; fails under
    CI=true). A test that uses it runs against every server in ``tools.comfy_server.VERSIONS`` (0.3.75, the oldest
    supported, and 0.33.0); one that needs only some marks itself ``@pytest.mark.comfyui_versions("0.3.75")`` (its
    other runs are deselected, not skipped)."""
    version = request.param
    harness.require_or_skip(version)
    try:
        server = harness.acquire(version)
    except ServerError as error:
        pytest.fail(str(error))
    yield server
    harness.release(version)


@pytest.fixture(scope="session")
def example_clips(comfy, tmp_path_factory):
    """The clips the workflows load, made by the project (no download), in the server's input folder:
    ``harness.put_example_clips``."""
    return harness.put_example_clips(comfy, tmp_path_factory.mktemp("clips"))
