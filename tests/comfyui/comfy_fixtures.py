"""pytest fixtures for the real-ComfyUI tests; imported by tests/test_comfyui_*.py (``from comfy_fixtures import ...``
after putting this folder on sys.path). One server per session, shared by the modules through comfy_harness."""

from __future__ import annotations

import shutil

import pytest

import comfy_harness

EXAMPLE = "deepshop_example.mp4"
SILENT = "deepshop_example_silent.mp4"


@pytest.fixture(scope="session")
def comfy():
    """A running ComfyUI 0.3.75 with the pack in custom_nodes/ (skips when not set up; fails under CI=true)."""
    comfy_harness.require_or_skip(pytest)
    try:
        server = comfy_harness.acquire()
    except comfy_harness.ServerError as error:
        pytest.fail(str(error))
    yield server
    comfy_harness.release()


@pytest.fixture(scope="session")
def example_clips(comfy, tmp_path_factory):
    """The clips the workflows load, made by the project (no download), in the server's input folder:
    deepshop_example.mp4 (4 s, 25 fps, 640x360, stereo click track) and a copy without audio."""
    from deepshop_core import synthetic

    made = tmp_path_factory.mktemp("clips")
    with_audio = synthetic.write_clip(made / EXAMPLE, seconds=4.0)
    silent = synthetic.write_clip(made / SILENT, seconds=4.0, audio=False)
    shutil.copy(with_audio, comfy.input_dir / EXAMPLE)
    shutil.copy(silent, comfy.input_dir / SILENT)
    return {"audio": comfy.input_dir / EXAMPLE, "silent": comfy.input_dir / SILENT}
