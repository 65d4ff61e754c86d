"""The node classes called directly, in this process, without a server: the pack imported as ComfyUI imports it
(tests/support/node_pack.py), real torch tensors in and out (torch comes with the test extra). The Slow Motion node's
tests, which need core ComfyUI's own VIDEO types, run in a test ComfyUI's venv: tests/comfyui/video_node_tests.py.
"""

from __future__ import annotations

import logging
import os
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from tests.support.node_pack import LazyAudio, core_module, node
from tests.support.outputs import describe as describe_output


def test_mappings(pack):
    assert set(pack.NODE_CLASS_MAPPINGS) == {"DeepshopLoadVideoFrames", "DeepshopSelectRange", "DeepshopInterpolate",
                                             "DeepshopSlowMotionRetime", "DeepshopSaveVideo",
                                             "DeepshopSlowMotion", "DeepshopSpeedCurve",
                                             "DeepshopLoadInterpolationModel"}
    assert pack.NODE_DISPLAY_NAME_MAPPINGS["DeepshopInterpolate"] == "DAIN Interpolate (Deepshop)"
    for cls in pack.NODE_CLASS_MAPPINGS.values():
        assert cls.CATEGORY == "Deepshop/slow motion"
        assert len(cls.RETURN_TYPES) == len(cls.RETURN_NAMES) == len(cls.OUTPUT_TOOLTIPS)
        assert callable(getattr(cls, cls.FUNCTION))
        cls.INPUT_TYPES()


def test_models_dain_registered(pack, pack_dirs):
    fp = sys.modules["folder_paths"]
    assert fp._paths["dain"] == [os.path.join(str(pack_dirs["models"]), "dain")]
    widgets = pack.nodes.widgets
    weights = pack_dirs["models"] / "dain" / "DAIN_weight"
    weights.mkdir(parents=True)
    (weights / "model").write_bytes(b"x")
    (weights / "params").write_bytes(b"x")
    (pack_dirs["models"] / "dain" / "DAIN_weight.tar").write_bytes(b"x")
    menu = widgets.engine_menu()
    assert "dain: DAIN_weight" in menu and "dain: DAIN_weight.tar" in menu
    assert list(menu)[0] == "flow (balanced)"  # the default first
    chosen = widgets.chosen_engine("dain: DAIN_weight", "cpu")
    assert chosen.name == "dain" and chosen.settings == {"weights": str(weights), "device": "cpu", "download": False}
    best = widgets.chosen_engine("flow (best)", "gpu:0")  # flow takes no device: the widget's value is not given
    assert (best.name, best.settings) == ("flow", {"preset": "best"})
    with pytest.raises(pack.deepshop_core.InputError, match="refresh the page"):
        widgets.chosen_engine("dain: gone.tar")


def test_load_window_with_audio(pack, pack_clips):
    images, rate, audio, count, source = node(pack, "DeepshopLoadVideoFrames").load(
        "clip.mp4", start_frame=10, frame_load_cap=20)
    assert images.shape == (20, 96, 160, 3) and images.dtype == torch.float32
    assert 0.0 <= float(images.min()) and float(images.max()) <= 1.0
    assert rate == 25.0 and count == 20
    assert audio["waveform"].ndim == 3 and audio["waveform"].shape[:2] == (1, 2)
    assert audio["waveform"].shape[2] == pytest.approx(48000 * 20 / 25, abs=2)
    assert source.start == 10 and source.end == 30 and source.frame_count == 50
    assert source.frame_rate == Fraction(25)


def test_load_clip_without_audio(pack, pack_clips):
    images, rate, audio, count, source = node(pack, "DeepshopLoadVideoFrames").load("x", path=str(pack_clips["silent"]))
    assert audio is None and count == 25 and not source.has_audio


def test_load_past_the_end_is_a_clear_error(pack, pack_clips):
    with pytest.raises(ValueError, match="past the end"):
        node(pack, "DeepshopLoadVideoFrames").load("clip.mp4", start_frame=500)


def test_rgba_and_gray_inputs(pack):
    convert = pack.nodes.convert
    rgba = torch.rand(2, 8, 10, 4)
    gray = torch.rand(2, 8, 10, 1)
    assert convert.to_uint8(rgba[0]).shape == (8, 10, 3)
    g = convert.to_uint8(gray[0])
    assert g.shape == (8, 10, 3) and (g[..., 0] == g[..., 2]).all()
    out, rate, count, _ = node(pack, "DeepshopInterpolate").interpolate(rgba, 2.0, "blend (cross-fade, no motion)",
                                                                     frame_rate=12.0)
    assert out.shape == (4, 8, 10, 3) and rate == 24.0 and count == 4


