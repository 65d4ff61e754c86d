"""deepshop_core.media (probe, decode, encode) on the real clips in ../shared/testdata/videos: probe, exact range decoding, the writer."""

from __future__ import annotations

import gc
import os
import weakref
from fractions import Fraction

import av
import numpy as np
import pytest
from PIL import Image

from deepshop_core.errors import InputError, MediaError, OutputError
from deepshop_core.media.audio import Audio, cut, read_audio
from deepshop_core.media.decode import read_frames
from deepshop_core.media.encode import VideoWriter
from deepshop_core.media.formats import FORMATS, format_for_path
from deepshop_core.media.probe import probe
from tests.support.crafted import write_audio_only
from tests.support.images import psnr


def raw_decode(path) -> list[np.ndarray]:
    """Every frame as PyAV decodes it, without deepshop (no rotation): the reference for read_frames."""
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


@pytest.fixture(scope="module")
def reference(videos):
    cache = {}

    def decoded(name):
        if name not in cache:
            cache[name] = raw_decode(videos / name)
        return cache[name]

    return decoded


def mean_abs_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b).mean())


# -- probe -------------------------------------------------------------------------------------------------------------

# clip: width, height, frame_rate, frame_count, sample_aspect_ratio, rotation, pix_fmt, variable rate, audio
CLIPS = {
    "cockatoo.mp4": (1280, 720, Fraction(20), 280, Fraction(1), 0, "yuv444p", False, ("mp3", 1, 16000, "mono")),
    "realshort.mp4": (320, 240, Fraction(45000, 1499), 36, Fraction(1), 0, "yuv420p", False, ("aac", 1, 48000, "mono")),
    "mpy_chaplin.mp4": (640, 360, Fraction(25), 241, Fraction(1), 0, "yuv420p", False, ("mp3", 2, 44100, "stereo")),
    "skv_bikes.mp4": (640, 272, Fraction(25), 250, Fraction(1), 0, "yuv420p", False, None),
    "skv_bigbuckbunny.mp4": (1280, 720, Fraction(25), 132, Fraction(1), 0, "yuv420p", False, ("aac", 6, 48000, "5.1")),
    "mpy_fire2.mp4": (1280, 720, None, 25, Fraction(1), 180, "yuv420p", True, ("aac", 1, 48000, "mono")),
    "newtonscradle.gif": (200, 150, Fraction(36 * 100, 82), 36, Fraction(1), 0, "bgra", True, None),
    "skv_carphone_pristine.mp4": (176, 144, Fraction(30000, 1001), 120, Fraction(128, 117), 0, "yuv420p", False, None),
}


@pytest.mark.parametrize("clip", sorted(CLIPS))
def test_probe(videos, clip):
    width, height, rate, count, sar, rotation, pix_fmt, variable, audio = CLIPS[clip]
    info = probe(videos / clip)
    assert (info.width, info.height, info.frame_count) == (width, height, count)
    assert (info.sample_aspect_ratio, info.rotation, info.pix_fmt) == (sar, rotation, pix_fmt)
    assert info.variable_frame_rate is variable
    assert isinstance(info.frame_rate, Fraction) and isinstance(info.duration, Fraction)
    if rate is not None:
        assert info.frame_rate == rate
    assert info.duration == count / info.frame_rate
    assert info.has_audio is (audio is not None)
    if audio is not None:
        assert (info.audio.codec, info.audio.channels, info.audio.sample_rate, info.audio.layout) == audio
        assert info.audio.duration == pytest.approx(float(info.duration), abs=0.2)
    assert info.path == str(videos / clip)


def test_probe_retimes_variable_rate_to_frames_over_duration(videos):
    fire = probe(videos / "mpy_fire2.mp4")  # 25 frames over 214179/90000 s, unevenly spaced
    assert float(fire.frame_rate) == pytest.approx(25 / (214179 / 90000), rel=1e-4)
    assert fire.frame_rate.denominator <= 1001
    assert float(fire.duration) == pytest.approx(214179 / 90000, rel=1e-4)
    gif = probe(videos / "newtonscradle.gif")  # delays of 2-5 centiseconds, 0.82 s in all
    assert gif.duration == Fraction(82, 100)


