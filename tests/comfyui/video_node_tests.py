"""The Slow Motion node's tests that need core ComfyUI's own code (the VIDEO types of its ``comfy_api``), so they run
in each test ComfyUI's venv, beside its ComfyUI tree (tests/test_comfyui_server.py runs this file there):

    .cache/comfyui/venv/bin/python -m pytest tests/comfyui/video_node_tests.py

The other node tests run in the project's venv: tests/test_nodes.py.
"""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.support.node_pack import LazyAudio, core_module, node

# -- Slow Motion (Deepshop): the one node --------------------------------------------------------------------------

@pytest.fixture(scope="module", autouse=True)
def core_comfyui():
    """Core ComfyUI's own packages (comfy, comfy_api) from the ComfyUI tree beside this venv (.cache/comfyui*/), for
    every test here: the node makes its VIDEO results with them."""
    root = Path(sys.prefix).resolve().parent / "ComfyUI"
    assert (root / "comfy_api").is_dir(), f"no ComfyUI at {root}: run this file with a test ComfyUI's venv python"
    # this file runs in ComfyUI's own venv, whose ComfyUI tree is not an installed package: its folder on the path
    # is how ComfyUI itself (main.py) makes comfy and comfy_api importable
    sys.path.insert(0, str(root))
    try:
        import comfy.cli_args  # the server's own --cpu, before comfy_api pulls in model_management
        comfy.cli_args.args.cpu = True
        yield root
    finally:
        sys.path.remove(str(root))


@pytest.fixture
def core_video():
    """Core ComfyUI's VideoFromFile (what core Load Video gives)."""
    from comfy_api.input_impl import VideoFromFile
    return VideoFromFile


def test_slow_motion_streams_a_file_backed_video(pack, pack_clips, core_video, pack_dirs):
    """VIDEO in (core's VideoFromFile over the clip) -> a VIDEO over a new file in the temp folder: frames
    10..20 slowed 4x (50 + 10 * 3 = 80 frames), at 25 fps, the audio stretched to the new length."""
    one = node(pack, "DeepshopSlowMotion")
    video, images, audio, rate = one.slow_motion("10:20", 4.0, 0.0, "stretch", "blend (cross-fade, no motion)",
                                                 video=core_video(str(pack_clips["audio"])))
    assert images is None and audio is None and rate == 25.0
    path = Path(video.get_stream_source())
    assert path.parent == pack_dirs["temp"] and path.is_file()
    assert video.get_frame_count() == 80 and video.get_frame_rate() == 25
    components = video.get_components()  # what core Get Video Components / Save Video read
    assert components.images.shape == (80, 96, 160, 3)
    assert components.audio["waveform"].shape[-1] / components.audio["sample_rate"] == pytest.approx(80 / 25, abs=0.05)


def test_slow_motion_image_path_equals_the_video_path(pack, pack_clips, core_video):
    """The same request as IMAGE + frame rate + AUDIO gives the same frames (up to the codec) and audio length."""
    load, one = node(pack, "DeepshopLoadVideoFrames"), node(pack, "DeepshopSlowMotion")
    images, rate, audio, _, _ = load.load("clip.mp4")
    video, out, track, out_rate = one.slow_motion("0.4s:0.8s, 30:35", 2.0, 2.0, "stretch",
                                                  "blend (cross-fade, no motion)", images=images, frame_rate=rate,
                                                  audio=audio)
    streamed, _, _, _ = one.slow_motion("10:20, 30:35", 2.0, 2.0, "stretch", "blend (cross-fade, no motion)",
                                        video=core_video(str(pack_clips["audio"])))
    frames = streamed.get_components().images
    assert out.shape == frames.shape and out_rate == 25.0
    assert float((out - frames).abs().mean()) < 3 / 255
    assert track["waveform"].shape[-1] / track["sample_rate"] == pytest.approx(out.shape[0] / 25, abs=0.05)
    assert video.get_frame_count() == out.shape[0]  # the IMAGE result is also given as a VIDEO


def test_slow_motion_needs_exactly_one_input_and_valid_ranges(pack, pack_clips, core_video):
    one = node(pack, "DeepshopSlowMotion")
    with pytest.raises(ValueError, match="either a VIDEO"):
        one.slow_motion("10:20", 2.0, engine="blend (cross-fade, no motion)")
    with pytest.raises(ValueError, match="ranges is empty"):
        one.slow_motion(" , ", 2.0, engine="blend (cross-fade, no motion)", video=core_video(str(pack_clips["audio"])))
    with pytest.raises(ValueError, match="ends past the last frame"):
        one.slow_motion("10:80", 2.0, engine="blend (cross-fade, no motion)", video=core_video(str(pack_clips["audio"])))
    with pytest.raises(ValueError, match="frame_rate"):
        one.slow_motion("1:3", 2.0, engine="blend (cross-fade, no motion)", images=torch.zeros(5, 8, 8, 3))