def test_select_range_frames_and_seconds(pack):
    images = torch.rand(50, 4, 6, 3)
    select = node(pack, "DeepshopSelectRange")
    segment, rng, start, end = select.select(images, 25.0, "10:20")
    assert (start, end) == (10, 20) and segment.shape[0] == 11
    assert segment.data_ptr() == images[10].data_ptr()  # a view, no copy
    _, rng, start, end = select.select(images, 25.0, "0.4s:0.8s")
    assert (start, end) == (10, 20)
    source = {"start": 10, "frame_rate": Fraction(25), "frame_count": 100}
    _, _, start, end = select.select(images, 25.0, "20:30", source)
    assert (start, end) == (10, 20)
    with pytest.raises(ValueError, match="past the last frame"):
        select.select(images, 25.0, "40:70")
    with pytest.raises(ValueError, match="outside the loaded frames 10..59"):
        select.select(images, 25.0, "70:80", source)
    assert isinstance(node(pack, "DeepshopSelectRange").VALIDATE_INPUTS(range="later"), str)


def test_retime_stitches_and_stretches_audio(pack):
    images = torch.rand(20, 4, 6, 3)
    select, interp, retime = (node(pack, n) for n in ("DeepshopSelectRange", "DeepshopInterpolate",
                                                      "DeepshopSlowMotionRetime"))
    segment, rng, start, end = select.select(images, 10.0, "5:9")
    dense, _, _, _ = interp.interpolate(segment, 4.0, "blend (cross-fade, no motion)", scene_cut_protection=False)
    audio = {"waveform": torch.zeros(1, 2, 4800), "sample_rate": 2400}
    out, track, count, rate = retime.retime(images, dense, rng, 10.0, 4.0, 0.0, "stretch", audio)
    assert count == 20 + 4 * 3 and out.shape[0] == count and rate == 10.0
    assert torch.equal(out[:6], images[:6]) and torch.equal(out[-10:], images[10:])
    assert torch.equal(out[5:5 + 17:4], images[5:10])  # every 4th frame of the slowed range is a source frame
    assert track["waveform"].shape[-1] == pytest.approx(count / 10.0 * 2400, abs=2)
    out2, _, count2, _ = retime.retime(images, dense, rng, 10.0, 4.0, 1.0, "none", audio)
    # a 1-frame smoothstep ramp at each end averages half the extra slowdown: 4 x 4 - (4 - 1) x 1 = 13 intervals
    assert count2 == 20 - 4 + 13 and out2.shape[0] == count2
    with pytest.raises(ValueError, match="same factor"):
        retime.retime(images, dense, rng, 10.0, 2.0, 0.0, "stretch", None)
    with pytest.raises(ValueError, match="resize"):
        retime.retime(images, torch.rand(dense.shape[0], 8, 6, 3), rng, 10.0, 4.0, 0.0, "stretch", None)


SAVE_FORMATS = [  # format, the codec FFmpeg reads back, whether the file keeps the audio
    ("h264", "h264", True), ("h265", "hevc", True), ("vp9", "vp9", True), ("lossless", "h264", True),
    ("gif", "gif", False), ("webp", "webp", False), ("png", "png", False)]


@pytest.mark.parametrize("fmt, codec, sound", SAVE_FORMATS, ids=[f[0] for f in SAVE_FORMATS])
def test_save_formats(pack, pack_dirs, fmt, codec, sound):
    """Every format of Save Video: its codec, every frame, the frame rate given (a PNG folder stores none) and the
    audio where the format carries sound; previewed in the node."""
    # 96x64: the libx265 of PyAV 18.1.1's wheels corrupts its heap encoding 48x32 frames (48x48, 40x40 are fine)
    images = torch.rand(6, 64, 96, 3)
    audio = {"waveform": torch.zeros(1, 1, 9600), "sample_rate": 48000}
    result = node(pack, "DeepshopSaveVideo").save(images, 25.0, f"t/{fmt}", fmt, -1, audio=audio)
    (path,) = result["result"]
    got = describe_output(Path(path))
    assert (got.codec, got.frames, got.size) == (codec, 6, (96, 64))
    assert got.rate == (None if fmt == "png" else 25)
    assert (got.audio is not None) == sound
    assert result["ui"]["images"][0]["type"] == "output"
    if fmt != "png":
        assert result["ui"]["animated"] == (True,)


