"""Scene cuts and held frames, on real footage from ../shared/testdata.

Decoding is done with PyAV directly, so these tests do not depend on deepshop_core.media.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from deepshop_core.errors import InputError
from deepshop_core.scenes import (
    MAX_HOLD,
    SIGNATURE_LENGTH,
    find_cuts,
    find_duplicates,
    signature,
)
from deepshop_core.synthetic import Scene
from tests.support.images import pan

BIKES_CUT_SECONDS = [1.20, 3.04, 5.48, 7.48, 9.68]  # from testdata/README.md, 25 fps


@dataclass(frozen=True)
class Decoded:
    signatures: list[np.ndarray]
    frames: list[np.ndarray]  # only the first few, kept to build altered clips
    held: list[int]  # frames whose picture repeats the previous one at full resolution (see _repeats_previous)


def _repeats_previous(frame: np.ndarray, previous: np.ndarray) -> bool:
    """Ground truth at full resolution: nothing changed beyond codec noise, on average under 1 level and in 99.9% of
    the values within 25 levels. Measured on these clips: held frames <= 0.84 and <= 20; the slightest real motion
    (the end of chaplin, a slow stretch of bikes) >= 0.97 on average or >= 53 in places."""
    difference = np.abs(frame.astype(np.int16) - previous)
    return difference.mean() < 1 and np.count_nonzero(difference > 25) <= 0.001 * difference.size


def _decode(path: Path, keep: int = 0) -> Decoded:
    signatures, frames, held, previous = [], [], [], None
    with av.open(str(path)) as container:
        for index, picture in enumerate(container.decode(video=0)):
            frame = picture.to_ndarray(format="rgb24")
            signatures.append(signature(frame))
            if index < keep:
                frames.append(frame)
            if previous is not None and _repeats_previous(frame, previous):
                held.append(index)
            previous = frame
    return Decoded(signatures, frames, held)


@pytest.fixture(scope="module")
def bikes(videos) -> Decoded:
    return _decode(videos / "skv_bikes.mp4")


@pytest.fixture(scope="module")
def chaplin(videos) -> Decoded:
    return _decode(videos / "mpy_chaplin.mp4", keep=130)


@pytest.fixture(scope="module")
def cockatoo(videos) -> Decoded:
    return _decode(videos / "cockatoo.mp4", keep=40)


def _reencoded(frame: np.ndarray, seed: int) -> np.ndarray:
    """A copy of ``frame`` with noise like a second pass through a codec (a repeated frame is rarely bit-exact)."""
    noise = np.random.default_rng(seed).integers(-4, 5, frame.shape, dtype=np.int16)
    return np.clip(frame + noise, 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------------------------------------------------
# Signatures


def test_signatures_are_small_and_the_same_for_every_frame_size():
    rng = np.random.default_rng(0)
    for shape in [(720, 1280, 3), (272, 640, 3), (144, 176, 3), (7, 5, 3)]:
        sig = signature(rng.integers(0, 256, shape, dtype=np.uint8))
        assert sig.shape == (SIGNATURE_LENGTH,) and sig.dtype == np.uint8 and sig.nbytes <= 4096


@pytest.mark.parametrize(
    "frame",
    [np.zeros((10, 10), np.uint8), np.zeros((10, 10, 4), np.uint8), np.zeros((10, 10, 3), np.float32), [[0, 0, 0]]],
)
def test_signature_rejects_what_is_not_an_rgb_frame(frame):
    with pytest.raises(InputError, match="HxWx3 uint8"):
        signature(frame)


def test_detectors_reject_foreign_signatures():
    with pytest.raises(InputError, match=r"scenes\.signature"):
        find_cuts([np.zeros(10, np.uint8)])
    with pytest.raises(InputError, match=r"scenes\.signature"):
        find_duplicates([signature(np.zeros((4, 4, 3), np.uint8)), np.zeros(SIGNATURE_LENGTH, np.float32)])


def test_tiny_inputs():
    one = [signature(np.zeros((8, 8, 3), np.uint8))]
    assert find_cuts([]) == [] and find_duplicates([]) == []
    assert find_cuts(one) == [] and find_duplicates(one) == []


# --------------------------------------------------------------------------------------------------------------------
# Cuts


def test_the_five_hard_cuts_of_bikes_are_found(bikes):
    cuts = find_cuts(bikes.signatures)
    assert len(bikes.signatures) == 250 and len(cuts) == 5
    for cut, seconds in zip(cuts, BIKES_CUT_SECONDS):
        assert abs(cut - seconds * 25) <= 1, (cuts, BIKES_CUT_SECONDS)


def test_walking_people_and_a_fast_bird_are_not_cuts(chaplin, cockatoo):
    # mpy_chaplin: one continuous shot of people walking down a street; cockatoo: one close-up shot of a bird
    # moving its head fast, with sudden jerks (frame 134).
    assert find_cuts(chaplin.signatures) == []
    assert find_cuts(cockatoo.signatures) == []


def test_a_flash_is_not_a_cut(chaplin):
    flashed = [frame.copy() for frame in chaplin.frames[:60]]
    for k in (30, 31):  # two frames almost white, like a photographer's flash
        flashed[k] = (flashed[k] * 0.2 + 204).astype(np.uint8)
    assert find_cuts([signature(frame) for frame in flashed]) == []


def test_a_splice_of_two_clips_is_one_cut(chaplin, bikes):
    spliced = chaplin.signatures[:60] + bikes.signatures[80:130]  # bikes has no cut in 80..130
    assert find_cuts(spliced) == [60]


def _mix(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    return np.clip(a * (1 - t) + b.astype(np.float32) * t + 0.5, 0, 255).astype(np.uint8)


def test_a_cut_between_shots_of_the_same_palette_is_found(chaplin, cockatoo):
    # Two distant parts of one shot, and a shot cut to itself mirrored: same lighting, same colour histogram.
    distant = chaplin.signatures[:30] + chaplin.signatures[100:130]
    mirrored = cockatoo.frames[:20] + [np.ascontiguousarray(f[:, ::-1]) for f in cockatoo.frames[20:40]]
    assert find_cuts(distant) == [30]
    assert find_cuts([signature(frame) for frame in mirrored]) == [20]


@pytest.mark.parametrize("length", [4, 8, 16])
def test_fades_and_dissolves_are_not_cuts(chaplin, cockatoo, length):
    black = np.zeros_like(cockatoo.frames[0])
    fade_in = [black] * 6 + [_mix(black, f, min(1, (i + 1) / (length + 1))) for i, f in enumerate(cockatoo.frames)]
    fade_out = [_mix(f, black, min(1, (i + 1) / (length + 1))) for i, f in enumerate(cockatoo.frames)] + [black] * 6
    a = cockatoo.frames[:40]
    b = [cv2.resize(f, a[0].shape[1::-1]) for f in chaplin.frames[:30]]  # in cockatoo's size
    dissolve = a[:20] + [_mix(a[20 + i], b[i], (i + 1) / (length + 1)) for i in range(length)] + b[length:]
    for frames in (fade_in, fade_out[-30:], dissolve):
        assert find_cuts([signature(frame) for frame in frames]) == []


def test_a_jerk_of_the_camera_is_not_a_cut(cockatoo):
    # A window half the picture wide that creeps 2 px a frame, then jumps a sixth of its own width in one frame.
    h, w = cockatoo.frames[0].shape[:2]
    x = [2 * i + (w // 12 if i >= 15 else 0) for i in range(30)]
    frames = [np.ascontiguousarray(f[:, x[i] : x[i] + w // 2]) for i, f in enumerate(cockatoo.frames[:30])]
    assert find_cuts([signature(frame) for frame in frames]) == []


# A camera pan (as bench/cuts.py builds them): a 320x180 window sliding over a larger moving picture, bouncing at its
# edges; steady at 20, 40 and 60 px a frame, and a whip (creeping, then 60 px a frame, then creeping again).
PANS = {"20 px": [20.0] * 40, "40 px": [40.0] * 40, "60 px": [60.0] * 40,
        "whip": [2.0] * 12 + [10, 30, 60, 60, 30, 10] + [2.0] * 22}
WINDOW = (320, 180)


def _signatures(frames) -> list[np.ndarray]:
    return [signature(frame) for frame in frames]


def _synthetic_world(seed: int, frames: int) -> list[np.ndarray]:
    """The project's synthetic scene (textured discs crossing a textured ground) seen from three times closer, at
    960x360: detail from a few pixels to a hundred, like footage rather than noise."""
    scene = Scene.make(320, 120, seed=seed)
    return [cv2.resize(scene.frame(i / 25), (960, 360), interpolation=cv2.INTER_CUBIC) for i in range(frames)]


@pytest.fixture(scope="module")
def synthetic_world():
    return _synthetic_world(4, 40)


@pytest.mark.parametrize("speeds", PANS.values(), ids=PANS)
def test_a_fast_pan_over_a_synthetic_scene_is_not_a_cut(synthetic_world, speeds):
    assert find_cuts(_signatures(pan(synthetic_world, speeds, WINDOW))) == []


def test_a_cut_after_a_pan_over_the_synthetic_scene_is_found(synthetic_world):
    # The material can show a cut: the whip pan, then another synthetic scene (not panned).
    elsewhere = [frame[90:270, 320:640].copy() for frame in _synthetic_world(9, 20)]
    assert find_cuts(_signatures(pan(synthetic_world, PANS["whip"], WINDOW) + elsewhere)) == [40]


@pytest.fixture(scope="module")
def cockatoo_world(cockatoo) -> list[np.ndarray]:
    """cockatoo's first 40 frames (a bird moving its head) at 640x360, as bench/cuts.py pans over them."""
    return [cv2.resize(f, (640, 360), interpolation=cv2.INTER_AREA) for f in cockatoo.frames[:40]]


