"""Audio under a varying speed: the piecewise FFmpeg atempo the pipeline used before speed curves (rebuilt here as
the baseline, from the code of git 927831b) against the time-map WSOLA every audio mode now follows
(`retime.retime_audio` -> `media.timestretch.stretch_along`), on slow ranges, a ramped one and a speed curve.

    python bench/audio_curve.py

Measured on synthetic sound whose truth is known, per case and method:

- pitch: the largest deviation from 440 Hz of a 440 Hz tone, in 50 ms windows (Hz; a silent window counts 440);
- gaps: 10 ms windows of the stretched tone (0.35 rms) below 0.1 rms;
- jump: the largest sample-to-sample step, relative to the tone's own largest step (a click is a jump > 1);
- click energy: the largest share of energy above 2 kHz in a 100 ms window of the stretched pure tone (a pure tone
  has ~0; a discontinuity spreads energy over all frequencies);
- timing: the largest distance (ms) between a click's energy centroid in the output and where the time map puts it;
- length: output samples minus the video's length in samples.

Writes bench/out/audio_curve.json and prints a table.
"""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
from common import table, write_results

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the project, when run from a checkout
from deepshop_core.media.audio import Audio, concat, cut, fit, stretch  # noqa: E402
from deepshop_core.retime import retime_audio  # noqa: E402
from deepshop_core.speed.parse import parse_speed  # noqa: E402
from deepshop_core.timeline import Segment, curve_timeline, slow_timeline  # noqa: E402

RATE, FPS, SECONDS = 48000, 25, 8.0
CASES = {
    "range 50:150 x4": lambda: slow_timeline(int(SECONDS * FPS), [Segment(50, 150, 4)]),
    "range 50:150 x2.5": lambda: slow_timeline(int(SECONDS * FPS), [Segment(50, 150, 2.5)]),
    "range 50:150 x4 ramp 20": lambda: slow_timeline(int(SECONDS * FPS), [Segment(50, 150, 4, 20)]),
    "curve (issue 23 example + more)": lambda: curve_timeline(parse_speed(
        "0s:1, 1s:1, 2s:0.25, 3s:0.25:hold, 3.5s:3, 4.5s:3:hold, 5s:1, 6s:0.5:linear, 7s:1", Fraction(FPS),
        int(SECONDS * FPS))),
}


def tone(seconds: float) -> Audio:
    t = np.arange(round(seconds * RATE)) / RATE
    return Audio((0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), RATE)


def clicks(seconds: float, every: float = 0.5) -> tuple[Audio, np.ndarray]:
    t = np.arange(round(seconds * RATE)) / RATE
    signal = 0.05 * np.sin(2 * np.pi * 220 * t)
    at = np.arange(0.25, seconds - 0.25, every)
    for c in at:
        burst = (t >= c) & (t < c + 0.001)
        signal[burst] += 0.8 * np.sin(2 * np.pi * 6000 * (t[burst] - c))
    return Audio(signal.astype(np.float32), RATE), at + 0.0005


def frequency(x: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)), 8 * len(x)))
    k = int(np.argmax(spectrum))
    a, b, c = spectrum[k - 1], spectrum[k], spectrum[k + 1]
    if not a - 2 * b + c < 0:  # no peak: a silent window (a gap), as far from 440 Hz as it gets
        return 0.0
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * RATE / (8 * len(x))


def measure(method, timeline) -> dict:
    time_map = timeline.time_map(FPS)
    duration = len(timeline) / FPS
    source = tone(SECONDS)
    out = method(source, timeline, time_map).samples[0]
    size = round(0.05 * RATE)
    pitch = max(abs(frequency(out[i:i + size]) - 440) for i in range(0, len(out) - size, size))
    tens = out[: len(out) // 480 * 480].reshape(-1, 480)
    gaps = int(np.count_nonzero(np.sqrt(np.mean(tens**2, axis=1)) < 0.1))
    jump = float(np.abs(np.diff(out)).max() / np.abs(np.diff(source.samples[0])).max())
    share = 0.0
    for i in range(0, len(out) - 2 * size, 2 * size):
        spectrum = np.abs(np.fft.rfft(out[i:i + 2 * size] * np.hanning(2 * size))) ** 2
        share = max(share, float(spectrum[np.fft.rfftfreq(2 * size, 1 / RATE) > 2000].sum() / spectrum.sum()))
    train, at = clicks(SECONDS)
    heard = method(train, timeline, time_map).samples[0]
    high = np.diff(heard, prepend=0.0) ** 2
    errors = []
    for c in at:
        expected = time_map.to_output(c)
        lo, hi = round((expected - 0.12) * RATE), round((expected + 0.12) * RATE)
        energy = high[lo:hi]
        errors.append(abs((lo + np.sum(np.arange(len(energy)) * energy) / energy.sum()) / RATE - expected))
    return {"pitch_hz": round(pitch, 2), "gaps": gaps, "jump": round(jump, 3), "click_energy": float(f"{share:.2e}"),
            "timing_ms": round(1000 * max(errors), 2), "length": len(out) - round(duration * RATE)}


def atempo_pieces(audio: Audio, timeline) -> Audio:
    """The stretch mode before speed curves (git 927831b, retime.retime_audio): the timeline's audio pieces, neighbours
    of one speed merged and ramps merged into chunks of at least 0.25 s, each cut and stretched by FFmpeg's atempo
    on its own, then joined."""
    merged: list[list[float]] = []
    for p in timeline.audio_pieces():
        if p.src_end <= p.src_start:
            continue
        piece = [p.src_start, p.src_end, p.out_length]
        if merged:
            last = merged[-1]
            speed_last, speed_piece = last[2] / (last[1] - last[0]), piece[2] / (piece[1] - piece[0])
            both_slowed = abs(speed_last - 1) > 1e-9 and abs(speed_piece - 1) > 1e-9
            if abs(speed_last - speed_piece) < 1e-9 or (both_slowed and (last[1] - last[0]) / FPS < 0.25):
                last[1], last[2] = piece[1], last[2] + piece[2]
                continue
        merged.append(piece)
    parts = []
    for start, end, length in merged:
        part = cut(audio, start / FPS, end / FPS)
        ratio = length / (end - start)
        parts.append(part if abs(ratio - 1) < 1e-9 else stretch(part, ratio))
    return fit(concat(parts), len(timeline) / FPS)


METHODS = {
    "atempo pieces (before issue 23)": lambda audio, timeline, _: atempo_pieces(audio, timeline),
    "WSOLA along the map (now)": lambda audio, timeline, _: retime_audio(audio, timeline, Fraction(FPS), "stretch"),
}


def main() -> None:
    rows, results = [], []
    for case, make in CASES.items():
        timeline = make()
        for name, method in METHODS.items():
            result = {"case": case, "method": name, **measure(method, timeline)}
            results.append(result)
            rows.append([case, name, result["pitch_hz"], result["gaps"], result["jump"], result["click_energy"],
                         result["timing_ms"], result["length"]])
    print(table(["case", "method", "pitch dev Hz", "gaps", "max jump", "click energy", "click timing ms", "length"], rows))
    write_results("audio_curve", results, seconds=SECONDS, rate=RATE, fps=FPS)


if __name__ == "__main__":
    main()