def test_separate_nodes_and_the_one_node_give_the_same_frames(pack, pack_clips):
    """Select Range -> DAIN Interpolate (range, factor 3, ramp 2) -> Slow Motion Retime (plan) gives exactly the
    frames and audio length of Slow Motion (Deepshop) on the same request: the ramp is rendered at its eased times
    by the engine in both, and Retime takes the factor and ramp from the plan (its own widgets say otherwise)."""
    load, select, interp, retime, one = (node(pack, n) for n in (
        "DeepshopLoadVideoFrames", "DeepshopSelectRange", "DeepshopInterpolate", "DeepshopSlowMotionRetime",
        "DeepshopSlowMotion"))
    engine = "flow (fast)"
    images, rate, audio, _, source = load.load("clip.mp4")
    segment, rng, _, _ = select.select(images, rate, "0.4s:1.2s", source)
    dense, _, _, plan = interp.interpolate(segment, 3.0, engine, range=rng, ramp=2.0)
    assert plan.factor == 3.0 and plan.ramp == 2.0 and len(plan.positions) == dense.shape[0]
    parts, track, count, out_rate = retime.retime(images, dense, rng, rate, 7.0, 0.0, "stretch", audio, plan=plan)
    _, whole, whole_track, whole_rate = one.slow_motion("10:30", 3.0, 2.0, "stretch", engine, images=images,
                                                        frame_rate=rate, audio=audio)
    assert count == whole.shape[0] and out_rate == whole_rate == 25.0
    assert torch.equal(parts, whole)
    assert track["waveform"].shape == whole_track["waveform"].shape
    # the ramp's frames, as DAIN Interpolate rendered and planned them (its plan output: each frame's time in the
    # range), are in-betweens at eased times (unevenly spaced), neither neighbour copied (tests/test_nodes.py checks
    # each frame's time exactly, on time-coded frames)
    positions = np.asarray(plan.positions, dtype=np.float64)
    eased = [i for i, p in enumerate(positions) if 0 < p < 2 and abs(p - round(p)) > 1e-6]
    assert len(eased) >= 3 and len(set(np.round(np.diff(positions[eased[0] - 1:eased[-1] + 2]), 6))) > 1
    for i in eased:
        j, t = int(positions[i]), float(positions[i] % 1)
        left, right, made = segment[j], segment[j + 1], whole[10 + i]
        assert torch.equal(made, dense[i]) and not torch.equal(made, left) and not torch.equal(made, right), (i, t)


class TrimmedVideo:
    """A VIDEO as 0.33's trimmed VideoFromFile presents itself: the file and its active trim window."""

    def __init__(self, path, start, duration):
        self.path, self.window = str(path), (start, duration)

    def get_stream_source(self):
        return self.path

    def get_active_trim_window(self):
        return self.window


def test_slow_motion_of_a_trimmed_video_counts_ranges_from_its_first_frame(pack, pack_clips, core_video):
    """Trimmed to 1.0 s + 1.0 s (frames 25..49): range 0:10 is frames 25..35 of the file; 2x -> 25 + 10 frames,
    the first one the file's frame 25, the audio 35 / 25 s."""
    one = node(pack, "DeepshopSlowMotion")
    video, _, _, rate = one.slow_motion("0:10", 2.0, 0.0, "stretch", "blend (cross-fade, no motion)",
                                        video=TrimmedVideo(pack_clips["audio"], 1.0, 1.0))
    components = video.get_components()
    assert components.images.shape[0] == 35 and rate == 25.0
    decode = core_module(pack, "media.decode")
    frame25 = torch.from_numpy(next(iter(decode.read_frames(pack_clips["audio"], 25, 26))).astype(np.float32) / 255)
    assert float((components.images[0] - frame25).abs().mean()) < 3 / 255
    assert components.audio["waveform"].shape[-1] / components.audio["sample_rate"] == pytest.approx(35 / 25, abs=0.05)


def test_slow_motion_of_a_video_made_in_memory(pack, pack_clips, core_video):
    """Core's VideoFromComponents (a VIDEO from Create Video, no file): its frames, rate and audio are used as an
    IMAGE batch would be, with the same result as the IMAGE inputs."""
    from comfy_api.input_impl import VideoFromComponents
    from comfy_api.util import VideoComponents

    images, rate, audio, _, _ = node(pack, "DeepshopLoadVideoFrames").load("clip.mp4")
    one = node(pack, "DeepshopSlowMotion")
    made = VideoFromComponents(VideoComponents(images=images, frame_rate=Fraction(25), audio=audio))
    video, out, track, out_rate = one.slow_motion("10:20", 2.0, 0.0, "stretch", "blend (cross-fade, no motion)",
                                                  video=made)
    _, same, _, _ = one.slow_motion("10:20", 2.0, 0.0, "stretch", "blend (cross-fade, no motion)", images=images,
                                    frame_rate=rate, audio=audio)
    assert out.shape[0] == 60 and torch.equal(out, same) and out_rate == 25.0
    assert track["waveform"].shape[-1] / track["sample_rate"] == pytest.approx(60 / 25, abs=0.05)


