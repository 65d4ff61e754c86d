"""Speed curves as users write them: keyframe text, presets, CSV and JSON files, one speed per frame.

Text (the command line's ``--speed``, the node's keyframes box): items separated by commas, semicolons or newlines.

* ``TIME:SPEED[:EASE]``: a keyframe, e.g. ``1.2s:0.25`` or ``30:3:linear``. SPEED 1 is normal, 0.25 four times
  slower, 3 three times faster (an ``x`` after it is allowed); EASE is smooth (default), linear or hold, and shapes
  the change arriving at this keyframe (`speed.curve`).
* ``TIME:freeze=DURATION``: hold the frame at TIME (the nearest frame) DURATION longer, e.g. ``2.2s:freeze=0.5s``.
* ``NAME@TIME[/LENGTH]``: a preset (`speed.presets`) over source time TIME..TIME+LENGTH, e.g. ``hero@2s/1.5s``.

TIME and LENGTH are seconds with an ``s`` (converted with the clip's exact rate, so they may fall between frames)
or whole source frames without; a freeze's DURATION is output seconds with an ``s`` or whole output frames without.
Keyframes (presets included) must come in time order; everything must lie inside the clip.

Files: CSV with a header ``time,speed[,ease]`` (a freeze is a row whose speed is ``freeze=DURATION``); JSON, a list
(or ``{"keyframes": [...]}``) of objects ``{"time": "1.2s", "speed": 0.25, "ease": "linear"}``,
``{"time": "2.2s", "freeze": "0.5s"}`` or ``{"preset": "hero", "time": "2s", "length": "1.5s"}``, or a list of
numbers, one speed per source frame. A per-frame list (`speeds_per_frame`, what KJNodes' Spline Editor gives) puts a
keyframe on every frame, linear in between.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..clock import exact_rate
from ..errors import InputError
from ..files import require_input
from .curve import Freeze, Keyframe, SpeedCurve
from .limits import DEFAULT_EASE, MAX_FREEZE_SECONDS, check_ease, check_speed
from .presets import DEFAULT_LENGTH_SECONDS, PRESETS, preset_keyframes, preset_name

FORMS = ('keyframes TIME:SPEED[:EASE] (e.g. 1.2s:0.25 or 30:3:linear), freezes TIME:freeze=DURATION (e.g. '
         '2.2s:freeze=0.5s) and presets NAME@TIME[/LENGTH] (e.g. hero@2s/1.5s), separated by commas; TIME in '
         'seconds with s, or a whole frame number')
_NUMBER = re.compile(r"^\s*(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(?P<seconds>s?)\s*$", re.IGNORECASE)
_SEPARATORS = re.compile(r"[,;\n]")
CURVE_FILE_SUFFIXES = (".csv", ".json")
_FORM_RATE = Fraction(1000)  # any rate reads the form; this one makes a freeze's limit in frames as lax as any clip's


@dataclass
class _Builder:
    """The keyframes and freezes of one curve as they are read, each with the user's text for the messages."""

    frame_rate: Fraction
    frame_count: int | None  # None: the form only (`check_speed_text`), before the clip is known
    keyframes: list[tuple[str, float, float, str]] = field(default_factory=list)  # (text, frame, speed, ease)
    freezes: list[tuple[str, int, int]] = field(default_factory=list)  # (text, frame, frames)

    def time(self, value, what: str) -> Fraction:
        """Source frames (exact) of a TIME: "1.2s" or a whole frame number."""
        frames = _amount(value, self.frame_rate, what, "source")
        self.inside(frames, what)
        return frames

    def inside(self, frames: Fraction, what: str) -> None:
        if self.frame_count is None:
            return
        last = self.frame_count - 1
        if frames > last:
            raise InputError(f"{what} lies at frame {float(frames):g}, past the last frame ({last}, at "
                             f"{float(last / self.frame_rate):g}s) of the {self.frame_count}-frame clip: use a "
                             f"time up to {float(last / self.frame_rate):g}s")

    def keyframe(self, text: str, time, speed, ease=DEFAULT_EASE) -> None:
        what = f"keyframe {text!r}"
        frame = self.time(time, what)
        self.keyframes.append((text, float(frame), check_speed(_strip_x(speed), f"in {what}"),
                               check_ease(ease, f"in {what}")))

    def freeze(self, text: str, time, duration) -> None:
        what = f"freeze {text!r}"
        frame = math.floor(self.time(time, what) + Fraction(1, 2))
        frames = math.floor(_amount(duration, self.frame_rate, what, "output") + Fraction(1, 2))
        if not 1 <= frames <= MAX_FREEZE_SECONDS * self.frame_rate:
            raise InputError(f"{what} lasts {frames} frames: give a duration from one frame (e.g. "
                             f"{float(1 / self.frame_rate):.3g}s) to {MAX_FREEZE_SECONDS:g}s")
        self.freezes.append((text, frame if self.frame_count is None else min(frame, self.frame_count - 1), frames))

    def preset(self, text: str, name: str, time, length=None) -> None:
        what = f"preset {text!r}"
        known = preset_name(name)
        if known is None:
            raise InputError(f"{what}: unknown preset {name!r}: use one of {', '.join(PRESETS)}")
        start = self.time(time, what)
        span = _amount(f"{DEFAULT_LENGTH_SECONDS}s" if length is None else length, self.frame_rate, what, "source")
        if span <= 0:
            raise InputError(f"{what} has no length: give LENGTH after a slash, e.g. {name}@2s/1.5s")
        self.inside(start + span, f"{what} (ending at {float((start + span) / self.frame_rate):g}s)")
        for frame, speed, ease in preset_keyframes(known, float(start), float(span)):
            self.keyframes.append((text, frame, speed, ease))

    def curve(self) -> SpeedCurve:
        if not self.keyframes and not self.freezes:
            raise InputError(f"the speed curve is empty: give {FORMS}")
        for (text_a, a, *_), (text_b, b, *_) in zip(self.keyframes, self.keyframes[1:]):
            if not b > a:
                pair = f"{text_a!r} and {text_b!r}" if text_a != text_b else f"in {text_a!r}"
                raise InputError(f"keyframes {pair} are out of order (frames {a:g} and {b:g}): list keyframes by "
                                 f"time, each later than the one before, and keep presets clear of other keyframes")
        seen: dict[int, str] = {}
        for text, frame, _ in self.freezes:
            if frame in seen:
                raise InputError(f"freezes {seen[frame]!r} and {text!r} both hold frame {frame}: give one freeze "
                                 f"per frame (add their durations)")
            seen[frame] = text
        keyframes = tuple(Keyframe.at_speed(frame, speed, ease) for _, frame, speed, ease in self.keyframes)
        freezes = tuple(Freeze(frame, frames) for _, frame, frames in self.freezes)
        return SpeedCurve(self.frame_count, keyframes, freezes)


