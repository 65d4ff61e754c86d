"""Motion blur for the faster parts (deepshop_core.speed.shutter and timeline.plan's Blend items): the exposure
model, sampling, shots and ranges never crossed, streaming order, rendering a blend."""

from __future__ import annotations

import math
from fractions import Fraction
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepshop_core.errors import InputError
from deepshop_core.speed.curve import Keyframe, SpeedCurve
from deepshop_core.speed.parse import parse_speed
from deepshop_core.speed.shutter import (
    DEFAULT_SHUTTER_ANGLE,
    SAMPLE_SPACING,
    Shutter,
    exposure_windows,
    render_blend,
)
from deepshop_core.steps import Blend, Step, plan
from deepshop_core.timeline import Segment, curve_timeline, slow_timeline

moderate = settings(max_examples=40, deadline=None)


def sample_times(item) -> list[float]:
    """The source times an item's samples show (a step's time, for a sharp frame)."""
    samples = item.samples if isinstance(item, Blend) else (item,)
    return [s.left + s.t * (s.right - s.left) for s in samples]


def constant(speed: float, count: int = 120, start: int = 20, end: int = 100) -> SpeedCurve:
    return SpeedCurve(count, (Keyframe(0, 1.0), Keyframe(start, 1 / speed, "hold"), Keyframe(end, 1.0, "hold")))


@st.composite
def fast_curves(draw):
    count = draw(st.integers(10, 150))
    n = draw(st.integers(1, 6))
    positions = sorted(draw(st.sets(st.integers(0, count - 1), min_size=n, max_size=n)))
    return SpeedCurve(count, tuple(Keyframe.at_speed(p, 10 ** draw(st.floats(-0.7, 1.3)),
                                                     draw(st.sampled_from(["smooth", "linear", "hold"])))
                                   for p in positions))


def test_the_exposure_grows_with_the_speed_and_is_centred_on_the_frame():
    for speed in (2.0, 3.0, 5.0):
        timeline = curve_timeline(constant(speed))
        items = plan(timeline, shutter=Shutter())
        realised = timeline.curve.frame_speeds()  # the speed after whole-frame rounding (80 frames at 3x: 27)
        inside = [(x, v, item) for x, v, item in zip(timeline.positions, realised, items) if 30 < x < 90]
        assert inside and all(isinstance(item, Blend) for *_, item in inside)
        for x, v, item in inside:
            assert v == pytest.approx(speed, rel=0.02)
            times = sample_times(item)
            width = (v - 1) * DEFAULT_SHUTTER_ANGLE / 360  # the exposure added to the source's own
            assert np.mean(times) == pytest.approx(x, abs=1e-9)  # centred: the blur stays where the curve says
            assert max(times) - min(times) == pytest.approx(width * (1 - 1 / len(times)), abs=1e-9)
            assert np.all(np.diff(times) <= SAMPLE_SPACING + 1e-9)
            assert len(item.groups()) == len({(s.left, s.right) for s in item.samples})  # each pair once


@pytest.mark.parametrize("speed", [1.5, 2.0, 3.0, 5.0])
def test_blended_whole_frames_stay_near_the_frame(speed):
    timeline = curve_timeline(constant(speed))
    items = plan(timeline, shutter=Shutter(180, "frames"))
    errors = []
    for x, item in zip(timeline.positions, items):
        if 30 < x < 90:
            times = sample_times(item)
            weights = item.weights if isinstance(item, Blend) else (1.0,)
            assert all(t == int(t) for t in times)  # whole frames only: nothing synthesised
            assert sum(weights) == pytest.approx(1.0)
            errors.append(abs(np.average(times, weights=weights) - x))
    # Whole frames cannot be centred closer than half a frame; weighted by how much of each frame's exposure is
    # covered, at 3x they are within a tenth on average (equal weights: 0.19, the nearest frame: 0.25).
    assert max(errors) <= 0.5
    if speed == 3.0:
        assert np.mean(errors) < 0.1


def test_no_shutter_or_a_closed_one_gives_sharp_dropped_frames():
    timeline = curve_timeline(constant(4.0))
    sharp = plan(timeline)
    assert all(isinstance(s, Step) for s in sharp)
    assert plan(timeline, shutter=Shutter(0)) == sharp == plan(timeline, shutter=None)


@moderate
@given(st.integers(2, 200), st.data())
def test_slow_motion_never_blurs(count, data):
    start = data.draw(st.integers(0, count - 2))
    end = data.draw(st.integers(start + 1, count - 1))
    timeline = slow_timeline(count, [Segment(start, end, data.draw(st.floats(1, 8)), 0.0)])
    assert plan(timeline, shutter=Shutter()) == plan(timeline)


