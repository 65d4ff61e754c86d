"""Slow Motion (Deepshop), the one node, in real ComfyUI servers (0.3.75 and 0.33.0): core Load Video -> Slow
Motion (Deepshop) -> core Save Video, the clip streamed file to file through ComfyUI's VIDEO type."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from tests.comfyui.harness import (
    SILENT,
    assert_success,
    cancel_after_progress,
    probe_output,
)
from tools.comfy_server import history_messages
from tools.make_workflows import EXAMPLE

pytestmark = pytest.mark.comfyui


def one_node_prompt(comfy, clip: str, ranges: str, factor: float, prefix: str, audio_mode: str = "stretch") -> dict:
    engines = comfy.object_info()["DeepshopSlowMotion"]["input"]["required"]["engine"][0]
    engine = next(e for e in engines if e.startswith("flow (fast)"))
    return {
        "1": {"class_type": "LoadVideo", "inputs": {"file": clip}},
        "2": {"class_type": "DeepshopSlowMotion",
              "inputs": {"video": ["1", 0], "ranges": ranges, "factor": factor, "ramp": 0.0,
                         "audio_mode": audio_mode, "engine": engine, "device": "auto",
                         "scene_cut_protection": True}},
        "3": {"class_type": "SaveVideo",
              "inputs": {"video": ["2", 0], "filename_prefix": prefix, "format": "auto", "codec": "auto"}},
    }


def saved(comfy, prefix: str) -> Path:
    folder, name = prefix.split("/")
    (path,) = sorted((comfy.output_dir / folder).glob(f"{name}*.mp4"))
    return path


def test_load_video_slow_motion_save_video(comfy, example_clips):
    """The example clip (100 frames, 25 fps, 640x360, audio): 1.0s:2.0s (frames 25..50) 4x slower ->
    25 + 25 * 4 + 50 = 175 frames at 25 fps = 7 s, with 7 s of audio."""
    prompt = one_node_prompt(comfy, EXAMPLE, "1.0s:2.0s", 4.0, "deepshop_one/highlight")
    entry = comfy.run(prompt, timeout=600)
    assert_success(entry, comfy)
    got = probe_output(saved(comfy, "deepshop_one/highlight"))
    assert got["frames"] == 175 and got["rate"] == Fraction(25) and got["size"] == (640, 360)
    assert got["audio"] is not None, "the output lost its audio"
    assert got["audio"]["seconds"] == pytest.approx(7.0, abs=0.05)


def test_two_ranges_and_a_clip_without_audio(comfy, example_clips):
    """Frames 10:20 and 3.0s:3.4s (75..85) 2x slower: 100 + 10 + 10 = 120 frames; no audio in, none out."""
    prompt = one_node_prompt(comfy, SILENT, "10:20, 3.0s:3.4s", 2.0, "deepshop_one/silent")
    entry = comfy.run(prompt, timeout=600)
    assert_success(entry, comfy)
    got = probe_output(saved(comfy, "deepshop_one/silent"))
    assert got["frames"] == 120 and got["rate"] == Fraction(25) and got["audio"] is None


def test_progress_per_pair_and_cancel_leave_no_file(comfy, example_clips):
    """The node reports progress while it renders, and an interrupt stops it within seconds, leaving no file in
    the temp or output folder."""
    prompt = one_node_prompt(comfy, EXAMPLE, "0.2s:3.8s", 2.0, "deepshop_one/cancelled")
    prompt["2"]["inputs"]["engine"] = "flow (best)"  # 90 pairs with the slowest preset: long enough to cancel
    before = {p for d in (comfy.output_dir, comfy.temp_dir) for p in d.rglob("*")}
    entry, progressed, seconds = cancel_after_progress(comfy, prompt, "2", 30)
    kinds = [kind for kind, _ in history_messages(entry)]
    assert entry["status"]["status_str"] == "error" and "execution_interrupted" in kinds, entry["status"]
    assert progressed["value"] < progressed["max"]
    assert seconds < 30, f"the cancel took {seconds:.1f} s to take effect"
    after = {p for d in (comfy.output_dir, comfy.temp_dir) for p in d.rglob("*")}
    assert after == before, f"files left behind by the cancelled job: {sorted(after - before)}"
