"""The retime math: slow and smooth timelines, range parsing, the render plan."""

from __future__ import annotations

import math
import re
from fractions import Fraction
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepshop_core.clock import parse_range, seconds_to_frame
from deepshop_core.errors import InputError
from deepshop_core.range_batches import interpolated_batch
from deepshop_core.steps import Step, plan
from deepshop_core.timeline import (
    AudioPiece,
    Segment,
    Timeline,
    slow_timeline,
    smooth_timeline,
)

# Local to this module (a loaded profile would change every other test file's hypothesis settings too).
moderate = settings(max_examples=60, deadline=None)

RATES = [Fraction(25), Fraction(30000, 1001), Fraction(24000, 1001), Fraction(60), Fraction(1501, 50)]


# --------------------------------------------------------------------------------------------------------------------
# Strategies


@st.composite
def clips(draw, integer_factors=False, ramps=True):
    """(source_count, segments): disjoint segments that may touch, random factors and ramps."""
    count = draw(st.integers(2, 200))
    points = sorted(draw(st.sets(st.integers(0, count - 1), min_size=2, max_size=8)))
    chosen = draw(st.lists(st.booleans(), min_size=len(points) - 1, max_size=len(points) - 1))
    segments = []
    for (start, end), keep in zip(pairwise(points), chosen):
        if not keep:
            continue
        factor = draw(st.integers(1, 8)) if integer_factors else draw(st.floats(1, 8, allow_nan=False))
        ramp = draw(st.floats(0, 0.5)) * (end - start) if ramps and draw(st.booleans()) else 0.0
        segments.append(Segment(start, end, factor, ramp))
    return count, segments


def index_of(timeline: Timeline, frame: int) -> int:
    (where,) = np.flatnonzero(timeline.positions == frame)
    return int(where)


def expected_span(segment: Segment) -> int:
    """Output intervals of a segment: the slowdown's integral, rounded half up (the module's documented rule)."""
    integral = segment.span * segment.factor - (segment.factor - 1) * segment.ramp
    return math.floor(integral + 0.5)


# --------------------------------------------------------------------------------------------------------------------
# Slow timelines


def test_acceptance_case_from_the_issue():
    timeline = slow_timeline(241, [Segment(50, 75, 4)])
    assert len(timeline) == 316
    assert index_of(timeline, 50) == 50 and index_of(timeline, 75) == 150
    np.testing.assert_array_equal(timeline.positions[50:151], 50 + np.arange(101) / 4)
    np.testing.assert_array_equal(timeline.positions[151:], np.arange(76, 241))
    assert timeline.rate_multiplier == 1 and timeline.segments == (Segment(50, 75, 4.0),)


@pytest.mark.parametrize(("factor", "intervals"), [(2.5, 13), (2.4, 12), (2.6, 13), (1.1, 6), (1.09, 5)])
def test_non_integer_factor_rounds_the_segment_length_half_up(factor, intervals):
    timeline = slow_timeline(20, [Segment(5, 10, factor)])
    assert index_of(timeline, 10) - index_of(timeline, 5) == intervals
    assert len(timeline) == 20 + intervals - 5
    np.testing.assert_allclose(np.diff(timeline.positions[5 : 5 + intervals + 1]), 5 / intervals)


@moderate
@given(clips())
def test_positions_increase_and_untouched_frames_appear_once_as_integers(clip):
    count, segments = clip
    timeline = slow_timeline(count, segments)
    positions = timeline.positions
    assert positions.dtype == np.float64 and not positions.flags.writeable
    assert np.all(np.diff(positions) > 0)
    assert positions[0] == 0 and positions[-1] == count - 1
    inside = {k for s in segments for k in range(s.start + 1, s.end)}
    for frame in set(range(count)) - inside:  # including every segment's start and end frame
        assert np.count_nonzero(positions == frame) == 1
    for position in positions[(positions % 1) != 0]:  # fractional positions only occur inside segments
        assert any(s.start < position < s.end for s in segments)


