"""The flow engine's two bounded caches: work derived from frames, recognised by content, and arrays that depend
only on sizes."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

import cv2
import numpy as np

T = TypeVar("T")


def same_frame(kept: np.ndarray, frame: np.ndarray) -> bool:
    """Whether two frames (HxWx3 uint8) are equal, a sparse sample first (most differing frames differ there,
    cheaply); then cv2.norm, half the cost of np.array_equal (no temporary array)."""
    return (kept.shape == frame.shape and np.array_equal(kept[::16, ::16], frame[::16, ::16])
            and cv2.norm(kept, frame, cv2.NORM_INF) == 0)


class Recent:
    """What was derived from frames (a frame's work, a pair's flows), for the last ``size`` of them: in a clip the
    next call starts with the frames of the last. Recognised by content, on the frames as kept (the caller gives
    copies): exact whatever the caller does with its arrays (a buffer refilled, a batch sliced anew)."""

    def __init__(self, size: int):
        self._size = size
        self._items: list[tuple[tuple[np.ndarray, ...], object]] = []

    def get(self, *frames: np.ndarray):
        """What was kept for these frames, or None."""
        for kept, derived in self._items:
            if all(same_frame(k, f) for k, f in zip(kept, frames)):
                return derived
        return None

    def keep(self, frames: tuple[np.ndarray, ...], derived) -> None:
        self._items = [*self._items, (frames, derived)][-self._size:]

    def clear(self) -> None:
        self._items = []


class BySize:
    """Arrays that depend only on sizes (pixel grids, map bases, a thread's work buffers), made on first use and
    kept; past ``size`` of them all are dropped (a clip has one frame size). Threads may share it: each entry is
    made whole before it is stored, and a dropped entry stays valid for whoever holds it."""

    def __init__(self, size: int = 16):
        self._size = size
        self._items: dict[Hashable, object] = {}

    def get(self, key: Hashable, make: Callable[[], T]) -> T:
        found = self._items.get(key)
        if found is None:
            found = make()
            if len(self._items) > self._size:
                self._items.clear()
            self._items[key] = found
        return found

    def clear(self) -> None:
        self._items = {}
