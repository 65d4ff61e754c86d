"""Scene cuts and held (duplicate) frames, found on small per-frame signatures.

A signature is a few KB per frame (``signature``), so a caller can compute it while streaming the decode and keep
all of them; the detectors then look at the whole sequence.

Cuts (``find_cuts``): the colour difference between neighbouring frames (mean absolute RGB difference of a small
picture) must exceed an absolute floor (``CUT_FLOOR``) and stand out from its neighbourhood (like PySceneDetect's
adaptive detector: ``CUT_RATIO`` times the mean of the ``CUT_WINDOW`` nearest changes each side), so steady fast
motion is not a cut. Repeated frames are skipped when looking for those neighbours: in animation on threes each new
drawing follows two repeats and would otherwise stand out. A change with no other change near it (two frames alone,
a jump between two stills) cannot stand out from anything: it is a cut only if the colours change too
(``CUT_HISTOGRAM_FLOOR``).
RGB, not hue and saturation: a fade or a dissolve changes every pixel by a small step per frame, spread evenly over
the transition, so it never stands out (hue and saturation jump when a black frame starts to brighten: that took
fades from black for cuts). A cut must survive motion compensation (``_compensated_difference``: each block of the
new frame matched to the best-fitting shifted block of the previous one): a jerk of the camera or a whip pan moves
the same picture around and compensates away, a cut replaces it, even between shots of the same palette (the colour
histogram check that used to stand here missed those). A change that is undone within a few frames (a flash, a
passing occlusion) is not a cut either: if any frame just before resembles any frame just after, the scene went on.
``bench/cuts.py`` measures all this against PySceneDetect and ffmpeg's scdet.

Held frames (``find_duplicates``): frame k repeats frame k-1 when no spot of its small luma picture differs by more
than ``DUPLICATE_TOLERANCE`` levels (codec noise averages out in the downscale; real motion does not) and the mean
difference stays below ``DUPLICATE_MEAN_TOLERANCE`` (a slow pan of soft texture changes every spot a little, a held
frame changes none). A repeat is a duplicate to bridge (interpolate across) only in the patterns a frame-rate
conversion makes, between real changes (at least ``MOTION_CONTRAST`` times the run's own differences, on both
sides; one side may be the start or end of the clip):
- a single repeat: a dropped or doubled frame, film on twos, 24 fps brought to 25 or 30 by repeating a picture;
- a run of 2 to ``MAX_HOLD`` repeats in a cadence: at least ``CADENCE_RUNS`` runs as long, each one changing frame
  after the last (animation on threes or fours).
Any other run of repeats is a real hold (a still screen, a pause before text pops in) and is kept as it is: bridging
it would start the next change early, as a fade over the held frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import cv2
import numpy as np

from .errors import InputError

LUMA_SIZE = (64, 36)  # (width, height) of the luma picture used for duplicates: 2304 bytes
COLOR_SIZE = (32, 18)  # (width, height) of the RGB picture used for cuts: 1728 bytes
SIGNATURE_LENGTH = LUMA_SIZE[0] * LUMA_SIZE[1] + COLOR_SIZE[0] * COLOR_SIZE[1] * 3

CUT_RATIO = 3.0  # a cut's score must be this many times its neighbours' mean (PySceneDetect's adaptive default)
CUT_FLOOR = 10.0  # and at least this mean RGB difference (0..255); bench/cuts.py: cuts >= 13, steady motion < 8
CUT_WINDOW = 2  # neighbouring changes each side for that mean (repeated frames skipped)
CUT_CONTEXT = 6  # looked for within this many frames each side
CUT_HISTOGRAM_FLOOR = 0.25  # a change with no other change around (two frames, two stills) must change the colours
COMPENSATED_FRACTION = 0.4  # after motion compensation a cut keeps >= 0.5 of its luma difference, a jerk <= 0.2
COMPENSATION_BLOCK = (16, 12)  # (width, height) of the blocks matched on the 64x36 luma picture
COMPENSATION_REACH = (12, 6)  # (x, y) largest shift tried, in luma pixels (a fifth of the width: a whip pan)
RETURN_WINDOW = 4  # frames each side compared to tell a flash (change undone within 3 frames) from a cut
RETURN_FRACTION = 0.5  # "resembles": a difference below this fraction of the cut's score

DUPLICATE_TOLERANCE = 7  # luma levels; measured: held frames of real footage <= 6, slight motion >= 10
DUPLICATE_MEAN_TOLERANCE = 0.6  # mean luma levels; measured: chaplin's held frames <= 0.35, a slow pan 1.2
MOTION_CONTRAST = 2  # the changes around a run of held frames are at least this many times the run's own
MAX_HOLD = 3  # longest run of repeats bridged in a cadence (animation on fours); longer runs are stills
CADENCE_RUNS = 3  # runs of 2..MAX_HOLD repeats are a cadence when at least this many follow one another


def signature(frame: np.ndarray) -> np.ndarray:
    """A small descriptor of one HxWx3 uint8 RGB frame: a 64x36 luma picture and a 32x18 RGB picture, flattened
    into one uint8 vector of ``SIGNATURE_LENGTH`` (4032) bytes, the same for every frame size."""
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        shape = getattr(frame, "shape", None)
        dtype = getattr(frame, "dtype", type(frame).__name__)
        raise InputError(f"frame of shape {shape} and type {dtype} is not an RGB picture: pass an HxWx3 uint8 array")
    # INTER_AREA averages whole blocks of pixels: codec noise cancels out, real change survives.
    luma = cv2.resize(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), LUMA_SIZE, interpolation=cv2.INTER_AREA)
    color = cv2.resize(frame, COLOR_SIZE, interpolation=cv2.INTER_AREA)
    return np.concatenate([luma.ravel(), color.ravel()])


def find_cuts(signatures: Sequence[np.ndarray]) -> list[int]:
    """Indices k with a hard scene cut between frames k-1 and k, ascending (see the module doc)."""
    lumas, colors = _split(signatures)
    if len(lumas) < 2:
        return []
    scores = np.array([0.0] + [_color_distance(a, b) for a, b in pairwise(colors)])
    pictures = lumas.reshape(len(lumas), LUMA_SIZE[1], LUMA_SIZE[0]).astype(np.float32)
    held, _ = _repeats(lumas)
    changes = np.flatnonzero(~held)[1:]  # frames that differ from the one before (frame 0 differs from nothing)
    cuts = []
    for k in changes:
        if scores[k] < CUT_FLOOR:
            continue
        # The neighbourhood is the nearest changes, repeats skipped: in animation on threes every new drawing
        # follows two repeats, and would stand out from them.
        before = changes[(changes >= k - CUT_CONTEXT) & (changes < k)][-CUT_WINDOW:]
        after = changes[(changes > k) & (changes <= k + CUT_CONTEXT)][:CUT_WINDOW]
        neighbours = scores[np.concatenate([before, after])]
        if len(neighbours):
            stands_out = scores[k] >= CUT_RATIO * neighbours.mean()
        else:  # no motion around to compare with (two frames, or a change between stills): only new colours tell
            stands_out = _histogram_distance(colors[k - 1], colors[k]) >= CUT_HISTOGRAM_FLOOR
        if (
            stands_out
            and _compensated_difference(pictures[k - 1], pictures[k])
            >= COMPENSATED_FRACTION * np.abs(pictures[k] - pictures[k - 1]).mean()
            and not _scene_returns(colors, k, scores[k])
        ):
            cuts.append(int(k))
    return cuts


def find_duplicates(signatures: Sequence[np.ndarray]) -> list[int]:
    """Indices k whose frame (nearly) repeats frame k-1 and is a duplicate to bridge, ascending (see the module doc:
    single repeats and cadences of short runs between real changes; other runs of repeats are real holds)."""
    lumas, _ = _split(signatures)
    if len(lumas) < 2:
        return []
    held, change = _repeats(lumas)
    runs = _runs(held)
    duplicates = []
    for i, (start, end) in enumerate(runs):
        # start..end is a maximal run: each side is a real change or an end of the clip.
        sides = [change[j] for j in (start - 1, end + 1) if 1 <= j < len(change)]
        moving_around = bool(sides) and min(sides) >= MOTION_CONTRAST * max(change[start : end + 1].max(), 1)
        length = end - start + 1
        if moving_around and (length == 1 or (length <= MAX_HOLD and _cadence(runs, i) >= CADENCE_RUNS)):
            duplicates.extend(range(start, end + 1))
    return duplicates


def _cadence(runs: list[tuple[int, int]], i: int) -> int:
    """How many runs, run ``i`` included, follow one another as long as it, each one changing frame after the last
    (animation on threes: two repeats, a new drawing, two repeats, ...)."""
    def same(a: int, b: int) -> bool:  # run b follows run a in the cadence
        return runs[b][0] == runs[a][1] + 2 and runs[b][1] - runs[b][0] == runs[a][1] - runs[a][0]

    first, last = i, i
    while first > 0 and same(first - 1, first):
        first -= 1
    while last + 1 < len(runs) and same(last, last + 1):
        last += 1
    return last - first + 1


def _repeats(lumas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(whether frame k repeats frame k-1, the largest luma difference from frame k-1), per frame; frame 0 repeats
    nothing."""
    difference = np.abs(np.diff(lumas.astype(np.int16), axis=0))
    change = np.concatenate([[0], difference.max(axis=1)])
    mean_change = np.concatenate([[0], difference.mean(axis=1)])
    held = (change <= DUPLICATE_TOLERANCE) & (mean_change <= DUPLICATE_MEAN_TOLERANCE)
    held[0] = False
    return held, change


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) index of each maximal run of True in ``flags``."""
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), (np.flatnonzero(edges == -1) - 1).tolist()))


def _split(signatures: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(luma pictures flattened, RGB pictures as int16 [n, h, w, 3]) of a sequence of signatures."""
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
    """Mean absolute RGB difference (0..255 scale)."""
    return float(np.abs(a - b).mean())