@moderate
@given(fast_curves(), st.data(), st.sampled_from([Shutter(), Shutter(360), Shutter(90, "frames")]))
def test_blends_keep_to_their_shot_and_range_and_stream(curve, data, shutter):
    timeline = curve_timeline(curve)
    count = curve.frame_count
    cuts = sorted(data.draw(st.sets(st.integers(1, count - 1), max_size=4)))
    held = data.draw(st.sets(st.integers(1, count - 1), max_size=6))  # held frames: samples follow the drawings
    items = plan(timeline, cuts, held, shutter=shutter)
    assert len(items) == len(timeline)
    ranges = timeline.retimed_ranges
    for x, item in zip(timeline.positions, items):
        samples = item.samples if isinstance(item, Blend) else (item,)
        for s in samples:
            assert 0 <= s.left <= s.right < count and 0 <= s.t < 1
            assert not any(s.left < c <= s.right for c in cuts) or s.is_copy  # nothing morphs across a cut
        if isinstance(item, Blend):
            shots = {sum(c <= t for c in cuts) for t in sample_times(item)}
            assert len(shots) == 1  # one shot per frame: a blend never mixes two
            assert any(a <= item.left and item.right <= b for a, b in ranges)
            if shutter.sampling == "frames":
                assert all(s.is_copy for s in item.samples)
    assert all(a.left <= b.left for a, b in pairwise(items))  # frames before the current left can be dropped


def test_exposures_never_reach_past_halfway_to_the_neighbours():
    positions = np.array([0.0, 1.0, 4.0, 10.0, 11.0])
    speeds = np.array([1.0, 1.0, 6.0, 50.0, 1.0])
    lo, hi = exposure_windows(positions, speeds, 360.0, 12)
    assert (lo[0], hi[0]) == (0.0, 0.0) and (lo[1], hi[1]) == (1.0, 1.0)  # 1x: sharp
    assert (lo[2], hi[2]) == (2.5, 6.5)  # 5 frames of extra exposure at 6x, 360 degrees
    assert (lo[3], hi[3]) == (7.0, 10.5)  # 49 frames asked: only halfway to each neighbour


def test_a_freeze_inside_a_fast_part_stays_sharp():
    curve = parse_speed("0s:3, 2s:freeze=0.4s", Fraction(25), 100)
    timeline = curve_timeline(curve)
    items = plan(timeline, shutter=Shutter())
    speeds = timeline.curve.frame_speeds()
    held = [item for x, v, item in zip(timeline.positions, speeds, items) if x == 50 and v == 0]
    assert len(held) == 10 and all(item == Step(50, 50, 0.0) for item in held)  # 0.4 s at 25 fps, sharp
    assert any(isinstance(item, Blend) for item in items)  # around it, the 3x part is blurred


def moving_dot(frames: int, width: int = 96, speed_px: float = 2.0) -> list[np.ndarray]:
    """1-pixel-high frames of a 2-pixel dot moving speed_px per frame: the true picture at any time."""
    def at(t: float) -> np.ndarray:
        row = np.zeros((1, width, 1), np.float32)
        x = 5 + speed_px * t
        for px in range(width):
            row[0, px, 0] = 255 * max(0.0, 1 - abs(px - x) / 1.0)
        return row
    return at


def test_a_rendered_blend_smears_motion_over_its_exposure():
    at = moving_dot(60)
    frames = [at(k).astype(np.uint8) for k in range(40)]
    truth = lambda a, b, ts: [at(a + t * (b - a)).astype(np.uint8) for t in ts]  # a perfect engine: the true in-between
    curve = SpeedCurve(40, (Keyframe.at_speed(0, 4.0),))
    timeline = curve_timeline(curve)
    speed = timeline.curve.frame_speeds()[4]  # 39 frames at 4x round to 10 intervals: 3.9x
    spread = {}
    for angle in (0, 180, 360):
        items = plan(timeline, shutter=Shutter(angle))
        k = 4  # a frame in the middle
        item = items[k]
        picture = render_blend(item if isinstance(item, Blend) else Blend((item,)), frames.__getitem__, truth)
        weights = picture[0, :, 0].astype(float)
        centre = np.average(np.arange(picture.shape[1]), weights=weights)
        assert centre == pytest.approx(5 + 2 * timeline.positions[k], abs=0.3)  # the blur is centred on the frame
        spread[angle] = np.average((np.arange(picture.shape[1]) - centre) ** 2, weights=weights)
    # The exposure adds (v - 1) * angle / 360 source frames of travel at 2 px per frame: a box of that width, whose
    # variance (width^2 / 12) adds to the sharp dot's.
    for angle in (180, 360):
        travel = 2 * (speed - 1) * angle / 360
        assert spread[angle] - spread[0] == pytest.approx(travel**2 / 12, rel=0.15)


@pytest.mark.parametrize("angle, sampling, named", [(-1, "subframes", "-1"), (361, "subframes", "361"),
                                                    (math.nan, "subframes", "nan"), ("wide", "subframes", "wide"),
                                                    (180, "sharp", "sharp")])
def test_bad_shutters_are_refused(angle, sampling, named):
    with pytest.raises(InputError, match=named):
        Shutter(angle, sampling)