def _amount(value, frame_rate: Fraction, what: str, kind: str) -> Fraction:
    """Frames (exact) of "1.2s" (seconds at ``frame_rate``) or a whole number of frames ("30", 30)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float, np.integer, np.floating)):
        raise InputError(f"{what}: {value!r} is not a time: write seconds with s (1.2s) or a whole frame number")
    if not isinstance(value, str):
        if not float(value).is_integer():
            raise InputError(f"{what}: {value!r} is not a whole number of {kind} frames: write seconds as text "
                             f"with s (\"{value}s\")")
        value = str(int(value))
    match = _NUMBER.match(value)
    if not match:
        sign = " (times count from 0)" if value.strip().startswith("-") else ""
        raise InputError(f"{what}: {value!r} is not a time{sign}: write seconds with s (1.2s) or a whole frame "
                         f"number (30)")
    number = match["number"]
    if match["seconds"]:
        return Fraction(number) * frame_rate
    if "." in number:
        raise InputError(f"{what}: {number} is a fractional frame number: add s for seconds ({number}s)")
    return Fraction(int(number))


def _strip_x(speed):
    return speed.strip().rstrip("xX").strip() if isinstance(speed, str) else speed


def parse_speed(text: str, frame_rate, frame_count: int) -> SpeedCurve:
    """The curve ``text`` describes for a clip of ``frame_count`` frames at ``frame_rate`` (see the module doc)."""
    if not isinstance(text, str):
        raise InputError(f"speed curve {text!r} is not text: give {FORMS}")
    builder = _Builder(_rate(frame_rate), _count(frame_count))
    for item in (part.strip() for part in _SEPARATORS.split(text)):
        if item:
            _read_item(builder, item)
    return builder.curve()


def check_speed_text(text) -> str:
    """``text`` if every item has a form `parse_speed` reads (numbers, speeds within the limits, eases, presets,
    freezes), else the InputError naming the item: what a job checks before the clip is known. Whether the times
    come in order and lie inside the clip is checked when the clip is planned (seconds become frames then)."""
    if not isinstance(text, str):
        raise InputError(f"speed curve {text!r} is not text: give {FORMS}")
    builder = _Builder(_FORM_RATE, None)
    for item in (part.strip() for part in _SEPARATORS.split(text)):
        if item:
            _read_item(builder, item)
    if not builder.keyframes and not builder.freezes:
        raise InputError(f"the speed curve is empty: give {FORMS}")
    return text.strip()


def _read_item(builder: _Builder, item: str) -> None:
    if "@" in item:
        name, _, where = item.partition("@")
        time, _, length = where.partition("/")
        builder.preset(item, name, time, length or None)
        return
    fields = [f.strip() for f in item.split(":")]
    if len(fields) == 2 and fields[1].lower().startswith("freeze"):
        key, _, duration = fields[1].partition("=")
        if key.strip().lower() != "freeze" or not duration.strip():
            raise InputError(f"freeze {item!r} is not understood: write it as TIME:freeze=DURATION, e.g. "
                             f"2.2s:freeze=0.5s")
        builder.freeze(item, fields[0], duration.strip())
    elif len(fields) in (2, 3):
        builder.keyframe(item, fields[0], fields[1], fields[2] if len(fields) == 3 else DEFAULT_EASE)
    else:
        raise InputError(f"{item!r} is not understood: give {FORMS}")


def read_speed_file(path, frame_rate, frame_count: int) -> SpeedCurve:
    """The curve in a CSV or JSON file (see the module doc), by its suffix (.csv, .json)."""
    path = check_curve_file(path)
    suffix = path.suffix.lower()
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"speed curve file {path} cannot be read as text ({error})") from error
    if suffix == ".csv":
        return _from_rows(_csv_rows(text, path), frame_rate, frame_count)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"speed curve file {path} is not valid JSON ({error})") from error
    if isinstance(data, dict) and "keyframes" in data:
        data = data["keyframes"]
    if isinstance(data, list) and data and all(isinstance(v, (int, float)) for v in data):
        return speeds_per_frame(data, frame_count)
    if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
        raise InputError(f"speed curve file {path}: JSON must be a list of keyframe objects such as "
                         f'{{"time": "1.2s", "speed": 0.25}} (or one speed per frame)')
    return _from_rows(data, frame_rate, frame_count)


def check_curve_file(path) -> Path:
    """A curve file's path, if it is there and is .csv or .json (its rows are read when the clip is known)."""
    path = require_input(path, "speed curve file")
    if path.suffix.lower() not in CURVE_FILE_SUFFIXES:
        raise InputError(f"speed curve file {path} is neither .csv nor .json: write keyframes as CSV (time,speed,ease)"
                         f" or JSON")
    return path


