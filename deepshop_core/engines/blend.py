"""The ``blend`` engine: a plain cross-fade. A baseline, and the cheapest way to exercise the pipeline."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from . import check_pair


class BlendEngine:
    name = "blend"

    def interpolate(self, frame0: np.ndarray, frame1: np.ndarray, times: Sequence[float]) -> list[np.ndarray]:
        times = check_pair(frame0, frame1, times)
        a = frame0.astype(np.float32)
        b = frame1.astype(np.float32)
        return [np.clip(a + (b - a) * t + 0.5, 0, 255).astype(np.uint8) for t in times]

    def close(self) -> None:
        pass