@moderate
@given(clips())
def test_each_segment_lasts_its_rounded_integral(clip):
    count, segments = clip
    timeline = slow_timeline(count, segments)
    for segment in segments:
        assert index_of(timeline, segment.end) - index_of(timeline, segment.start) == expected_span(segment)
    assert len(timeline) == count + sum(expected_span(s) - s.span for s in segments)


@moderate
@given(clips(integer_factors=True, ramps=False))
def test_integer_factors_insert_factor_minus_one_frames_per_pair(clip):
    count, segments = clip
    timeline = slow_timeline(count, segments)
    assert len(timeline) == count + sum((s.end - s.start) * (s.factor - 1) for s in segments)
    for segment in segments:
        first = index_of(timeline, segment.start)
        inside = timeline.positions[first : first + segment.span * int(segment.factor) + 1]
        np.testing.assert_allclose(inside, segment.start + np.arange(len(inside)) / segment.factor, atol=1e-12)
        np.testing.assert_array_equal(inside[:: int(segment.factor)], np.arange(segment.start, segment.end + 1))


@moderate
@given(st.integers(1, 300), st.data())
def test_factor_one_is_the_identity(count, data):
    segments = []
    if count > 1:
        start = data.draw(st.integers(0, count - 2))
        end = data.draw(st.integers(start + 1, count - 1))
        segments = [Segment(start, end, 1, data.draw(st.floats(0, 0.5)) * (end - start))]
    for timeline in (slow_timeline(count, segments), smooth_timeline(count, 1)):
        np.testing.assert_array_equal(timeline.positions, np.arange(count))


@moderate
@given(st.integers(2, 60), st.floats(1.5, 8), st.floats(0, 0.5))
def test_ramps_change_the_speed_gradually(span, factor, ramp_share):
    segment = Segment(10, 10 + span, factor, ramp=max(1.0, ramp_share * span))
    timeline = slow_timeline(span + 20, [segment])
    first, last = index_of(timeline, segment.start), index_of(timeline, segment.end)
    assert np.all(np.diff(timeline.positions) > 0)
    steps = np.diff(timeline.positions[first - 1 : last + 2])  # one untouched interval each side
    assert steps[0] == 1 and steps[-1] == 1
    # A second difference of the positions is bounded by max |x''| (x: source position over output time), and
    # x'' = -g'/g^3 for the slowdown g = 1 + e * smoothstep(u), e = peak - 1: at most 0.9 sqrt(e) / R.
    peak = 1 + (expected_span(segment) - segment.span) / (segment.span - segment.ramp)
    assert np.max(np.abs(np.diff(steps))) <= 0.9 * math.sqrt(peak - 1) / segment.ramp + 1e-9


def test_a_ramp_softens_the_jump_in_speed():
    jumps = [
        np.max(np.abs(np.diff(np.diff(slow_timeline(60, [Segment(10, 50, 4, ramp)]).positions)))) for ramp in (0, 8)
    ]
    assert jumps[0] == 0.75 and jumps[1] < 0.2


def test_ramp_example_reaches_the_full_slowdown_in_the_middle():
    timeline = slow_timeline(30, [Segment(5, 25, 4, ramp=5)])
    # 20 intervals at 4x = 80, each smoothstep ramp gives back (4 - 1) * 5 / 2 = 7.5: 65 intervals.
    assert len(timeline) == 30 + 65 - 20
    steps = np.diff(timeline.positions)
    np.testing.assert_allclose(steps[20:55], 0.25)  # the plateau 10..20 runs at exactly 4x
    assert steps[4] == 1 and 0.25 < steps[5] < 1  # easing in