def test_save_spliced_into_the_source(pack, pack_clips):
    load, select, interp, retime, save = (node(pack, n) for n in (
        "DeepshopLoadVideoFrames", "DeepshopSelectRange", "DeepshopInterpolate", "DeepshopSlowMotionRetime",
        "DeepshopSaveVideo"))
    images, rate, audio, count, source = load.load("clip.mp4", start_frame=10, frame_load_cap=20)
    segment, rng, start, end = select.select(images, rate, "15:20", source)
    assert (start, end) == (5, 10)
    dense, _, _, _ = interp.interpolate(segment, 2.0, "blend (cross-fade, no motion)")
    slowed, track, n, out_rate = retime.retime(images, dense, rng, rate, 2.0, 0.0, "stretch", audio)
    assert n == 25
    result = save.save(slowed, out_rate, "t/spliced", "h264", -1, audio=track, source=source)
    (path,) = result["result"]
    video = core_module(pack, "media.decode")
    info = pack.deepshop_core.probe(path)
    assert info.frame_count == 50 + 5 and info.frame_rate == 25
    sound = core_module(pack, "media.audio").read_audio(path)
    assert sound.duration == pytest.approx(55 / 25, abs=0.03)
    # the frames outside the window are the source's own (decoded again, so equal up to the codec)
    first = next(iter(video.read_frames(path, 0, 1)))
    original = next(iter(video.read_frames(pack_clips["audio"], 0, 1)))
    assert np.abs(first.astype(int) - original.astype(int)).mean() < 3
    with pytest.raises(ValueError, match="source's size"):
        save.save(slowed[:, :32, :32], out_rate, "t/bad", "h264", -1, source=source)


def test_retime_ramp_shows_each_frame_at_its_own_time(pack):
    """With a ramp, output times fall between the interpolated frames (1/factor apart): each output frame must show
    its own time, not the nearest interpolated one (that would stutter). Frame k is a flat grey of 10 k levels, so a
    frame's level tells the time it shows."""
    images = torch.arange(20, dtype=torch.float32).mul(10 / 255).view(20, 1, 1, 1).expand(20, 4, 6, 3).contiguous()
    select, interp, retime = (node(pack, n) for n in ("DeepshopSelectRange", "DeepshopInterpolate",
                                                      "DeepshopSlowMotionRetime"))
    segment, rng, start, end = select.select(images, 10.0, "4:14")
    dense, _, _, _ = interp.interpolate(segment, 4.0, "blend (cross-fade, no motion)", scene_cut_protection=False)
    out, _, count, _ = retime.retime(images, dense, rng, 10.0, 4.0, 3.0, "none", None)
    timeline = pack.deepshop_core.timeline.slow_timeline(20, [pack.deepshop_core.timeline.Segment(4, 14, 4.0, 3.0)])
    assert count == len(timeline)
    shown = out[:, 0, 0, 0].numpy() * 255 / 10  # the time each output frame shows, in source frames
    assert np.abs(shown - timeline.positions).max() < 0.06
    assert np.all(np.diff(shown) > 0)  # no repeated frame anywhere: the ramp flows


def test_interpolate_given_a_range_renders_its_ramps_at_their_eased_times(pack):
    """Given Select Range's range, DAIN Interpolate renders the range at the exact eased times of its ramps (not
    the nearest of an even grid) and hands those times to Retime as its plan; Retime puts the frames in as they are,
    whatever its own factor says. Frame k is a flat grey of 10 k levels, so a frame's level tells the time it
    shows."""
    images = torch.arange(20, dtype=torch.float32).mul(10 / 255).view(20, 1, 1, 1).expand(20, 4, 6, 3).contiguous()
    select, interp, retime = (node(pack, n) for n in ("DeepshopSelectRange", "DeepshopInterpolate",
                                                      "DeepshopSlowMotionRetime"))
    segment, rng, _, _ = select.select(images, 10.0, "4:14")
    dense, _, count, plan = interp.interpolate(segment, 4.0, "blend (cross-fade, no motion)", range=rng, ramp=3.0,
                                               scene_cut_protection=False)
    positions = np.asarray(plan.positions, dtype=np.float64)
    assert count == len(positions) == dense.shape[0]
    assert np.abs(dense[:, 0, 0, 0].numpy() * 255 / 10 - (4 + positions)).max() < 0.06  # the range starts at 4
    steps = np.diff(positions)
    # 4x on the plateau (steps of 1/4 frame); easing in and out over 3 frames, the steps shrink from 1 to 1/4
    assert np.isclose(steps.min(), 0.25) and steps.max() > 0.5 and len(set(np.round(steps, 6))) > 3
    out, _, total, _ = retime.retime(images, dense, rng, 10.0, 7.0, 0.0, "none", None, plan=plan)
    # 10 intervals at 4x, each 3-frame ramp losing (4 - 1) x 3 / 2: 40 - 9 = 31 intervals, so 20 - 10 + 31 frames
    assert total == out.shape[0] == 41
    shown = out[:, 0, 0, 0].numpy() * 255 / 10
    assert np.all(np.diff(shown) > 0) and np.abs(shown[4:36] - (4 + positions[:32])).max() < 0.06


