"""The README's pictures, from the scene the project renders itself; the same comparisons on real data go to
bench/out/ only (never committed).

    python bench/pictures.py [--out docs/images] [--real-out bench/out]

Committed (docs/images/, each < 1 MB), all from deepshop_core.synthetic's scene, whose true in-betweens are known:

- strip.png: two consecutive frames with the three in-betweens of a 4x slow motion (top row, flow engine,
  balanced) and the true pictures at those times (bottom row);
- side_by_side.png: a frame pair, then t=0.5 by frame average, ffmpeg minterpolate (mci) and Deepshop (flow,
  balanced), and the ground truth, each labelled with its PSNR against the truth;
- slowmo_preview.webp: a rendered 2 s clip with 0.6 s slowed down 4x by ``slow_motion`` (flow, balanced), small;
- speed_curve.png: the issue's speed curve (0s:1, 1s:0.25, 2s:0.25, 2.5s:3, 3.5s:1) as the core draws it (the Speed
  Curve node's picture), over five output frames of the 4 s scene ``slow_motion`` renders along it (flow, 180
  degree shutter): normal, slowing, slow, fast (motion blur), normal.

``--only NAME ...`` writes only those (e.g. ``--only speed_curve``).

Not committed (--real-out, default bench/out/): side_by_side_middlebury.png (a Middlebury pair with its ground
truth) and side_by_side_cockatoo.png (a pair of ../shared/testdata/videos/cockatoo.mp4, no ground truth); skipped
when ../shared/testdata is absent. bench/quality.py also draws here the pairs where two methods differ most
(`contrast`: flow_vs_rife42_davis22.png).
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
from common import IMAGES, OUT, TESTDATA
from quality import average, minterpolate, psnr, read_rgb

from deepshop_core import Job, engines, slow_motion
from deepshop_core.curve_picture import draw_curve
from deepshop_core.media.decode import read_frames
from deepshop_core.plan import plan_clip
from deepshop_core.speed.parse import parse_speed
from deepshop_core.synthetic import Scene, write_clip

FPS = 25.0


def _label(image: np.ndarray, text: str) -> np.ndarray:
    out = image.copy()
    cv2.rectangle(out, (0, 0), (out.shape[1], 22), (0, 0, 0), -1)
    cv2.putText(out, text, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def _tile(image: np.ndarray, text: str, width: int) -> np.ndarray:
    height = round(image.shape[0] * width / image.shape[1])
    return _label(cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA), text)


def contrast(triplets, results: dict, outputs: dict, a: str, b: str, labels: dict, path: Path,
             width: int = 320) -> list[str]:
    """The pairs where method ``a`` beats ``b`` most in PSNR, and where ``b`` beats ``a`` most: one row each, cropped
    to the quarter (in each direction) of the picture where the loser's error exceeds the winner's most, enlarged
    (both frames, the truth, each method with its PSNR over the whole frame and over the crop). Returns the two
    pair names."""
    gaps = {n: results[a]["pairs"][n]["psnr"] - results[b]["pairs"][n]["psnr"] for n in results[a]["pairs"]}
    rows, names = [], []
    for name, winner in ((max(gaps, key=gaps.get), a), (min(gaps, key=gaps.get), b)):
        tr = next(t for t in triplets if t.name == name)
        loser = b if winner == a else a
        errors = {k: np.abs(outputs[k][name].astype(np.float32) - tr.truth).mean(axis=2) for k in (a, b)}
        h, w = tr.truth.shape[0] // 4, tr.truth.shape[1] // 4
        worse = cv2.blur(errors[loser] - errors[winner], (w, h))  # centred boxes: where the loser falls behind most
        cy, cx = np.unravel_index(np.argmax(worse), worse.shape)
        y, x = int(np.clip(cy - h // 2, 0, tr.truth.shape[0] - h)), int(np.clip(cx - w // 2, 0, tr.truth.shape[1] - w))

        def crop(image):
            return image[y:y + h, x:x + w]

        tiles = [_tile(crop(tr.first), f"{name}: frame 0", width), _tile(crop(tr.second), "frame 1", width),
                 _tile(crop(tr.truth), "truth t=0.5", width)]
        tiles += [_tile(crop(outputs[k][name]), f"{labels[k]} {results[k]['pairs'][name]['psnr']:.2f} dB "
                                                f"(crop {psnr(crop(outputs[k][name]), crop(tr.truth)):.2f})", width)
                  for k in (a, b)]
        rows.append(np.hstack(tiles))
        names.append(name)
    _save_png(path, np.vstack(rows))
    return names


def _save_png(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")


def strip(scene: Scene, frame: int, engine, width: int = 256) -> np.ndarray:
    times = [0.25, 0.5, 0.75]
    first, second = scene.frame(frame / FPS), scene.frame((frame + 1) / FPS)
    made = engine.interpolate(first, second, times)
    truth = [scene.frame((frame + t) / FPS) for t in times]
    top = [_tile(first, f"frame {frame}", width)] + [_tile(m, f"Deepshop t={t}", width) for m, t in zip(made, times)]
    top.append(_tile(second, f"frame {frame + 1}", width))
    blank = np.zeros_like(top[0])
    bottom = [blank] + [_tile(g, f"truth t={t}", width) for g, t in zip(truth, times)] + [blank]
    return np.vstack([np.hstack(top), np.hstack(bottom)])


def side_by_side(first: np.ndarray, second: np.ndarray, truth: np.ndarray | None, engine, width: int) -> np.ndarray:
    """Source pair | frame average | minterpolate | Deepshop | ground truth (when known), at t=0.5, in two rows."""
    made = {"frame average": average(first, second), "ffmpeg minterpolate": minterpolate(first, second),
            "Deepshop flow": engine.interpolate(first, second, [0.5])[0]}
    tiles = [_tile(first, "frame 0 (source)", width), _tile(second, "frame 1 (source)", width)]
    for name, image in made.items():
        score = f" {psnr(image, truth):.1f} dB" if truth is not None else ""
        tiles.append(_tile(image, f"{name} t=0.5{score}", width))
    tiles.append(_tile(truth, "ground truth t=0.5", width) if truth is not None else np.zeros_like(tiles[0]))
    return np.vstack([np.hstack(tiles[:3]), np.hstack(tiles[3:])])


def preview(path: Path, width: int = 320, seconds: float = 2.0, slowed=(0.6, 1.2), factor: int = 4) -> None:
    """An animated WebP: a rendered clip with ``slowed`` (seconds) played ``factor`` times slower."""
    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        clip = write_clip(Path(tmp) / "clip.mp4", seconds=seconds, width=640, height=360, audio=False)
        slow = Path(tmp) / "slow.mp4"
        slow_motion(clip, slow, ranges=[f"{slowed[0]}s:{slowed[1]}s"], factor=factor, engine="flow", audio="none")
        frames = list(read_frames(slow))
    first = round(slowed[0] * FPS)
    last = first + round((slowed[1] - slowed[0]) * FPS) * factor
    images = []
    for i, frame in enumerate(frames):
        text = f"{factor}x slower (Deepshop)" if first < i < last else "normal speed"
        images.append(Image.fromarray(_tile(frame, text, width)))
    # animated WebP: the textured scene makes a GIF of the same frames 4x larger
    images[0].save(path, save_all=True, append_images=images[1:], duration=round(1000 / FPS), loop=0, quality=70,
                   method=4)
    print(f"wrote {path} ({len(images)} frames, {path.stat().st_size // 1024} KiB)")


CURVE = "0s:1, 1s:0.25, 2s:0.25, 2.5s:3, 3.5s:1"


def speed_curve_picture(width: int = 800) -> np.ndarray:
    """The curve's picture (`curve_picture.draw_curve`) over output frames of the scene rendered along it, each
    labelled with its output time, the source time it shows and the speed there."""
    with tempfile.TemporaryDirectory() as tmp:
        clip = write_clip(Path(tmp) / "clip.mp4", seconds=4.0, width=640, height=360, audio=False)
        out = slow_motion(clip, Path(tmp) / "curve.mp4", speed=CURVE, engine="flow", audio="none")
        frames = list(read_frames(out.output))
        plan = plan_clip(clip, Job(speed=CURVE))
    curve = parse_speed(CURVE, Fraction(25), plan.timeline.source_count)
    positions, speeds = plan.timeline.positions, plan.timeline.curve.frame_speeds()
    wanted = [0.0, 4.5, 7.6, 8.7]  # output seconds: 1x, 0.25x (in-betweens), 3x (motion blur), back to 1x
    picks = [int(np.argmin(np.abs(np.arange(len(frames)) / FPS - t))) for t in wanted]
    tiles = [_tile(frames[k], f"output {k / FPS:.2f} s shows source {positions[k] / FPS:.2f} s, {speeds[k]:.2g}x",
                   width // 2) for k in picks]
    return np.vstack([draw_curve(curve, 25, width, round(width * 0.7), title=f"--speed {CURVE}"),
                      np.hstack(tiles[:2]), np.hstack(tiles[2:])])


def real_pictures(out: Path, engine) -> None:
    middlebury = TESTDATA / "middlebury"
    if (middlebury / "other-data").is_dir():
        seq = "DogDance"
        pair = [read_rgb(middlebury / "other-data" / seq / f"frame{i}.png") for i in (10, 11)]
        truth = read_rgb(middlebury / "other-gt-interp" / seq / "frame10i11.png")
        _save_png(out / "side_by_side_middlebury.png", side_by_side(*pair, truth, engine, width=392))
    clip = TESTDATA / "videos" / "cockatoo.mp4"
    if clip.exists():
        pair = list(itertools.islice(read_frames(clip), 100, 102))  # decoded from frame 0, not seeked
        _save_png(out / "side_by_side_cockatoo.png", side_by_side(*pair, None, engine, width=426))
    if not middlebury.is_dir() and not clip.exists():
        print(f"no {TESTDATA}: pictures from real data skipped")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=IMAGES, help="the committed pictures")
    parser.add_argument("--real-out", type=Path, default=OUT, help="pictures from ../shared data (not committed)")
    parser.add_argument("--only", nargs="+", choices=PICTURES, help="write only these pictures")
    args = parser.parse_args(argv)
    chosen = args.only or PICTURES
    scene = Scene.make(640, 360)  # the demo's scene (deepshop demo renders the same one)
    engine = engines.load("flow")
    if "strip" in chosen:
        _save_png(args.out / "strip.png", strip(scene, 40, engine))
    if "side_by_side" in chosen:
        first, second, truth = (scene.frame((40 + t) / FPS) for t in (0, 1, 0.5))
        _save_png(args.out / "side_by_side.png", side_by_side(first, second, truth, engine, width=320))
    if "slowmo_preview" in chosen:
        preview(args.out / "slowmo_preview.webp")
    if "speed_curve" in chosen:
        _save_png(args.out / "speed_curve.png", speed_curve_picture())
    if "real" in chosen:
        real_pictures(args.real_out, engine)
    engine.close()
    return 0


PICTURES = ("strip", "side_by_side", "slowmo_preview", "speed_curve", "real")


if __name__ == "__main__":
    raise SystemExit(main())
