"""The ``blend`` engine: a plain cross-fade. A baseline, and the cheapest way to exercise the pipeline."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .base import Engine, EngineInfo, EngineStats, check_pair


class BlendEngine(Engine):
    info = EngineInfo("blend", "cross-fade of the two frames (no motion): a baseline")

    def __init__(self) -> None:
        self.stats = EngineStats()

    def interpolate(self, frame0: np.ndarray, frame1: np.ndarray, times: Sequence[float]) -> list[np.ndarray]:
        times = check_pair(frame0, frame1, times)
        a = frame0.astype(np.float32)
        b = frame1.astype(np.float32)
        return [np.clip(a + (b - a) * t + 0.5, 0, 255).astype(np.uint8) for t in times]
