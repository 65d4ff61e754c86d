"""Clips the project renders itself: the demo, the tests and the README pictures need no download.

The scene is defined in continuous time, so the true picture *between* two frames is known: ``scene.frame(t)``
for any ``t`` in seconds. Textured discs cross a textured background fast enough (tens of pixels per frame) to
make interpolation hard; a tone with a click on every second keeps audio sync visible and audible.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from .media.audio import Audio


def _texture(rng: np.random.Generator, height: int, width: int, scale: float) -> np.ndarray:
    """Smooth colour noise with fine detail, float32 0..255 (texture makes motion estimable and errors visible)."""
    coarse = rng.random((max(2, int(height / scale)), max(2, int(width / scale)), 3), dtype=np.float32)
    smooth = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    fine = rng.random((height, width, 3), dtype=np.float32)
    return np.clip(smooth * 200 + fine * 55, 0, 255)


@dataclass(frozen=True)
class Disc:
    radius: int
    start: tuple[float, float]  # centre (x, y) at t = 0, pixels
    velocity: tuple[float, float]  # pixels per second
    wobble: float  # amplitude of a vertical sine on top of the straight path, pixels
    texture: np.ndarray = field(repr=False)  # (2r+1, 2r+1, 3) float32


@dataclass(frozen=True)
class Scene:
    """A background panning slowly and discs moving fast, defined for any time ``t`` (seconds)."""

    width: int
    height: int
    background: np.ndarray = field(repr=False)  # larger than the frame, to pan over
    discs: tuple[Disc, ...]

    @classmethod
    def make(cls, width: int = 640, height: int = 360, discs: int = 3, seed: int = 7) -> "Scene":
        rng = np.random.default_rng(seed)
        margin = max(width, height) // 4
        # A muted, detailed backdrop (sky tint above, earth tint below) so the bright discs stand out.
        texture = _texture(rng, height + 2 * margin, width + 2 * margin, scale=24)
        grey = texture.mean(axis=2, keepdims=True)
        rows = np.linspace(0, 1, texture.shape[0], dtype=np.float32)[:, None, None]
        tint = (1 - rows) * np.float32([0.8, 0.95, 1.15]) + rows * np.float32([1.1, 0.95, 0.75])
        background = np.clip((0.3 * texture + 0.7 * grey) * 0.7 * tint + 30, 0, 255)
        made = []
        hues = rng.permutation([(235, 70, 50), (250, 200, 40), (60, 140, 240), (90, 210, 90), (230, 90, 200)])
        for i in range(discs):
            r = int(rng.integers(max(4, height // 10), max(5, height // 6)))
            pattern = _texture(rng, 2 * r + 1, 2 * r + 1, scale=4)
            colour = np.float32(hues[i % len(hues)])
            made.append(
                Disc(
                    radius=r,
                    start=(float(rng.uniform(0, width)), float(rng.uniform(r, height - r))),
                    velocity=(float(rng.choice([-1, 1]) * rng.uniform(0.35, 0.7) * width), 0.0),
                    wobble=float(rng.uniform(0.05, 0.15) * height),
                    texture=np.clip(colour * (0.55 + 0.45 * pattern / 255), 0, 255),
                )
            )
        return cls(width, height, background, tuple(made))

    def frame(self, t: float) -> np.ndarray:
        """The picture at time ``t`` seconds, HxWx3 uint8 RGB."""
        margin_y = (self.background.shape[0] - self.height) // 2
        margin_x = (self.background.shape[1] - self.width) // 2
        # A slow sub-pixel pan, smooth in t, so the true in-between exists at any time.
        ox = margin_x * (1 + 0.8 * np.sin(2 * np.pi * 0.1 * t))
        oy = margin_y * (1 + 0.8 * np.cos(2 * np.pi * 0.07 * t))
        shift = np.float32([[1, 0, -ox], [0, 1, -oy]])
        canvas = cv2.warpAffine(self.background, shift, (self.width, self.height),
                                flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        for disc in self.discs:
            self._draw(canvas, disc, t)
        return np.clip(canvas + 0.5, 0, 255).astype(np.uint8)

    def _draw(self, canvas: np.ndarray, disc: Disc, t: float) -> None:
        span = self.width + 4 * disc.radius
        x = (disc.start[0] + disc.velocity[0] * t + 2 * disc.radius) % span - 2 * disc.radius
        y = disc.start[1] + disc.wobble * np.sin(2 * np.pi * 0.7 * t + disc.start[0])
        r = disc.radius
        size = 2 * r + 1
        # Place the texture at a sub-pixel offset with an antialiased circular mask.
        left, top = int(np.floor(x)) - r, int(np.floor(y)) - r
        frac = np.float32([[1, 0, x - np.floor(x)], [0, 1, y - np.floor(y)]])
        tex = cv2.warpAffine(disc.texture, frac, (size + 1, size + 1), borderMode=cv2.BORDER_REPLICATE)
        yy, xx = np.mgrid[0 : size + 1, 0 : size + 1].astype(np.float32)
        dist = np.hypot(xx - r - (x - np.floor(x)), yy - r - (y - np.floor(y)))
        alpha = np.clip(r + 0.5 - dist, 0, 1)[..., None]
        y0, y1 = max(top, 0), min(top + size + 1, self.height)
        x0, x1 = max(left, 0), min(left + size + 1, self.width)
        if y0 >= y1 or x0 >= x1:
            return
        sub = (slice(y0 - top, y1 - top), slice(x0 - left, x1 - left))
        region = canvas[y0:y1, x0:x1]
        region[:] = region * (1 - alpha[sub]) + tex[sub] * alpha[sub]


def click_track(seconds: float, sample_rate: int = 48000, channels: int = 2) -> Audio:
    """A quiet 220 Hz tone with a click at every whole second: drift between audio and video is easy to hear."""
    n = int(round(seconds * sample_rate))
    t = np.arange(n, dtype=np.float64) / sample_rate
    tone = 0.1 * np.sin(2 * np.pi * 220 * t)
    click = (t % 1.0) < 0.01
    tone[click] += 0.5 * np.sin(2 * np.pi * 2000 * t[click])
    samples = np.repeat(tone[None].astype(np.float32), channels, axis=0)
    return Audio(samples, sample_rate, "stereo" if channels == 2 else "")


def write_clip(path: str | Path, *, seconds: float = 4.0, frame_rate: Fraction = Fraction(25), width: int = 640,
               height: int = 360, audio: bool = True, format: str | None = None, seed: int = 7,
               overwrite: bool = False) -> Path:
    """Render the scene to a video file (with the click track unless ``audio=False``); return its path."""
    from .media.encode import VideoWriter

    scene = Scene.make(width, height, seed=seed)
    count = int(round(seconds * frame_rate))
    track = click_track(count / frame_rate) if audio else None
    with VideoWriter(path, frame_rate, format=format, audio=track, overwrite=overwrite) as writer:
        for i in range(count):
            writer.write(scene.frame(float(i / frame_rate)))
    return Path(path)



def flash_indices(count: int, frame_rate: Fraction) -> list[int]:
    """The frames of a sync clip that flash: the one nearest each whole second."""
    rate = Fraction(frame_rate)
    return [i for i in (math.floor(k * rate + Fraction(1, 2)) for k in range(int(count / rate) + 2)) if i < count]


def flash_frames(count: int, frame_rate: Fraction = Fraction(25), width: int = 64,
                 height: int = 36) -> Iterator[np.ndarray]:
    """Frames of a cheap sync clip: a grey square drifting over black (something to interpolate), and a white
    frame at each of `flash_indices`."""
    flashes = set(flash_indices(count, frame_rate))
    size = max(2, height // 4)
    for i in range(count):
        frame = np.zeros((height, width, 3), np.uint8)
        if i in flashes:
            frame[:] = 255
        else:
            x = int(round((width - size) * (0.5 + 0.5 * np.sin(2 * np.pi * 0.25 * float(i / frame_rate)))))
            frame[height // 2 - size // 2: height // 2 + size // 2, x: x + size] = 128
        yield frame


def flash_track(count: int, frame_rate: Fraction = Fraction(25), sample_rate: int = 48000) -> Audio:
    """The sound of a sync clip: a quiet 220 Hz tone with a 10 ms 2 kHz click starting exactly at each flash."""
    n = round(count / Fraction(frame_rate) * sample_rate)
    t = np.arange(n, dtype=np.float64) / sample_rate
    tone = 0.1 * np.sin(2 * np.pi * 220 * t)
    for i in flash_indices(count, frame_rate):
        start = float(i / Fraction(frame_rate))
        click = (t >= start) & (t < start + 0.01)
        tone[click] += 0.5 * np.sin(2 * np.pi * 2000 * (t[click] - start))
    return Audio(tone.astype(np.float32), sample_rate)


def write_flash_clip(path: str | Path, *, seconds: float = 60.0, frame_rate: Fraction = Fraction(25),
                     width: int = 64, height: int = 36, format: str | None = "lossless",
                     overwrite: bool = False) -> Path:
    """A sync-check clip: flashes (`flash_frames`) and clicks (`flash_track`) together, so after retiming every
    flash in the picture can be checked against its click in the sound. 60 s at 64x36 writes in about a second."""
    from .media.encode import VideoWriter

    count = int(round(seconds * frame_rate))
    with VideoWriter(path, frame_rate, format=format, audio=flash_track(count, frame_rate),
                     overwrite=overwrite) as writer:
        for frame in flash_frames(count, frame_rate, width, height):
            writer.write(frame)
    return Path(path)