@pytest.mark.parametrize("speeds", PANS.values(), ids=PANS)
def test_a_fast_pan_over_real_footage_is_not_a_cut(cockatoo_world, speeds):
    assert find_cuts(_signatures(pan(cockatoo_world, speeds, WINDOW))) == []


def test_a_cut_after_a_pan_over_real_footage_is_found(cockatoo_world, chaplin):
    # bench/cuts.py's "pan 30 px | chaplin": the pan, then a cut to chaplin's street.
    street = [cv2.resize(f, WINDOW, interpolation=cv2.INTER_AREA) for f in chaplin.frames[:20]]
    assert find_cuts(_signatures(pan(cockatoo_world, [30.0] * 40, WINDOW) + street)) == [40]


@pytest.mark.parametrize("sequence", ["tackle", "vietnam", "varanus-tree", "bike-trial", "burnout"])
def test_large_motion_from_a_standstill_or_on_threes_is_not_a_cut(davis22, sequence):
    # davis22 triplets with the largest motion (a rugby tackle, a crowd, a lizard, bikes): each change stands out
    # from the repeats around it, but it is motion, not a new shot. Two frames alone are not a cut either.
    folder = davis22
    paths = [folder / "input" / sequence / "frame10.png", folder / "gt" / sequence / "frame10i11.png",
             folder / "input" / sequence / "frame11.png"]
    a, b, c = [signature(np.ascontiguousarray(cv2.imread(str(p))[:, :, ::-1])) for p in paths]
    assert find_cuts([a, a, a, b, c, c, c]) == []
    assert find_cuts([a, a, a, b, b, b, c, c, c]) == []
    assert find_cuts([a, c]) == []


