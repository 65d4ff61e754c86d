"""Audio along a speed curve's time map (deepshop_core.media.timestretch): pitch kept under a varying speed, no
clicks, no drift (exact length, clicks where the map puts them), varispeed's pitch following the speed, silence,
freezes, bad maps."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from deepshop_core.errors import InputError
from deepshop_core.media.audio import Audio
from deepshop_core.media.timestretch import (
    FRAME_S,
    TOLERANCE_S,
    silence_along,
    stretch_along,
    varispeed_along,
)
from deepshop_core.speed.parse import parse_speed
from deepshop_core.timeline import curve_timeline

RATE, FPS = 48000, 25
CURVE = "0s:1, 1s:1, 2s:0.25, 3s:0.25:hold, 3.5s:3, 4.5s:3:hold, 5s:1, 6s:0.5:linear, 7s:2"


def curve_map(text: str = CURVE, seconds: float = 8.0):
    timeline = curve_timeline(parse_speed(text, Fraction(FPS), int(seconds * FPS)))
    return timeline, timeline.time_map(FPS)


def sine(frequency: float, seconds: float, amplitude: float = 0.5) -> Audio:
    t = np.arange(round(seconds * RATE)) / RATE
    return Audio(np.stack([amplitude * np.sin(2 * np.pi * frequency * t)] * 2).astype(np.float32), RATE, "stereo")


def frequency(x: np.ndarray) -> float:
    """The dominant frequency of a window, to a fraction of a Hz (zero-padded FFT, parabolic peak)."""
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)), 8 * len(x)))
    k = int(np.argmax(spectrum))
    a, b, c = spectrum[k - 1], spectrum[k], spectrum[k + 1]
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * RATE / (8 * len(x))


def windows(x: np.ndarray, seconds: float = 0.05):
    size = round(seconds * RATE)
    return [(i, x[i: i + size]) for i in range(0, len(x) - size, size)]


def click_train(seconds: float, every: float = 0.5) -> tuple[Audio, np.ndarray]:
    """A quiet 220 Hz bed with a 1 ms 6 kHz click every ``every`` seconds (from 0.25 s on)."""
    t = np.arange(round(seconds * RATE)) / RATE
    signal = 0.05 * np.sin(2 * np.pi * 220 * t)
    clicks = np.arange(0.25, seconds - 0.25, every)
    for c in clicks:
        burst = (t >= c) & (t < c + 0.001)
        signal[burst] += 0.8 * np.sin(2 * np.pi * 6000 * (t[burst] - c))
    return Audio(signal.astype(np.float32), RATE), clicks + 0.0005


def click_centres(x: np.ndarray, expected: np.ndarray, reach: float) -> np.ndarray:
    """The energy centroid of the clicks (high-passed: the bed removed) within ``reach`` s of each expected time."""
    high = np.diff(x, prepend=0.0) ** 2  # a first difference keeps the 6 kHz clicks, drops the 220 Hz bed
    centres = []
    for e in expected:
        lo, hi = max(0, round((e - reach) * RATE)), min(len(x), round((e + reach) * RATE))
        energy = high[lo:hi]
        centres.append((lo + np.sum(np.arange(len(energy)) * energy) / energy.sum()) / RATE)
    return np.array(centres)


def test_stretch_keeps_the_pitch_while_the_speed_varies():
    timeline, time_map = curve_map()
    out = stretch_along(sine(440, 8.0), time_map.source, time_map.output, len(timeline) / FPS)
    found = [frequency(w) for _, w in windows(out.samples[0])]
    assert len(found) > 150 and max(abs(f - 440) for f in found) < 1.0
    assert np.array_equal(out.samples[0], out.samples[1]) and out.layout == "stereo"


def test_stretch_has_no_clicks_at_the_speed_changes():
    timeline, time_map = curve_map()
    source = sine(440, 8.0)
    out = stretch_along(source, time_map.source, time_map.output, len(timeline) / FPS).samples[0]
    # a click is a jump no sine of this loudness makes, and broadband energy a pure tone does not have
    assert np.abs(np.diff(out)).max() <= 1.05 * np.abs(np.diff(source.samples[0])).max()
    for start, window in windows(out, 0.1):
        spectrum = np.abs(np.fft.rfft(window * np.hanning(len(window)))) ** 2
        frequencies = np.fft.rfftfreq(len(window), 1 / RATE)
        assert spectrum[frequencies > 2000].sum() < 1e-4 * spectrum.sum(), start / RATE


def local_speed(time_map, t: float) -> float:
    """Source seconds per output second at output second t (the map's slope there)."""
    slope = np.diff(time_map.source) / np.diff(time_map.output)
    return float(slope[int(np.clip(np.searchsorted(time_map.output, t, side="right") - 1, 0, len(slope) - 1))])


@pytest.mark.parametrize("method", [stretch_along, varispeed_along])
def test_the_sound_lands_where_the_map_says_without_drift(method):
    timeline, time_map = curve_map()
    clicks, at = click_train(8.0)
    duration = len(timeline) / FPS
    out = method(clicks, time_map.source, time_map.output, duration)
    assert out.num_samples == round(duration * RATE)  # exactly the video's length
    expected = np.array([time_map.to_output(c) for c in at])
    found = click_centres(out.samples[0], expected, reach=0.12)
    for click, centre, at_out in zip(at, found, expected):
        speed = local_speed(time_map, at_out)
        if method is varispeed_along:
            allowed = 0.001  # resampled along the map itself
        else:
            # WSOLA moves a grain by at most its search radius; slowed down, a click is copied into several
            # grains (a millisecond or two of spread); sped up, it comes from the one grain nearest to it, up to
            # (v - 1) half-hops away.
            allowed = TOLERANCE_S + 0.002 + max(0.0, speed - 1) * FRAME_S / 4
        assert abs(centre - at_out) <= allowed, (click, speed, centre - at_out)
    assert np.all(np.diff(found) > 0)  # no click lost or out of order


def test_sped_up_varispeed_keeps_every_click_and_stretch_may_drop_some():
    """At 3x WSOLA takes a 40 ms grain every 60 ms of source: a 1 ms click in the 20 ms between two grains is left
    out (docs/speed_curves.md). Varispeed plays all of the source, faster: every click keeps its energy."""
    clicks, at = click_train(9.0, every=0.137)  # clicks at every phase of the grains
    source, output = np.array([0.0, 9.0]), np.array([0.0, 3.0])

    def energies(audio):
        high = np.diff(audio.samples[0].astype(np.float64), prepend=0.0) ** 2
        return np.array([high[max(0, round((c / 3 - 0.004) * RATE)): round((c / 3 + 0.004) * RATE)].sum()
                         for c in at])

    kept = energies(varispeed_along(clicks, source, output))
    stretched = energies(stretch_along(clicks, source, output))
    reference = np.median(kept)
    assert np.all(kept > 0.5 * reference)
    assert np.count_nonzero(stretched < 0.1 * reference) > 0  # the limit the README states


def test_varispeed_pitch_follows_the_speed():
    timeline, time_map = curve_map()
    out = varispeed_along(sine(440, 8.0), time_map.source, time_map.output, len(timeline) / FPS)
    checked = 0
    for start, window in windows(out.samples[0], 0.08):
        t = start / RATE
        speeds = [local_speed(time_map, t + dt) for dt in (0.0, 0.04, 0.079)]
        if max(speeds) - min(speeds) < 1e-3:  # a steady speed over the window: a steady pitch
            assert frequency(window) == pytest.approx(440 * speeds[0], rel=0.01)
            checked += 1
    assert checked > 50


def test_varispeed_does_not_alias_when_it_speeds_up():
    _, time_map = curve_map("0s:4", 2.0)
    out = varispeed_along(sine(9000, 2.0, 0.5), time_map.source, time_map.output)  # 36 kHz: above Nyquist
    quiet = out.samples[0][round(0.1 * RATE): round(0.4 * RATE)]
    assert np.sqrt(np.mean(quiet**2)) < 0.01 * 0.5 / np.sqrt(2)  # filtered out, not folded back as 12 kHz


def test_silence_keeps_the_1x_parts_exactly_and_mutes_the_rest():
    timeline, time_map = curve_map("0s:1, 2s:1, 2.04s:0.5:hold, 4s:1:hold", 6.0)
    source = sine(300, 6.0)
    out = silence_along(source, time_map.source, time_map.output, len(timeline) / FPS).samples[0]
    first = round(1.99 * RATE)
    np.testing.assert_array_equal(out[:first], source.samples[0][:first])  # before: the source, untouched
    slowed = out[round(2.1 * RATE): round(5.9 * RATE)]
    assert np.abs(slowed).max() == 0
    tail_source = round(4.1 * RATE)
    tail_out = round(time_map.to_output(4.1) * RATE)
    np.testing.assert_array_equal(out[tail_out: tail_out + 1000], source.samples[0][tail_source: tail_source + 1000])


@pytest.mark.parametrize("method", [stretch_along, varispeed_along, silence_along])
def test_a_freeze_is_silent_and_faded(method):
    timeline, time_map = curve_map("0s:1, 1s:freeze=0.5s", 3.0)
    out = method(sine(440, 3.0), time_map.source, time_map.output, len(timeline) / FPS).samples[0]
    begin = time_map.to_output(1.0)
    inside = out[round((begin + 0.01) * RATE): round((begin + 0.49) * RATE)]
    assert np.abs(inside).max() == 0
    assert np.abs(np.diff(out)).max() < 0.05  # faded: no step into or out of the silence
    assert out.shape[0] == round(len(timeline) / FPS * RATE)


def test_at_1x_the_sound_is_the_source():
    source = sine(440, 1.0)
    for method in (stretch_along, varispeed_along, silence_along):
        out = method(source, [0.0, 1.0], [0.0, 1.0])
        np.testing.assert_allclose(out.samples, source.samples, atol=1e-5)


@pytest.mark.parametrize("source, output", [([0, 1], [0]), ([0, 1], [1, 0]), ([1, 0], [0, 1]), ([0], [0]),
                                            ([[0, 1]], [[0, 1]])])
def test_bad_maps_are_refused(source, output):
    with pytest.raises(InputError, match="time map"):
        stretch_along(sine(440, 0.1), source, output)