@moderate
@given(clips())
def test_audio_pieces_cover_the_source_and_add_up_to_the_output(clip):
    count, segments = clip
    timeline = slow_timeline(count, segments)
    pieces = timeline.audio_pieces()
    assert all(isinstance(p, AudioPiece) for p in pieces)
    assert pieces[0].src_start == 0 and pieces[-1].src_end == count
    assert all(a.src_end == b.src_start for a, b in pairwise(pieces))
    assert all(p.src_end > p.src_start and p.out_length > 0 for p in pieces)
    assert sum(p.out_length for p in pieces) == pytest.approx(len(timeline), abs=1e-9)
    for segment in segments:
        inside = [p for p in pieces if segment.start <= p.src_start and p.src_end <= segment.end]
        assert sum(p.out_length for p in inside) == pytest.approx(expected_span(segment), abs=1e-9)
        if segment.ramp:
            assert all(p.src_end - p.src_start <= 1 + 1e-9 for p in inside[:1] + inside[-1:])
    for piece in pieces:
        if not any(s.start <= piece.src_start < s.end for s in segments):
            assert piece.out_length == piece.src_end - piece.src_start  # untouched audio keeps its speed


# --------------------------------------------------------------------------------------------------------------------
# Smooth mode


@moderate
@given(st.integers(1, 300), st.one_of(st.integers(1, 8), st.floats(1, 8)))
def test_smooth_mode_multiplies_the_frame_rate(count, factor):
    timeline = smooth_timeline(count, factor)
    multiplier = Fraction(factor).limit_denominator(1000)
    assert timeline.rate_multiplier == multiplier and timeline.segments == ()
    assert len(timeline) == math.floor(count * multiplier + Fraction(1, 2))
    expected = np.minimum(np.arange(len(timeline)) / float(multiplier), count - 1)
    np.testing.assert_allclose(timeline.positions, expected, rtol=0, atol=1e-12)
    assert np.all(np.diff(timeline.positions) >= 0)
    if float(factor).is_integer():
        np.testing.assert_array_equal(timeline.positions[:: int(factor)], np.arange(count))  # exact copies
    assert timeline.audio_pieces() == [AudioPiece(0.0, float(count), float(count))]


def test_smooth_mode_holds_the_last_frame_at_the_tail():
    timeline = smooth_timeline(4, 3)
    np.testing.assert_array_equal(timeline.positions * 3, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9])
    assert smooth_timeline(10, 2.5).rate_multiplier == Fraction(5, 2)
    assert smooth_timeline(3, 1 / 3 + 2).rate_multiplier == Fraction(7, 3)


# --------------------------------------------------------------------------------------------------------------------
# Validation


@pytest.mark.parametrize("factor", [0, -2, 0.5, 0.999, math.nan, math.inf, -math.inf, 1000.5, 1e9, "fast", None])
def test_bad_factors_are_rejected(factor):
    with pytest.raises(InputError, match="factor"):
        Segment(1, 5, factor)
    with pytest.raises(InputError, match="factor"):
        smooth_timeline(10, factor)


@pytest.mark.parametrize("ramp", [-1, math.nan, math.inf, 2.01, 5])
def test_bad_ramps_are_rejected(ramp):
    with pytest.raises(InputError, match="ramp"):
        Segment(1, 5, 2, ramp)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [(5, 5, "empty or reversed"), (6, 5, "empty or reversed"), (-1, 5, "negative"), (1.5, 5, "whole number")],
)
def test_bad_ranges_are_rejected(start, end, message):
    with pytest.raises(InputError, match=message):
        Segment(start, end, 2)


def test_segments_must_be_segments():
    with pytest.raises(InputError, match="not a Segment"):
        slow_timeline(10, [(2, 5, 2)])


def test_segments_must_lie_inside_the_clip_and_not_overlap():
    with pytest.raises(InputError, match="past the last frame"):
        slow_timeline(10, [Segment(5, 10, 2)])
    with pytest.raises(InputError, match="overlap"):
        slow_timeline(100, [Segment(30, 50, 2), Segment(10, 31, 2)])
    with pytest.raises(InputError, match="overlap"):
        slow_timeline(100, [Segment(10, 50, 2), Segment(20, 30, 2)])
    touching = slow_timeline(100, [Segment(30, 50, 3), Segment(10, 30, 2)])  # share frame 30: allowed
    assert [s.start for s in touching.segments] == [10, 30]
    assert len(touching) == 100 + 20 + 40 and np.count_nonzero(touching.positions == 30) == 1