def test_probe_counts_frames_of_every_clip_like_a_full_decode(videos):
    for clip in ("realshort.mp4", "newtonscradle.gif", "mpy_fire2.mp4"):
        assert probe(videos / clip).frame_count == len(raw_decode(videos / clip))


# -- read_frames -------------------------------------------------------------------------------------------------------

# skv_bikes has keyframes at 0, 30, 76, 137, 187, 242; realshort at 0 and 30. cockatoo's IDR frames at 76 and 145
# do not decode on their own (FFmpeg flags them corrupt; `ffmpeg -ss` shows garbage): reading must not seek there.
@pytest.mark.parametrize("clip, start, end", [
    ("skv_bikes.mp4", 0, 5), ("skv_bikes.mp4", 29, 33), ("skv_bikes.mp4", 30, 32), ("skv_bikes.mp4", 31, 34),
    ("skv_bikes.mp4", 75, 77), ("skv_bikes.mp4", 136, 139), ("skv_bikes.mp4", 240, None), ("skv_bikes.mp4", 249, 250),
    ("skv_bikes.mp4", 0, None), ("skv_bikes.mp4", 100, 100), ("skv_bikes.mp4", 245, 999),
    ("realshort.mp4", 29, 31), ("realshort.mp4", 35, None), ("realshort.mp4", 1, 30),
    ("newtonscradle.gif", 0, None), ("newtonscradle.gif", 17, 23), ("newtonscradle.gif", 35, 36),
    ("skv_carphone_pristine.mp4", 60, 64), ("cockatoo.mp4", 100, 102), ("cockatoo.mp4", 145, 147),
])
def test_read_frames_range_is_the_slice_of_a_full_decode(videos, reference, clip, start, end):
    frames = list(read_frames(videos / clip, start, end))
    expected = reference(clip)[start:end]
    assert len(frames) == len(expected)
    for got, want in zip(frames, expected, strict=True):
        assert got.dtype == np.uint8 and got.shape == want.shape
        np.testing.assert_array_equal(got, want)


def test_read_frames_past_the_end_is_empty(videos):
    assert list(read_frames(videos / "realshort.mp4", 36)) == []
    assert list(read_frames(videos / "realshort.mp4", 50, 60)) == []


def test_rotation_is_applied(videos):
    frames = list(read_frames(videos / "mpy_fire2.mp4", 3, 6))
    raw = raw_decode(videos / "mpy_fire2.mp4")[3:6]
    assert frames[0].shape == (720, 1280, 3)
    for got, stored in zip(frames, raw, strict=True):
        np.testing.assert_array_equal(got, np.rot90(stored, 2))
        assert got.flags.c_contiguous


def test_read_frames_holds_one_frame_at_a_time(videos):
    alive = []
    for frame in read_frames(videos / "skv_bikes.mp4", 20, 80):
        alive.append(weakref.ref(frame))
        del frame
    gc.collect()
    assert len(alive) == 60
    assert sum(ref() is not None for ref in alive) <= 1  # nothing accumulates inside the generator


def test_read_frames_closes_the_file_when_dropped_early(videos):
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(5):
        frames = read_frames(videos / "skv_bikes.mp4", 10, 200)
        next(frames)
        frames.close()
        unstarted = read_frames(videos / "skv_bikes.mp4", 10, 200)  # never iterated
        del unstarted
    gc.collect()
    assert len(os.listdir("/proc/self/fd")) <= before


