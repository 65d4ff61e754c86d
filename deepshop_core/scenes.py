"""Scene cuts and held (duplicate) frames, found on small per-frame signatures.

A signature is a few KB per frame (``signature``), so a caller can compute it while streaming the decode and keep
all of them; the detectors then look at the whole sequence.

Cuts (``find_cuts``): the colour difference between neighbouring frames must stand out from its neighbourhood
(like PySceneDetect's adaptive detector: ``CUT_RATIO`` times the mean of the ``CUT_WINDOW`` scores each side) and
exceed an absolute floor (``CUT_FLOOR``), so steady fast motion is not a cut. The colour distribution must change too
(``CUT_HISTOGRAM_FLOOR``): a sudden jerk of camera or subject moves the same colours around, a cut replaces them.
A change that is undone within a few frames (a flash, a passing occlusion) is not a cut either: if any frame just
before resembles any frame just after, the scene went on.

Held frames (``find_duplicates``): frame k is a duplicate when no spot of its small luma picture differs from frame
k-1 by more than ``DUPLICATE_TOLERANCE`` levels (codec noise averages out in the downscale; real motion does not)
and the mean difference stays below ``DUPLICATE_MEAN_TOLERANCE`` (a slow pan of soft texture changes every spot a
little, a held frame changes none).
A perfectly still shot has every frame "duplicate", and there is nothing to fix. So only short runs of held frames
(at most ``MAX_HOLD``) between real changes are reported: changes at least ``MOTION_CONTRAST`` times the run's own
differences, on both sides (one side may be the start or end of the clip). That is the pattern of animation on
twos/threes and of film transferred by repeating frames; long still stretches are left alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import cv2
import numpy as np

from .errors import InputError

LUMA_SIZE = (64, 36)  # (width, height) of the luma picture used for duplicates: 2304 bytes
COLOR_SIZE = (32, 18)  # (width, height) of the HSV picture used for cuts: 1728 bytes
SIGNATURE_LENGTH = LUMA_SIZE[0] * LUMA_SIZE[1] + COLOR_SIZE[0] * COLOR_SIZE[1] * 3
LUMA_BINS = 16  # histogram bins over 0..255 (the hue x saturation histogram has 8 x 4)

CUT_RATIO = 3.0  # a cut's score must be this many times its neighbours' mean (PySceneDetect's adaptive default)
CUT_FLOOR = 15.0  # and at least this mean HSV difference (0..255 scale; PySceneDetect's min_content_val)
CUT_WINDOW = 2  # neighbours each side for that mean
CUT_HISTOGRAM_FLOOR = 0.25  # and the colours must change: a jerk of the camera moves them, a cut replaces them
RETURN_WINDOW = 4  # frames each side compared to tell a flash (change undone within 3 frames) from a cut
RETURN_FRACTION = 0.5  # "resembles": a difference below this fraction of the cut's score

DUPLICATE_TOLERANCE = 7  # luma levels; measured: held frames of real footage <= 6, slight motion >= 10
DUPLICATE_MEAN_TOLERANCE = 0.6  # mean luma levels; measured: chaplin's held frames <= 0.35, a slow pan 1.2
MOTION_CONTRAST = 2  # the changes around a run of held frames are at least this many times the run's own
MAX_HOLD = 3  # longest run of held frames treated as held drawings (animation on fours); longer runs are stills


def signature(frame: np.ndarray) -> np.ndarray:
    """A small descriptor of one HxWx3 uint8 RGB frame: a 64x36 luma picture and a 32x18 HSV picture, flattened
    into one uint8 vector of ``SIGNATURE_LENGTH`` (4032) bytes, the same for every frame size."""
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        shape = getattr(frame, "shape", None)
        dtype = getattr(frame, "dtype", type(frame).__name__)
        raise InputError(f"frame of shape {shape} and type {dtype} is not an RGB picture: pass an HxWx3 uint8 array")
    # INTER_AREA averages whole blocks of pixels: codec noise cancels out, real change survives.
    luma = cv2.resize(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), LUMA_SIZE, interpolation=cv2.INTER_AREA)
    color = cv2.cvtColor(cv2.resize(frame, COLOR_SIZE, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2HSV_FULL)
    return np.concatenate([luma.ravel(), color.ravel()])


def find_cuts(signatures: Sequence[np.ndarray]) -> list[int]:
    """Indices k with a hard scene cut between frames k-1 and k, ascending (see the module doc)."""
    lumas, colors = _split(signatures)
    if len(lumas) < 2:
        return []
    scores = np.array([0.0] + [_color_distance(a, b) for a, b in pairwise(colors)])
    histograms = _histograms(lumas, colors)
    cuts = []
    for k in range(1, len(scores)):
        neighbours = np.concatenate([scores[max(1, k - CUT_WINDOW) : k], scores[k + 1 : k + 1 + CUT_WINDOW]])
        background = neighbours.mean() if len(neighbours) else 0.0
        if (
            scores[k] >= CUT_FLOOR
            and scores[k] >= CUT_RATIO * background
            and _histogram_distance(histograms[k - 1], histograms[k]) >= CUT_HISTOGRAM_FLOOR
            and not _scene_returns(colors, k, scores[k])
        ):
            cuts.append(k)
    return cuts


def find_duplicates(signatures: Sequence[np.ndarray]) -> list[int]:
    """Indices k whose frame (nearly) repeats frame k-1, in short runs between real changes, ascending."""
    lumas, _ = _split(signatures)
    if len(lumas) < 2:
        return []
    difference = np.abs(np.diff(lumas.astype(np.int16), axis=0))
    change = np.concatenate([[0], difference.max(axis=1)])
    mean_change = np.concatenate([[0], difference.mean(axis=1)])
    held = (change <= DUPLICATE_TOLERANCE) & (mean_change <= DUPLICATE_MEAN_TOLERANCE)
    duplicates = []
    k = 1
    while k < len(change):
        if not held[k]:
            k += 1
            continue
        run_end = k
        while run_end + 1 < len(change) and held[run_end + 1]:
            run_end += 1
        # k..run_end is a maximal run: each side is a real change or an end of the clip.
        sides = [change[j] for j in (k - 1, run_end + 1) if 1 <= j < len(change)]
        moving_around = bool(sides) and min(sides) >= MOTION_CONTRAST * max(change[k : run_end + 1].max(), 1)
        if run_end - k + 1 <= MAX_HOLD and moving_around:
            duplicates.extend(range(k, run_end + 1))
        k = run_end + 1
    return duplicates


def _split(signatures: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(luma pictures flattened, HSV pictures as int16 [n, h, w, 3]) of a sequence of signatures."""
    for i, sig in enumerate(signatures):
        if not isinstance(sig, np.ndarray) or sig.dtype != np.uint8 or sig.shape != (SIGNATURE_LENGTH,):
            raise InputError(
                f"signature {i} ({getattr(sig, 'shape', type(sig).__name__)}) was not made by scenes.signature: "
                f"compute every signature with deepshop_core.scenes.signature(frame)"
            )
    stacked = np.array(signatures, dtype=np.uint8).reshape(len(signatures), SIGNATURE_LENGTH)
    luma_length = LUMA_SIZE[0] * LUMA_SIZE[1]
    colors = stacked[:, luma_length:].reshape(len(signatures), COLOR_SIZE[1], COLOR_SIZE[0], 3)
    return stacked[:, :luma_length], colors.astype(np.int16)


