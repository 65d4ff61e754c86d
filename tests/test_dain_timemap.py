"""DAIN padding and time mapping, without paddle: a fake model that is exactly linear in time.

With ``model(x, y, t) = x + (y - x) * t`` every correct method returns ``f0 + (f1 - f0) * t_true`` where t_true is
the time the frame truly stands for; a frame returned for a time it was not computed for would show.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepshop_core.engines.dain.timemap import (
    from_model,
    grid_times,
    map_times,
    pad_amounts,
    to_model,
)


@pytest.mark.parametrize("size, pads", [
    (360, (12, 12)), (720, (24, 24)), (640, (32, 32)), (128, (32, 32)), (1080, (36, 36)), (50, (39, 39)),
    (51, (38, 39)), (1, (63, 64)),
])
def test_pad_amounts_follow_ppgan(size, pads):
    assert pad_amounts(size) == pads
    total = size + sum(pads)
    assert total % 128 == 0 or total % 128 == 64


def test_pad_crop_round_trip():
    rng = np.random.default_rng(1)
    f = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    pads = (pad_amounts(37), pad_amounts(53))
    x = to_model(f, pads)
    assert x.shape == (3, 128, 128) and x.dtype == np.float32
    assert x[:, 0, 0].tolist() == pytest.approx((f[0, 0] / 255.0).tolist())  # edge padding
    assert np.array_equal(from_model(x, pads, 37, 53), f)


class Linear:
    def __init__(self, n: int):
        self.n, self.calls = n, []

    def __call__(self, a, b, ts):
        self.calls.append(None if ts is None else list(ts))
        ts = grid_times(self.n) if ts is None else ts
        return [a + (b - a) * t for t in ts]


A = np.zeros(4, np.float64)
B = np.ones(4, np.float64)


def check(frames, actual, times, tol):
    assert len(frames) == len(actual) == len(times)  # one frame for every time asked for, none left out
    for f, t_true, t in zip(frames, actual, times):
        assert abs(t_true - t) <= tol
        assert np.allclose(f, t_true, atol=1e-12)  # the frame is the interpolation at the time reported


def test_grid_times_come_from_one_run():
    m = Linear(3)
    frames, actual = map_times(m, A, B, [0.75, 0.25, 0.5, 0.5], 3, retimable=False)
    assert m.calls == [None]
    assert actual == [0.75, 0.25, 0.5, 0.5]
    check(frames, actual, [0.75, 0.25, 0.5, 0.5], 0)


def test_no_zip_mistiming():
    """ppgan pairs outputs with its own times by zip: asking N=3 for t=0.5 would give the 0.25 frame."""
    m = Linear(3)
    frames, actual = map_times(m, A, B, [0.5], 3, retimable=False)
    assert actual == [0.5] and np.allclose(frames[0], 0.5)


def test_retimed_runs_are_exact_and_batched():
    m = Linear(2)
    times = [0.4, 0.8, 0.2, 0.6, 0.1]
    frames, actual = map_times(m, A, B, times, 2, retimable=True)
    assert actual == times
    assert m.calls == [[0.4, 0.8], [0.2, 0.6], [0.1, 0.1]]
    check(frames, actual, times, 0)


def test_mixed_grid_and_retimed():
    m = Linear(1)
    frames, actual = map_times(m, A, B, [0.4, 0.5, 0.8], 1, retimable=True)
    assert m.calls == [None, [0.4], [0.8]]
    check(frames, actual, [0.4, 0.5, 0.8], 0)


def test_refinement_dyadic_is_exact():
    m = Linear(1)
    frames, actual = map_times(m, A, B, [0.25, 0.75, 0.375], 1, retimable=False)
    assert actual == [0.25, 0.75, 0.375]
    assert len(m.calls) == 4  # (0,1) -> 0.5; (0,.5) -> .25; (.5,1) -> .75; (.25,.5) -> .375
    check(frames, actual, [0.25, 0.75, 0.375], 0)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 5), times=st.lists(st.floats(0.001, 0.999), min_size=1, max_size=5),
       tol=st.sampled_from([1e-2, 1e-3, 1e-4]))
def test_refinement_error_is_bounded(n, times, tol):
    m = Linear(n)
    frames, actual = map_times(m, A, B, times, n, retimable=False, refine_tol=tol)
    check(frames, actual, times, tol)
    # each extra run shrinks the interval around t by N+1: the cost is logarithmic in 1/tol
    bound = len(set(times)) * (int(np.ceil(np.log(1 / tol) / np.log(n + 1))) + 1)
    assert len(m.calls) <= bound


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 7), times=st.lists(st.floats(0.001, 0.999), min_size=1, max_size=9))
def test_retimed_is_exact(n, times):
    m = Linear(n)
    frames, actual = map_times(m, A, B, times, n, retimable=True)
    check(frames, actual, times, 1e-6)