# --------------------------------------------------------------------------------------------------------------------
# Held frames


def test_held_frames_of_the_chaplin_transfer_are_found(chaplin):
    # mpy_chaplin is old film brought to 25 fps by showing about every third picture twice: those repeats are real
    # held frames (verified at full resolution), and exactly they are reported.
    assert len(chaplin.held) == 76
    assert find_duplicates(chaplin.signatures) == chaplin.held


def test_untouched_moving_clips_have_no_held_frames(bikes, cockatoo):
    assert bikes.held == [] and cockatoo.held == []
    assert find_duplicates(bikes.signatures) == []
    assert find_duplicates(cockatoo.signatures) == []


def test_inserted_repeats_are_found_exactly(cockatoo):
    frames = list(cockatoo.frames)
    frames.insert(26, _reencoded(frames[25], seed=1))  # frame 25 shown twice: the copy lands at 26
    frames.insert(11, _reencoded(frames[10], seed=2))  # frame 10 shown twice: the copy lands at 11 (and 26 -> 27)
    assert find_duplicates([signature(frame) for frame in frames]) == [11, 27]


@pytest.mark.parametrize("hold", [2, 3, MAX_HOLD + 1])
def test_animation_on_twos_threes_and_fours(cockatoo, hold):
    frames = [frame if i == 0 else _reencoded(frame, seed=i) for frame in cockatoo.frames[:12] for i in range(hold)]
    expected = [k for k in range(len(frames)) if k % hold]
    assert find_duplicates([signature(frame) for frame in frames]) == expected


def test_a_still_shot_is_not_reported(cockatoo):
    # Every frame of a still shot equals the previous one; there is no motion to even out, so nothing is reported,
    # neither in a clip that is all still nor in a still stretch longer than MAX_HOLD between motion.
    still = [_reencoded(cockatoo.frames[0], seed=i) for i in range(12)]
    assert find_duplicates([signature(frame) for frame in still]) == []
    pause = cockatoo.frames[:10] + [_reencoded(cockatoo.frames[9], seed=i) for i in range(MAX_HOLD + 1)]
    pause += cockatoo.frames[10:20]
    assert find_duplicates([signature(frame) for frame in pause]) == []


def _screen(lines: int, scroll: int = 0) -> np.ndarray:
    """A screen recording's frame: dark text on white, ``lines`` lines shown, scrolled up ``scroll`` pixels."""
    frame = np.full((180, 320, 3), 255, np.uint8)
    for i in range(lines):
        cv2.putText(frame, f"line {i} of the text", (10, 30 + 28 * i - scroll), cv2.FONT_HERSHEY_SIMPLEX, 0.8,
                    (20, 20, 20), 2)
    return frame


def test_a_still_screen_before_text_pops_in_is_a_real_hold():
    # A screen recording: the text scrolls and stops (two repeats), a line pops in (two repeats: two equal runs are
    # no cadence yet), another line (five repeats), then it scrolls again. None of these repeats is a duplicate:
    # bridging them would fade each new line in over the held frames, before it appears.
    frames = [_screen(3, scroll=8 * i) for i in range(6)]
    frames += [_screen(3, scroll=40)] * 2 + [_screen(4, scroll=40)] * 3 + [_screen(5, scroll=40)] * 6
    frames += [_screen(6, scroll=40 + 8 * i) for i in range(6)]
    assert find_duplicates([signature(f) for f in frames]) == []


def test_a_single_repeat_while_scrolling_is_a_duplicate():
    # One frame shown twice during motion: a dropped frame the recorder filled in, bridged.
    frames = [_screen(4, scroll=6 * i) for i in range(8)]
    frames.insert(5, frames[4].copy())
    assert find_duplicates([signature(f) for f in frames]) == [5]
