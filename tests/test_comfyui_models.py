"""Core ComfyUI's frame-interpolation models (RIFE 4.x IFNet, FILM) driving Deepshop, in a real server.

ComfyUI 0.33 loads RIFE 4.x and FILM weights from ``models/frame_interpolation`` (Load Frame Interpolation Model,
type ``INTERP_MODEL``); DAIN Interpolate (Deepshop) takes that model as an optional input. No real weights can be
obtained here, so stand-in checkpoints in the real file formats (random weights; tests/comfyui/interp_standin.py)
go into the server's models folder and through core's own loader. The check: at every time t = k / m, Deepshop's
frame equals core's FrameInterpolate frame for the same pair (both rounded to 8 bits by Save Video's PNG frames).
On 0.3.75, which has no core interpolation, the input is absent.
"""

from __future__ import annotations

import subprocess
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from tests.comfyui.harness import assert_success, run_until_progress
from tests.support import ROOT, skip_or_fail
from tools.comfy_server import history_messages, output_files
from tools.make_workflows import EXAMPLE

pytestmark = pytest.mark.comfyui

STANDIN = ROOT / "tests" / "comfyui" / "interp_standin.py"
CLIP = "deepshop_models_clip.mp4"
PAIRS = 2  # three source frames: two pairs, each interpolated at every t = k / m


@pytest.fixture(scope="module")
def model_files(comfy, tmp_path_factory):
    """The stand-in RIFE (raw flownet.pkl layout) and FILM (safetensors) checkpoints in the server's
    models/frame_interpolation, and a small clip in its input folder."""
    if "FrameInterpolationModelLoader" not in comfy.object_info():
        # the tests that use these files run against 0.33.0 only (0.3.75 has no core interpolation: see the test
        # below), where core's loader must be there: a server without it is not what these tests are for
        skip_or_fail(f"ComfyUI {comfy.version} has no core frame interpolation (FrameInterpolationModelLoader)",
                     "the core-model tests must run")
    from deepshop_core import synthetic

    synthetic.write_clip(comfy.input_dir / CLIP, seconds=0.2, width=160, height=96, audio=False, format="lossless")
    made = {}
    for kind, name, seed in (("rife", "standin_rife47.pkl", 11), ("film", "standin_film.safetensors", 12)):
        built = subprocess.run(
            [str(comfy.install.venv_python), str(STANDIN), str(comfy.frame_interpolation_dir / name), "--kind", kind,
             "--comfy", str(comfy.install.comfy), "--seed", str(seed)],
            capture_output=True, text=True, timeout=300)
        assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-4000:]
        made[kind] = name
    return made


def test_model_input_follows_the_server(comfy):
    """The optional input takes Deepshop's own loader's model on every server, and on one with core interpolation
    also the type core's loader outputs there (INTERP_MODEL in 0.33, FRAME_INTERPOLATION_MODEL in newer versions):
    a union type, which both servers' validation accepts."""
    info = comfy.object_info()
    assert info["DeepshopLoadInterpolationModel"]["output"] == ["DEEPSHOP_INTERP_MODEL"]
    for name in ("DeepshopInterpolate", "DeepshopSlowMotion"):
        optional = info[name]["input"]["optional"]
        loader = info.get("FrameInterpolationModelLoader")
        if loader is None:
            assert comfy.version == "0.3.75"
            assert optional["interpolation_model"][0] == "DEEPSHOP_INTERP_MODEL"
            continue
        assert loader["output"][0] in ("INTERP_MODEL", "FRAME_INTERPOLATION_MODEL")
        assert optional["interpolation_model"][0] == f"{loader['output'][0]},DEEPSHOP_INTERP_MODEL"
        assert "models/frame_interpolation" in optional["interpolation_model"][1]["tooltip"]


