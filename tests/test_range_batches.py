"""A range and its interpolated batch as the five-node path hands them on: selecting a range in a loaded window, and
the recipe Slow Motion Retime follows to put a batch interpolated elsewhere back into its clip."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepshop_core.errors import InputError
from deepshop_core.range_batches import (
    SelectedRange,
    bracket,
    interpolated_batch,
    retime_batch,
    select_range,
)


def test_a_range_in_a_window_counts_from_the_clips_start():
    window = select_range("110:120", 40, Fraction(25), offset=100, total=300)
    assert (window.start, window.end, window.source_count) == (10, 20, 40)
    assert select_range("4.4s:4.8s", 40, 25, offset=100, total=300).start == 10  # seconds of the whole clip
    with pytest.raises(InputError, match="outside the loaded frames 100..139"):
        select_range("90:120", 40, 25, offset=100, total=300)
    with pytest.raises(InputError, match="ends past the last frame"):
        select_range("10:50", 40, 25)


def test_bracket_finds_the_neighbours_and_the_weight_towards_the_right_one():
    left, right, weight = bracket(np.array([0.0, 0.25, 0.5, 0.75]), np.array([0.0, 0.3, 0.75, 2.0]))
    assert left.tolist() == [0, 1, 2, 2] and right.tolist() == [1, 2, 3, 3]
    assert weight == pytest.approx([0.0, 0.2, 1.0, 1.0])
    single = bracket(np.array([0.0]), np.array([0.3, 0.6]))
    assert [a.tolist() for a in single] == [[0, 0], [0, 0], [0.0, 0.0]]


@pytest.mark.parametrize("convention", ["deepshop", "endpoints"])
def test_without_a_ramp_every_frame_is_a_clip_frame_or_one_interpolated_frame(convention):
    """Deepshop Interpolate's N x factor frames and core's (N - 1) x m + 1 frames both give each output time
    exactly: no mixing, and the interpolated frame shown is the one made for that very time."""
    selected = SelectedRange(10, 20, 40, Fraction(25))
    frames = 11 * 4 if convention == "deepshop" else 10 * 4 + 1
    recipe = retime_batch(selected, 4, 0.0, frames)
    batch = interpolated_batch(11, 4, frames)
    assert batch.convention == convention
    assert len(recipe.timeline) == 40 + 10 * 3
    positions = recipe.timeline.positions
    copied = recipe.clip >= 0
    assert np.array_equal(recipe.clip[copied], positions[copied].astype(int))
    assert np.all(positions[~copied] % 1 > 0) and np.all(recipe.weight[~copied] == 0)
    assert np.allclose(batch.positions[recipe.left[~copied]], positions[~copied] - 10)
    assert copied.sum() == 40 and (~copied).sum() == 10 * 3  # every source frame once, 3 in-betweens per pair


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 30), st.sampled_from([2, 3, 4, 8]), st.floats(0.5, 6.0))
def test_with_a_ramp_each_time_lies_between_the_two_frames_mixed(span, factor, ramp):
    """A ramp's times fall between interpolated frames (1/factor apart): the recipe mixes the two around it, with
    the weight of its place between them; times outside the batch's span are never asked for."""
    ramp = min(ramp, span / 2)
    selected = SelectedRange(5, 5 + span, span + 12, Fraction(30))
    recipe = retime_batch(selected, factor, ramp, (span + 1) * factor)
    grid = interpolated_batch(span + 1, factor, (span + 1) * factor).positions
    inside = recipe.clip < 0
    assert inside.any()
    offsets = recipe.timeline.positions[inside] - 5
    shown = grid[recipe.left[inside]] * (1 - recipe.weight[inside]) + grid[recipe.right[inside]] * recipe.weight[inside]
    assert np.allclose(shown, offsets, atol=1e-9)
    assert np.all(grid[recipe.right[inside]] - grid[recipe.left[inside]] <= 1 / factor + 1e-9)


def test_a_batch_in_neither_convention_is_refused_with_the_factor_it_fits():
    with pytest.raises(InputError, match="fits 3x in the \\(N - 1\\) x m \\+ 1 convention"):
        retime_batch(SelectedRange(0, 10, 20, Fraction(25)), 4, 0.0, 31)