def _histogram_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Total variation distance (0: same, 1: disjoint) between the two RGB pictures' colour histograms (4 levels a
    channel: 64 bins)."""
    def histogram(picture: np.ndarray) -> np.ndarray:
        bins = picture.reshape(-1, 3) // 64
        return np.bincount(bins[:, 0] * 16 + bins[:, 1] * 4 + bins[:, 2], minlength=64) / len(bins)

    return float(np.abs(histogram(a) - histogram(b)).sum() / 2)


def _compensated_difference(previous: np.ndarray, current: np.ndarray) -> float:
    """Mean absolute luma difference left when each block of ``current`` is compared with the best-matching block of
    ``previous`` shifted by up to COMPENSATION_REACH (edges repeated): what motion cannot explain."""
    (bw, bh), (rx, ry) = COMPENSATION_BLOCK, COMPENSATION_REACH
    h, w = current.shape
    padded = np.pad(previous, ((ry, ry), (rx, rx)), mode="edge")
    best = np.full((h // bh, w // bw), np.inf, np.float32)
    for dy in range(-ry, ry + 1):
        for dx in range(-rx, rx + 1):
            shifted = padded[ry + dy : ry + dy + h, rx + dx : rx + dx + w]
            np.minimum(best, np.abs(current - shifted).reshape(h // bh, bh, w // bw, bw).mean(axis=(1, 3)), out=best)
    return float(best.mean())


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