@pytest.mark.parametrize("count", [0, -3, 2.5, True, None])
def test_bad_source_counts_are_rejected(count):
    with pytest.raises(InputError, match="frame count"):
        slow_timeline(count, [])
    with pytest.raises(InputError, match="frame count"):
        smooth_timeline(count, 2)


def test_a_single_frame_clip_is_valid():
    assert list(slow_timeline(1, []).positions) == [0.0]
    assert list(smooth_timeline(1, 3).positions) == [0.0, 0.0, 0.0]


def test_segments_normalize_their_values():
    segment = Segment(np.int64(3), 9.0, 2, np.float32(1.0))
    types = (type(segment.start), type(segment.end), type(segment.factor), type(segment.ramp))
    assert types == (int, int, float, float)
    assert segment == Segment(3, 9, 2.0, 1.0)


# --------------------------------------------------------------------------------------------------------------------
# Ranges


@moderate
@given(st.integers(0, 10**6), st.integers(1, 10**5), st.sampled_from(RATES))
def test_frame_ranges_round_trip(start, length, rate):
    assert parse_range(f"{start}:{start + length}", rate) == (start, start + length)


@moderate
@given(st.integers(0, 10**5), st.integers(1, 10**4), st.sampled_from(RATES))
def test_second_ranges_round_trip_exactly(start, length, rate):
    end = start + length
    assert seconds_to_frame(Fraction(start) / rate, rate) == start  # exact, even at 30000/1001
    # Written as decimals the way a user would read them off a player: 6 digits is far finer than a frame.
    text = f"{float(Fraction(start) / rate):.6f}s:{float(Fraction(end) / rate):.6f}s"
    assert parse_range(text, rate) == (start, end)
    assert parse_range(f"{float(Fraction(start) / rate):.6f}s:{end}", rate) == (start, end)  # mixed


def test_seconds_are_exact_decimals():
    assert parse_range("4.8s:6.0s", Fraction(25)) == (120, 150)
    assert parse_range(" 4.8S : 6s ", Fraction(25)) == (120, 150)
    assert parse_range("4.8s:6.0s", Fraction(30000, 1001)) == (144, 180)  # 143.856..., 179.82...
    assert seconds_to_frame(0.1, Fraction(30)) == 3  # the float 0.1 counts as 1/10, not 0.1000000000000000055
    assert seconds_to_frame("1/60", Fraction(30)) == 1  # exactly half a frame rounds up
    assert seconds_to_frame(Fraction(1, 50), Fraction(25)) == 1


@pytest.mark.parametrize("text", ["", "-", "120-150", "120", "a:b", "1:2:3", "-5:10", "1.5:3", "s:3", "4.8ss:6", None])
def test_unreadable_ranges_name_the_expected_forms(text):
    with pytest.raises(InputError) as caught:
        parse_range(text, Fraction(25))
    assert "120:150" in str(caught.value) or "fractional frame number" in str(caught.value)


def test_range_bounds_are_checked():
    with pytest.raises(InputError, match="empty or reversed"):
        parse_range("150:120", Fraction(25))
    with pytest.raises(InputError, match="empty or reversed"):
        parse_range("4.80s:4.81s", Fraction(25))  # both round to frame 120
    with pytest.raises(InputError, match="past the last frame"):
        parse_range("100:241", Fraction(25), frame_count=241)
    assert parse_range("100:240", Fraction(25), frame_count=241) == (100, 240)
    with pytest.raises(InputError, match="frame rate"):
        seconds_to_frame(1, Fraction(0))
    with pytest.raises(InputError, match="negative"):
        seconds_to_frame(-1, Fraction(25))


# --------------------------------------------------------------------------------------------------------------------
# The render plan


def check_step_is_sane(step: Step, count: int) -> None:
    assert 0 <= step.left <= step.right < count and 0 <= step.t < 1
    assert step.is_copy == (step.t == 0)
    if step.is_copy:
        assert step.left == step.right


