"""Scene-cut detection on clips with known cuts: Deepshop's detector against PySceneDetect and ffmpeg's scdet.

    python bench/cuts.py            # needs ../shared/testdata/videos; pip install '.[bench]' for the others

Clips (all frames in memory at 320x180, except skv_bikes at its own 640x272):
- ``skv_bikes.mp4`` as it is: 5 hard cuts (testdata README: 1.20, 3.04, 5.48, 7.48, 9.68 s at 25 fps);
- edits this script builds from the shared footage, each a list of frames with the true cut indices:
  hard cuts between different clips (different palettes); hard cuts between two distant parts of the same clip,
  and between a clip and itself mirrored or shifted by a third of the width (same palette, same colour histogram);
  fades to and from black (6 to 20 frames), dissolves (6 to 20 frames), flashes (1 to 2 white frames) and fast
  camera pans (a window panning over a 640x360 picture at up to 60 px a frame, with a whip), which are not cuts;
- the 22 large-motion triplets of ``davis22`` (sports, animals, vehicles: frame10, the true middle, frame11), as
  they are, starting from and stopping to a standstill (each end frame shown three times), and on threes (each
  frame shown three times, like animation): not cuts either.

A detection counts when it lands within one frame of a true cut (each true cut matched once). Per kind: true cuts,
precision and recall (precision is '-' where a detector found nothing and there was nothing to find), and the false
cuts found (for fades, dissolves, flashes and pans: each is a held frame Deepshop would show in a slowed range).

Detectors, on the same frames:
- Deepshop: ``scenes.find_cuts`` on ``scenes.signature`` of every frame;
- PySceneDetect (``scenedetect``): ContentDetector, AdaptiveDetector, HistogramDetector with their defaults, fed the
  frames directly (``min_scene_len`` 15 frames by default: every shot here is longer);
- ffmpeg ``scdet`` (imageio-ffmpeg's binary, default threshold 10) on the frames piped as raw video.

Writes bench/out/cuts.json and prints the table (Markdown).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import time
from dataclasses import dataclass, field
from fractions import Fraction

import cv2
import numpy as np
from common import TESTDATA, describe, machine, table, write_results

from deepshop_core import scenes
from deepshop_core.media.decode import read_frames

SIZE = (320, 180)  # (width, height) of the built clips
FPS = 25
TOLERANCE = 1  # frames between a detection and the true cut
BIKES_CUTS = [30, 76, 137, 187, 242]  # 1.20, 3.04, 5.48, 7.48, 9.68 s at 25 fps
KINDS = ("cut, real clip", "cut, different palette", "cut, similar palette", "fade", "dissolve", "flash", "fast pan",
         "large motion")


@dataclass
class Clip:
    name: str
    kind: str
    frames: list[np.ndarray]
    cuts: list[int] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------------- footage
def _load(name: str, size: tuple[int, int] = SIZE) -> list[np.ndarray]:
    return [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in read_frames(TESTDATA / "videos" / name)]


def _mix(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    return np.clip(a.astype(np.float32) * (1 - t) + b.astype(np.float32) * t + 0.5, 0, 255).astype(np.uint8)


def _join(*shots: list[np.ndarray]) -> tuple[list[np.ndarray], list[int]]:
    """Shots one after the other: the cuts are where each shot after the first begins (a fade or a dissolve is
    built as one shot: it has no cut)."""
    frames, cuts = [], []
    for shot in shots:
        if frames:
            cuts.append(len(frames))
        frames.extend(shot)
    return frames, cuts


def _fade(shot: list[np.ndarray], length: int, out: bool) -> list[np.ndarray]:
    """``shot`` with its last (``out``) or first ``length`` frames faded to / from black."""
    black = np.zeros_like(shot[0])
    frames = list(shot)
    for i in range(length):
        t = (i + 1) / (length + 1)
        at = len(frames) - length + i if out else i
        frames[at] = _mix(frames[at], black, t) if out else _mix(black, frames[at], t)
    return frames


def _dissolve(a: list[np.ndarray], b: list[np.ndarray], length: int) -> list[np.ndarray]:
    """``a`` then ``b``, the last ``length`` frames of ``a`` mixed with the first of ``b`` (both keep moving)."""
    mixed = [_mix(a[len(a) - length + i], b[i], (i + 1) / (length + 1)) for i in range(length)]
    return a[: len(a) - length] + mixed + b[length:]


def _pan(picture_frames: list[np.ndarray], speeds: list[float]) -> list[np.ndarray]:
    """A SIZE window moving over the (larger) frames at ``speeds`` px a frame, bouncing at the edges."""
    h, w = picture_frames[0].shape[:2]
    x, direction, out = 0.0, 1, []
    for frame, speed in zip(picture_frames, speeds):
        x += direction * speed
        if not 0 <= x <= w - SIZE[0]:
            direction = -direction
            x = min(max(x, 0), w - SIZE[0])
        y = (h - SIZE[1]) // 2
        out.append(np.ascontiguousarray(frame[y : y + SIZE[1], int(x) : int(x) + SIZE[0]]))
    return out


def build_clips() -> list[Clip]:
    bikes = _load("skv_bikes.mp4", (640, 272))
    chaplin, cockatoo = _load("mpy_chaplin.mp4"), _load("cockatoo.mp4")
    bunny, carphone = _load("skv_bigbuckbunny.mp4"), _load("skv_carphone_pristine.mp4")
    cockatoo_big = _load("cockatoo.mp4", (640, 360))
    clips = [Clip("skv_bikes.mp4", KINDS[0], bikes, BIKES_CUTS)]

    def add(name: str, kind: str, *shots: list[np.ndarray]) -> None:
        frames, cuts = _join(*shots)
        clips.append(Clip(name, kind, frames, cuts))

    mirror = lambda shot: [np.ascontiguousarray(f[:, ::-1]) for f in shot]  # noqa: E731
    shift = lambda shot: [np.roll(f, SIZE[0] // 3, axis=1) for f in shot]  # noqa: E731
    add("chaplin|cockatoo|bunny|carphone", KINDS[1], chaplin[0:30], cockatoo[0:30], bunny[0:30], carphone[0:30])
    add("carphone|chaplin|bunny|cockatoo", KINDS[1], carphone[60:90], chaplin[100:130], bunny[60:90],
        cockatoo[100:130])
    add("chaplin 0..30|chaplin 150..180|chaplin 60..90", KINDS[2], chaplin[0:30], chaplin[150:180], chaplin[60:90])
    add("cockatoo 0..30|cockatoo 200..230|cockatoo 100..130", KINDS[2], cockatoo[0:30], cockatoo[200:230],
        cockatoo[100:130])
    add("bunny 0..30|bunny 90..120", KINDS[2], bunny[0:30], bunny[90:120])
    add("carphone 0..30|carphone 80..110", KINDS[2], carphone[0:30], carphone[80:110])
    add("cockatoo|mirrored|shifted", KINDS[2], cockatoo[30:60], mirror(cockatoo[60:90]), shift(cockatoo[90:120]))
    add("chaplin|mirrored|shifted", KINDS[2], chaplin[30:60], mirror(chaplin[60:90]), shift(chaplin[90:120]))
    add("carphone|mirrored", KINDS[2], carphone[20:50], mirror(carphone[50:80]))
    black = [np.zeros((SIZE[1], SIZE[0], 3), np.uint8)] * 8
    for length in (6, 12, 20):
        add(f"fade in from black ({length})", KINDS[3], black + _fade(cockatoo[0:40], length, out=False))
        add(f"chaplin fade out, fade in bunny ({length})", KINDS[3],
            _fade(chaplin[0:40], length, out=True) + black + _fade(bunny[0:40], length, out=False))
        add(f"carphone fade out to black ({length})", KINDS[3], _fade(carphone[0:40], length, out=True) + black)
        add(f"cockatoo dissolve chaplin ({length})", KINDS[4], _dissolve(cockatoo[0:40], chaplin[0:40], length))
        add(f"bunny dissolve bunny 90.. ({length})", KINDS[4], _dissolve(bunny[0:40], bunny[90:130], length))
    # Added after the detector was tuned on the clips above (held out): the shortest transitions, cuts in motion.
    add("fade in from black (3)", KINDS[3], black + _fade(bunny[40:80], 3, out=False))
    add("chaplin fade out (3), fade in cockatoo (3)", KINDS[3],
        _fade(chaplin[120:160], 3, out=True) + black[:2] + _fade(cockatoo[140:180], 3, out=False))
    add("carphone dissolve cockatoo (3)", KINDS[4], _dissolve(carphone[40:80], cockatoo[150:190], 3))
    add("pan 30 px | chaplin 200..240", KINDS[1], _pan(cockatoo_big[200:240], [30.0] * 40), chaplin[200:240])
    add("chaplin 20..50|chaplin 200..230", KINDS[2], chaplin[20:50], chaplin[200:230])
    add("bunny 40..70|bunny 100..130 mirrored", KINDS[2], bunny[40:70], mirror(bunny[100:130]))
    white = np.full_like(chaplin[0], 255)
    for at, length in ((20, 1), (45, 2)):
        flashed = [(_mix(f, white, 0.8) if at <= i < at + length else f) for i, f in enumerate(cockatoo[:70])]
        add(f"cockatoo flash {length}", KINDS[5], flashed)
        flashed = [(_mix(f, white, 0.8) if at <= i < at + length else f) for i, f in enumerate(chaplin[:70])]
        add(f"chaplin flash {length}", KINDS[5], flashed)
    add("pan 20 px", KINDS[6], _pan(cockatoo_big[:60], [20.0] * 60))
    add("pan 40 px", KINDS[6], _pan(cockatoo_big[60:120], [40.0] * 60))
    whip = [2.0] * 20 + [10, 30, 60, 60, 30, 10] + [2.0] * 34
    add("whip pan to 60 px", KINDS[6], _pan(cockatoo_big[120:180], whip))
    jerk = [2.0] * 30 + [60.0] + [2.0] * 29
    add("one 60 px jerk", KINDS[6], _pan(cockatoo_big[180:240], jerk))
    davis = TESTDATA / "davis22"
    for folder in sorted((davis / "input").iterdir()) if davis.is_dir() else []:
        paths = [folder / "frame10.png", davis / "gt" / folder.name / "frame10i11.png", folder / "frame11.png"]
        a, b, c = [cv2.imread(str(p))[:, :, ::-1].copy() for p in paths]
        clips.append(Clip(f"davis22 {folder.name}", KINDS[7], [a, b, c]))
        clips.append(Clip(f"davis22 {folder.name} from a standstill", KINDS[7], [a, a, a, b, c, c, c]))
        clips.append(Clip(f"davis22 {folder.name} on threes", KINDS[7], [a, a, a, b, b, b, c, c, c]))
    return clips


# ---------------------------------------------------------------------------------------------------- detectors
def deepshop(frames: list[np.ndarray]) -> list[int]:
    return scenes.find_cuts([scenes.signature(f) for f in frames])


def pyscenedetect(kind: str):
    import scenedetect

    def detect(frames: list[np.ndarray]) -> list[int]:
        detector = getattr(scenedetect, kind)()
        at = lambda i: scenedetect.FrameTimecode(i, fps=Fraction(FPS))  # noqa: E731
        cuts: list[int] = []
        for i, frame in enumerate(frames):
            cuts += [c.frame_num for c in detector.process_frame(at(i), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))]
        cuts += [c.frame_num for c in detector.post_process(at(len(frames))) or []]
        return cuts

    return detect


def scdet(frames: list[np.ndarray]) -> list[int]:
    import imageio_ffmpeg

    h, w = frames[0].shape[:2]
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostats", "-f", "rawvideo", "-pix_fmt", "rgb24",
               "-s", f"{w}x{h}", "-r", str(FPS), "-i", "-", "-vf", "scdet,metadata=mode=print", "-f", "null", "-"]
    proc = subprocess.run(command, input=b"".join(f.tobytes() for f in frames), capture_output=True, check=True)
    times = re.findall(r"lavfi\.scd\.time=([0-9.]+)", proc.stderr.decode(errors="replace"))
    return sorted({round(float(t) * FPS) for t in times})


def detectors(skip_libraries: bool) -> dict:
    found = {"Deepshop": deepshop}
    if skip_libraries:
        return found
    try:
        import scenedetect  # noqa: F401

        for kind in ("ContentDetector", "AdaptiveDetector", "HistogramDetector"):
            found[f"PySceneDetect {kind.removesuffix('Detector')}"] = pyscenedetect(kind)
    except ImportError:
        print("PySceneDetect skipped: pip install scenedetect (the bench extra)")
    try:
        import imageio_ffmpeg  # noqa: F401

        found["ffmpeg scdet"] = scdet
    except ImportError:
        print("ffmpeg scdet skipped: pip install imageio-ffmpeg (the bench extra)")
    return found


# ---------------------------------------------------------------------------------------------------- scoring
def match(found: list[int], truth: list[int]) -> tuple[int, int, int]:
    """(true positives, false positives, false negatives), each true cut matched by at most one detection."""
    left = sorted(truth)
    hits = 0
    for f in sorted(set(found)):
        near = [t for t in left if abs(t - f) <= TOLERANCE]
        if near:
            left.remove(min(near, key=lambda t: abs(t - f)))
            hits += 1
    return hits, len(set(found)) - hits, len(left)


def _ratio(a: int, b: int) -> str:
    return f"{a / b:.2f}" if b else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only-deepshop", action="store_true", help="skip PySceneDetect and scdet (development)")
    parser.add_argument("--verbose", action="store_true", help="print every clip's detections")
    args = parser.parse_args()
    if not (TESTDATA / "videos").is_dir():
        raise SystemExit(f"bench/cuts.py needs the shared footage in {TESTDATA / 'videos'} (see the README's Tests)")
    clips = build_clips()
    found_detectors = detectors(args.only_deepshop)
    counts = {name: {kind: [0, 0, 0] for kind in KINDS} for name in found_detectors}
    seconds = {name: 0.0 for name in found_detectors}
    per_clip = []
    for clip in clips:
        row = {"clip": clip.name, "kind": clip.kind, "frames": len(clip.frames), "cuts": clip.cuts}
        for name, detect in found_detectors.items():
            started = time.perf_counter()
            found = sorted(set(detect(clip.frames)))
            seconds[name] += time.perf_counter() - started
            tp, fp, fn = match(found, clip.cuts)
            for i, v in enumerate((tp, fp, fn)):
                counts[name][clip.kind][i] += v
            row[name] = found
            if args.verbose and (fp or fn):
                print(f"{name:28s} {clip.name}: found {found}, truth {clip.cuts}")
        per_clip.append(row)

    names = list(found_detectors)
    header = ["kind", "clips", "true cuts"] + names  # cells: precision / recall (false cuts found)
    rows, totals = [], {n: [0, 0, 0] for n in names}
    for kind in KINDS:
        kind_clips = [c for c in clips if c.kind == kind]
        cells = []
        for n in names:
            tp, fp, fn = counts[n][kind]
            totals[n] = [a + b for a, b in zip(totals[n], (tp, fp, fn))]
            cells.append(f"{_ratio(tp, tp + fp)} / {_ratio(tp, tp + fn)} ({fp})")
        rows.append([kind, len(kind_clips), sum(len(c.cuts) for c in kind_clips)] + cells)
    cells = [f"**{_ratio(tp, tp + fp)} / {_ratio(tp, tp + fn)} ({fp})**" for tp, fp, fn in totals.values()]
    rows.append(["**all**", len(clips), sum(len(c.cuts) for c in clips)] + cells)
    frames = sum(len(c.frames) for c in clips)
    rows.append(["ms per frame", "", frames] + [f"{1000 * seconds[n] / frames:.2f}" for n in names])
    print(table(header, rows))
    print(f"\nCells: precision / recall (false cuts found). {describe(machine())}; shared machine (times are "
          f"indicative). Tolerance {TOLERANCE} frame.")
    write_results("cuts", per_clip, totals={n: dict(zip(("tp", "fp", "fn"), t)) for n, t in totals.items()},
                  table=table(header, rows))


if __name__ == "__main__":
    main()