def test_slow_motion_takes_a_lazy_mapping_as_audio(pack):
    """VideoHelperSuite's AUDIO is a lazy Mapping: Slow Motion takes it exactly as Slow Motion Retime takes a dict."""
    images = torch.rand(20, 4, 6, 3)
    waveform = torch.sin(torch.arange(2 * 4800, dtype=torch.float32) / 7).reshape(1, 2, 4800)
    select, retime = node(pack, "DeepshopSelectRange"), node(pack, "DeepshopSlowMotionRetime")
    _, rng, _, _ = select.select(images, 10.0, "5:9")
    dense = images[5:10].repeat_interleave(2, 0)
    from_dict = retime.retime(images, dense, rng, 10.0, 2.0, 0.0, "stretch", {"waveform": waveform,
                                                                              "sample_rate": 2400})[1]
    lazy = LazyAudio(waveform, 2400)
    one = node(pack, "DeepshopSlowMotion")
    kept = one.slow_motion("5:9", 2.0, 0.0, "stretch", "blend (cross-fade, no motion)", images=images,
                           frame_rate=10.0, audio=lazy)[2]
    assert lazy.reads > 0 and torch.equal(kept["waveform"], from_dict["waveform"])


# -- Slow Motion with a Speed Curve ---------------------------------------------------------------------------------


def test_slow_motion_follows_a_speed_curve(pack, pack_clips, core_video):
    """Speed Curve -> Slow Motion: the VIDEO streams along the curve (its length the curve's, the audio as long),
    the IMAGE path gives the same frames, and a curve shaped like a range gives exactly that range's frames (the
    ranges, factor and ramp widgets are unused once a curve is connected)."""
    curve, one = node(pack, "DeepshopSpeedCurve"), node(pack, "DeepshopSlowMotion")
    engine = "blend (cross-fade, no motion)"
    speed, _ = curve.curve("0s:1, 0.4s:0.25, 0.8s:0.25, 1.2s:3, 1.6s:1")["result"]
    expected = len(core_module(pack, "timeline").curve_timeline(speed.curve(Fraction(25), 50)))
    video, _, _, rate = one.slow_motion("ignored", 9.0, 0.0, "stretch", engine, speed=speed,
                                        video=core_video(str(pack_clips["audio"])))
    components = video.get_components()
    assert components.images.shape[0] == expected > 50 and rate == 25.0
    assert components.audio["waveform"].shape[-1] / components.audio["sample_rate"] == \
        pytest.approx(expected / 25, abs=0.05)
    images, frame_rate, audio, _, _ = node(pack, "DeepshopLoadVideoFrames").load("clip.mp4")
    _, out, track, _ = one.slow_motion("ignored", 9.0, 0.0, "varispeed", engine, speed=speed, images=images,
                                       frame_rate=frame_rate, audio=audio)
    assert out.shape == components.images.shape and float((out - components.images).abs().mean()) < 3 / 255
    assert track["waveform"].shape[-1] / track["sample_rate"] == pytest.approx(expected / 25, abs=0.05)
    as_range = one.slow_motion("10:30", 4.0, 0.0, "stretch", engine, images=images, frame_rate=frame_rate)[1]
    ranged, _ = curve.curve("0:1, 10:0.25:hold, 30:1:hold")["result"]
    as_curve = one.slow_motion("1:2", 2.0, 0.0, "stretch", engine, images=images, frame_rate=frame_rate,
                               speed=ranged)[1]
    assert torch.equal(as_range, as_curve)


def test_slow_motion_refuses_a_curve_that_does_not_fit_the_clip(pack, pack_clips, core_video):
    curve, one = node(pack, "DeepshopSpeedCurve"), node(pack, "DeepshopSlowMotion")
    video = core_video(str(pack_clips["audio"]))  # 50 frames, 2 s
    for speed, named in [(curve.curve("", speeds=[1.0] * 49)["result"][0], "49 values but the clip has 50"),
                         (curve.curve("0s:1, 3s:0.5")["result"][0], "past the last frame")]:
        with pytest.raises(ValueError, match=named):
            one.slow_motion("10:20", 2.0, 0.0, "stretch", "blend (cross-fade, no motion)", speed=speed, video=video)