@moderate
@given(clips(), st.data())
def test_plan_never_interpolates_across_a_cut_and_copies_untouched_frames(clip, data):
    count, segments = clip
    timeline = slow_timeline(count, segments)
    cuts = data.draw(st.sets(st.integers(1, count - 1)))
    duplicates = data.draw(st.sets(st.integers(1, count - 1)))
    steps = plan(timeline, cuts, duplicates)
    assert len(steps) == len(timeline)
    inside = [(s.start, s.end) for s in segments]
    for position, step in zip(timeline.positions, steps):
        check_step_is_sane(step, count)
        if not step.is_copy:
            assert not any(step.left < cut <= step.right for cut in cuts)
        if not any(a < position < b for a, b in inside):
            assert step == Step(int(position), int(position), 0.0)  # bit-identical copy of its own frame


@moderate
@given(st.one_of(clips(), st.tuples(st.integers(2, 100), st.floats(1, 4))), st.data())
def test_plan_can_be_rendered_from_a_stream(clip, data):
    count, how = clip
    timeline = smooth_timeline(count, how) if isinstance(how, float) else slow_timeline(count, how)
    ranges = timeline.retimed_ranges
    steps = plan(timeline, data.draw(st.sets(st.integers(1, count - 1))), data.draw(st.sets(st.integers(1, count - 1))))
    assert all(a.left <= b.left for a, b in pairwise(steps))  # frames before the current left can be dropped
    for step in steps:
        if not step.is_copy:
            assert any(a <= step.left and step.right <= b for a, b in ranges)


@moderate
@given(clips(), st.data())
def test_plan_without_hints_follows_the_positions(clip, data):
    count, segments = clip
    timeline = slow_timeline(count, segments)
    for position, step in zip(timeline.positions, plan(timeline)):
        assert step.left == math.floor(position) and step.t == position - math.floor(position)
        assert step.right == (step.left if step.is_copy else step.left + 1)


def test_plan_holds_the_nearest_frame_at_a_cut():
    timeline = slow_timeline(10, [Segment(2, 6, 4)])
    steps = plan(timeline, cuts=[4])
    by_position = dict(zip(timeline.positions, steps))
    assert by_position[3.25] == Step(3, 3, 0.0)
    assert by_position[3.5] == Step(4, 4, 0.0) and by_position[3.75] == Step(4, 4, 0.0)
    assert by_position[4.25] == Step(4, 5, 0.25)


def test_plan_spreads_held_frames_evenly():
    # The issue's example: content 0,0,1,1,2,2 -> the distinct drawings sit at frames 0, 2, 4.
    timeline = slow_timeline(6, [Segment(0, 5, 2)])
    steps = plan(timeline, duplicates=[1, 3, 5])
    assert steps[:5] == [Step(0, 0, 0.0), Step(0, 2, 0.25), Step(0, 2, 0.5), Step(0, 2, 0.75), Step(2, 2, 0.0)]
    assert steps[8:] == [Step(4, 4, 0.0), Step(4, 4, 0.0), Step(5, 5, 0.0)]  # nothing follows drawing 2: held


@moderate
@given(st.integers(2, 30), st.integers(2, 3), st.integers(2, 6), st.booleans())
def test_plan_turns_animation_on_twos_into_even_motion(drawings, hold, factor, smooth):
    count = drawings * hold  # each drawing shown `hold` times
    duplicates = [k for k in range(count) if k % hold]
    timeline = smooth_timeline(count, factor) if smooth else slow_timeline(count, [Segment(0, count - 1, factor)])
    steps = plan(timeline, duplicates=duplicates)
    last_key = (drawings - 1) * hold
    # The drawing each output frame shows, in drawing units (frame k shows drawing k // hold).
    drawn = [
        (step.left + step.t * (step.right - step.left)) / hold
        for step, position in zip(steps, timeline.positions)
        if position <= last_key
    ]
    np.testing.assert_allclose(np.diff(drawn), 1 / (hold * factor), atol=1e-12)


