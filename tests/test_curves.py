"""Speed curves (deepshop_core.speed): ranges as one case of a curve (bit for bit), the timing of any curve against
its integral, whole output frames, freezes, presets, the text and file forms, the dry run, bad input."""

from __future__ import annotations

import json
import math
from fractions import Fraction
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepshop_core.errors import InputError
from deepshop_core.speed.curve import Freeze, Keyframe, SpeedCurve
from deepshop_core.speed.dryrun import dry_run
from deepshop_core.speed.limits import MAX_SPEED, MIN_SPEED, check_speed
from deepshop_core.speed.parse import parse_speed, read_speed_file, speeds_per_frame
from deepshop_core.speed.presets import PRESETS
from deepshop_core.speed.realise import realise
from deepshop_core.steps import Step, plan
from deepshop_core.timeline import Segment, curve_timeline, slow_timeline
from tests.support import retime_reference

moderate = settings(max_examples=60, deadline=None)
RATES = [Fraction(25), Fraction(30000, 1001), Fraction(24), Fraction(60)]


# --------------------------------------------------------------------------------------------------------------------
# Strategies


@st.composite
def segment_lists(draw):
    """(count, [(start, end, factor, ramp)]): disjoint ranges that may touch, random factors and ramps."""
    count = draw(st.integers(2, 300))
    points = sorted(draw(st.sets(st.integers(0, count - 1), min_size=2, max_size=8)))
    ranges = []
    for start, end in pairwise(points):
        if draw(st.booleans()):
            factor = draw(st.one_of(st.integers(1, 8), st.floats(1, 8), st.sampled_from([1.1, 2.5, 1.09, 3.3])))
            ramp = draw(st.one_of(st.just(0.0), st.floats(0, 0.5).map(lambda share: share * (end - start)),
                                  st.integers(0, (end - start) // 2).map(float)))
            ranges.append((start, end, float(factor), ramp))
    return count, ranges


@st.composite
def curves(draw, freezes=True):
    """Random keyframed curves: speeds 0.1x..10x (log-uniform), fractional positions, every ease, some freezes."""
    count = draw(st.integers(2, 240))
    n = draw(st.integers(1, 8))
    raw = sorted(draw(st.sets(st.floats(0, count - 1, allow_nan=False), min_size=n, max_size=n)))
    positions = [p for i, p in enumerate(raw) if i == 0 or p - raw[i - 1] > 1e-3]
    keyframes = []
    for position in positions:
        speed = 1.0 if draw(st.integers(0, 4)) == 0 else 10 ** draw(st.floats(-1, 1))
        keyframes.append(Keyframe.at_speed(position, speed, draw(st.sampled_from(["smooth", "linear", "hold"]))))
    frozen = draw(st.sets(st.integers(0, count - 1), max_size=3)) if freezes else set()
    return SpeedCurve(count, tuple(keyframes), tuple(Freeze(f, draw(st.integers(1, 30))) for f in frozen))


def integral_by_quadrature(realised, x: np.ndarray) -> np.ndarray:
    """The integral of the realised slowdown from 0 to each x, by 8-point Gauss-Legendre between the curve's
    breakpoints (exact for its cubic pieces), plus the freezes before x: independent of the closed form."""
    breaks = {0.0, float(realised.frame_count - 1)}
    for stretch in realised.stretches:
        breaks |= {float(stretch.start), float(stretch.end)}
        breaks |= {stretch.start + p.offset + p.length * share for p in stretch.parts for share in (p.lo, p.hi)}
    breaks = np.array(sorted(b for b in breaks if 0 <= b <= realised.frame_count - 1))
    nodes, weights = np.polynomial.legendre.leggauss(8)

    def integral(a: float, b: float) -> float:
        if b <= a:
            return 0.0
        xs = (a + b) / 2 + (b - a) / 2 * nodes
        return float(np.sum(weights * realised.slowdown_at(xs)) * (b - a) / 2)

    cumulative = np.concatenate([[0.0], np.cumsum([integral(a, b) for a, b in pairwise(breaks)])])
    result = []
    for value in x:
        i = max(0, int(np.searchsorted(breaks, value, side="right")) - 1)
        frozen = sum(frames for s in realised.stretches for f, frames in s.freezes if f <= value)  # T(x_f): after
        result.append(cumulative[i] + integral(breaks[i], value) + frozen)
    return np.array(result)


# --------------------------------------------------------------------------------------------------------------------
# Ranges are a curve


@settings(max_examples=200, deadline=None)
@given(segment_lists())
def test_ranges_give_todays_positions_and_audio_bit_for_bit(clip):
    count, ranges = clip
    segments = [Segment(*r) for r in ranges]
    timeline = slow_timeline(count, segments)
    ranges = [(s.start, s.end, s.factor, s.ramp) for s in segments]  # as the Segment keeps them (tiny ramps: 0)
    expected = retime_reference.positions(count, ranges)
    assert timeline.positions.shape == expected.shape
    assert timeline.positions.tobytes() == expected.tobytes()  # bit for bit, not approximately
    assert [(p.src_start, p.src_end, p.out_length) for p in timeline.audio_pieces()] == \
        retime_reference.audio_pieces(count, ranges)


@moderate
@given(st.integers(20, 200), st.data())
def test_a_range_written_as_keyframes_is_the_same_curve(count, data):
    start = data.draw(st.integers(0, count - 3))
    end = data.draw(st.integers(start + 2, count - 1))
    factor = data.draw(st.sampled_from([2.0, 3.0, 4.0, 2.5, 8.0]))
    ramp = float(data.draw(st.integers(0, (end - start) // 2)))
    ranged = slow_timeline(count, [Segment(start, end, factor, ramp)])
    # 1x before (the speed before a first keyframe is its own), eased in and out, or held and jumping back
    keys = [Keyframe(start, 1.0), Keyframe(start + ramp, factor), Keyframe(end - ramp, factor, "hold"),
            Keyframe(end, 1.0)] if ramp else \
        [Keyframe(0, 1.0)] * (start > 0) + [Keyframe(start, factor, "hold"), Keyframe(end, 1.0, "hold")]
    curved = curve_timeline(SpeedCurve(count, tuple(k for i, k in enumerate(keys)
                                                    if i == 0 or k.position > keys[i - 1].position)))
    assert len(curved) == len(ranged)
    assert curved.positions.tobytes() == ranged.positions.tobytes()  # bit for bit: the same frames rendered


# --------------------------------------------------------------------------------------------------------------------
# Timing


@moderate
@given(curves())
def test_every_frame_shows_the_source_time_the_curves_integral_gives(curve):
    realised = realise(curve)
    positions = realised.positions()
    assert len(positions) == realised.output_count == \
        curve.frame_count + sum(s.extra + s.frozen_frames for s in realised.stretches)
    assert np.all(np.diff(positions) >= 0) and positions[0] >= 0 and positions[-1] == curve.frame_count - 1
    held = np.zeros(len(positions), dtype=bool)
    for start, frames in realised.freeze_spans():
        held[math.ceil(start - 1e-9): math.ceil(start + frames - 1e-9)] = True
        assert np.all(positions[held] == np.round(positions[held]))  # a freeze holds a real frame
    shown = np.flatnonzero(~held)
    # Output frame k shows the source time x whose integral of the realised slowdown is k (to 1e-6 frames).
    np.testing.assert_allclose(integral_by_quadrature(realised, positions[shown]), shown, atol=1e-6)
    np.testing.assert_allclose(realised.output_time(positions[shown]), shown, atol=1e-6)


@moderate
@given(curves(freezes=False))
def test_rounding_moves_each_stretch_by_less_than_a_frame_and_keeps_every_speed_positive(curve):
    realised = realise(curve)
    for stretch in realised.stretches:
        xs = stretch.start + np.linspace(0, stretch.length, 2001)
        asked = curve.slowdown_at(xs)
        got = realised.slowdown_at(xs)
        assert np.all(got > 0)
        # the realised curve is the asked one plus the rounding, spread in proportion to |d - 1|
        asked_integral = np.trapezoid(asked, xs)
        assert abs(stretch.length + stretch.extra - asked_integral) <= 1.0 + 1e-3 * stretch.length
        assert np.all(np.sign(got - 1)[np.abs(asked - 1) > 1e-6] * np.sign(asked - 1)[np.abs(asked - 1) > 1e-6] >= 0) \
            or stretch.length <= 2
        assert np.all((got >= asked / 2 - 1e-9) | (asked >= 1))  # a faster part at most twice as fast as asked


@moderate
@given(curves())
def test_frames_at_whole_source_times_are_copies_and_untouched_frames_appear_once(curve):
    timeline = curve_timeline(curve)
    steps = plan(timeline)
    inside = {k for a, b in timeline.retimed_ranges for k in range(a + 1, b)}
    frozen = {f.position for f in curve.freezes}
    for position, step in zip(timeline.positions, steps):
        if position == int(position):
            assert step == Step(int(position), int(position), 0.0)
    for frame in set(range(curve.frame_count)) - inside - frozen:
        assert np.count_nonzero(timeline.positions == frame) == 1


@moderate
@given(curves(), st.sampled_from(RATES), st.data())
def test_the_time_map_follows_the_curve_everywhere(curve, rate, data):
    realised = realise(curve)
    time_map = realised.time_map(rate)
    x = np.array(data.draw(st.lists(st.floats(0, curve.frame_count - 1), min_size=1, max_size=50)))
    for freeze in curve.freezes:  # a freeze's own frame maps to the freeze's start (tested below)
        x = x[np.abs(x - freeze.position) > 1e-6]
    mapped = time_map.to_output(x / float(rate)) * float(rate)
    np.testing.assert_allclose(mapped, realised.output_time(x), atol=0.01)
    assert time_map.duration * float(rate) == pytest.approx(realised.output_count, abs=1e-9)
    assert np.all(np.diff(time_map.output) > 0) and np.all(np.diff(time_map.source) >= 0)


def test_the_issue_example_lands_where_the_dry_run_says():
    curve = parse_speed("0s:1,1s:0.25,2s:0.25,2.5s:3,3.5s:1", Fraction(25), 125)
    timeline, report = curve_timeline(curve), dry_run(curve, Fraction(25))
    assert report.output_frames == len(timeline)
    for landing in report.landings:
        frame = round(landing.output_frame)
        assert abs(timeline.positions[frame] - landing.source_frame) <= 1  # the frame near there shows that time
        assert landing.output_seconds == pytest.approx(landing.output_frame / 25)
    # easing from 1x at 0 s to 4x slower at 1 s, 4x slower until 2 s, up to 3x faster at 2.5 s, 1x from 3.5 s
    steps = np.diff(timeline.positions)
    assert steps[0] > 0.99 and np.all(steps[-25:] == 1)
    assert steps.min() == pytest.approx(0.25, abs=1e-3) and 2.7 < steps.max() <= 3.05
    assert "output: " in report.lines()[-1] and len(report.lines()) == 6


def test_audio_time_map_follows_the_picture_at_every_keyframe_of_a_long_curve():
    rate, count = Fraction(25), 60 * 25
    text = ("0s:1, 5s:1, 7s:0.25, 12s:0.25:hold, 14s:3, 20s:3:linear, 22s:1, 30s:0.5:hold, 33s:2, 40s:0.1, "
            "41s:0.1:hold, 44s:5, 50s:1, 44.5s:freeze=1s")
    text = ",".join(sorted(text.split(","), key=lambda item: float(item.split(":")[0].strip()[:-1])))
    curve = parse_speed(text, rate, count)
    assert len(curve.keyframes) >= 8
    timeline = curve_timeline(curve)
    time_map = timeline.time_map(rate)
    for key in curve.keyframes:
        audio_at = time_map.to_output(key.position / 25) * 25  # output frames where the sound of x plays
        # the picture: the output frames around x (positions are increasing)
        frame = int(np.searchsorted(timeline.positions, key.position))
        assert abs(audio_at - frame) <= 1, (key, audio_at, frame)
        assert audio_at == pytest.approx(float(timeline.curve.output_time(np.array([key.position]))[0]), abs=1e-6)
    assert time_map.duration == pytest.approx(len(timeline) / 25)
    assert time_map.to_output(curve.freezes[0].position / 25) * 25 == pytest.approx(  # the freeze's start
        timeline.curve.freeze_spans()[0][0], abs=1e-6)


# --------------------------------------------------------------------------------------------------------------------
# Freezes, presets, per-frame lists, files


def test_a_freeze_holds_its_frame_and_its_sound_is_silent():
    plain = curve_timeline(parse_speed("0s:1", Fraction(25), 50))
    frozen = curve_timeline(parse_speed("0s:1, 1s:freeze=0.4s", Fraction(25), 50))
    assert len(frozen) == len(plain) + 10
    assert np.count_nonzero(frozen.positions == 25) == 11 and frozen.retimed_ranges == ()
    assert [s for s in plan(frozen) if s.left == 25] == [Step(25, 25, 0.0)] * 11
    pieces = frozen.audio_pieces()
    assert [p for p in pieces if p.src_start == p.src_end] == [pieces[1]] and pieces[1].out_length == 10
    assert sum(p.out_length for p in pieces) == len(frozen)
    speeds = frozen.curve.frame_speeds()
    assert np.count_nonzero(speeds == 0) == 10


@pytest.mark.parametrize("name", list(PRESETS))
def test_presets_have_the_shape_they_are_named_for(name):
    rate, count = Fraction(25), 200
    curve = parse_speed(f"{name.replace('_', ' ')}@2s/2s", rate, count)
    speeds = curve.speed_at(np.linspace(50, 100, 501))
    realised = realise(curve)
    assert realised.retimed_ranges
    if name in ("hero", "bullet"):
        assert speeds[250] == pytest.approx(min(s for _, s, _ in PRESETS[name]))  # slowest in the middle
        assert speeds.max() > 2
    if name == "jump_cut":
        assert realised.output_count < count and set(np.round(speeds, 6)) == {1.0, 8.0}
    if name == "flash_in":
        assert speeds[0] == 5 and speeds[-1] == 1
    if name == "flash_out":
        assert speeds[0] == 1 and speeds[-1] == 5
    if name == "montage":
        assert np.count_nonzero(np.diff(np.sign(np.diff(speeds)))) >= 4  # up and down, twice


def test_a_float_list_is_one_speed_per_frame():
    count = 40
    half = curve_timeline(speeds_per_frame([0.5] * count, count))
    assert len(half) == 2 * count - 1 and np.all(np.diff(half.positions) == 0.5)
    ramp = speeds_per_frame(np.linspace(1, 3, count), count)
    assert len(ramp.keyframes) == count and ramp.speed_at(np.array([20.0]))[0] == pytest.approx(1 + 2 * 20 / 39)
    assert len(speeds_per_frame([1.0] * 10 + [0.25] * 30, count).keyframes) == 4  # runs need only their ends


def test_files_say_what_the_text_says(tmp_path):
    rate, count = Fraction(30000, 1001), 150
    text = parse_speed("0s:1, 1s:0.25:linear, 2s:2, 3s:freeze=0.5s, hero@3.5s/1s", rate, count)
    csv_file = tmp_path / "curve.csv"
    csv_file.write_text("time,speed,ease\n0s,1,\n1s,0.25,linear\n2s,2,smooth\n3s,freeze=0.5s,\n")
    json_file = tmp_path / "curve.json"
    json_file.write_text(json.dumps({"keyframes": [
        {"time": 0, "speed": 1}, {"time": "1s", "speed": 0.25, "ease": "linear"}, {"time": "2s", "speed": 2},
        {"time": "3s", "freeze": "0.5s"}, {"preset": "hero", "time": "3.5s", "length": "1s"}]}))
    from_csv, from_json = read_speed_file(csv_file, rate, count), read_speed_file(json_file, rate, count)
    assert from_json == text
    assert from_csv.keyframes == text.keyframes[:3] and from_csv.freezes == text.freezes
    per_frame = tmp_path / "speeds.json"
    per_frame.write_text(json.dumps([0.5] * count))
    assert read_speed_file(per_frame, rate, count) == speeds_per_frame([0.5] * count, count)


# --------------------------------------------------------------------------------------------------------------------
# Bad input: one line naming the value


@pytest.mark.parametrize("text, named", [
    ("1s:-2", "'-2'"), ("1s:nan", "'nan'"), ("1s:inf", "'inf'"), ("1s:-inf", "'-inf'"), ("1s:0", "'0'"),
    ("1s:101", "'101'"), ("1s:0.0001", "'0.0001'"), ("1s:fast", "'fast'"),
    ("2s:1, 1s:0.5", "'2s:1' and '1s:0.5'"), ("1s:1, 1s:0.5", "'1s:1' and '1s:0.5'"),
    ("5s:1", "'5s:1'"), ("200:1", "'200:1'"), ("-1s:1", "'-1s'"), ("1.5:1", "1.5s"),
    ("1s:0.5:bounce", "'bounce'"), ("warp@1s", "'warp'"), ("hero@3s/2s", "'hero@3s/2s'"), ("hero@1s/0", "hero"),
    ("1s:freeze=0s", "'1s:freeze=0s'"), ("1s:freeze", "'1s:freeze'"), ("1s:freeze=2h", "'2h'"),
    ("1s", "'1s'"), ("", "empty"), ("1s:1:smooth:4", "'1s:1:smooth:4'"),
])
def test_bad_curves_are_refused_in_one_line_naming_the_value(text, named):
    with pytest.raises(InputError) as error:
        parse_speed(text, Fraction(25), 100)
    message = str(error.value)
    assert named in message and "\n" not in message


@pytest.mark.parametrize("values, named", [
    ([1.0] * 99, "99 values"), ([1.0] * 101, "101 values"), ([1.0] * 50 + [-1.0] * 50, "frame 50"),
    ([1.0] * 99 + [math.nan], "frame 99"), (["a"] * 100, "numbers"),
])
def test_bad_float_lists_are_refused(values, named):
    with pytest.raises(InputError, match=named):
        speeds_per_frame(values, 100)


@pytest.mark.parametrize("content, suffix, named", [
    ("when,speed\n1s,1\n", ".csv", "header"), ("time,speed\n1s,0\n", ".csv", "'0'"),
    ("[{\"time\": 1.5, \"speed\": 1}]", ".json", "1.5s"), ("{\"a\": 1}", ".json", "list of keyframe"),
    ("[1, 2", ".json", "not valid JSON"), ("time,speed\n", ".txt", "neither .csv nor .json"),
    ("[{\"time\": \"1s\"}]", ".json", "give a speed"),
])
def test_bad_files_are_refused(tmp_path, content, suffix, named):
    path = tmp_path / f"curve{suffix}"
    path.write_text(content)
    with pytest.raises(InputError, match=named):
        read_speed_file(path, Fraction(25), 100)
    with pytest.raises(InputError, match="not found"):
        read_speed_file(tmp_path / "missing.csv", Fraction(25), 100)


def test_the_limits_have_one_owner():
    assert MIN_SPEED == 1 / 1000 and MAX_SPEED == 100
    assert check_speed(MIN_SPEED) == MIN_SPEED and check_speed(MAX_SPEED) == MAX_SPEED
    for value in (MIN_SPEED / 2, MAX_SPEED * 1.01):
        with pytest.raises(InputError, match="speed"):
            check_speed(value)
    Keyframe.at_speed(0, MIN_SPEED), Keyframe.at_speed(0, MAX_SPEED)  # the extremes make keyframes
    with pytest.raises(InputError, match="out of order"):
        SpeedCurve(10, (Keyframe(5, 1.0), Keyframe(2, 2.0)))
    with pytest.raises(InputError, match="past the last frame"):
        SpeedCurve(10, (Keyframe(9.5, 2.0),))


def test_the_sync_clip_flashes_where_it_clicks(tmp_path):
    from deepshop_core.media.audio import read_audio
    from deepshop_core.media.decode import read_frames
    from deepshop_core.synthetic import flash_indices, write_flash_clip

    rate = Fraction(30000, 1001)
    path = write_flash_clip(tmp_path / "sync.mkv", seconds=6, frame_rate=rate)
    brightness = np.array([frame.mean() for frame in read_frames(path)])
    flashes = np.flatnonzero(brightness > 200)
    assert list(flashes) == flash_indices(len(brightness), rate) == [0, 30, 60, 90, 120, 150]
    audio = read_audio(path)
    loud = np.flatnonzero(np.abs(audio.samples[0]) > 0.3)
    onsets = loud[np.r_[True, np.diff(loud) > audio.sample_rate // 2]] / audio.sample_rate
    np.testing.assert_allclose(onsets, [float(i / rate) for i in flashes], atol=0.0005)  # each click on its flash