# -- bad and unusual input (the node half of tests/test_bad_input.py) --------------------------------------------------

def _bad_file(kind: str, folder: Path, good: Path) -> Path:
    """A file the loader must refuse: text, zero bytes, a cut-off copy of ``good``, a header claiming a huge size."""
    path = folder / f"bad_{kind}.mp4"
    if kind == "text":
        path.write_text("this is not a video\n" * 50)
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    else:  # huge: a 256x256 FFV1 Matroska file whose header is patched to claim 16000x8000
        path = folder / "bad_huge.mkv"
        with av.open(str(path), "w") as container:
            stream = container.add_stream("ffv1", rate=25)
            stream.width, stream.height, stream.pix_fmt = 256, 256, "yuv420p"
            for index in range(2):
                frame = av.VideoFrame.from_ndarray(np.zeros((256, 256, 3), np.uint8), format="rgb24")
                frame.pts = index
                container.mux(stream.encode(frame.reformat(format="yuv420p")))
            container.mux(stream.encode(None))
        path.write_bytes(path.read_bytes().replace(b"\xb0\x82\x01\x00", b"\xb0\x82\x3e\x80")
                         .replace(b"\xba\x82\x01\x00", b"\xba\x82\x1f\x40"))
    return path


@pytest.mark.parametrize("kind, message", [("text", "not a video"), ("empty", "empty"), ("truncated", "truncated"),
                                           ("huge", "megapixels")])
def test_load_refuses_bad_files_with_one_clear_error(pack, pack_clips, pack_dirs, kind, message):
    path = _bad_file(kind, pack_dirs["input"], pack_clips["audio"])
    with pytest.raises(pack.deepshop_core.MediaError, match=message):
        node(pack, "DeepshopLoadVideoFrames").load("x", path=str(path))


def test_load_warns_about_a_variable_frame_rate(pack, videos):
    warning = pack.deepshop_core.DeepshopWarning
    with pytest.warns(warning, match="variable frame rate"):
        images, rate, _, count, _ = node(pack, "DeepshopLoadVideoFrames").load(
            "x", path=str(videos / "newtonscradle.gif"))
    assert count == 36 and rate == pytest.approx(3600 / 82)


@pytest.mark.parametrize("images, message", [
    ([torch.rand(4, 6, 3), torch.rand(5, 7, 3)], "IMAGE batch"),  # frames of two sizes: not one batch
    (torch.rand(0, 4, 6, 3), "empty batch"),
    (torch.rand(2, 4, 6, 2), "channels"),
    (torch.rand(4, 6, 3), "IMAGE batch"),
])
def test_malformed_image_batches_are_refused_by_every_node(pack, images, message):
    calls = [
        lambda: node(pack, "DeepshopInterpolate").interpolate(images, 2.0, "blend (cross-fade, no motion)"),
        lambda: node(pack, "DeepshopSelectRange").select(images, 25.0, "0:1"),
        lambda: node(pack, "DeepshopSaveVideo").save(images, 25.0, "t/malformed", "h264"),
    ]
    for call in calls:
        with pytest.raises(ValueError, match=message):
            call()


@pytest.mark.parametrize("factor", [0.5, 0.0, -1.0, float("nan"), float("inf"), 1e9])
def test_bad_factors_are_refused_by_the_nodes(pack, factor):
    images = torch.rand(6, 4, 6, 3)
    with pytest.raises(ValueError, match="factor"):
        node(pack, "DeepshopInterpolate").interpolate(images, factor, "blend (cross-fade, no motion)")
    rng = {"start": 1, "end": 3, "source_count": 6, "frame_rate": Fraction(25)}
    with pytest.raises(ValueError, match="factor"):
        node(pack, "DeepshopSlowMotionRetime").retime(images, images[1:4], rng, 25.0, factor)


