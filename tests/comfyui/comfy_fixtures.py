"""pytest fixtures for the real-ComfyUI tests; imported by tests/test_comfyui_*.py (``from comfy_fixtures import ...``
after putting this folder on sys.path). One server per ComfyUI version per session, shared by the modules through
comfy_harness.

``comfy`` is parametrised by version: each test that uses it runs against every server in
``comfy_harness.VERSIONS`` (0.3.75, the oldest supported, and 0.33.0). A test that only needs one of them marks
itself ``@pytest.mark.comfyui_versions("0.3.75")`` (the rest of its runs are deselected, not skipped).
"""

from __future__ import annotations

import shutil

import pytest

import comfy_harness

EXAMPLE = "deepshop_example.mp4"
SILENT = "deepshop_example_silent.mp4"


@pytest.fixture(scope="session", params=comfy_harness.VERSIONS, ids=lambda v: f"comfyui-{v}")
def comfy(request):
    """A running ComfyUI of each tested version with the pack in custom_nodes/ (skips when not set up; fails under
    CI=true)."""
    version = request.param
    comfy_harness.require_or_skip(pytest, version=version)
    try:
        server = comfy_harness.acquire(version)
    except comfy_harness.ServerError as error:
        pytest.fail(str(error))
    yield server
    comfy_harness.release(version)


@pytest.fixture(scope="session")
def example_clips(comfy, tmp_path_factory):
    """The clips the workflows load, made by the project (no download), in the server's input folder:
    deepshop_example.mp4 (4 s, 25 fps, 640x360, stereo click track) and a copy without audio."""
    return put_example_clips(comfy, tmp_path_factory.mktemp("clips"))


def put_example_clips(server, made) -> dict:
    """Render the example clips into the folder ``made`` and copy them into ``server``'s input folder."""
    from deepshop_core import synthetic

    with_audio = synthetic.write_clip(made / EXAMPLE, seconds=4.0, overwrite=True)
    silent = synthetic.write_clip(made / SILENT, seconds=4.0, audio=False, overwrite=True)
    shutil.copy(with_audio, server.input_dir / EXAMPLE)
    shutil.copy(silent, server.input_dir / SILENT)
    return {"audio": server.input_dir / EXAMPLE, "silent": server.input_dir / SILENT}
