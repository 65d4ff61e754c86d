"""Audio along a time map (source seconds -> output seconds, `speed.realise.TimeMap`): the sound follows the
picture however the speed varies.

* `stretch_along`: speed changed, pitch kept, by WSOLA (waveform-similarity overlap-add, Verhelst & Roelands 1993,
  as in Driedger & Mueller's TSM Toolbox): output grains at a fixed hop each take the source around the time the map
  gives for their centre, shifted by at most `TOLERANCE_S` to the position that best continues the previous grain
  (normalised cross-correlation), and overlap-add under a Hann window. The map is read afresh for every grain, so
  there is no drift and no join: a speed that changes continuously is followed continuously. At 1x the grains
  continue each other exactly and the sound is the source itself.
* `varispeed_along`: speed and pitch change together, like tape: the source resampled along the map (cubic), low-
  passed where it speeds up so nothing aliases (half-octave filter bank, blended continuously by the local speed).
* `silence_along`: the parts at 1x as they are, everything slower, faster or frozen silent (short fades).

In all three a freeze (output time with no source time) is silent, faded in and out over `FADE_S`. The result has
exactly ``round(duration * rate)`` samples: the video's length.

Why our own WSOLA (~80 lines of numpy) and not a library: FFmpeg's atempo takes one tempo per run (a varying speed
becomes pieces that click at their joins); Rubber Band (GPL-2+, or its wrappers pedalboard GPL-3 and pyrubberband)
and pytsmod (GPL-3.0) cannot be linked into this MIT project; audiotsm (MIT, 2017, unmaintained) changes speed only
between its chunks and accumulates its position, so it drifts against a map. Measurements: bench/audio_curve.py.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import InputError
from .audio import Audio

FRAME_S = 0.040  # WSOLA grain length: long enough for a 50 Hz period, short enough to follow a fast ramp
TOLERANCE_S = 0.005  # WSOLA search radius: a bass period's worth, and the most any sound may move off its time
FADE_S = 0.005  # fades around freezes and muted parts: long enough not to click, short enough to stay tight
_FILTER_TAPS = 255  # the varispeed low-pass filters (Blackman-windowed sinc)
_CUTOFF_MARGIN = 0.85  # the filters' cutoff below the new Nyquist frequency


def _map(audio: Audio, source_s, output_s, duration_s) -> tuple[np.ndarray, np.ndarray, int]:
    source_s, output_s = np.asarray(source_s, np.float64), np.asarray(output_s, np.float64)
    if source_s.shape != output_s.shape or source_s.ndim != 1 or len(source_s) < 2 \
            or np.any(np.diff(source_s) < 0) or np.any(np.diff(output_s) <= 0):
        raise InputError("a time map is two equally long lists of anchors, source and output seconds, the source "
                         "times not decreasing and the output times increasing")
    duration = output_s[-1] if duration_s is None else float(duration_s)
    if not duration >= 0:
        raise InputError(f"the output duration must be a number of seconds >= 0; got {duration_s!r}")
    return source_s, output_s, round(duration * audio.sample_rate)


def _source_positions(times_s: np.ndarray, source_s: np.ndarray, output_s: np.ndarray) -> np.ndarray:
    """Source seconds at output seconds ``times_s``; 1x beyond the map's ends."""
    inside = np.interp(times_s, output_s, source_s)
    return np.where(times_s > output_s[-1], source_s[-1] + times_s - output_s[-1],
                    np.where(times_s < output_s[0], source_s[0] + times_s - output_s[0], inside))


def _slopes(times_s: np.ndarray, source_s: np.ndarray, output_s: np.ndarray) -> np.ndarray:
    """The local speed (source seconds per output second) at output seconds ``times_s``."""
    slope = np.diff(source_s) / np.diff(output_s)
    index = np.clip(np.searchsorted(output_s, times_s, side="right") - 1, 0, len(slope) - 1)
    return np.where((times_s < output_s[0]) | (times_s >= output_s[-1]), 1.0, slope[index])


def _gain(count: int, rate: int, speeds: np.ndarray, muted) -> np.ndarray:
    """1 where sound plays, 0 where ``muted(speeds)``, with linear fades of FADE_S on the playing side."""
    silent = muted(speeds)
    gain = np.ones(count, np.float32)
    if not silent.any():
        return gain
    fade = max(1, round(FADE_S * rate))
    # distance (in samples) to the nearest silent sample, both ways
    index = np.arange(count)
    last = np.maximum.accumulate(np.where(silent, index, -10 * fade))
    next_ = np.minimum.accumulate(np.where(silent, index, count + 10 * fade)[::-1])[::-1]
    distance = np.minimum(index - last, next_ - index)
    return np.clip(distance / fade, 0.0, 1.0).astype(np.float32)


def stretch_along(audio: Audio, source_s, output_s, duration_s: float | None = None) -> Audio:
    """``audio`` retimed by the map with its pitch kept (WSOLA, see the module doc)."""
    source_s, output_s, count = _map(audio, source_s, output_s, duration_s)
    rate = audio.sample_rate
    frame = 2 * max(8, round(FRAME_S * rate / 2))
    hop, half = frame // 2, frame // 2
    tolerance = max(1, round(TOLERANCE_S * rate))
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(frame) / frame)).astype(np.float32)  # periodic Hann
    pad = frame + tolerance + hop
    source = np.pad(audio.samples, ((0, 0), (pad, pad)))
    mono = source.mean(axis=0)
    grains = count // hop + 2
    centres = np.arange(grains) * hop
    wanted = np.round(_source_positions(centres / rate, source_s, output_s) * rate).astype(np.int64) + pad
    wanted = np.clip(wanted, half + tolerance, source.shape[1] - half - tolerance - hop - 1)
    out = np.zeros((audio.channels, grains * hop + frame), np.float32)
    size = 1 << math.ceil(math.log2(frame + 2 * tolerance))
    previous = None
    for m, centre in enumerate(wanted):
        taken = centre if previous is None else centre + _best_shift(mono, previous + hop, centre, frame,
                                                                      tolerance, window, size)
        out[:, m * hop: m * hop + frame] += source[:, taken - half: taken + half] * window
        previous = taken
    out = out[:, half: half + count]  # grain m is centred on output sample m * hop
    if out.shape[1] < count:
        out = np.pad(out, ((0, 0), (0, count - out.shape[1])))
    times = np.arange(count) / rate
    gain = _gain(count, rate, _slopes(times, source_s, output_s), lambda v: v <= 0)
    return audio._with(out * gain)