def test_plan_keeps_duplicates_outside_slowed_ranges_untouched():
    timeline = slow_timeline(12, [Segment(6, 10, 2)])
    steps = plan(timeline, duplicates=[3, 7, 9])
    assert steps[:6] == [Step(k, k, 0.0) for k in range(6)]  # 3 is outside: its own frame, bit-identical
    positions = list(timeline.positions)
    assert steps[positions.index(7.0)] == Step(6, 8, 0.5)  # a held frame inside: an in-between of the drawings
    assert steps[positions.index(8.0)] == Step(8, 8, 0.0)  # a distinct drawing: copied
    assert steps[positions.index(10.0)] == Step(10, 10, 0.0)  # the range's end frame: always its own copy


def test_held_range_ends_anchor_the_motion():
    # Content 0,0,1,1,2,2,3,3 with the range 1..5: frame 1 (a repeat of 0) starts the range and frame 5 (a repeat
    # of 4) ends it. Both are copied as themselves, so the motion runs 1 -> 2 -> 4 and then holds until 5.
    timeline = slow_timeline(8, [Segment(1, 5, 2)])
    steps = plan(timeline, duplicates=[1, 3, 5, 7])
    by_position = dict(zip(timeline.positions, steps))
    assert by_position[1.0] == Step(1, 1, 0.0) and by_position[1.5] == Step(1, 2, 0.5)
    assert by_position[3.0] == Step(2, 4, 0.5) and by_position[3.5] == Step(2, 4, 0.75)
    assert by_position[4.5] == Step(4, 4, 0.0) and by_position[5.0] == Step(5, 5, 0.0)


def test_a_cut_is_never_a_duplicate():
    timeline = slow_timeline(8, [Segment(0, 7, 2)])
    steps = plan(timeline, cuts=[4], duplicates=[2, 3, 4])  # 4 listed as duplicate too: the cut wins
    for step in steps:
        assert not (step.left < 4 <= step.right and not step.is_copy)
    assert any(s.left == 4 and s.right == 5 for s in steps)
    # 1, 2, 3 show the same drawing and nothing distinct follows before the cut: they are held, not stretched.
    assert all(s.is_copy for s, p in zip(steps, timeline.positions) if 1 <= p < 3.5)


@pytest.mark.parametrize("bad", [[0], [10], [-1], [2.5], ["3"]])
def test_plan_rejects_bad_indices(bad):
    timeline = slow_timeline(10, [])
    with pytest.raises(InputError, match="scene cut"):
        plan(timeline, cuts=bad)
    with pytest.raises(InputError, match="duplicate"):
        plan(timeline, duplicates=bad)


@pytest.mark.parametrize("count,factor", [(26, 4), (2, 2), (11, 3), (5, 16)])
def test_interpolated_batches_in_either_convention(count, factor):
    """Deepshop's N x factor and core ComfyUI's (N - 1) x m + 1 both put frame k at range time k / factor; the
    endpoints convention simply stops at the last source frame."""
    ours = interpolated_batch(count, factor, count * factor)
    core = interpolated_batch(count, factor, (count - 1) * factor + 1)
    assert (ours.convention, core.convention) == ("deepshop", "endpoints")
    np.testing.assert_array_equal(core.positions, np.arange((count - 1) * factor + 1) / factor)
    np.testing.assert_array_equal(ours.positions[:len(core.positions)], core.positions)
    assert core.positions[-1] == count - 1
    assert "(N - 1) x m + 1" in core.describe(count) and "N x factor" in ours.describe(count)


def test_a_non_integer_factor_has_only_deepshops_convention():
    assert interpolated_batch(26, 2.5, 65).convention == "deepshop"
    with pytest.raises(InputError, match="gives 65"):
        interpolated_batch(26, 2.5, 63)


@pytest.mark.parametrize("frames,hint", [(100, None), (51, "2x in the \\(N - 1\\) x m \\+ 1"),
                                         (52, "2x in Deepshop's N x factor")])
def test_a_batch_that_fits_neither_convention_says_what_would_fit(frames, hint):
    with pytest.raises(InputError, match="interpolated has %d frames but a 4x interpolation of the 26-frame range "
                                         "gives 104 \\(Deepshop Interpolate\\) or 101" % frames) as caught:
        interpolated_batch(26, 4, frames)
    if hint:
        assert re.search(hint, str(caught.value))
    else:
        assert "it fits" not in str(caught.value)
