"""Named speed ramps, the shapes video editors offer (CapCut's curve presets: montage, hero, bullet, jump cut,
flash in, flash out), as keyframes over a span that the user places: ``hero@2s/1.5s`` puts the hero shape on source
time 2 s..3.5 s (``/LENGTH`` defaults to `DEFAULT_LENGTH_SECONDS`).

Each shape is a list of ``(share of the span, speed, ease)``; the first and last keyframes sit on the span's ends.
The editors publish pictures, not numbers: these are our readings of what each is for.

* ``montage``: two slow beats, rushed in between, for cutting to music: 1x, 3x, 0.5x, 3x, 0.5x, 1x.
* ``hero``: rush in, a long slow hero moment, rush out: 1x, 3x, 0.25x held over the middle third, 3x, 1x.
* ``bullet``: a short, deep bullet-time dip between fast shoulders: 1x, 4x, 0.1x held briefly, 4x, 1x.
* ``jump_cut``: normal, a sudden leap (8x, no easing in or out), normal.
* ``flash_in``: the span starts at 5x and settles to 1x (a fast entry; at a clip's start, the clip starts fast).
* ``flash_out``: the span starts at 1x and accelerates to 5x (a fast exit; the speed stays 5x after it unless other
  keyframes follow, as after any last keyframe).
"""

from __future__ import annotations

from .limits import DEFAULT_EASE

DEFAULT_LENGTH_SECONDS = 1.0
PRESETS: dict[str, tuple[tuple[float, float, str], ...]] = {
    "montage": ((0.0, 1.0, DEFAULT_EASE), (0.2, 3.0, "smooth"), (0.4, 0.5, "smooth"), (0.6, 3.0, "smooth"),
                (0.8, 0.5, "smooth"), (1.0, 1.0, "smooth")),
    "hero": ((0.0, 1.0, DEFAULT_EASE), (0.2, 3.0, "smooth"), (1 / 3, 0.25, "smooth"), (2 / 3, 0.25, "hold"),
             (0.8, 3.0, "smooth"), (1.0, 1.0, "smooth")),
    "bullet": ((0.0, 1.0, DEFAULT_EASE), (0.25, 4.0, "smooth"), (0.45, 0.1, "smooth"), (0.55, 0.1, "hold"),
               (0.75, 4.0, "smooth"), (1.0, 1.0, "smooth")),
    "jump_cut": ((0.0, 1.0, DEFAULT_EASE), (0.4, 8.0, "hold"), (0.6, 1.0, "hold"), (1.0, 1.0, "hold")),
    "flash_in": ((0.0, 5.0, DEFAULT_EASE), (1.0, 1.0, "smooth")),
    "flash_out": ((0.0, 1.0, DEFAULT_EASE), (1.0, 5.0, "smooth")),
}


def preset_name(text: str) -> str | None:
    """The preset a name means ("Jump cut", "jump-cut" and "jump_cut" are one), or None."""
    name = text.strip().lower().replace(" ", "_").replace("-", "_")
    return name if name in PRESETS else None


def preset_keyframes(name: str, start: float, length: float) -> list[tuple[float, float, str]]:
    """``(source frame, speed, ease)`` of preset ``name`` over frames ``start..start + length``."""
    return [(start + share * length, speed, ease) for share, speed, ease in PRESETS[name]]