@pytest.mark.parametrize("channels", [1, 4])
def test_gray_and_rgba_batches_are_saved_and_retimed_as_rgb(pack, pack_dirs, channels):
    images = torch.rand(6, 8, 10, channels)
    (path,) = node(pack, "DeepshopSaveVideo").save(images, 25.0, f"t/c{channels}", "lossless")["result"]
    video = core_module(pack, "media.decode")
    saved = list(video.read_frames(path))
    expected = pack.nodes.convert.to_uint8(images[2])
    assert len(saved) == 6 and np.array_equal(saved[2], expected)
    select, interp, retime = (node(pack, n) for n in ("DeepshopSelectRange", "DeepshopInterpolate",
                                                      "DeepshopSlowMotionRetime"))
    segment, rng, _, _ = select.select(images, 25.0, "1:3")
    dense, _, _, _ = interp.interpolate(segment, 2.0, "blend (cross-fade, no motion)", scene_cut_protection=False)
    out, _, count, _ = retime.retime(images, dense, rng, 25.0, 2.0)
    assert out.shape == (8, 8, 10, 3) and count == 8
    assert torch.equal(out[0], images[0].expand(8, 10, 3) if channels == 1 else images[0, ..., :3])


@pytest.mark.parametrize("prefix", ["../escape", "a/../../escape", "/tmp/deepshop_absolute", "", "   "])
def test_save_refuses_a_prefix_outside_the_output_folder(pack, pack_dirs, prefix):
    before = set(pack_dirs["output"].parent.rglob("*"))
    with pytest.raises(ValueError, match="filename_prefix"):
        node(pack, "DeepshopSaveVideo").save(torch.rand(2, 8, 10, 3), 25.0, prefix, "h264")
    assert set(pack_dirs["output"].parent.rglob("*")) == before
    assert not Path("/tmp/deepshop_absolute_00001_.mp4").exists()


def test_save_accepts_a_prefix_that_stays_inside(pack, pack_dirs):
    (path,) = node(pack, "DeepshopSaveVideo").save(torch.rand(2, 8, 10, 3), 25.0, "t/sub/../inside", "h264")["result"]
    assert Path(path).resolve().is_relative_to(pack_dirs["output"].resolve()) and Path(path).exists()


def test_retime_reads_core_frame_interpolate_batches(pack, caplog):
    """A batch in the (N - 1) x m + 1 convention of core FrameInterpolate (both ends kept) retimes to exactly what
    Deepshop's own N x factor batch gives, and the log says which convention was read."""
    images = torch.rand(20, 4, 6, 3)
    select, interp, retime = (node(pack, n) for n in ("DeepshopSelectRange", "DeepshopInterpolate",
                                                      "DeepshopSlowMotionRetime"))
    segment, rng, _, _ = select.select(images, 10.0, "5:9")
    ours, _, _, _ = interp.interpolate(segment, 4.0, "blend (cross-fade, no motion)", scene_cut_protection=False)
    assert ours.shape[0] == 5 * 4
    core_style = ours[:(5 - 1) * 4 + 1].clone()  # frame k at time k / 4, ending on the last source frame
    with caplog.at_level(logging.INFO):
        expected = retime.retime(images, ours, rng, 10.0, 4.0, 2.0, "none", None)[0]
        got = retime.retime(images, core_style, rng, 10.0, 4.0, 2.0, "none", None)[0]
    assert torch.equal(got, expected)
    said = [r.getMessage() for r in caplog.records if "Slow Motion Retime" in r.getMessage()]
    assert "read as N x factor" in said[0] and "read as (N - 1) x m + 1" in said[1], said
    with pytest.raises(ValueError, match="fits 2x in the \\(N - 1\\) x m \\+ 1 convention"):
        retime.retime(images, ours[:9], rng, 10.0, 4.0, 0.0, "none", None)
    with pytest.raises(ValueError, match="gives 20 \\(Deepshop Interpolate\\) or 17"):
        retime.retime(images, ours[:18], rng, 10.0, 4.0, 0.0, "none", None)


