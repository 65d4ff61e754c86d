"""One job: what to do to one clip. The command line, a batch manifest row, ``slow_motion``'s keywords and the nodes
each make one `Job`; planning, rendering, chunks and Ray take it as one value.

Every user-facing option is declared once, as a field of `Job` with its `Setting` (the command line's flag, the
help, the check that turns text or a value into the checked value, whether a manifest may set it): the command line
builds its arguments from `SETTINGS`, a manifest reads the same names, and ``slow_motion(**options)`` passes them
here. Adding an option is one line in `Job`. The engine is the exception only in form: ``--engine`` names it and
its options (``--preset``, ``--weights``, ``--device``) are the ones the engines declare (`engines.EngineInfo`).
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterable

from . import engines
from .clock import check_range_text, parse_bound
from .engines import EngineChoice
from .engines.base import yes_no
from .errors import InputError
from .media.formats import FORMATS
from .speed.limits import check_factor
from .speed.parse import check_curve_file
from .speed.request import SpeedRequest
from .speed.shutter import SAMPLINGS, Shutter
from .timeline import Segment

AUDIO_MODES = ("stretch", "varispeed", "silence", "none")  # what is heard where the speed is not 1x
RETIMING = ("ranges", "speed", "speed_file", "smooth")  # the ways to say how a clip is retimed: one per job
_RETIMING_NAMES = {"ranges": "ranges (--range)", "speed": "a speed curve (--speed)",
                   "speed_file": "a speed curve file (--speed-file)", "smooth": "smooth mode (--smooth)"}
_RANGE_SEPARATORS = re.compile(r"[,;\s]+")


# --- checks: text (a command line, a CSV cell) or a value -> the checked value, or an InputError ------------------


def _ranges(value) -> tuple:
    """Ranges as a tuple of "START:END" texts, ``(start, end)`` frame pairs or `Segment`s. Text may hold several,
    separated by commas, semicolons or spaces. A text range is checked for its form now (the clip's frame count is
    checked when it is planned)."""
    items = _RANGE_SEPARATORS.split(value.strip()) if isinstance(value, str) else list(value)
    ranges = []
    for item in items:
        if isinstance(item, str):
            if item:
                check_range_text(item)
                ranges.append(item.strip())
        elif isinstance(item, Segment):
            ranges.append(item)
        else:
            try:
                start, end = (int(v) for v in item)
            except (TypeError, ValueError):
                raise InputError(f"a range must be (start, end) frames or text like '120:150' or '4.8s:6.0s', "
                                 f"got {item!r}") from None
            ranges.append((start, end))
    return tuple(ranges)


def _ramp(value) -> float:
    try:
        ramp = float(value)
    except (TypeError, ValueError):
        ramp = math.nan
    if not math.isfinite(ramp) or ramp < 0:
        raise InputError(f"ramp {value!r} is invalid: use 0 (no easing) or a positive number of source frames")
    return ramp


def _one_of(what: str, choices: Iterable[str]) -> Callable[[object], str]:
    options = tuple(choices)

    def check(value) -> str:
        if str(value) not in options:
            raise InputError(f"unknown {what} {value!r}: choose one of {', '.join(options)}")
        return str(value)
    return check


def _quality(value) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise InputError(f"quality {value!r} is not a whole number (a CRF such as 18; lower is better)") from None


@dataclass(frozen=True)
class Crop:
    """The part of a clip a job keeps: from ``start`` to ``end`` (end excluded; None: to the clip's end), each a
    frame number or seconds ("4.8s"). ``relative``: the job's ranges count from the crop's start (a trimmed VIDEO,
    as its user sees it) instead of from the clip's (the command line's ``--crop``)."""

    start: int | str = 0
    end: int | str | None = None
    relative: bool = False

    @classmethod
    def parse(cls, value) -> Crop:
        """``"FIRST:LAST"`` or ``(first, last)``: source frames first..last, both kept (the command line's form)."""
        if isinstance(value, Crop):
            return value
        try:
            first, last = (int(v) for v in (value.split(":") if isinstance(value, str) else value))
        except (TypeError, ValueError, AttributeError):
            raise InputError(f"crop must be FIRST:LAST frame numbers, got {value!r}") from None
        if not 0 <= first <= last:
            raise InputError(f"crop {first}:{last} is empty or negative: give FIRST:LAST with 0 <= FIRST <= LAST")
        return cls(first, last + 1)

    def frames(self, frame_rate: Fraction, frame_count: int) -> tuple[int, int]:
        """(first frame, frame count) of the kept part of a ``frame_count``-frame clip."""
        first = parse_bound(self.start, frame_rate)
        end = frame_count if self.end is None else parse_bound(self.end, frame_rate)
        if isinstance(self.end, str):  # a time window may end past the clip (a trimmed VIDEO's rounded duration)
            end = min(end, frame_count)
        if not 0 <= first < end <= frame_count:
            raise InputError(f"frame range {first}..{end - 1} is outside the clip (frames 0..{frame_count - 1})")
        return first, end - first


def _shutter(value) -> float:
    return Shutter(value).angle  # the one check of an angle (speed.shutter)


def _crop(value) -> Crop | None:
    return None if value is None else Crop.parse(value)


def _nothing_or(check: Callable[[object], object]) -> Callable[[object], object]:
    return lambda value: None if value is None else check(value)


# --- the job ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """A user-facing option of a job. Its ``name`` is the `Job` field, the API keyword and the manifest key;
    ``flag`` the command line's; ``kind``: "value", "list" (repeatable), "on" or "off" (a flag that sets it true or
    false)."""

    name: str
    flag: str
    check: Callable[[object], object]
    help: str
    kind: str = "value"
    metavar: str | None = None
    choices: tuple[str, ...] | None = None


def _setting(default, flag: str, check, help: str, **more):
    return field(default=default, metadata={"setting": dict(flag=flag, check=check, help=help, **more)})


@dataclass(frozen=True)
class Job:
    """What to do to one clip: every option of ``deepshop slowmo``. Values are checked (and text converted) when
    the job is made, so a bad one is refused before anything is read or written."""

    ranges: tuple = _setting((), "--range", _ranges, "frames to slow down, e.g. 120:150, or seconds, e.g. 4.8s:6.0s "
                             "(repeatable)", kind="list", metavar="START:END")
    factor: float = _setting(4.0, "--factor", check_factor, "how many times slower the ranges play, or how many "
                             "times the frame rate with --smooth (default 4; 2.5 works)")
    ramp: float = _setting(0.0, "--ramp", _ramp, "ease in and out of a range's slowdown over this many source frames "
                           "(default 0: a hard cut)", metavar="FRAMES")
    smooth: bool = _setting(False, "--smooth", yes_no("smooth"), "instead of slowing ranges, play the whole clip "
                            "at FACTOR x the frame rate, same duration", kind="on")
    speed: SpeedRequest | None = _setting(None, "--speed", SpeedRequest.of, "instead of ranges, a speed curve: "
                                          "keyframes TIME:SPEED[:EASE] (0s:1,1s:0.25,2.5s:3,3.5s:1; TIME in seconds "
                                          "with s or frames), freezes TIME:freeze=DURATION, presets NAME@TIME[/LENGTH]"
                                          " (montage, hero, bullet, jump_cut, flash_in, flash_out); in Python also "
                                          "one speed per frame", metavar="KEYFRAMES")
    speed_file: Path | None = _setting(None, "--speed-file", _nothing_or(check_curve_file), "the speed curve "
                                       "from a file: CSV time,speed[,ease] or JSON (keyframes, or one speed per "
                                       "frame)", metavar="FILE")
    shutter: float = _setting(180.0, "--shutter", _shutter, "shutter angle in degrees where a curve plays faster "
                              "than 1x: each output frame shows the source over that share of its interval (motion "
                              "blur; default 180, the film look; 0: dropped frames, which strobe)", metavar="DEGREES")
    blur: str = _setting("subframes", "--blur", _one_of("blur sampling", SAMPLINGS), "how that motion blur is "
                         "sampled: subframes (in-betweens by the engine, a quarter frame apart; default) or frames "
                         "(the covered source frames blended, nothing synthesised)", choices=SAMPLINGS)
    engine: EngineChoice = field(default_factory=EngineChoice)  # --engine and the options the engines declare
    audio: str = _setting("stretch", "--audio", _one_of("audio mode", AUDIO_MODES), "sound where the speed is not "
                          "1x: stretch (pitch kept, default), varispeed (pitch follows the speed, like tape), "
                          "silence, or none (no track)", choices=AUDIO_MODES)
    scene_cuts: bool = _setting(True, "--no-scene-cuts", yes_no("scene_cuts"), "interpolate across scene cuts too "
                                "(default: hold the nearest frame at a cut)", kind="off")
    dedupe: bool = _setting(True, "--no-dedupe", yes_no("dedupe"), "treat repeated source frames as motion stops "
                            "(default: interpolate across them)", kind="off")
    crop: Crop | None = _setting(None, "--crop", _crop, "keep only source frames FIRST..LAST", metavar="FIRST:LAST")
    format: str | None = _setting(None, "--format", _nothing_or(_one_of("output format", FORMATS)), "output format "
                                  "(default: from the extension)", choices=tuple(sorted(FORMATS)))
    quality: int | None = _setting(None, "--quality", _nothing_or(_quality), "encoder quality (CRF for "
                                   "h264/h265/vp9; lower is better)")

    def __post_init__(self) -> None:
        for setting in SETTINGS:  # each check's message names the value and what to change
            object.__setattr__(self, setting.name, setting.check(getattr(self, setting.name)))
        object.__setattr__(self, "engine", engines.choice(self.engine))
        given = [_RETIMING_NAMES[name] for name in RETIMING if getattr(self, name)]
        if len(given) > 1:
            raise InputError(f"{' and '.join(given)} are given together: retime a clip one way; a range is one case "
                             f"of a curve (range 10:30 at factor 4 is the speed curve 0:1,10:0.25:hold,30:1:hold)")

    @property
    def speed_request(self) -> SpeedRequest | None:
        """The job's speed curve as given (``speed`` or ``speed_file``), or None (ranges, smooth mode)."""
        return self.speed if self.speed is not None else SpeedRequest.of(self.speed_file)

    @property
    def shutter_of(self) -> Shutter:
        """The shutter of the faster parts (`speed.shutter`)."""
        return Shutter(self.shutter, self.blur)

    @classmethod
    def of(cls, **options) -> Job:
        """A job from keyword options (the API's and a manifest's names); an unknown one is an InputError."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise InputError(f"unknown option(s) {', '.join(unknown)}: the options are {', '.join(sorted(known))}")
        return cls(**options)

    def replace(self, **changes) -> Job:
        return dataclasses.replace(self, **changes)


SETTINGS: tuple[Setting, ...] = tuple(Setting(f.name, **f.metadata["setting"]) for f in dataclasses.fields(Job)
                                      if "setting" in f.metadata)