def test_deepshops_loader_runs_rife_on_every_server(comfy, tmp_path):
    """Load Interpolation Model (Deepshop) -> DAIN Interpolate on both servers (0.3.75 has no core interpolation at
    all): a RIFE file in models/frame_interpolation makes the in-betweens, the frames of the rife engine on that file
    run here (within one level: each side rounds to 8 bits)."""
    from deepshop_core import engines, synthetic
    from deepshop_core.media.decode import read_frames
    from tools.learned_standin import write_rife

    clip = comfy.input_dir / "deepshop_loader_clip.mkv"
    synthetic.write_clip(clip, seconds=0.12, width=96, height=64, audio=False, format="lossless")
    model = write_rife(comfy.frame_interpolation_dir / "deepshop_loader_rife.safetensors", widths=(16, 12, 8, 8, 8),
                       seed=5)
    prompt = {
        "1": {"class_type": "DeepshopLoadVideoFrames", "inputs": {"video": clip.name, "start_frame": 0,
                                                                  "frame_load_cap": 3}},
        "2": {"class_type": "DeepshopLoadInterpolationModel",
              "inputs": {"model_name": model.name, "device": "cpu", "precision": "fp32"}},
        "3": {"class_type": "DeepshopInterpolate",
              "inputs": {"images": ["1", 0], "factor": 2.0, "engine": "blend (cross-fade, no motion)",
                         "device": "auto", "scene_cut_protection": False, "interpolation_model": ["2", 0]}},
        "4": {"class_type": "DeepshopSaveVideo", "inputs": {"images": ["3", 0], "frame_rate": ["1", 1],
                                                            "filename_prefix": f"models/loader_{comfy.version}",
                                                            "format": "png", "quality": -1}},
    }
    entry = comfy.run(prompt, timeout=600)
    assert_success(entry, comfy)
    ours = png_frames(output_files({"outputs": {"4": entry["outputs"]["4"]}}, comfy)[0].parent)
    source = list(read_frames(clip, 0, 3))
    with engines.load("rife", weights=str(model), device="cpu", precision="fp32") as rife:
        expected = [rife.interpolate(a, b, [0.5])[0] for a, b in zip(source, source[1:])]
    assert ours.shape[0] == 6 and len(expected) == 2
    for k, frame in ((1, expected[0]), (3, expected[1])):
        assert np.abs(ours[k] - frame.astype(np.int16)).max() <= 1
        assert np.abs(ours[k] - (source[k // 2].astype(np.int16) + source[k // 2 + 1]) // 2).mean() > 1


def prompt_both(model: str, factor: float, multiplier: int) -> dict:
    """Core's FrameInterpolate (``multiplier``) and Deepshop (``factor``), on the same frames with the same loaded
    model, each saved as PNG frames."""
    def save(images, prefix):
        return {"class_type": "DeepshopSaveVideo", "inputs": {"images": images, "frame_rate": ["1", 1],
                                                               "filename_prefix": prefix, "format": "png",
                                                               "quality": -1}}
    tag = f"{Path(model).stem}_{factor:g}_{multiplier}"
    return {
        "1": {"class_type": "DeepshopLoadVideoFrames",
              "inputs": {"video": CLIP, "start_frame": 0, "frame_load_cap": PAIRS + 1}},
        "2": {"class_type": "FrameInterpolationModelLoader", "inputs": {"model_name": model}},
        "3": {"class_type": "FrameInterpolate",
              "inputs": {"interp_model": ["2", 0], "images": ["1", 0], "multiplier": multiplier}},
        "4": {"class_type": "DeepshopInterpolate",
              "inputs": {"images": ["1", 0], "factor": float(factor), "engine": "blend (cross-fade, no motion)",
                         "device": "auto", "scene_cut_protection": False, "interpolation_model": ["2", 0]}},
        "5": save(["3", 0], f"models/core_{tag}"),
        "6": save(["4", 0], f"models/deepshop_{tag}"),
    }


def png_frames(path: Path) -> np.ndarray:
    from PIL import Image

    files = sorted(path.glob("*.png"))
    return np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files]).astype(np.int16)


@pytest.mark.comfyui_versions("0.33.0")
@pytest.mark.parametrize("kind,factor,multiplier", [("rife", 2, 2), ("rife", 4, 4), ("film", 4, 4), ("rife", 2.5, 5)])
def test_deepshop_frames_equal_core_frame_interpolate(comfy, model_files, kind, factor, multiplier):
    """Deepshop's frame k shows time k / factor; core's frame j shows j / multiplier. Wherever they show the same
    time they must be the same frame: m = 2 -> t = 0.5; m = 4 -> t = 0.25, 0.5, 0.75; and a 2.5x slow motion (which
    core cannot make) at t = 0.4, 0.8, 0.2, 0.6, each equal to core's 5x frame at that time."""
    entry = comfy.run(prompt_both(model_files[kind], factor, multiplier), timeout=600)
    assert_success(entry, comfy)
    outputs = {node: output_files({"outputs": {node: entry["outputs"][node]}}, comfy)[0].parent for node in "56"}
    core, ours = png_frames(outputs["5"]), png_frames(outputs["6"])
    assert core.shape[0] == PAIRS * multiplier + 1  # (N - 1) x m + 1
    assert ours.shape[0] == round((PAIRS + 1) * factor)  # N x factor: the last ones hold the last frame
    source = core[::multiplier]
    compared = 0
    for k in range(ours.shape[0]):
        position = Fraction(k) / Fraction(factor)
        j = position * multiplier
        if position > PAIRS or j.denominator != 1:
            continue
        j = int(j)
        if position.denominator == 1:  # a source frame: copied on both sides
            np.testing.assert_array_equal(ours[k], source[int(position)])
            continue
        t = float(position - int(position))
        # the network really made this frame: it is neither end of its pair
        left, right = source[int(position)], source[int(position) + 1]
        assert np.abs(core[j] - left).mean() > 1 and np.abs(core[j] - right).mean() > 1, f"t={t}: a copy"
        diff = np.abs(ours[k] - core[j])
        # the same float frame rounded to 8 bits on each side: equal, but for the odd value on a rounding edge
        assert diff.max() <= 1 and (diff == 0).mean() > 0.999, (
            f"{kind}: Deepshop {factor:g}x frame {k} vs core {multiplier}x frame {j} (pair {int(position)}, t={t}): "
            f"{int((diff > 0).sum())} values differ, up to {int(diff.max())}")
        compared += 1
    # every in-between of each pair; at 2.5x, the four times of two pairs that fall on core's 5x grid
    assert compared == (PAIRS * (multiplier - 1) if factor == multiplier else 4)


@pytest.mark.comfyui_versions("0.33.0")
def test_a_model_run_shows_progress_and_cancels(comfy, model_files, example_clips):
    """Driven by Deepshop, the model reports progress pair by pair and /interrupt stops it there: the prompt ends
    interrupted, nothing is written, and the server runs the next prompt."""
    prompt = prompt_both(model_files["rife"], 4, 4)
    del prompt["3"], prompt["5"]  # Deepshop's branch only
    prompt["1"]["inputs"].update(video=EXAMPLE, frame_load_cap=0)  # 100 frames at 640x360: long enough
    before = set(comfy.output_dir.rglob("*"))
    prompt_id, ws, _ = run_until_progress(comfy, prompt, node="4", value=2)
    try:
        started = time.monotonic()
        assert comfy.post("/interrupt", {})[0] == 200
        entry = comfy.wait_history(prompt_id, timeout=120)
        stopped = time.monotonic() - started
    finally:
        ws.close()
    kinds = dict(history_messages(entry))
    assert entry["status"]["status_str"] == "error" and "execution_interrupted" in kinds, entry["status"]
    assert set(comfy.output_dir.rglob("*")) == before
    print(f"interrupted {stopped:.1f} s after the request")
    prompt["1"]["inputs"]["frame_load_cap"] = 2
    entry = comfy.run(prompt, timeout=300)
    assert entry["status"]["status_str"] == "success", entry["status"]
