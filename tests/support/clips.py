"""Clips the tests write themselves beyond `synthetic.write_clip`, and exact comparisons of files."""

from __future__ import annotations

import hashlib
from fractions import Fraction
from pathlib import Path

import numpy as np

from deepshop_core.media.audio import read_audio
from deepshop_core.media.decode import read_frames
from deepshop_core.media.encode import VideoWriter
from deepshop_core.synthetic import Scene, click_track


def write_cut_clip(path: Path, width: int = 96, height: int = 64, frames: int = 60, cut: int = 30,
                   held: int | None = 45, seeds: tuple[int, int] = (3, 11), audio: bool = True) -> Path:
    """Two unrelated shots (synthetic scenes of ``seeds``; a scene cut before frame ``cut``), frame ``held`` (if any)
    repeating the one before it, a click track (if ``audio``); lossless, so every decoded frame is exactly what was
    written."""
    rate = Fraction(25)
    shots = (Scene.make(width, height, seed=seeds[0]), Scene.make(width, height, seed=seeds[1]))
    with VideoWriter(path, rate, format="lossless", audio=click_track(frames / rate) if audio else None) as writer:
        for i in range(frames):
            shown = i - 1 if i == held else i
            writer.write(shots[shown >= cut].frame(shown / 25))
    return path


def digest(path: Path) -> str:
    """SHA-256 of a file's bytes; "" when there is no file (a folder, or nothing)."""
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""


def same_frames(a: Path, b: Path) -> bool:
    left, right = list(read_frames(a)), list(read_frames(b))
    return len(left) == len(right) and all(np.array_equal(x, y) for x, y in zip(left, right))


def same_audio(a: Path, b: Path) -> bool:
    left, right = read_audio(a), read_audio(b)
    return left.sample_rate == right.sample_rate and np.array_equal(left.samples, right.samples)
