"""The README's pictures, made from the scene the project renders itself (never from ../shared data).

    python bench/pictures.py [--out docs/images]

strip.png: two consecutive frames of the demo scene with the three in-betweens of a 4x slow motion (top row,
flow engine) and the true pictures at those times (bottom row: the scene is defined in continuous time).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from deepshop_core import engines
from deepshop_core.synthetic import Scene

ROOT = Path(__file__).resolve().parents[1]


def _label(image: np.ndarray, text: str) -> np.ndarray:
    out = image.copy()
    cv2.rectangle(out, (0, 0), (out.shape[1], 22), (0, 0, 0), -1)
    cv2.putText(out, text, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def strip(scene: Scene, frame: int, fps: float, engine: engines.Engine, width: int = 256) -> np.ndarray:
    times = [0.25, 0.5, 0.75]
    first, second = scene.frame(frame / fps), scene.frame((frame + 1) / fps)
    made = engine.interpolate(first, second, times)
    truth = [scene.frame((frame + t) / fps) for t in times]
    height = round(first.shape[0] * width / first.shape[1])

    def tile(image, text):
        return _label(cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA), text)

    top = [tile(first, f"frame {frame}")] + [tile(m, f"Deepshop t={t}") for m, t in zip(made, times)] + \
          [tile(second, f"frame {frame + 1}")]
    bottom = [np.zeros_like(top[0])] + [tile(g, f"truth t={t}") for g, t in zip(truth, times)] + \
             [np.zeros_like(top[0])]
    return np.vstack([np.hstack(top), np.hstack(bottom)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    scene = Scene.make(640, 360)  # the demo's scene (deepshop demo renders the same one)
    picture = strip(scene, 40, 25.0, engines.load("flow"))
    path = args.out / "strip.png"
    cv2.imwrite(str(path), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