def _best_shift(mono: np.ndarray, natural: int, centre: int, frame: int, tolerance: int, window: np.ndarray,
                size: int) -> int:
    """The shift (-tolerance..tolerance) of the grain at ``centre`` that best continues the one before, whose
    natural continuation is centred at ``natural``: the largest correlation under the window, normalised by the
    candidate's windowed energy, so the continuation itself (exact 1x) always wins; ties go to the smallest shift."""
    half = frame // 2
    target = mono[natural - half: natural + half] * window
    region = mono[centre - half - tolerance: centre + half + tolerance].astype(np.float64)
    window_spectrum = np.conj(np.fft.rfft(window, size))
    correlation = np.fft.irfft(np.fft.rfft(region, size) * np.conj(np.fft.rfft(target, size)), size)
    energy = np.fft.irfft(np.fft.rfft(region**2, size) * window_spectrum, size)
    shifts = slice(0, 2 * tolerance + 1)
    score = correlation[shifts] / np.sqrt(np.maximum(energy[shifts], 0.0) + 1e-12)
    score -= 1e-9 * np.abs(np.arange(-tolerance, tolerance + 1))  # prefer no shift among equals (exact 1x)
    return int(np.argmax(score)) - tolerance


def varispeed_along(audio: Audio, source_s, output_s, duration_s: float | None = None) -> Audio:
    """``audio`` retimed by the map like tape: pitch follows speed (see the module doc)."""
    source_s, output_s, count = _map(audio, source_s, output_s, duration_s)
    rate = audio.sample_rate
    times = np.arange(count) / rate
    positions = _source_positions(times, source_s, output_s) * rate
    speeds = _slopes(times, source_s, output_s)
    # Half-octave levels: level 2 log2(v); between levels k-1 and k, blend filter bank versions k-1 and k.
    levels = 2 * np.log2(np.maximum(speeds, 1.0))
    out = np.zeros((audio.channels, count), np.float32)
    for k in range(int(math.ceil(levels.max(initial=0.0))) + 1):
        weight = np.clip(1 - np.abs(levels - k), 0.0, 1.0)
        chosen = np.flatnonzero(weight > 0)
        if chosen.size:
            version = audio.samples if k == 0 else _low_pass(audio.samples, _CUTOFF_MARGIN * 0.5 * 2 ** (-k / 2))
            out[:, chosen] += weight[chosen] * _cubic(version, positions[chosen])
    gain = _gain(count, rate, speeds, lambda v: v <= 0)
    return audio._with(out * gain)


def _low_pass(samples: np.ndarray, cutoff: float) -> np.ndarray:
    """``samples`` low-passed at ``cutoff`` (cycles per sample), zero phase (a centred windowed sinc)."""
    n = np.arange(_FILTER_TAPS) - _FILTER_TAPS // 2
    taps = 2 * cutoff * np.sinc(2 * cutoff * n) * np.blackman(_FILTER_TAPS)
    taps /= taps.sum()
    size = 1 << math.ceil(math.log2(samples.shape[1] + _FILTER_TAPS))
    filtered = np.fft.irfft(np.fft.rfft(samples, size, axis=1) * np.fft.rfft(taps, size), size, axis=1)
    return filtered[:, _FILTER_TAPS // 2: _FILTER_TAPS // 2 + samples.shape[1]].astype(np.float32)


def _cubic(samples: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Catmull-Rom interpolation of ``samples`` (channels, n) at fractional ``positions``; silence outside."""
    padded = np.pad(samples, ((0, 0), (2, 3)))
    base = np.floor(positions)
    inside = (base >= -1) & (base <= samples.shape[1])
    i = np.clip(base, -1, samples.shape[1]).astype(np.int64) + 2
    t = (positions - base).astype(np.float32)
    p0, p1, p2, p3 = padded[:, i - 1], padded[:, i], padded[:, i + 1], padded[:, i + 2]
    value = p1 + 0.5 * t * (p2 - p0 + t * (2 * p0 - 5 * p1 + 4 * p2 - p3 + t * (3 * (p1 - p2) + p3 - p0)))
    return np.where(inside, value, 0.0).astype(np.float32)


def silence_along(audio: Audio, source_s, output_s, duration_s: float | None = None) -> Audio:
    """The parts of the map at 1x as in the source, the rest silent (see the module doc)."""
    source_s, output_s, count = _map(audio, source_s, output_s, duration_s)
    rate = audio.sample_rate
    times = np.arange(count) / rate
    positions = np.round(_source_positions(times, source_s, output_s) * rate).astype(np.int64)
    inside = (positions >= 0) & (positions < audio.num_samples)
    out = np.where(inside, audio.samples[:, np.clip(positions, 0, max(0, audio.num_samples - 1))], 0.0)
    gain = _gain(count, rate, _slopes(times, source_s, output_s), lambda v: np.abs(v - 1) > 1e-9)
    return audio._with((out * gain).astype(np.float32))
