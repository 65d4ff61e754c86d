"""Four-frame (acceleration-aware) motion: the flow engine given a pair's neighbours, and the pipeline giving them.
Quality on real footage is measured by bench/quality.py (``--sets real``, the ``4f`` rows), not here."""

from __future__ import annotations

import numpy as np
import pytest

from deepshop_core import engines, interpolate_frames
from deepshop_core.errors import InputError
from deepshop_core.plan import Neighbours
from deepshop_core.timeline import smooth_timeline
from tests.support.images import psnr, texture

H, W, SIDE = 192, 320, 56


def scene(x: float, background: np.ndarray, patch: np.ndarray) -> np.ndarray:
    """The background with the textured square's left edge at ``x`` (sub-pixel, bilinear), row 68."""
    import cv2

    frame = background.copy()
    shift = np.float32([[1, 0, x - int(x)], [0, 1, 0]])
    moved = cv2.warpAffine(patch, shift, (SIDE + 1, SIDE), borderMode=cv2.BORDER_REPLICATE)[:, :SIDE]
    frame[68:68 + SIDE, int(x):int(x) + SIDE] = moved
    return frame


def clip(velocity: float, acceleration: float) -> tuple[list[np.ndarray], np.ndarray]:
    """Frames at times -1, 0, 1, 2 of a square moving right with this velocity and acceleration (pixels, frames)
    at time 0, over a still background, and the true frame at t = 0.5."""
    background, patch = texture(H, W, seed=1), texture(SIDE, SIDE + 1, seed=2)

    def at(time: float) -> np.ndarray:
        return scene(60 + velocity * time + acceleration * time * time / 2, background, patch)

    return [at(k) for k in (-1, 0, 1, 2)], at(0.5)


@pytest.fixture(scope="module")
def engine():
    e = engines.load("flow")
    yield e
    e.close()


def test_a_slowing_object_is_placed_where_it_is_not_where_linear_motion_puts_it(engine):
    # a square braking: x = 44, 60, 68, 68 at times -1, 0, 1, 2; truth at 0.5: 65, linear motion puts it at 64
    (before, f0, f1, after), truth = clip(velocity=12, acceleration=-8)
    two = engine.interpolate(f0, f1, [0.5])[0]
    four = engine.interpolate(f0, f1, [0.5], before=before, after=after)[0]
    assert psnr(four, truth) > psnr(two, truth) + 2.0, (psnr(four, truth), psnr(two, truth))  # measured +4.0


def test_constant_velocity_is_no_worse_with_four_frames(engine):
    (before, f0, f1, after), truth = clip(velocity=12, acceleration=0)
    two = engine.interpolate(f0, f1, [0.25, 0.5])
    four = engine.interpolate(f0, f1, [0.25, 0.5], before=before, after=after)
    assert psnr(four[1], truth) > psnr(two[1], truth) - 0.3


def test_without_both_neighbours_the_output_is_the_two_frame_one(engine):
    (before, f0, f1, after), _ = clip(velocity=12, acceleration=-8)
    two = engine.interpolate(f0, f1, [0.3, 0.5])
    for around in ({}, {"before": None, "after": None}, {"before": before}, {"after": after}):
        got = engine.interpolate(f0, f1, [0.3, 0.5], **around)
        assert all(np.array_equal(a, b) for a, b in zip(got, two)), around


def test_four_frame_output_is_deterministic_and_independent_of_what_came_before():
    # a run that saw the previous pair (its flows reused) and a fresh engine (all flows computed) give the same
    # bits: what makes chunked runs equal a single one
    frames, _ = clip(velocity=12, acceleration=-8)
    extra = np.roll(frames[3], 7, axis=1)
    seen, fresh = engines.load("flow"), engines.load("flow")
    try:
        seen.interpolate(frames[0], frames[1], [0.5], before=extra, after=frames[2])
        after_history = seen.interpolate(frames[1], frames[2], [0.25, 0.5], before=frames[0], after=frames[3])
        first = fresh.interpolate(frames[1], frames[2], [0.25, 0.5], before=frames[0], after=frames[3])
        again = fresh.interpolate(frames[1], frames[2], [0.25, 0.5], before=frames[0], after=frames[3])
    finally:
        seen.close()
        fresh.close()
    assert all(np.array_equal(a, b) and np.array_equal(a, c) for a, b, c in zip(after_history, first, again))