def test_audio_as_a_lazy_mapping_is_accepted_by_every_audio_input(pack, pack_dirs):
    """VideoHelperSuite's AUDIO is a lazy Mapping: Slow Motion Retime and Save Video take it exactly as they take a
    dict (Slow Motion, the third node with an AUDIO input, in tests/comfyui/video_node_tests.py)."""
    audio_inputs = [name for name, cls in pack.NODE_CLASS_MAPPINGS.items()
                    if any(spec[0] == "AUDIO" for group in cls.INPUT_TYPES().values() for spec in group.values())]
    assert sorted(audio_inputs) == ["DeepshopSaveVideo", "DeepshopSlowMotion", "DeepshopSlowMotionRetime"]
    images = torch.rand(20, 4, 6, 3)
    waveform = torch.sin(torch.arange(2 * 4800, dtype=torch.float32) / 7).reshape(1, 2, 4800)
    lazy = LazyAudio(waveform, 2400)
    select, retime, save = (node(pack, n) for n in ("DeepshopSelectRange", "DeepshopSlowMotionRetime",
                                                    "DeepshopSaveVideo"))
    _, rng, _, _ = select.select(images, 10.0, "5:9")
    dense = images[5:10].repeat_interleave(2, 0)
    from_dict = retime.retime(images, dense, rng, 10.0, 2.0, 0.0, "stretch", {"waveform": waveform,
                                                                              "sample_rate": 2400})[1]
    from_lazy = retime.retime(images, dense, rng, 10.0, 2.0, 0.0, "stretch", lazy)[1]
    assert lazy.reads > 0 and from_lazy["sample_rate"] == 2400
    assert torch.equal(from_lazy["waveform"], from_dict["waveform"])
    (path,) = save.save(images, 10.0, "t/lazy_audio", "h264", -1, audio=LazyAudio(waveform, 2400))["result"]
    sound = core_module(pack, "media.audio").read_audio(path)
    assert sound.channels == 2 and sound.duration == pytest.approx(2.0, abs=0.05)
    with pytest.raises(ValueError, match="a mapping .*got list"):
        retime.retime(images, dense, rng, 10.0, 2.0, 0.0, "stretch", [waveform, 2400])


class LerpNet(torch.nn.Module):
    """A network in core ComfyUI's interpolation-model convention (``pad_align``, ``extract_features``,
    ``forward(img0, img1, timestep=[b, 1, H, W], cache=...)``) whose frame at time t is exactly
    ``(1 - t) img0 + t img1``; it records what it was called with."""

    pad_align = 64

    def __init__(self):
        super().__init__()
        self.gain = torch.nn.Parameter(torch.ones(1))
        self.calls = []

    def extract_features(self, img):
        self.extracted = getattr(self, "extracted", 0) + 1
        return img.mean(dim=1, keepdim=True)

    def forward(self, img0, img1, timestep=0.5, cache=None):
        self.calls.append({"shape": tuple(img0.shape), "times": timestep[:, 0, 0, 0].tolist(),
                           "cache": sorted(cache or {}), "timestep_shape": tuple(timestep.shape)})
        return torch.lerp(img0, img1, timestep) * self.gain


def test_timestep_net_engine_calls_the_network_as_core_does(pack):
    engine = core_module(pack, "engines.timestep_net").TimestepNetEngine(LerpNet())
    rng = np.random.default_rng(3)
    f0, f1 = (rng.integers(0, 256, (70, 90, 3), dtype=np.uint8) for _ in range(2))
    mids = engine.interpolate(f0, f1, [0.25, 0.5, 0.7])
    (call,) = engine.net.calls  # every time in one batch, frames padded to 64, features cached
    assert call["shape"] == (3, 3, 128, 128) and call["timestep_shape"] == (3, 1, 128, 128)
    assert call["times"] == pytest.approx([0.25, 0.5, 0.7]) and call["cache"] == ["img0", "img1"]
    for t, mid in zip([0.25, 0.5, 0.7], mids):
        assert mid.shape == f0.shape and mid.dtype == np.uint8
        want = (1 - t) * f0.astype(np.float64) + t * f1.astype(np.float64)
        assert np.abs(mid - want).max() <= 0.51
    # the second frame of a pair is the first of the next: its features are not computed again; an array reused
    # for another frame (new content, same object) is seen as the new frame
    engine.interpolate(f1, f0, [0.5])
    assert engine.net.extracted == 2
    f1[:] = 255 - f1
    (mid,) = engine.interpolate(f1, f0, [0.5])
    assert engine.net.extracted == 3 and np.abs(mid - (f1 / 2 + f0 / 2)).max() <= 0.51
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        engine.interpolate(f0, f1, [1.0])
    with pytest.raises(ValueError, match="torch network"):
        core_module(pack, "engines.timestep_net").TimestepNetEngine(lambda a, b: a)


