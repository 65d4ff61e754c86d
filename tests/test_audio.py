"""deepshop_core.media.audio on the real clips in ../shared/testdata/videos and on synthetic tones."""

from __future__ import annotations

from contextlib import nullcontext
from fractions import Fraction

import av
import numpy as np
import pytest

from deepshop_core.errors import InputError, MediaError
from deepshop_core.media import audio
from deepshop_core.media.audio import (
    Audio,
    atempo_chain,
    concat,
    cut,
    read_audio,
    silence,
    stretch,
)


def tone(frequency=440.0, seconds=1.0, rate=48000, channels=1) -> Audio:
    t = np.arange(round(seconds * rate)) / rate
    return Audio(np.tile(0.5 * np.sin(2 * np.pi * frequency * t), (channels, 1)), rate)


def dominant_frequency(audio: Audio) -> float:
    spectrum = np.abs(np.fft.rfft(audio.samples[0] * np.hanning(audio.num_samples)))
    return float(np.argmax(spectrum) * audio.sample_rate / audio.num_samples)


# -- reading ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("clip, channels, rate, layout, seconds", [
    ("skv_bigbuckbunny.mp4", 6, 48000, "5.1", 5.312),
    ("realshort.mp4", 1, 48000, "mono", 1.19),
    ("mpy_chaplin.mp4", 2, 44100, "stereo", 9.61),
    ("cockatoo.mp4", 1, 16000, "mono", 13.9),
])
def test_read_audio_keeps_every_channel(videos, clip, channels, rate, layout, seconds):
    audio = read_audio(videos / clip)
    assert audio.samples.dtype == np.float32
    assert audio.samples.shape[0] == audio.channels == channels
    assert (audio.sample_rate, audio.layout) == (rate, layout)
    assert audio.duration == pytest.approx(seconds, abs=0.02)
    assert np.all(np.abs(audio.samples) <= 1.5)


def test_cockatoo_track_is_silent_and_chaplin_is_not(videos):
    assert np.abs(read_audio(videos / "cockatoo.mp4").samples).max() == 0  # silent on purpose
    assert np.abs(read_audio(videos / "mpy_chaplin.mp4").samples).max() > 0.1


def test_read_audio_without_a_track_is_none(videos):
    assert read_audio(videos / "skv_bikes.mp4") is None
    assert read_audio(videos / "newtonscradle.gif") is None


@pytest.mark.parametrize("clip, start, end", [("mpy_chaplin.mp4", 3.0, 5.0), ("skv_bigbuckbunny.mp4", 2.5, 4.0),
                                              ("mpy_chaplin.mp4", 0.0, 0.5)])
def test_read_audio_range_is_the_slice_of_the_whole_track(videos, clip, start, end):
    whole = read_audio(videos / clip)
    part = read_audio(videos / clip, start, end)
    first, last = round(start * whole.sample_rate), round(end * whole.sample_rate)
    assert part.num_samples == last - first
    np.testing.assert_allclose(part.samples, whole.samples[:, first:last], atol=1e-6)


def test_read_audio_range_past_the_end_gives_what_there_is(videos):
    whole = read_audio(videos / "realshort.mp4")
    tail = read_audio(videos / "realshort.mp4", 1.0, 60.0)
    assert tail.num_samples == whole.num_samples - 48000


def test_read_audio_errors(videos, tmp_path):
    with pytest.raises(MediaError, match="no such file"):
        read_audio(tmp_path / "missing.mp4")
    with pytest.raises(InputError, match="start <= end"):
        read_audio(videos / "realshort.mp4", 1.0, 0.5)


# -- the Audio value ---------------------------------------------------------------------------------------------------

def test_audio_value_checks_and_properties():
    audio = Audio(np.zeros(480, np.float64), 48000)  # 1-D is mono; samples become float32
    assert (audio.channels, audio.num_samples, audio.samples.dtype) == (1, 480, np.float32)
    assert audio.duration == pytest.approx(0.01)
    assert audio.layout_name == "mono"
    assert Audio(np.zeros((6, 4)), 48000).layout_name == "5.1"
    assert Audio(np.zeros((6, 4)), 48000, "5.1(side)").layout_name == "5.1(side)"
    with pytest.raises(InputError, match="2 channels"):
        Audio(np.zeros((1, 4)), 48000, "stereo")
    with pytest.raises(InputError, match="sample rate"):
        Audio(np.zeros((1, 4)), 0)
    with pytest.raises(InputError, match="channels, n"):
        Audio(np.zeros((1, 2, 3)), 48000)


