"""Deepshop between VideoHelperSuite's nodes, in a real ComfyUI 0.33.0 with VideoHelperSuite 1.7.9 in custom_nodes
(extracted from ../shared/vendor by tests/comfyui/setup_env.sh 0.33.0).

VHS Load Video (with audio) -> Select Range -> DAIN Interpolate -> Slow Motion Retime -> VHS Video Combine: the
output has the slowed frame count at the clip's rate, and its audio lasts as long as its video, to within a frame.
VHS's AUDIO is a lazy Mapping, not a dict: Retime must take it as it is.
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from tests.comfyui.harness import assert_success, probe_output
from tests.support import under_ci
from tools.comfy_server import VENDOR, output_files
from tools.make_workflows import EXAMPLE

pytestmark = [pytest.mark.comfyui, pytest.mark.comfyui_versions("0.33.0")]

VHS_TAR = VENDOR / "ComfyUI-VideoHelperSuite-1.7.9.tar.gz"


@pytest.fixture(scope="module")
def vhs(comfy):
    """VideoHelperSuite's nodes in the server (skips without the vendor tarball; fails under CI=true)."""
    info = comfy.object_info()
    if "VHS_LoadVideo" not in info:
        where = "is absent" if not VHS_TAR.exists() else "is there: run tests/comfyui/setup_env.sh 0.33.0"
        reason = f"VideoHelperSuite is not in ComfyUI {comfy.version}'s custom_nodes ({VHS_TAR} {where})"
        if under_ci():
            pytest.fail(f"under CI the VideoHelperSuite test must run: {reason}")
        pytest.skip(reason)
    return info


def vhs_prompt(factor: int) -> dict:
    return {
        "1": {"class_type": "VHS_LoadVideo",
              "inputs": {"video": EXAMPLE, "force_rate": 0, "custom_width": 0, "custom_height": 0,
                         "frame_load_cap": 0, "skip_first_frames": 0, "select_every_nth": 1}},
        "2": {"class_type": "VHS_VideoInfoLoaded", "inputs": {"video_info": ["1", 3]}},
        "3": {"class_type": "DeepshopSelectRange",
              "inputs": {"images": ["1", 0], "frame_rate": ["2", 0], "range": "1.0s:2.0s"}},
        "4": {"class_type": "DeepshopInterpolate",
              "inputs": {"images": ["3", 0], "factor": float(factor), "engine": "flow (fast)", "device": "auto",
                         "scene_cut_protection": True}},
        "5": {"class_type": "DeepshopSlowMotionRetime",
              "inputs": {"images": ["1", 0], "interpolated": ["4", 0], "range": ["3", 1], "frame_rate": ["2", 0],
                         "factor": float(factor), "ramp": 0.0, "audio_mode": "stretch", "audio": ["1", 2]}},
        "6": {"class_type": "VHS_VideoCombine",
              "inputs": {"images": ["5", 0], "frame_rate": ["5", 3], "loop_count": 0,
                         "filename_prefix": "vhs/deepshop_slowmo", "format": "video/h264-mp4", "pingpong": False,
                         "save_output": True, "audio": ["5", 1], "pix_fmt": "yuv420p", "crf": 19,
                         "save_metadata": False, "trim_to_audio": False}},
    }


def test_vhs_load_video_deepshop_vhs_video_combine(comfy, example_clips, vhs):
    entry = comfy.run(vhs_prompt(4), timeout=600)
    assert_success(entry, comfy)
    videos = [p for p in output_files(entry, comfy) if p.suffix == ".mp4" and "-audio" in p.name]
    assert len(videos) == 1, entry["outputs"]
    got = probe_output(videos[0])
    # the example clip: 100 frames at 25 fps with audio; frames 25..50 at 4x: 25 + 25 x 4 + 50 = 175 frames
    assert got["frames"] == 175 and got["rate"] == Fraction(25)
    assert got["audio"] is not None, "the audio was lost on the way"
    assert abs(got["audio"]["seconds"] - got["frames"] / 25) <= 1 / 25, got