def test_timestep_net_engine_under_deepshops_planning(pack):
    """Through the pipeline: any factor (2.5x here), a scene cut held instead of morphed, progress after each pair
    and a cancel raised from the progress callback that stops before the next pair."""
    api, timeline, synthetic = (core_module(pack, n) for n in ("api", "timeline", "synthetic"))
    scene = synthetic.Scene.make(96, 64, seed=5)
    frames = [scene.frame(i / 25) for i in range(4)] + [np.full((64, 96, 3), (20, 200, 90), np.uint8)] * 2
    net = LerpNet()
    engine = core_module(pack, "engines.timestep_net").TimestepNetEngine(net)
    plan = timeline.smooth_timeline(len(frames), 2.5)
    out = list(api.interpolate_frames(frames, plan, engine, scene_cuts=True, dedupe=True))
    assert len(out) == len(plan) == 15
    times = sorted({round(t, 6) for call in net.calls for t in call["times"]})
    assert times == [0.2, 0.4, 0.6, 0.8]  # positions k / 2.5: every fractional time the plan asks for
    cut_pair = [i for i, pos in enumerate(plan.positions) if 3 < pos < 4]
    for i in cut_pair:  # across the cut: a source frame held, never a mix of the two shots
        assert any(np.array_equal(out[i], frames[j]) for j in (3, 4)), f"frame {i} morphs across the cut"
    assert len(net.calls) == 3  # pairs 0-1, 1-2, 2-3 (the cut pair 3-4 is held, 4-5 are duplicates)
    assert net.extracted == 4  # each frame once

    class Stop(Exception):
        pass

    seen = []

    def progress(done, total):
        seen.append(done)
        if len(seen) == 2:
            raise Stop

    net.calls.clear()
    with pytest.raises(Stop):
        list(api.interpolate_frames(frames, plan, engine, scene_cuts=True, progress=progress))
    assert len(net.calls) <= 2 and seen == sorted(seen)


def test_interpolation_model_input_takes_deepshops_loader_and_cores_where_it_exists(pack, monkeypatch):
    """Outside a ComfyUI with core interpolation (here: no comfy_extras at all, as on 0.3.75) the input takes
    Deepshop's own loader's type only; anything but a loaded model given to it is refused with a clear error."""
    monkeypatch.setitem(sys.modules, "comfy_extras", None)  # even after a test put core ComfyUI on the path
    interp = node(pack, "DeepshopInterpolate")
    assert interp.INPUT_TYPES()["optional"]["interpolation_model"][0] == "DEEPSHOP_INTERP_MODEL"
    assert node(pack, "DeepshopSlowMotion").INPUT_TYPES()["optional"]["interpolation_model"][0] == \
        "DEEPSHOP_INTERP_MODEL"
    with pytest.raises(ValueError, match="must come from Load Frame Interpolation Model, got dict"):
        interp.interpolate(torch.rand(3, 8, 8, 3), 2.0, "blend (cross-fade, no motion)", interpolation_model={})


def test_deepshops_loader_offers_the_frame_interpolation_files_as_rife_or_film(pack, pack_dirs):
    """Load Interpolation Model (Deepshop) lists models/frame_interpolation, tells RIFE from FILM by the file's
    tensors, and its model makes the frames of an interpolating node: those of the rife engine on the same file."""
    from tools.learned_standin import write_film, write_rife

    folder = pack_dirs["models"] / "frame_interpolation"
    rife = write_rife(folder / "my_rife.safetensors", widths=(16, 12, 8, 8, 8), seed=3)
    write_film(folder / "my_film.safetensors", seed=4)
    (folder / "notes.safetensors").write_bytes(b"not weights")
    from safetensors.torch import save_file

    save_file({"encoder.weight": torch.zeros(2, 2)}, str(folder / "other_net.safetensors"))
    loader = node(pack, "DeepshopLoadInterpolationModel")
    assert {"my_rife.safetensors", "my_film.safetensors"} <= set(loader.INPUT_TYPES()["required"]["model_name"][0])
    (choice,) = loader.load("my_rife.safetensors", "cpu", "fp32")
    assert (choice.name, choice.settings) == ("rife", {"weights": str(rife), "device": "cpu", "precision": "fp32"})
    assert loader.load("my_film.safetensors")[0].name == "film"
    with pytest.raises(pack.deepshop_core.WeightsError, match="not a RIFE 4.x or FILM weight file"):
        loader.load("other_net.safetensors")
    with pytest.raises(pack.deepshop_core.WeightsError, match="truncated or not a safetensors file"):
        loader.load("notes.safetensors")
    images = torch.rand(6, 32, 48, 3)
    frames, _, count, _ = node(pack, "DeepshopInterpolate").interpolate(
        images, 2.0, "blend (cross-fade, no motion)", scene_cut_protection=False, interpolation_model=choice)
    engines = core_module(pack, "engines")
    with engines.load("rife", weights=str(rife), device="cpu", precision="fp32") as engine:
        convert = pack.nodes.convert
        expected = engine.interpolate(convert.to_uint8(images[1]), convert.to_uint8(images[2]), [0.5])[0]
    blended = (convert.to_uint8(images[1]).astype(int) + convert.to_uint8(images[2])) // 2
    assert count == 12 and np.array_equal(convert.to_uint8(frames[3]), expected)
    assert np.abs(expected.astype(int) - blended).mean() > 1  # the network's frame, not the menu's cross-fade