# -- cut, silence, concat ----------------------------------------------------------------------------------------------

def test_cut_is_sample_exact_and_clamped():
    audio = Audio(np.arange(44100, dtype=np.float32)[None] / 44100, 44100)
    part = cut(audio, 0.25, 0.5)
    assert part.num_samples == round(0.5 * 44100) - round(0.25 * 44100)
    assert part.samples[0, 0] == audio.samples[0, round(0.25 * 44100)]
    assert cut(audio, 1 / 3, 2 / 3).num_samples == round(2 / 3 * 44100) - round(1 / 3 * 44100)
    assert cut(audio, -5, 99).num_samples == 44100
    assert cut(audio, 2, 3).num_samples == 0
    with pytest.raises(InputError):
        cut(audio, 0.5, 0.25)


def test_silence_and_concat():
    audio = tone(channels=2, seconds=0.5)
    quiet = silence(0.25, like=audio)
    assert quiet.samples.shape == (2, 12000) and not quiet.samples.any()
    joined = concat([audio, quiet, audio])
    assert joined.num_samples == 2 * audio.num_samples + quiet.num_samples
    np.testing.assert_array_equal(joined.samples[:, -audio.num_samples:], audio.samples)
    with pytest.raises(InputError, match="part 1"):
        concat([audio, tone(rate=44100, channels=2)])
    with pytest.raises(InputError, match="part 1"):
        concat([audio, tone(channels=1)])
    with pytest.raises(InputError):
        concat([])
    with pytest.raises(InputError):
        silence(-1, like=audio)