def test_bad_inputs_give_clear_media_errors(videos, tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    plain = tmp_path / "notes.txt"  # FFmpeg's tty demuxer would show it as ANSI art
    plain.write_text("this is not a video\n" * 50)
    for call in (probe, read_frames):
        with pytest.raises(MediaError, match="no such file"):
            call(tmp_path / "missing.mp4")
        with pytest.raises(MediaError, match="empty"):
            call(empty)
        with pytest.raises(MediaError, match="not a video"):
            call(text)
        with pytest.raises(MediaError, match="not a video"):
            call(plain)
        with pytest.raises(MediaError, match="folder"):
            call(tmp_path)


def test_truncated_file_gives_a_media_error(videos, tmp_path):
    cut_short = tmp_path / "cut.mp4"
    cut_short.write_bytes((videos / "skv_bikes.mp4").read_bytes()[:4000])  # header only, no moov/mdat to speak of
    with pytest.raises(MediaError):
        probe(cut_short)


def test_audio_only_file_is_not_a_video(tmp_path):
    path = write_audio_only(tmp_path / "tone.m4a")
    with pytest.raises(MediaError, match="no video stream"):
        probe(path)


def test_read_frames_checks_its_range(videos):
    for start, end in ((-1, None), (5, 2), (1.5, None)):
        with pytest.raises(InputError):
            read_frames(videos / "realshort.mp4", start, end)


# -- formats -----------------------------------------------------------------------------------------------------------

def test_format_for_path(tmp_path):
    assert format_for_path("a.mp4") == "h264"
    assert format_for_path("a.MOV") == "h264"
    assert format_for_path("a.webm") == "vp9"
    assert format_for_path("a.mkv") == "lossless"
    assert format_for_path("a.gif") == "gif"
    assert format_for_path("a.webp") == "webp"
    assert format_for_path("frames") == "png"
    assert format_for_path(tmp_path) == "png"
    with pytest.raises(InputError, match=".avi"):
        format_for_path("a.avi")
    assert {"h264", "h265", "vp9", "lossless", "png", "gif", "webp"} <= set(FORMATS)


# -- the writer: exact round trips -------------------------------------------------------------------------------------

def write(path, frames, rate, **options):
    with VideoWriter(path, rate, **options) as writer:
        for frame in frames:
            writer.write(frame)
    assert writer.frames_written == len(frames)
    return path


@pytest.mark.parametrize("clip, count", [("mpy_chaplin.mp4", 40), ("realshort.mp4", 36),
                                         ("skv_carphone_pristine.mp4", 45)])
def test_h264_round_trip_keeps_rate_count_duration(videos, tmp_path, clip, count):
    source = probe(videos / clip)
    frames = list(read_frames(videos / clip, 0, count))
    out = probe(write(tmp_path / "out.mp4", frames, source.frame_rate))
    assert (out.frame_rate, out.frame_count, out.duration) == (source.frame_rate, count, count / source.frame_rate)
    assert (out.width, out.height, out.codec, out.pix_fmt) == (source.width, source.height, "h264", "yuv420p")
    assert not out.variable_frame_rate
    back = list(read_frames(tmp_path / "out.mp4"))
    assert np.mean([mean_abs_error(a, b) for a, b in zip(back, frames, strict=True)]) < 3.5
    assert np.mean([psnr(a, b) for a, b in zip(back, frames, strict=True)]) > 34


def test_h264_quality_on_ordinary_footage(videos, tmp_path):
    frames = list(read_frames(videos / "mpy_chaplin.mp4", 100, 130))
    back = list(read_frames(write(tmp_path / "out.mp4", frames, Fraction(25))))
    assert np.mean([mean_abs_error(a, b) for a, b in zip(back, frames, strict=True)]) < 2
    assert min(psnr(a, b) for a, b in zip(back, frames, strict=True)) > 38


@pytest.mark.parametrize("clip, count, name", [("skv_carphone_pristine.mp4", 40, "out.mkv"),
                                               ("realshort.mp4", 36, "out.mp4")])
def test_lossless_round_trip_is_bit_exact(videos, tmp_path, clip, count, name):
    source = probe(videos / clip)
    frames = list(read_frames(videos / clip, 0, count))
    out = probe(write(tmp_path / name, frames, source.frame_rate, format="lossless"))
    assert (out.frame_rate, out.frame_count, out.duration) == (source.frame_rate, count, count / source.frame_rate)
    back = list(read_frames(tmp_path / name))
    assert len(back) == count
    for got, want in zip(back, frames, strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("rate", [Fraction(25), Fraction(60), Fraction(24000, 1001), Fraction(60000, 1001),
                                  Fraction(120000, 1001), Fraction(1800, 41)])
@pytest.mark.parametrize("name", ["out.mkv", "out.webm", "out.mp4"])
def test_common_rates_survive_every_container(tmp_path, rate, name):
    # Matroska/WebM keep nanoseconds per frame; probe reads 60000/1001 back as such, not as FFmpeg's 19001/317.
    frames = [np.full((32, 32, 3), 8 * i, np.uint8) for i in range(12)]
    out = probe(write(tmp_path / name, frames, rate))
    assert (out.frame_rate, out.frame_count, out.variable_frame_rate) == (rate, 12, False)


def test_float_rates_are_taken_as_simple_fractions(tmp_path):
    out = probe(write(tmp_path / "out.mp4", [np.zeros((32, 32, 3), np.uint8)] * 3, 29.97))
    assert out.frame_rate == Fraction(2997, 100)


def test_seeking_in_our_own_matroska_output(videos, tmp_path):
    frames = list(read_frames(videos / "skv_bikes.mp4", 20, 60))
    write(tmp_path / "out.mkv", frames, Fraction(25))
    for start, end in ((0, 3), (17, 21), (38, None)):
        for got, want in zip(read_frames(tmp_path / "out.mkv", start, end), frames[start:end], strict=True):
            np.testing.assert_array_equal(got, want)


def test_odd_size_lossless_keeps_the_exact_size(videos, tmp_path):
    frames = [f[:143, :175] for f in read_frames(videos / "skv_carphone_pristine.mp4", 0, 20)]
    out = probe(write(tmp_path / "odd.mkv", frames, Fraction(30000, 1001)))
    assert (out.width, out.height) == (175, 143)
    for got, want in zip(read_frames(tmp_path / "odd.mkv"), frames, strict=True):
        np.testing.assert_array_equal(got, want)


def test_odd_size_h264_is_padded_with_the_edge_not_scaled(videos, tmp_path):
    frames = [f[:359, :639] for f in read_frames(videos / "mpy_chaplin.mp4", 60, 75)]
    out = probe(write(tmp_path / "odd.mp4", frames, Fraction(25)))
    assert (out.width, out.height, out.frame_count) == (640, 360, 15)
    for got, want in zip(read_frames(tmp_path / "odd.mp4"), frames, strict=True):
        assert psnr(got[:359, :639], want) > 38  # the picture itself is untouched: same place, same scale
        assert mean_abs_error(got[:, 639], got[:, 638]) < 3  # the extra column repeats the edge
        assert mean_abs_error(got[359], got[358]) < 3


def test_odd_size_vp9_keeps_the_exact_size(videos, tmp_path):
    frames = [f[:143, :175] for f in read_frames(videos / "skv_carphone_pristine.mp4", 0, 12)]
    out = probe(write(tmp_path / "odd.webm", frames, Fraction(30000, 1001)))
    assert (out.width, out.height, out.frame_count, out.codec) == (175, 143, 12, "vp9")
    assert out.frame_rate == Fraction(30000, 1001)


def test_h265_writes_hevc_with_the_exact_rate(videos, tmp_path):
    frames = list(read_frames(videos / "realshort.mp4", 0, 12))
    out = probe(write(tmp_path / "out.mp4", frames, Fraction(45000, 1499), format="h265"))
    assert (out.codec, out.frame_count, out.frame_rate) == ("hevc", 12, Fraction(45000, 1499))


def test_png_sequence_folder(videos, tmp_path):
    frames = list(read_frames(videos / "skv_carphone_pristine.mp4", 0, 8))
    folder = write(tmp_path / "frames", frames, Fraction(25))
    names = sorted(os.listdir(folder))
    assert names == [f"frame_{i:06d}.png" for i in range(8)]
    for name, want in zip(names, frames, strict=True):
        np.testing.assert_array_equal(np.asarray(Image.open(folder / name).convert("RGB")), want)
    with pytest.raises(OutputError, match="exists"):
        write(folder, frames, Fraction(25))
    write(folder, frames[:3], Fraction(25), overwrite=True)  # a folder of our own frames may be replaced
    assert sorted(os.listdir(folder)) == [f"frame_{i:06d}.png" for i in range(3)]
    assert [p for p in os.listdir(tmp_path) if p.startswith(".")] == []


def test_png_overwrite_never_deletes_a_foreign_folder(videos, tmp_path):
    precious = tmp_path / "photos"
    precious.mkdir()
    (precious / "holiday.jpg").write_bytes(b"x")
    frames = list(read_frames(videos / "skv_carphone_pristine.mp4", 0, 2))
    with pytest.raises(OutputError, match="not replaced"):
        write(precious, frames, Fraction(25), overwrite=True)
    assert os.listdir(precious) == ["holiday.jpg"]


def test_gif_and_webp(videos, tmp_path):
    frames = list(read_frames(videos / "skv_carphone_pristine.mp4", 0, 10))
    gif = probe(write(tmp_path / "out.gif", frames, Fraction(25)))
    assert (gif.frame_count, gif.width, gif.height, gif.frame_rate) == (10, 176, 144, Fraction(25))
    back = list(read_frames(tmp_path / "out.gif"))
    assert np.mean([mean_abs_error(a, b) for a, b in zip(back, frames, strict=True)]) < 4  # one palette per frame
    write(tmp_path / "out.webp", frames, Fraction(25))
    with Image.open(tmp_path / "out.webp") as webp:  # FFmpeg decodes no animated WebP; Pillow does
        assert (webp.n_frames, webp.size) == (10, (176, 144))


def test_gif_input_round_trips_through_h264(videos, tmp_path):
    info = probe(videos / "newtonscradle.gif")
    frames = list(read_frames(videos / "newtonscradle.gif"))
    out = probe(write(tmp_path / "cradle.mp4", frames, info.frame_rate))
    assert (out.frame_count, out.frame_rate, out.duration) == (36, info.frame_rate, info.duration)


# -- the writer: audio -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, codec", [("out.mp4", "aac"), ("out.webm", "opus"), ("out.mkv", "flac")])
def test_audio_is_muxed_in_sync(videos, tmp_path, name, codec):
    clip, count = "mpy_chaplin.mp4", 50
    source = probe(videos / clip)
    audio = read_audio(videos / clip, 0, float(count / source.frame_rate))
    out = probe(write(tmp_path / name, list(read_frames(videos / clip, 0, count)), source.frame_rate, audio=audio))
    assert out.audio is not None
    assert (out.audio.codec, out.audio.channels) == (codec, 2)
    back = read_audio(tmp_path / name)
    frame = 1 / float(source.frame_rate)
    assert back.duration == pytest.approx(float(out.duration), abs=frame)
    assert out.audio.duration == pytest.approx(float(out.duration), abs=frame)


def test_six_channel_audio_survives(videos, tmp_path):
    clip, count = "skv_bigbuckbunny.mp4", 25
    audio = read_audio(videos / clip, 0, 1.0)
    write(tmp_path / "out.mp4", list(read_frames(videos / clip, 0, count)), Fraction(25), audio=audio)
    out = probe(tmp_path / "out.mp4")
    assert (out.audio.channels, out.audio.sample_rate) == (6, 48000)
    assert read_audio(tmp_path / "out.mp4").channels == 6


@pytest.mark.parametrize("layout, channels", [("7.1", 8), ("5.1(side)", 6), ("quad", 4)])
@pytest.mark.parametrize("name", ["out.mp4", "out.webm", "out.mkv"])
def test_surround_layouts_in_every_container(tmp_path, layout, channels, name):
    # Opus takes only Vorbis layouts (5.1(side) goes in as 5.1); PyAV cannot build or read planar 8-channel frames.
    samples = np.zeros((channels, 19200), np.float32)  # 0.4 s: as long as the 10 frames
    samples[-1] = 0.3 * np.sin(np.arange(19200) * 0.05)  # sound on the last channel only
    frames = [np.zeros((32, 32, 3), np.uint8)] * 10
    write(tmp_path / name, frames, Fraction(25), audio=Audio(samples, 48000, layout))
    back = read_audio(tmp_path / name)
    assert back.channels == probe(tmp_path / name).audio.channels == channels
    loudness = np.abs(back.samples).mean(axis=1)
    assert loudness[-1] > 0.15 and loudness[:-1].max() < 0.01  # still on the last channel, not mixed around


def test_too_many_channels_is_refused_up_front(tmp_path):
    with pytest.raises(OutputError, match="12 channels"):
        VideoWriter(tmp_path / "out.mp4", Fraction(25), audio=Audio(np.zeros((12, 100)), 48000))
    assert os.listdir(tmp_path) == []


def test_audio_is_fitted_to_the_video(videos, tmp_path):
    frames = list(read_frames(videos / "skv_carphone_pristine.mp4", 0, 30))  # 30 frames at 25 fps: 1.2 s
    short = Audio(np.full((1, 24000), 0.25, np.float32), 48000)  # 0.5 s: padded with silence
    write(tmp_path / "short.mkv", frames, Fraction(25), audio=short)
    back = read_audio(tmp_path / "short.mkv")
    assert back.num_samples == round(1.2 * 48000)
    assert back.samples[0, :24000].min() > 0.2 and not back.samples[0, 24100:].any()
    long = cut(read_audio(videos / "mpy_chaplin.mp4"), 0, 5.0)  # 5 s: cut at the video's end
    write(tmp_path / "long.mkv", frames, Fraction(25), audio=long)
    assert read_audio(tmp_path / "long.mkv").num_samples == round(1.2 * 44100)


def test_formats_without_sound_warn_and_drop_it(videos, tmp_path):
    frames = list(read_frames(videos / "skv_carphone_pristine.mp4", 0, 3))
    with pytest.warns(UserWarning, match="no sound"):
        write(tmp_path / "out.gif", frames, Fraction(25), audio=Audio(np.zeros((1, 100)), 48000))


# -- the writer: atomicity and guards ----------------------------------------------------------------------------------

def test_exception_inside_with_leaves_nothing(videos, tmp_path):
    frames = list(read_frames(videos / "skv_carphone_pristine.mp4", 0, 5))
    for name in ("out.mp4", "out.mkv", "frames"):
        with pytest.raises(RuntimeError):
            with VideoWriter(tmp_path / name, Fraction(25)) as writer:
                for frame in frames:
                    writer.write(frame)
                raise RuntimeError("the interpolation engine crashed")
    assert os.listdir(tmp_path) == []


def test_temp_file_is_hidden_beside_the_target_until_close(videos, tmp_path):
    frames = list(read_frames(videos / "skv_carphone_pristine.mp4", 0, 60))  # enough to get past x264's lookahead
    writer = VideoWriter(tmp_path / "out.mp4", Fraction(25))
    for frame in frames:
        writer.write(frame)
    pending = os.listdir(tmp_path)
    assert len(pending) == 1 and pending[0].startswith(".out.mp4.")
    writer.close()
    assert os.listdir(tmp_path) == ["out.mp4"]
    writer.close()  # twice is harmless


def test_dropped_writer_leaves_nothing(videos, tmp_path):
    writer = VideoWriter(tmp_path / "out.mp4", Fraction(25))
    writer.write(next(read_frames(videos / "realshort.mp4")))
    del writer
    gc.collect()
    assert os.listdir(tmp_path) == []


def test_existing_output_is_not_overwritten_unless_asked(videos, tmp_path):
    target = tmp_path / "out.mp4"
    target.write_bytes(b"precious")
    frames = list(read_frames(videos / "realshort.mp4", 0, 3))
    with pytest.raises(OutputError, match="overwrite=True"):
        VideoWriter(target, Fraction(25))
    assert target.read_bytes() == b"precious"
    write(target, frames, Fraction(25), overwrite=True)
    assert probe(target).frame_count == 3


def test_writer_argument_errors(videos, tmp_path):
    frame = next(read_frames(videos / "realshort.mp4"))
    with pytest.raises(InputError, match="unknown output format"):
        VideoWriter(tmp_path / "a.mp4", Fraction(25), format="divx")
    with pytest.raises(InputError, match="ending in"):
        VideoWriter(tmp_path / "a.avi", Fraction(25), format="h264")
    with pytest.raises(InputError, match="0-51"):
        VideoWriter(tmp_path / "a.mp4", Fraction(25), quality=99)
    with pytest.raises(InputError, match="preset"):
        VideoWriter(tmp_path / "a.mp4", Fraction(25), preset="ludicrous")
    with pytest.raises(InputError, match="no quality"):
        VideoWriter(tmp_path / "a.mkv", Fraction(25), quality=5)
    with pytest.raises(InputError, match="positive"):
        VideoWriter(tmp_path / "a.mp4", 0)
    with pytest.raises(InputError, match="at most 50"):
        VideoWriter(tmp_path / "a.gif", Fraction(60000, 1001))
    with pytest.raises(OutputError, match="does not exist"):
        VideoWriter(tmp_path / "no" / "a.mp4", Fraction(25))
    with VideoWriter(tmp_path / "a.mp4", Fraction(25)) as writer:
        writer.write(frame)
        with pytest.raises(InputError, match="one size"):
            writer.write(frame[:100])
        with pytest.raises(InputError, match="uint8"):
            writer.write(frame.astype(np.float32))
    with pytest.raises(OutputError, match="closed"):
        writer.write(frame)
    with pytest.raises(OutputError, match="no frames"):
        VideoWriter(tmp_path / "b.mp4", Fraction(25)).close()
    assert sorted(os.listdir(tmp_path)) == ["a.mp4"]


def test_preset_and_quality_are_used(videos, tmp_path):
    frames = list(read_frames(videos / "mpy_chaplin.mp4", 0, 10))
    small = write(tmp_path / "small.mp4", frames, Fraction(25), quality=35, preset="ultrafast")
    large = write(tmp_path / "large.mp4", frames, Fraction(25), quality=10)
    assert small.stat().st_size < large.stat().st_size / 3


def test_sample_aspect_ratio_is_written(videos, tmp_path):
    source = probe(videos / "skv_carphone_pristine.mp4")
    frames = list(read_frames(videos / "skv_carphone_pristine.mp4", 0, 3))
    out = probe(write(tmp_path / "out.mp4", frames, source.frame_rate,
                      sample_aspect_ratio=source.sample_aspect_ratio))
    assert out.sample_aspect_ratio == Fraction(128, 117)


@pytest.mark.parametrize("counterclockwise, clockwise", [(-90, 90), (90, 270), (180, 180)])
def test_display_matrix_rotation_turns_the_picture_upright(tmp_path, counterclockwise, clockwise):
    # A phone held upright records landscape pixels plus a display matrix; read_frames turns them as players do.
    stored = np.zeros((48, 64, 3), np.uint8)
    stored[:16, :16] = 255  # a white block in the stored top-left corner
    path = tmp_path / "turned.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264rgb", rate=25, options={"qp": "0"})
        stream.width, stream.height, stream.pix_fmt = 64, 48, "rgb24"
        stream.set_display_rotation(counterclockwise)  # PyAV's angle is counterclockwise, like FFmpeg's
        for index in range(3):
            frame = av.VideoFrame.from_ndarray(stored, format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    info = probe(path)
    assert info.rotation == clockwise
    assert (info.width, info.height) == ((48, 64) if clockwise in (90, 270) else (64, 48))
    frames = list(read_frames(path))
    np.testing.assert_array_equal(frames[0], np.rot90(stored, k=-clockwise // 90))
    assert frames[0].shape[:2] == (info.height, info.width)


def test_reading_ahead_gives_the_same_frames_and_stops_when_closed(clip):
    """Decoding on a thread of its own (so a GPU waits on no decoder): the same frames in the same order; an error in
    the stream surfaces at its frame; a reader that stops early (a cancelled render) stops the thread and closes the
    stream at once."""
    import threading

    from deepshop_core.media.decode import read_ahead

    plain = list(read_frames(clip, 5, 30))
    ahead = list(read_ahead(read_frames(clip, 5, 30), depth=3))
    assert len(ahead) == 25 and all(np.array_equal(a, b) for a, b in zip(plain, ahead))

    def broken():
        yield plain[0]
        raise MediaError("frame 1 is cut off")

    stream = read_ahead(broken())
    assert np.array_equal(next(stream), plain[0])
    with pytest.raises(MediaError, match="frame 1 is cut off"):
        next(stream)

    source = read_frames(clip)
    stream = read_ahead(source, depth=2)
    next(stream)
    stream.close()
    assert not [t for t in threading.enumerate() if t.name == "deepshop-decode"]
    assert source.gi_frame is None  # the source generator was closed, its file with it