def test_four_frame_calls_are_exact_when_the_caller_reuses_its_arrays_or_slices_anew():
    # the kept flows are found by content: buffers refilled with other frames never get the old flows, and a batch
    # sliced anew on each access (new array objects, same pictures) still reuses them
    frames, _ = clip(velocity=12, acceleration=-8)
    other, _ = clip(velocity=-9, acceleration=5)
    engine, fresh = engines.load("flow"), engines.load("flow")
    buffers = [f.copy() for f in frames[:4]]
    try:
        engine.interpolate(buffers[1], buffers[2], [0.5], before=buffers[0], after=buffers[3])
        for buffer, frame in zip(buffers, other[:4]):
            buffer[:] = frame
        got = engine.interpolate(buffers[1], buffers[2], [0.5], before=buffers[0], after=buffers[3])
        want = fresh.interpolate(other[1], other[2], [0.5], before=other[0], after=other[3])
        assert np.array_equal(got[0], want[0])
        fresh.close()
        fresh = engines.load("flow")
        batch = np.stack([*other, frames[0]])  # five different pictures
        pairs = []
        fresh._pair = lambda a, b, pair=fresh._pair: pairs.append(1) or pair(a, b)
        fresh.interpolate(batch[1], batch[2], [0.5], before=batch[0], after=batch[3])
        fresh.interpolate(batch[2], batch[3], [0.5], before=batch[1], after=batch[4])
        assert len(pairs) == 4  # three for the first call; the second's are kept but for its later pair
    finally:
        engine.close()
        fresh.close()


def test_a_neighbour_of_another_size_is_refused(engine):
    (before, f0, f1, after), _ = clip(velocity=12, acceleration=-8)
    with pytest.raises(InputError, match="differ in size"):
        engine.interpolate(f0, f1, [0.5], before=before[:-2], after=after)


# ------------------------------------------------------------------------------------------------ the pipeline
def test_neighbours_stop_at_the_clip_edges_cuts_and_held_frames():
    around = Neighbours(count=20, spans=((0, 19),), breaks=frozenset({8, 14}))
    assert around.around(0, 1) == (None, 2)  # clip start
    assert around.around(18, 19) == (17, None)  # clip end
    assert around.around(4, 5) == (3, 6)
    assert around.around(8, 9) == (None, 10)  # 8 starts a shot (or repeats 7): 7 is across it
    assert around.around(6, 7) == (5, None)  # 8, after the pair, lies across it
    assert around.around(12, 13) == (11, None)  # 14 repeats 13 or starts a shot
    assert around.around(15, 16) == (None, 17)  # 14 is held: its picture is older than its place
    assert around.around(3, 5) == (None, None)  # a pair bridging a held frame: not evenly spaced
    outside = Neighbours(count=40, spans=((10, 20),), breaks=frozenset())
    # never past the range's ends (9 and 21 exist): the range rendered from its own frames alone gives the same
    assert outside.around(10, 11) == (None, 12)
    assert outside.around(11, 12) == (10, 13)
    assert outside.around(19, 20) == (18, None)


class Recorder(engines.Engine):
    """An engine that reads neighbours and records, per pair, which source frames it was given (frames carry
    their index in pixel 0)."""

    info = engines.EngineInfo("recorder", "records the frames it is given", context_frames=1)

    def __init__(self):
        self.stats = engines.EngineStats()
        self.seen: list[tuple] = []

    def interpolate(self, frame0, frame1, times, *, before=None, after=None):
        index = (lambda f: None if f is None else int(f[0, 0, 0]))
        self.seen.append((index(before), index(frame0), index(frame1), index(after)))
        return [frame0.copy() for _ in times]



class TwoFrames(Recorder):
    """An engine that does not read neighbours: called with the pair alone (a keyword would raise here)."""

    info = engines.EngineInfo("two frames", "records the pairs it is given")

    def interpolate(self, frame0, frame1, times):
        return super().interpolate(frame0, frame1, times)


def test_context_frames_are_declared_by_each_engine_class(engine):
    assert engines.describe("flow").context_frames == engine.info.context_frames == 1
    assert engines.describe("blend").context_frames == engines.describe("dain").context_frames == 0
    assert Recorder().info.context_frames == 1 and TwoFrames().info.context_frames == 0


def numbered_clip(cut_at: int, count: int = 12) -> list[np.ndarray]:
    """Frames whose pixel 0 is their index, two very different shots split at ``cut_at``."""
    a, b = texture(64, 96, seed=3), texture(64, 96, seed=4)
    frames = []
    for i in range(count):
        f = np.roll(a if i < cut_at else b, 2 * i, axis=1).copy()
        f[0, 0] = i
        frames.append(f)
    return frames


def test_the_pipeline_gives_neighbours_within_the_shot_only():
    frames = numbered_clip(cut_at=6)
    recorder = Recorder()
    list(interpolate_frames(frames, smooth_timeline(len(frames), 2), recorder))
    assert recorder.seen[0] == (None, 0, 1, 2)  # the clip's first pair
    assert recorder.seen[-1] == (9, 10, 11, None)  # its last
    pairs = {(f0, f1): (b, a) for b, f0, f1, a in recorder.seen}
    assert (5, 6) not in pairs  # the cut is held, not morphed
    assert pairs[(4, 5)] == (3, None) and pairs[(6, 7)] == (None, 8)  # nothing across the cut
    assert pairs[(2, 3)] == (1, 4)
    two = TwoFrames()
    list(interpolate_frames(frames, smooth_timeline(len(frames), 2), two))
    assert [s[1:3] for s in two.seen] == [s[1:3] for s in recorder.seen]
    assert all(s[0] is None and s[3] is None for s in two.seen)