# -- stretch ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("factor", [2.0, 0.5, 8.0, 1.37, 0.1])
def test_stretch_keeps_pitch_and_makes_the_exact_length(factor):
    audio = tone(seconds=2.0)
    stretched = stretch(audio, factor)
    assert stretched.num_samples == round(audio.num_samples * factor)
    assert stretched.sample_rate == audio.sample_rate
    assert dominant_frequency(stretched) == pytest.approx(440.0, abs=3.0)
    assert np.abs(stretched.samples[:, : stretched.num_samples // 2]).max() > 0.3  # real signal, not padding


@pytest.mark.parametrize("layout, channels", [("5.1(side)", 6), ("7.1", 8)])
def test_stretch_keeps_channels_and_layout(layout, channels):
    samples = np.zeros((channels, 24000), np.float32)
    samples[-1] = tone(seconds=0.5).samples[0]
    stretched = stretch(Audio(samples, 48000, layout), 3.0)
    assert stretched.samples.shape == (channels, 72000)
    assert stretched.layout == layout
    assert np.abs(stretched.samples[-1]).max() > 0.3 and not stretched.samples[:-1].any()


def test_stretch_by_one_is_the_input_and_bad_factors_are_refused():
    audio = tone(seconds=0.1)
    assert stretch(audio, 1) is audio
    assert stretch(Audio(np.zeros((2, 0)), 48000), 4).num_samples == 0
    for factor in (0, -2, float("nan"), float("inf")):
        with pytest.raises(InputError):
            stretch(audio, factor)


def test_atempo_chain_stays_in_the_safe_range():
    for tempo in (0.001, 0.125, 0.3, 0.5, 1.7, 2.0, 10.0, 500.0):
        chain = atempo_chain(tempo)
        assert all(0.5 - 1e-9 <= stage <= 2.0 + 1e-9 for stage in chain)
        assert np.prod(chain) == pytest.approx(tempo)
    assert atempo_chain(0.125) == pytest.approx([0.5, 0.5, 0.5])


def test_read_audio_counts_time_from_the_first_video_frame(tmp_path):
    # Video that starts 1 s into the file (as in cut broadcast streams); the sound of that first second is dropped.
    path = tmp_path / "late.mkv"
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264rgb", rate=25, options={"qp": "0"})
        video.width, video.height, video.pix_fmt = 32, 32, "rgb24"
        sound = container.add_stream("flac", rate=8000, layout="mono")
        samples = np.concatenate([np.full(8000, 0.5), np.full(8000, -0.25)]).astype(np.float32)[None]
        frame = av.AudioFrame.from_ndarray(samples, format="flt", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = 8000, 0, Fraction(1, 8000)
        for packet in sound.encode(frame) + sound.encode(None):
            container.mux(packet)
        for index in range(25):
            picture = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
            picture.pts, picture.time_base = 25 + index, Fraction(1, 25)
            container.mux(video.encode(picture))
        container.mux(video.encode(None))
    audio = read_audio(path)
    assert audio.num_samples == 8000
    np.testing.assert_allclose(audio.samples, -0.25, atol=1e-3)
    np.testing.assert_allclose(read_audio(path, 0.5, 0.75).samples, -0.25, atol=1e-3)


def test_fit_trims_or_pads_to_the_exact_sample_count():
    rate = 48000
    tone = Audio(np.ones((2, 1000), np.float32), rate, "stereo")
    assert audio.fit(tone, 500 / rate).num_samples == 500
    padded = audio.fit(tone, 1503 / rate)
    assert padded.num_samples == 1503 and padded.channels == 2
    assert np.all(padded.samples[:, :1000] == 1) and np.all(padded.samples[:, 1000:] == 0)
    assert audio.fit(tone, 1000 / rate) is tone


# -- where the track starts ---------------------------------------------------------------------------------------------

def _ffmpeg_decode(path, channels: int, rate: int) -> np.ndarray:
    """FFmpeg's own decode of the first audio track, float32 (channels, n): what players play."""
    import subprocess

    import imageio_ffmpeg

    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(path), "-vn", "-f", "f32le", "-ac",
               str(channels), "-ar", str(rate), "-"]
    raw = subprocess.run(command, capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.float32).reshape(-1, channels).T


def _lag(a: np.ndarray, b: np.ndarray) -> int:
    """Samples by which ``a`` is late against ``b`` (cross-correlation peak of their first channels)."""
    n = a.shape[1] + b.shape[1]
    correlation = np.fft.irfft(np.fft.rfft(a[0], n) * np.conj(np.fft.rfft(b[0], n)), n)
    peak = int(np.argmax(correlation))
    return peak - n if peak > n // 2 else peak


@pytest.mark.parametrize("clip", ["mpy_fire2.mp4", "realshort.mp4", "mpy_chaplin.mp4", "skv_bigbuckbunny.mp4"])
def test_read_audio_places_the_track_where_ffmpeg_does(videos, clip):
    # mpy_fire2 and realshort state a first AAC packet 8471 and 1618 ticks long for 1024 samples: FFmpeg plays the
    # samples back to back from time 0 (and the track's duration counts them so); taken literally the sound came
    # 155 ms and 12 ms late.
    ours = read_audio(videos / clip)
    reference = _ffmpeg_decode(videos / clip, ours.channels, ours.sample_rate)
    n = min(ours.num_samples, reference.shape[1])
    assert abs(ours.num_samples - reference.shape[1]) <= 600
    np.testing.assert_allclose(ours.samples[:, :n], reference[:, :n], atol=1e-6)
    start = round(0.6 * ours.sample_rate)  # and a range (a seek) is the same slice
    part = read_audio(videos / clip, 0.6, 0.9)
    np.testing.assert_allclose(part.samples, reference[:, start : start + part.num_samples], atol=1e-6)


@pytest.mark.parametrize("clip, slowed", [("mpy_fire2.mp4", "15:24"), ("realshort.mp4", "24:35")])
def test_slowed_output_keeps_the_sound_where_ffmpeg_puts_it(videos, tmp_path, clip, slowed):
    from deepshop_core import slow_motion

    out = tmp_path / "out.mkv"
    with pytest.warns(Warning) if clip == "mpy_fire2.mp4" else nullcontext():  # VFR is retimed, with a warning
        slow_motion(videos / clip, out, ranges=[slowed], factor=2, engine="blend", format="lossless")
    source = read_audio(videos / clip)
    reference = _ffmpeg_decode(videos / clip, source.channels, source.sample_rate)
    output = read_audio(out)
    before = round(0.5 * source.sample_rate)  # the part before the slowed range plays as in the source
    assert abs(_lag(output.samples[:, :before], reference[:, :before])) <= source.sample_rate // 1000

