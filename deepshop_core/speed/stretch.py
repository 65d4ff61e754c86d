"""One stretch of a speed curve: its closed-form output time, the whole-frame rounding, and the inverse.

A *stretch* is a source range ``a..b`` (whole frames) where the speed leaves 1x, with 1x on both sides. Its
slowdown is ``d(x) = 1 + p * w(x)``: a *shape* ``w`` made of parts (each a piece of the curve between two
keyframes, eased by hold, linear or smoothstep) that peaks at 1, times a scale ``p``, the peak: a `Segment`'s is
``factor - 1``, so its numbers are today's (see below), and a keyframed curve shaped like a range gets the very
same parts and scale, so it realises as that range does, to the last bit. A freeze adds output
frames at one position: a step in the output time.

**Output time.** ``T(x) = x + integral of (d - 1)``: per part a polynomial (hold: linear in x; linear ease: square;
smoothstep: u^3 - u^4/2), summed in closed form, exact and cheap.

**Whole output frames.** Every frame after the stretch must stay a copy of a source frame, so the stretch's extra
output ``E = integral of (d - 1) over a..b`` must be whole: it becomes ``R = round(L + E) - L`` (L = b - a, halves up;
today's rule for ranges). The difference ``R - E`` (at most half a frame) is spread over the stretch in proportion to
``|d - 1|``: the realised slowdown is ``1 + k+ w`` where the shape is slower than 1x and ``1 + k- w`` where it is
faster, with ``k+ = p (1 + l)``, ``k- = p (1 - l)`` and ``l`` chosen so that the integral is exactly R. For a stretch
that is only slower (or only faster) that is the old rule, "scale the deviation from 1x by one constant"; for one
that is both, scaling by one constant can erase or invert the whole effect (E near 0), proportional spreading
cannot. Where rounding down would make a faster part more than twice as fast as asked (tiny stretches), the stretch
rounds up instead: up always keeps every slowdown positive.

**Inverse.** Output frame times are mapped back to source positions by bisection (T is increasing), 60 halvings of
``0..L``: far below float resolution. A position within 1e-9 of a whole frame is that frame (a copy).

A `Segment` builds its stretch from exactly the float expressions the retime code had before curves existed (its
parts' offsets and lengths, ``span - ramp``, ``span * factor - (factor - 1) * ramp``), and the evaluation below adds
its terms in the old order, so a range gives the same positions bit for bit (tests/test_curves.py compares them with
a copy of the old code).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

_BISECTION_STEPS = 60  # halves the bracket (at most a few thousand frames) down to float precision
WHOLE_FRAME_TOLERANCE = 1e-9  # frames; far below anything visible, far above the inversion error
# The integral of each ease's shape, S(u) = c2 u^2 + c3 u^3 + c4 u^4 (its derivative is the shape 0..1).
_EASE_INTEGRAL = {"hold": (0.0, 0.0, 0.0), "linear": (0.5, 0.0, 0.0), "smooth": (0.0, 1.0, -0.5)}


def _integral_of_shape(u, c2, c3, c4):
    # Written so a smoothstep gives u**3 - u**4/2 to the last bit (0 * u**2 and -0.5 * u**4 are exact).
    return (c2 * u**2 + c3 * u**3) + c4 * u**4


def _share(u, c2, c3, c4):
    """The eased share 0..1 at u: the derivative of `_integral_of_shape` (0, u or 3u^2 - 2u^3)."""
    return 2 * c2 * u + 3 * c3 * u**2 + 4 * c4 * u**3


@dataclass(frozen=True)
class Part:
    """A piece of the shape from ``offset`` (source frames from the stretch's start) over ``length`` frames, going
    from ``w0`` to ``w1`` by ``ease``; only its share ``lo..hi`` (of 0..1) belongs to this part (a piece that crosses
    1x is two parts, one slower and one faster)."""

    offset: float
    length: float
    w0: float
    w1: float
    ease: str
    lo: float = 0.0
    hi: float = 1.0

    def shape_at(self, u: float) -> float:
        return self.w0 + (self.w1 - self.w0) * _share(u, *_EASE_INTEGRAL[self.ease])

    @property
    def slower(self) -> bool:
        """Slower than 1x over its share (1x parts count as slower: they add nothing either way)."""
        return self.shape_at((self.lo + self.hi) / 2) >= 0

    def full_terms(self) -> tuple[float, float]:
        """The part's two terms (hold, ease) over its whole share: what `Stretch.output_time` adds past its end."""
        c2, c3, c4 = _EASE_INTEGRAL[self.ease]
        hold = self.w0 * (self.length * self.hi - self.length * self.lo)
        ease = (self.w1 - self.w0) * (self.length * (_integral_of_shape(self.hi, c2, c3, c4)
                                                     - _integral_of_shape(self.lo, c2, c3, c4)))
        return hold, ease


def split_at_one(offset: float, length: float, w0: float, w1: float, ease: str) -> list[Part]:
    """A piece of the shape as parts: two where it crosses 1x (w changes sign inside), else one."""
    if ease == "hold" or w0 * w1 >= 0:
        return [Part(offset, length, w0, w0 if ease == "hold" else w1, ease)]
    share = -w0 / (w1 - w0)  # where the eased share reaches 1x
    crossing = share if ease == "linear" else 0.5 - math.sin(math.asin(1 - 2 * share) / 3)  # smoothstep inverse
    return [Part(offset, length, w0, w1, ease, 0.0, crossing), Part(offset, length, w0, w1, ease, crossing, 1.0)]


@dataclass(frozen=True, eq=False)
class Stretch:
    """Source frames ``start..end`` realised with whole output frames (see the module doc)."""

    start: int
    end: int
    parts: tuple[Part, ...]
    scale: float = 1.0  # p: the slowdown is 1 + p * shape before rounding
    freezes: tuple[tuple[int, int], ...] = ()  # (source frame, extra output frames), start <= frame < end or alone
    extra: int = field(init=False)  # R: whole output frames added by the curve (freezes not included)
    k_slower: float = field(init=False)
    k_faster: float = field(init=False)

    def __post_init__(self) -> None:
        length = float(self.end - self.start)
        deficit = deficit_slower = faster = 0.0
        has_slower = False
        for part in self.parts:
            hold, ease = part.full_terms()
            share = part.length * (part.hi - part.lo)
            deficit = deficit + (share - (hold + ease))  # the integral of (1 - w), in the old Segment's order
            deficit_slower = deficit_slower + (share - (hold + ease) if part.slower else share)
            faster = faster if part.slower else faster + (hold + ease)
            has_slower = has_slower or (part.slower and hold + ease > 0)
        # The integral of w where slower: exactly `span - ramp` for a Segment; 0 when nothing is slower.
        slower = length - deficit_slower if has_slower else 0.0
        integral = length * (1.0 + self.scale) - self.scale * deficit  # of d; `span*factor - (factor-1)*ramp`
        extra = math.floor(integral + 0.5) - (self.end - self.start) if self.parts else 0
        weights = _weights(extra, self.scale, slower, faster)
        if faster < 0 and not _fast_enough(self.parts, self.scale, weights[1]):
            extra += 1  # rounding down would more than double a fast part's speed: round up instead
            weights = _weights(extra, self.scale, slower, faster)
        object.__setattr__(self, "extra", extra)
        object.__setattr__(self, "k_slower", weights[0])
        object.__setattr__(self, "k_faster", weights[1])
        object.__setattr__(self, "_mixed", has_slower and faster < 0)
        object.__setattr__(self, "_arrays", _part_arrays(self.parts))

    @property
    def length(self) -> int:
        return self.end - self.start

    @property
    def frozen_frames(self) -> int:
        return sum(frames for _, frames in self.freezes)

    @property
    def output_length(self) -> int:
        """Output frame intervals the stretch lasts: always whole."""
        return self.length + self.extra + self.frozen_frames

    @property
    def is_identity(self) -> bool:
        """Rounding took the whole effect away (a factor close to 1 over a few frames): every frame is a copy."""
        return self.extra == 0 and not self._mixed and not self.freezes

    @property
    def _linear(self) -> bool:
        one_hold = len(self.parts) == 1 and self.parts[0].ease == "hold" and self.parts[0].offset == 0 \
            and self.parts[0].length == self.length
        return (one_hold and not self.freezes) or self.is_identity

    def continuous_time(self, x) -> np.ndarray:
        """Output time (frames since the stretch's start) at offsets ``x`` (0..length), freezes left out."""
        x = np.asarray(x, dtype=np.float64)
        if not self.parts:
            return x.copy()
        a = self._arrays
        count = len(self.parts)
        j = np.clip(np.searchsorted(a["start"], x, side="right") - 1, 0, count - 1)
        base = np.maximum(j - 1, 0)
        slower, faster = a["prefix_slower"][base], a["prefix_faster"][base]
        # The parts around x term by term (a boundary a rounding error away must not count as complete), the ones
        # before them complete (their prefix sum), the ones after them zero.
        for step in (-1, 0, 1):
            index = j + step
            valid = (index >= 0) & (index < count)
            k = np.clip(index, 0, count - 1)
            hold, ease = _terms(x, a, k)
            on_slower, on_faster = valid & a["slower"][k], valid & ~a["slower"][k]
            slower = slower + np.where(on_slower, hold, 0.0)
            slower = slower + np.where(on_slower, ease, 0.0)
            faster = faster + np.where(on_faster, hold, 0.0)
            faster = faster + np.where(on_faster, ease, 0.0)
        return x + self.k_slower * slower + self.k_faster * faster

    def output_time(self, x) -> np.ndarray:
        """Output time at offsets ``x``, each freeze counted from its frame on (the time after the freeze)."""
        times = self.continuous_time(x)
        for frame, frames in self.freezes:
            times = times + np.where(np.asarray(x) >= frame - self.start, float(frames), 0.0)
        return times

    def source_offsets(self, times) -> np.ndarray:
        """Source offsets (0..length) shown at output times ``times`` (0..output_length): the inverse of T."""
        times = np.asarray(times, dtype=np.float64)
        if self.length == 0:
            return np.zeros_like(times)
        if self._linear:
            # One rounding of an exact ratio, so multiples of output_length/length land exactly on integers.
            return times * self.length / self.output_length
        low, high = np.zeros_like(times), np.full_like(times, float(self.length))
        for _ in range(_BISECTION_STEPS):
            middle = (low + high) / 2
            below = self.output_time(middle) < times
            low, high = np.where(below, middle, low), np.where(below, high, middle)
        offsets = (low + high) / 2
        # Offsets a rounding error away from a whole frame are that frame: copied, not interpolated at t=1e-13.
        whole = np.round(offsets)
        return np.where(np.abs(offsets - whole) < WHOLE_FRAME_TOLERANCE, whole, offsets)

    def slowdown(self, x) -> np.ndarray:
        """The realised slowdown (output frames per source frame) at offsets ``x``, freezes left out."""
        x = np.asarray(x, dtype=np.float64)
        if not self.parts:
            return np.ones_like(x)
        a = self._arrays
        k = np.clip(np.searchsorted(a["start"], x, side="right") - 1, 0, len(self.parts) - 1)
        u = np.clip(_ratio(x - a["offset"][k], a["length"][k]), a["lo"][k], a["hi"][k])
        shape = a["w0"][k] + a["dw"][k] * _share(u, a["c2"][k], a["c3"][k], a["c4"][k])
        return 1.0 + np.where(a["slower"][k], self.k_slower, self.k_faster) * shape

    def audio_breakpoints(self) -> list[float]:
        """Offsets where the audio's pieces break: the ends, each eased part in steps of at most one frame, each
        change of a held speed, each freeze (today's breakpoints for a Segment)."""
        offsets = [0.0, float(self.length)]
        previous_eased = False
        for part in self.parts:
            begin, share = part.offset + part.length * part.lo, part.length * (part.hi - part.lo)
            if part.ease == "hold":
                if not previous_eased:
                    offsets.append(begin)
            else:
                steps = max(1, math.ceil(share))
                offsets += [begin + share * i / steps for i in range(steps + 1)]
            previous_eased = part.ease != "hold"
        offsets += [float(frame - self.start) for frame, _ in self.freezes]
        return offsets


def _weights(extra: int, scale: float, slower: float, faster: float) -> tuple[float, float]:
    """(k+, k-): k+ * slower + k- * faster = extra and k+ + k- = 2 p (the rounding spread in proportion to |w|).
    For a stretch that is only slower this is extra / slower, the old Segment's ``(output_span - span) / (span -
    ramp)`` to the last bit; only faster: extra / faster."""
    if slower == 0 and faster == 0:
        return 0.0, 0.0
    k_slower = (extra - 2 * scale * faster) / (slower - faster)
    k_faster = (extra - 2 * scale * slower) / (faster - slower)
    return k_slower, k_faster


def _fast_enough(parts, scale: float, k_faster: float) -> bool:
    """No faster part ends up more than twice as fast as asked (nor at infinite speed)."""
    for part in parts:
        if not part.slower:
            for u in (part.lo, part.hi):
                w = part.shape_at(u)
                if 1 + k_faster * w < 0.5 * (1 + scale * w):
                    return False
    return True


def _ratio(distance: np.ndarray, length: np.ndarray) -> np.ndarray:
    """distance / length, 0 for an empty part; a part a rounding error long overflows to inf, which the callers'
    clip to its share turns into its end, as wanted."""
    with np.errstate(over="ignore"):
        return np.divide(distance, length, out=np.zeros_like(distance), where=length > 0)


def _part_arrays(parts: tuple[Part, ...]) -> dict[str, np.ndarray]:
    columns = {name: np.array([getattr(p, name) for p in parts], dtype=np.float64)
               for name in ("offset", "length", "w0", "lo", "hi")}
    columns["dw"] = np.array([p.w1 - p.w0 for p in parts], dtype=np.float64)
    for i, name in enumerate(("c2", "c3", "c4")):
        columns[name] = np.array([_EASE_INTEGRAL[p.ease][i] for p in parts], dtype=np.float64)
    columns["start"] = columns["offset"] + columns["length"] * columns["lo"]
    columns["integral_lo"] = _integral_of_shape(columns["lo"], columns["c2"], columns["c3"], columns["c4"])
    columns["slower"] = np.array([p.slower for p in parts], dtype=bool)
    prefix = {True: [0.0], False: [0.0]}  # complete terms of the parts before index i, per side, in order
    for part in parts:
        hold, ease = part.full_terms()
        for side in (True, False):
            prefix[side].append((prefix[side][-1] + hold) + ease if part.slower == side else prefix[side][-1])
    columns["prefix_slower"] = np.array(prefix[True][:-1] or [0.0])
    columns["prefix_faster"] = np.array(prefix[False][:-1] or [0.0])
    return columns


def _terms(x: np.ndarray, a: dict[str, np.ndarray], k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Part k's hold and ease terms at x: ``w0 * (x within the part)`` and ``(w1 - w0) * length * S(u)``."""
    offset, length, lo, hi = a["offset"][k], a["length"][k], a["lo"][k], a["hi"][k]
    low, high = length * lo, length * hi
    hold = a["w0"][k] * (np.clip(x - offset, low, high) - low)
    u = np.clip(_ratio(x - offset, length), lo, hi)
    ease = a["dw"][k] * (length * (_integral_of_shape(u, a["c2"][k], a["c3"][k], a["c4"][k]) - a["integral_lo"][k]))
    return hold, ease
