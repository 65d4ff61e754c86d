"""The one owner of the retime limits and vocabularies: slow-down factors, speeds, eases, freezes.

The command line, batch manifests, the nodes and the benches read these; nothing else spells a limit.

* ``MAX_FACTOR``: a slow-down beyond 1000x is a typo, and its output would be absurdly long.
* ``MIN_SPEED = 1 / MAX_FACTOR``: the same limit seen as a speed.
* ``MAX_SPEED = 100``: CapCut's own ceiling for constant speed. At 100x a 60 s clip lasts 0.6 s, each output frame
  stands for 100 source frames, and its motion blur (see `speed.shutter`) averages up to ~50 frames of exposure;
  beyond that the output is a flicker, not a shot, and the render cost per output frame only grows.
"""

from __future__ import annotations

import math

from ..errors import InputError

MAX_FACTOR = 1000.0
MIN_SPEED = 1.0 / MAX_FACTOR
MAX_SPEED = 100.0
EASES = ("smooth", "linear", "hold")  # how a keyframe is reached from the one before (see speed.curve)
DEFAULT_EASE = "smooth"
MAX_FREEZE_SECONDS = 3600.0  # a freeze longer than an hour is a typo


def check_factor(value) -> float:
    """A slow-down factor as a float from 1 to `MAX_FACTOR` (the one limit: the CLI, batch and the nodes use it)."""
    try:
        factor = float(value)
    except (TypeError, ValueError):
        raise InputError(f"slow-down factor {value!r} is not a number: use a number such as 2, 2.5 or 4") from None
    if not math.isfinite(factor) or factor < 1 or factor > MAX_FACTOR:
        raise InputError(
            f"slow-down factor {value!r} is out of range: use a number from 1 (unchanged) to {MAX_FACTOR:g}"
        )
    return factor


def check_speed(value, where: str = "") -> float:
    """A playback speed as a float from `MIN_SPEED` to `MAX_SPEED` (1 = normal, 0.25 = four times slower).

    ``where`` names the place in the user's input ("at 1.2s") for the message."""
    at = f" {where}" if where else ""
    try:
        speed = float(value)
    except (TypeError, ValueError):
        raise InputError(f"speed {value!r}{at} is not a number: use a speed such as 0.25 (four times slower), "
                         f"1 (normal) or 3 (three times faster)") from None
    if not math.isfinite(speed) or not MIN_SPEED <= speed <= MAX_SPEED:
        why = "negative" if speed < 0 else "zero" if speed == 0 else "not finite" if not math.isfinite(speed) \
            else "too slow" if speed < MIN_SPEED else "too fast"
        still = "; for a still frame use a freeze (e.g. 2.2s:freeze=0.5s)" if why in ("zero", "too slow") else ""
        raise InputError(f"speed {value!r}{at} is {why}: use a speed from {MIN_SPEED:g} ({MAX_FACTOR:g} times "
                         f"slower) to {MAX_SPEED:g} ({MAX_SPEED:g} times faster){still}")
    return speed


def check_ease(value, where: str = "") -> str:
    """One of `EASES`."""
    if value not in EASES:
        at = f" {where}" if where else ""
        raise InputError(f"ease {value!r}{at} is unknown: use one of {', '.join(EASES)}")
    return value