def test_retime_without_a_plan_still_reads_old_batches(pack):
    """A saved workflow without the plan wire: Retime's own factor, the N x factor batch, as before."""
    images = torch.rand(12, 8, 8, 3)
    select, interp, retime = (node(pack, n) for n in ("DeepshopSelectRange", "DeepshopInterpolate",
                                                      "DeepshopSlowMotionRetime"))
    segment, rng, _, _ = select.select(images, 25.0, "2:6")
    dense, _, _, plan = interp.interpolate(segment, 2.0, "blend (cross-fade, no motion)")
    assert plan is None and dense.shape[0] == 10
    out, _, count, _ = retime.retime(images, dense, rng, 25.0, 2.0, 0.0, "none", None)
    assert count == 12 + 4 and torch.equal(out[:2], images[:2]) and torch.equal(out[-6:], images[-6:])


# -- Speed Curve (Deepshop) ------------------------------------------------------------------------------------------


def test_speed_curve_hands_on_the_request_and_shows_its_picture(pack, pack_dirs):
    """Keyframe text in: the request as given (realised by Slow Motion on its clip), its picture as an IMAGE and as
    the node's preview (a PNG in the temp folder); the picture is the core's, at the widgets' rate and length."""
    curve = node(pack, "DeepshopSpeedCurve")
    text = "0s:1, 1s:0.25, 2s:0.25, 2.5s:3, 3.5s:1, 3s:freeze=0.5s"
    result = curve.curve(text, frame_rate=25.0, frame_count=125)
    request, picture = result["result"]
    request_type = core_module(pack, "speed.request").SpeedRequest
    assert isinstance(request, request_type) and request.text == text
    assert picture.shape == (1, 560, 800, 3) and picture.dtype == torch.float32
    (shown,) = result["ui"]["images"]
    assert shown["type"] == "temp" and (pack_dirs["temp"] / shown["filename"]).is_file()
    drawn = core_module(pack, "curve_picture").draw_curve(request.curve(Fraction(25), 125), 25, title=text)
    assert np.array_equal(np.rint(picture[0].numpy() * 255).astype(np.uint8), drawn)
    # slower parts are blue and faster ones orange in the top half; the 1x line runs across
    top = drawn[: drawn.shape[0] // 2]
    assert np.any(np.all(top == (70, 130, 230), axis=-1)) and np.any(np.all(top == (240, 150, 50), axis=-1))
    # without a length, one second past the last keyframe (3.5 s = frame 87.5): frames 0..113 at 25 fps
    assert request.preview_count(Fraction(25)) == 114


@pytest.mark.parametrize("speeds", [
    [0.5] * 30 + [2.0] * 30, np.array([0.5] * 30 + [2.0] * 30), torch.tensor([0.5] * 30 + [2.0] * 30),
    torch.tensor([0.5] * 30 + [2.0] * 30, dtype=torch.float64)[None],
], ids=["list", "numpy", "tensor", "tensor-2d"])
def test_speed_curve_takes_a_spline_editors_float_list(pack, speeds):
    """KJNodes' Spline Editor hands its FLOAT output on as a list of floats (or a tensor, or an array): one speed per
    frame; its length is the clip's frame count, checked when Slow Motion plans the clip."""
    request, _ = node(pack, "DeepshopSpeedCurve").curve("ignored", speeds=speeds)["result"]
    assert request.speeds == tuple([0.5] * 30 + [2.0] * 30) and request.text is None
    with pytest.raises(ValueError, match="60 values but the clip has 50 frames"):
        request.curve(Fraction(25), 50)


def test_speed_curve_presets_and_bad_input(pack):
    curve = node(pack, "DeepshopSpeedCurve")
    request, _ = curve.curve("ignored", preset="hero", preset_start=1.0, preset_length=2.0)["result"]
    assert request.text == "hero@1.0s/2.0s"
    hero = request.curve(Fraction(25), 100)
    assert min(k.speed for k in hero.keyframes) == 0.25 and hero.keyframes[0].position == 25
    for keyframes, speeds, named in [("1s:-2", None, "'-2'"), ("2s:1, 1s:0.5", None, "out of order"),
                                     ("warp@1s", None, "'warp'"), ("1s:nan", None, "'nan'"),
                                     ("", [1.0, float("inf")], "frame 1"), ("", "fast", "FLOAT list")]:
        with pytest.raises(ValueError, match=named) as error:
            curve.curve(keyframes, speeds=speeds)
        assert "\n" not in str(error.value)
