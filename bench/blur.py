"""Faster than 1x: dropped frames (shutter 0) against motion blur (speed.shutter), as a picture.

    python bench/blur.py [--speed 3] [--angle 180] [--testdata ../shared/testdata]

Writes bench/out/fast_blur.png (not committed). Top row: the project's synthetic scene, whose true pictures are known
at any time, played at ``--speed``: one output frame rendered as a dropped frame (the sharp in-between at its
position), as a blend of the covered source frames (no engine), as a blend of flow in-betweens a quarter frame
apart (the default), and the truth. The synthetic source is rendered as a camera at 180 degrees would have shot it
(each source frame averages its own half frame of exposure), which is what the shutter model assumes; the truth is
the scene averaged over the whole exposure a 180-degree camera running at the output's speed would see
(``speed * angle / 360`` source frames). Each panel says its PSNR against the truth over the moving discs.
Second row: the same, enlarged around the moving disc. Bottom rows (when ``--testdata`` holds
videos/skv_bikes.mp4): the same three renderings of a real clip and its source frame, whole and enlarged where the
blur changes the picture most (no truth).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from common import OUT, TESTDATA

from deepshop_core import engines
from deepshop_core.media.decode import read_frames
from deepshop_core.speed.curve import Keyframe, SpeedCurve
from deepshop_core.render import render_steps
from deepshop_core.speed.shutter import Shutter
from deepshop_core.steps import Blend, plan
from deepshop_core.synthetic import Scene
from deepshop_core.timeline import curve_timeline

FPS = 25
WIDTH = 320


def label(image: np.ndarray, text: str) -> np.ndarray:
    out = cv2.resize(image, (WIDTH, round(image.shape[0] * WIDTH / image.shape[1])), interpolation=cv2.INTER_AREA)
    cv2.rectangle(out, (0, 0), (out.shape[1], 18), (0, 0, 0), -1)
    cv2.putText(out, text, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def exposed(scene: Scene, centre: float, width: float, samples: int) -> np.ndarray:
    """The scene averaged over source frames centre - width/2 .. centre + width/2 (a camera's exposure)."""
    times = centre + width * (np.arange(samples) + 0.5) / samples - width / 2
    return np.mean([scene.frame(t / FPS).astype(np.float32) for t in times], axis=0).round().astype(np.uint8)


def render(item, frames, engine) -> np.ndarray:
    """One plan item through the pipeline's own render loop (`render.render_steps`): a copy, an in-between, or a
    blend of them."""
    (frame,) = render_steps([item], frames.__getitem__, engine)
    return frame


def renderings(frames: list[np.ndarray], speed: float, angle: float, engine) -> tuple[dict, float]:
    """Output frame in the middle of a clip played at ``speed``: rendered three ways, and its source position."""
    curve = SpeedCurve(len(frames), (Keyframe.at_speed(0, speed),))
    timeline = curve_timeline(curve)
    k = len(timeline) // 2 + 1
    made = {}
    for name, shutter in (("dropped (0 deg)", None), (f"frames blended ({angle:g})", Shutter(angle, "frames")),
                          (f"flow sub-frames ({angle:g})", Shutter(angle))):
        item = plan(timeline, shutter=shutter)[k]
        samples = len(item.samples) if isinstance(item, Blend) else 1
        made[f"{name}, {samples}x"] = render(item, frames, engine)
    return made, float(timeline.positions[k]), float(timeline.curve.frame_speeds()[k])


def zoomed(images: list[np.ndarray], where: np.ndarray, names: list[str]) -> list[np.ndarray]:
    """The same crop of each image (a 16:9 box around ``where``, the pixels that differ), enlarged to a tile."""
    ys, xs = np.nonzero(where)
    height, width = images[0].shape[:2]
    box_w = min(width, max(64, int(xs.max() - xs.min()) + 24))
    box_h = min(height, round(box_w * 9 / 16))
    x0 = int(np.clip((xs.min() + xs.max()) / 2 - box_w / 2, 0, width - box_w))
    y0 = int(np.clip((ys.min() + ys.max()) / 2 - box_h / 2, 0, height - box_h))
    crops = [image[y0:y0 + box_h, x0:x0 + box_w] for image in images]
    return [label(cv2.resize(crop, (WIDTH, round(box_h * WIDTH / box_w)), interpolation=cv2.INTER_NEAREST),
                  f"zoom: {name}") for crop, name in zip(crops, names)]


def psnr_where_moving(image: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> float:
    error = np.mean((image.astype(np.float64) - truth)[mask] ** 2)
    return 10 * np.log10(255**2 / max(error, 1e-12))


def synthetic_rows(speed: float, angle: float, engine) -> list[list[np.ndarray]]:
    scene = Scene.make(WIDTH, 180, seed=3)
    frames = [exposed(scene, i, 0.5, 9) for i in range(48)]  # shot at 180 degrees: half a frame each
    made, position, realised = renderings(frames, speed, angle, engine)
    truth = exposed(scene, position, realised * angle / 360, 48)
    moving = np.abs(truth.astype(np.int16) - exposed(scene, position, 0.0, 1)).max(axis=2) > 8
    moving |= np.abs(frames[int(position)].astype(np.int16) - truth).max(axis=2) > 8
    tiles = [label(image, f"{name} {psnr_where_moving(image, truth, moving):.1f} dB")
             for name, image in made.items()]
    tiles.append(label(truth, f"truth: {realised:.2f}x, {angle:g} deg exposure"))
    largest = _largest_region(moving)
    return [tiles, zoomed([*made.values(), truth], largest, [*(n.split(",")[0] for n in made), "truth"])]


def _largest_region(mask: np.ndarray) -> np.ndarray:
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8))
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA])) if count > 1 else 0
    return labels == biggest


def real_rows(path: Path, speed: float, angle: float, engine) -> list[list[np.ndarray]]:
    frames = list(read_frames(path, 80, 120))  # one shot (its cuts are near frames 30, 76 and 137)
    made, position, realised = renderings(frames, speed, angle, engine)
    source = frames[round(position)]
    tiles = [label(image, name) for name, image in made.items()]
    tiles.append(label(source, f"{path.name}: its source frame ({realised:.2f}x)"))
    images = list(made.values())
    differs = _largest_region(np.abs(images[0].astype(np.int16) - images[-1]).max(axis=2) > 20)
    return [tiles, zoomed([*images, source], differs, [*(n.split(",")[0] for n in made), "source"])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", type=float, default=3.0)
    parser.add_argument("--angle", type=float, default=180.0)
    parser.add_argument("--testdata", type=Path, default=TESTDATA)
    parser.add_argument("--out", type=Path, default=OUT / "fast_blur.png")
    args = parser.parse_args()
    engine = engines.load("flow")
    try:
        rows = synthetic_rows(args.speed, args.angle, engine)
        clip = args.testdata / "videos" / "skv_bikes.mp4"
        if clip.exists():
            rows += real_rows(clip, args.speed, args.angle, engine)
        else:
            print(f"{clip} is absent: the real clip's row is left out")
    finally:
        engine.close()
    height = max(tile.shape[0] for row in rows for tile in row)
    rows = [np.hstack([np.pad(t, ((0, height - t.shape[0]), (0, 0), (0, 0))) for t in row]) for row in rows]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), cv2.cvtColor(np.vstack(rows), cv2.COLOR_RGB2BGR))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
