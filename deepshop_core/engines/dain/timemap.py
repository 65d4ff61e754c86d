"""DAIN's pure parts, run in the worker but needing neither Paddle nor a process (tested directly): PaddleGAN's
padding of a frame to the program's size and back, and the mapping of any wanted times onto the times the program
can compute (its export grid k/(N+1), re-set time constants, or recursive refinement)."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

# ---------------------------------------------------------------------------------------------------- padding
PAD_MULTIPLE = 128
PAD_ALIGNED = 32


def pad_amounts(size: int) -> tuple[int, int]:
    """(before, after) padding of one dimension, as PaddleGAN's DAIN predictor does it.

    Not a multiple of 128: pad up to the next multiple, split evenly (the extra pixel after). A multiple of 128:
    32 on each side.
    """
    if size % PAD_MULTIPLE:
        total = (size // PAD_MULTIPLE + 1) * PAD_MULTIPLE - size
        return total // 2, total - total // 2
    return PAD_ALIGNED, PAD_ALIGNED


def to_model(frame: np.ndarray, pads) -> np.ndarray:
    """uint8 HxWx3 -> float32 3xHpxWp in 0..1, edge-padded."""
    (top, bottom), (left, right) = pads
    x = frame.astype(np.float32).transpose(2, 0, 1) * np.float32(1.0 / 255.0)
    return np.pad(x, ((0, 0), (top, bottom), (left, right)), mode="edge")


def from_model(x: np.ndarray, pads, h: int, w: int, out: np.ndarray | None = None) -> np.ndarray:
    """float32 3xHpxWp (clipped to 0..1) -> uint8 hxwx3, cropped."""
    (top, _), (left, _) = pads
    y = x[:, top:top + h, left:left + w].transpose(1, 2, 0)
    y = np.clip(y * 255.0 + 0.5, 0, 255)
    if out is None:
        return y.astype(np.uint8)
    out[...] = y
    return out


# ----------------------------------------------------------------------------------------------- time mapping
def grid_times(n: int) -> list[float]:
    return [k / (n + 1) for k in range(1, n + 1)]


RunFn = Callable[[np.ndarray, np.ndarray, "Sequence[float] | None"], "list[np.ndarray]"]


def map_times(run: RunFn, a: np.ndarray, b: np.ndarray, times: Sequence[float], n: int, retimable: bool,
              tol: float = 1e-6, refine_tol: float = 1e-3) -> tuple[list[np.ndarray], list[float]]:
    """The frames at ``times`` between ``a`` (t=0) and ``b`` (t=1), and the times they truly stand for.

    ``run(x, y, None)`` gives the model's N frames at k/(N+1) between x and y; ``run(x, y, ts)`` (only when
    ``retimable``) gives them at the N times ``ts``. The method:

    1. times within ``tol`` of a k/(N+1) come from one run on (a, b);
    2. other times, if the program's time constants were found: runs with the time inputs set to those times,
       N times per run: exact;
    3. otherwise recursive refinement: the model is run on the two nearest known frames around t (starting with
       a, b and the grid), which yields frames at N more times between them, until a known frame lies within
       ``refine_tol`` of t. The returned time (second list) differs from t by at most ``refine_tol``.
    """
    grid = grid_times(n)
    out: dict[float, tuple[np.ndarray, float]] = {}
    known: dict[float, np.ndarray] = {0.0: a, 1.0: b}

    def on_grid(t):
        k = round(t * (n + 1))
        return 1 <= k <= n and abs(t - k / (n + 1)) <= tol

    def run_grid(lo: float, hi: float):
        frames = run(known[lo], known[hi], None)
        for k, f in enumerate(frames, 1):
            known.setdefault(lo + (hi - lo) * k / (n + 1), f)

    wanted = list(dict.fromkeys(times))
    if any(on_grid(t) for t in wanted):
        run_grid(0.0, 1.0)
        for t in wanted:
            if on_grid(t):
                k = round(t * (n + 1))
                out[t] = (known[grid[k - 1]], grid[k - 1])
    rest = [t for t in wanted if t not in out]
    if rest and retimable:
        for i in range(0, len(rest), n):
            chunk = rest[i:i + n]
            ts = chunk + [chunk[-1]] * (n - len(chunk))
            frames = run(a, b, ts)
            for t, f in zip(chunk, frames):
                out[t] = (f, t)
    elif rest:
        for t in rest:
            while True:
                inner = [s for s in known if 0.0 < s < 1.0]  # never an input frame as an in-between
                near = min(inner, key=lambda s: abs(s - t), default=None)
                if near is not None and abs(near - t) <= refine_tol:
                    out[t] = (known[near], near)
                    break
                lo = max(s for s in known if s < t)
                hi = min(s for s in known if s > t)
                if hi - lo < 1e-12:
                    raise RuntimeError("time refinement did not converge")
                run_grid(lo, hi)
    return [out[t][0] for t in times], [out[t][1] for t in times]