def _csv_rows(text: str, path) -> list[dict]:
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip().lower() for name in reader.fieldnames or []]
    if header[:2] != ["time", "speed"] or not set(header) <= {"time", "speed", "ease"}:
        raise InputError(f"speed curve file {path}: the CSV header is {','.join(header) or 'missing'}; it must be "
                         f"time,speed or time,speed,ease")
    rows = []
    for row in reader:
        row = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
        speed = row.get("speed", "")
        if speed.lower().startswith("freeze"):
            row = {"time": row["time"], "freeze": speed.partition("=")[2]}
        rows.append({k: v for k, v in row.items() if v != ""})
    return rows


def _from_rows(rows: list[dict], frame_rate, frame_count: int) -> SpeedCurve:
    builder = _Builder(_rate(frame_rate), _count(frame_count))
    for number, row in enumerate(rows, 1):
        text = f"row {number}: " + ", ".join(f"{k}={v}" for k, v in row.items())
        unknown = set(row) - {"time", "speed", "ease", "freeze", "preset", "length"}
        if unknown or "time" not in row:
            raise InputError(f"{text}: each row needs a time and a speed, a freeze or a preset; unknown "
                             f"{', '.join(sorted(unknown)) or 'nothing'}")
        if "preset" in row:
            builder.preset(text, str(row["preset"]), row["time"], row.get("length"))
        elif "freeze" in row:
            builder.freeze(text, row["time"], row["freeze"])
        elif "speed" in row:
            builder.keyframe(text, row["time"], row["speed"], row.get("ease", DEFAULT_EASE))
        else:
            raise InputError(f"{text}: give a speed (or a freeze) for time {row['time']}")
    return builder.curve()


def speeds_per_frame(values, frame_count: int) -> SpeedCurve:
    """One speed per source frame (KJNodes' Spline Editor FLOAT list): a keyframe on each frame, linear between
    them (runs of one speed need only their ends)."""
    count = _count(frame_count)
    try:
        speeds = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise InputError("the speed list must be numbers, one speed per frame") from None
    if len(speeds) != count:
        raise InputError(f"the speed list has {len(speeds)} values but the clip has {count} frames: give one speed "
                         f"per frame (resample the list to {count} values)")
    for k, speed in enumerate(speeds):
        check_speed(float(speed), f"at frame {k} of the speed list")
    keep = np.ones(count, dtype=bool)
    keep[1:-1] = (speeds[1:-1] != speeds[:-2]) | (speeds[1:-1] != speeds[2:])
    return SpeedCurve(count, tuple(Keyframe.at_speed(float(k), float(speeds[k]), "linear")
                                   for k in np.flatnonzero(keep)))


def _rate(frame_rate) -> Fraction:
    return exact_rate(frame_rate)  # the one rate normaliser


def _count(frame_count) -> int:
    if isinstance(frame_count, bool) or not isinstance(frame_count, (int, np.integer)) or frame_count < 2:
        raise InputError(f"a speed curve needs a clip of at least two frames; got {frame_count!r} frames")
    return int(frame_count)
