"""The node pack imported as ComfyUI imports it (its ``__init__.py`` by file location, as a package) with a small
stand-in for ComfyUI's ``folder_paths`` (the input, output, temp and models folders), for the node tests: in this
venv (tests/test_nodes.py, torch from the test extra) and in a test ComfyUI's venv (tests/comfyui/video_node_tests.py).

Its fixtures (``pack``, ``pack_dirs``, ``pack_clips``) are a plugin of tests/conftest.py; the helpers are imported.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
import sys
import types
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.support import ROOT

PACK = "deepshop_pack_under_test"  # the pack's module name here (ComfyUI names it by its folder)


@pytest.fixture(scope="module")
def pack_dirs(tmp_path_factory):
    """The folders ComfyUI would give the nodes: input, output, models, temp."""
    base = tmp_path_factory.mktemp("comfy")
    out = {name: base / name for name in ("input", "output", "models", "temp")}
    for d in out.values():
        d.mkdir()
    return out


@pytest.fixture(scope="module")
def pack(pack_dirs):
    """The pack imported like ComfyUI does, with a stand-in folder_paths (restored afterwards)."""
    fp = types.ModuleType("folder_paths")
    fp.models_dir = str(pack_dirs["models"])
    fp._paths = {}
    fp.add_model_folder_path = lambda name, path, is_default=False: fp._paths.setdefault(name, []).append(path)
    fp.get_folder_paths = lambda name: fp._paths[name]
    fp.get_filename_list = lambda name: sorted(f for d in fp._paths[name] if os.path.isdir(d) for f in os.listdir(d))
    fp.get_full_path = lambda name, file: next((os.path.join(d, file) for d in fp._paths.get(name, [])
                                                 if os.path.isfile(os.path.join(d, file))), None)
    fp.get_input_directory = lambda: str(pack_dirs["input"])
    fp.get_output_directory = lambda: str(pack_dirs["output"])
    fp.get_temp_directory = lambda: str(pack_dirs["temp"])
    fp.get_annotated_filepath = lambda name: os.path.join(str(pack_dirs["input"]), name)
    fp.exists_annotated_filepath = lambda name: os.path.exists(os.path.join(str(pack_dirs["input"]), name))
    fp.filter_files_content_types = lambda files, kinds: [f for f in files if f.endswith((".mp4", ".webm", ".mkv"))]

    def get_save_image_path(prefix, output_dir, width=0, height=0):
        subfolder, filename = os.path.split(prefix)
        folder = os.path.join(output_dir, subfolder)
        os.makedirs(folder, exist_ok=True)
        counter = 1 + sum(1 for f in os.listdir(folder) if f.startswith(filename + "_"))
        return folder, filename, counter, subfolder, prefix

    fp.get_save_image_path = get_save_image_path
    saved = sys.modules.get("folder_paths")
    sys.modules["folder_paths"] = fp
    spec = importlib.util.spec_from_file_location(PACK, ROOT / "__init__.py", submodule_search_locations=[str(ROOT)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[PACK] = module
    spec.loader.exec_module(module)
    yield module
    for key in [k for k in sys.modules if k == PACK or k.startswith(PACK + ".")]:
        del sys.modules[key]
    if saved is None:
        sys.modules.pop("folder_paths", None)
    else:
        sys.modules["folder_paths"] = saved


@pytest.fixture(scope="module")
def pack_clips(pack_dirs, make_clip):
    """Two synthetic clips in the input folder: clip.mp4 (the usual clip of tests/conftest.py: 2 s, 25 fps, 160x96,
    stereo) and silent.mp4 (1 s, no audio)."""
    audio = Path(shutil.copy(make_clip(), pack_dirs["input"] / "clip.mp4"))
    silent = Path(shutil.copy(make_clip("silent.mp4", seconds=1, audio=False), pack_dirs["input"] / "silent.mp4"))
    return {"audio": audio, "silent": silent}


def node(pack, name):
    """A new instance of node class ``name``, as ComfyUI makes one per prompt."""
    return pack.NODE_CLASS_MAPPINGS[name]()


def core_module(pack, name):
    """The pack's own copy of ``deepshop_core.<name>`` (its exceptions are the ones the nodes raise)."""
    return importlib.import_module(f"{PACK}.deepshop_core.{name}")


class LazyAudio(Mapping):
    """AUDIO as VideoHelperSuite's Load Video gives it: a Mapping that decodes on first access, not a dict."""

    def __init__(self, waveform, sample_rate):
        self._data, self.reads = {"waveform": waveform, "sample_rate": sample_rate}, 0

    def __getitem__(self, key):
        self.reads += 1
        return self._data[key]

    def __iter__(self):
        return iter(self._data)

    def __len__(self):
        return len(self._data)