def _color_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute HSV difference, hue taken around the colour circle (0..255 scale)."""
    difference = np.abs(a - b)
    difference[..., 0] = np.minimum(difference[..., 0], 256 - difference[..., 0])
    return float(difference.mean())


def _histograms(lumas: np.ndarray, colors: np.ndarray) -> np.ndarray:
    """Per frame: a 16-bin luma histogram and an 8x4 hue x saturation histogram, each summing to 1."""
    luma = np.stack([np.bincount(row // (256 // LUMA_BINS), minlength=LUMA_BINS) for row in lumas]) / lumas.shape[1]
    hsv = colors.reshape(len(colors), -1, 3)
    bins = (hsv[..., 0] // 32) * 4 + hsv[..., 1] // 64
    hue_saturation = np.stack([np.bincount(row, minlength=32) for row in bins]) / bins.shape[1]
    return np.concatenate([luma, hue_saturation], axis=1)


def _histogram_distance(a: np.ndarray, b: np.ndarray) -> float:
    """The larger of the two histograms' total variation distances (0: same distribution, 1: disjoint)."""
    luma, hue_saturation = np.abs(a - b)[:LUMA_BINS], np.abs(a - b)[LUMA_BINS:]
    return float(max(luma.sum(), hue_saturation.sum()) / 2)


def _scene_returns(colors: np.ndarray, k: int, score: float) -> bool:
    """Whether some frame shortly before k resembles some frame from k on: then the change at k was undone."""
    before = range(max(0, k - RETURN_WINDOW), k)
    after = range(k, min(len(colors), k + RETURN_WINDOW))
    return any(
        _color_distance(colors[i], colors[j]) < RETURN_FRACTION * score
        for i in before
        for j in after
        if (i, j) != (k - 1, k)
    )
