"""The widgets the nodes share, declared once: the engine menu (each label maps to a typed `EngineChoice`, none is
parsed), the device, scene-cut protection, factor, ramp, the audio mode and core's interpolation-model input; and
the engine a node runs."""

from __future__ import annotations

import os

from .. import deepshop_core as core
from ..deepshop_core import engines
from ..deepshop_core.engines import EngineChoice
from ..deepshop_core.engines import devices as device_names
from ..deepshop_core.job import AUDIO_MODES, SETTINGS
from ..deepshop_core.speed.limits import MAX_FACTOR
from ..deepshop_core.speed.shutter import DEFAULT_SHUTTER_ANGLE, MAX_SHUTTER_ANGLE, SAMPLINGS
from .comfy import (
    Progress,
    cancel_check,
    core_model_type,
    load_model_engine,
    model_dirs,
)

CATEGORY = "Deepshop/slow motion"
SOURCE_TYPE = "DEEPSHOP_SOURCE"
RANGE_TYPE = "DEEPSHOP_RANGE"
PLAN_TYPE = "DEEPSHOP_PLAN"  # an interpolated range's timeline (range_batches.RenderedRange)
SPEED_TYPE = "DEEPSHOP_SPEED"  # a speed curve as given (speed.request.SpeedRequest), realised on the clip later
CORE_MODEL_FOLDER = "frame_interpolation"  # core's models/frame_interpolation: RIFE 4.x IFNet or FILM weights
LEARNED_MODEL_TYPE = "DEEPSHOP_INTERP_MODEL"  # Load Interpolation Model (Deepshop): an EngineChoice of rife or film

SLOW_MOTION_NOTE = (
    "Slow motion = more frames at the same frame rate: the in-between frames are shown at the clip's own frame "
    "rate, so the range lasts longer and plays slower. Raise the frame rate by the same factor instead and the "
    "clip keeps its speed and only gets smoother."
)
_HELP = {s.name: s.help for s in SETTINGS}  # the job's own words, where a widget is a job option

DAIN_AUTO = "dain (find or download DAIN_weight.tar)"
BLEND = "blend (cross-fade, no motion)"


def weights_found(folder: str) -> dict[str, str]:
    """Weights in ComfyUI's ``models/<folder>`` folders, relative name -> path: unpacked DAIN folders (``model`` +
    ``params``) and ``.tar`` archives."""
    found = {}
    for base in model_dirs(folder):
        for dirpath, dirnames, filenames in os.walk(base, followlinks=True):
            dirnames.sort()
            rel = os.path.relpath(dirpath, base)
            if "model" in filenames and "params" in filenames:
                found.setdefault("." if rel == "." else rel, dirpath)
            for name in sorted(f for f in filenames if f.endswith(".tar")):
                found.setdefault(os.path.normpath(os.path.join(rel, name)), os.path.join(dirpath, name))
    return dict(sorted(found.items()))


def engine_menu() -> dict[str, EngineChoice]:
    """The engine menu, label -> choice: flow at each preset (its default first), DAIN with each weights file in
    models/dain and DAIN by download, blend."""
    menu = {f"flow ({p})": EngineChoice.of("flow", preset=p) for p in engines.describe("flow").presets}
    dain_folder = engines.describe("dain").weights_folder
    menu.update({f"dain: {rel}": EngineChoice.of("dain", weights=path, download=False)
                 for rel, path in weights_found(dain_folder).items()})
    menu[DAIN_AUTO] = EngineChoice.of("dain", download=True)
    menu[BLEND] = EngineChoice.of("blend")
    return menu


def devices() -> list[str]:
    """The device menu (the engines' one vocabulary, the first GPUs spelled out)."""
    return list(device_names.MENU)


def engine_widgets() -> dict:
    """The engine menu, its device and scene-cut protection: the widgets of every node that interpolates."""
    labels = list(engine_menu())
    return {
        "engine": (labels, {"default": labels[0],
                            "tooltip": "flow: optical flow on the CPU. dain: the DAIN network (weights in "
                                       "models/dain, or downloaded). blend: cross-fade."}),
        "device": (devices(), {"default": "auto", "tooltip": "Where DAIN, RIFE and FILM run: auto (the first GPU, else "
                                                            "the CPU), cpu, or a GPU (flow and blend use the CPU)."}),
        "scene_cut_protection": ("BOOLEAN", {"default": True,
                                             "tooltip": "Never interpolate across a scene cut: hold the frame "
                                                        "instead of morphing two shots."}),
    }


def factor_widget(tooltip: str = _HELP["factor"]) -> tuple:
    return ("FLOAT", {"default": 4.0, "min": 1.0, "max": MAX_FACTOR, "step": 0.5, "tooltip": tooltip})


def ramp_widget(tooltip: str = "Source frames over which the speed eases from 1x into the factor and back (0 = a "
                               "hard switch); rendered at their exact times.") -> tuple:
    return ("FLOAT", {"default": 0.0, "min": 0.0, "max": 1000.0, "step": 1.0, "tooltip": tooltip})


def audio_mode_widget() -> tuple:
    return (list(AUDIO_MODES), {"default": "stretch", "tooltip": "stretch: slowed or sped up with the pitch kept. "
                                                                  "varispeed: the pitch follows the speed, like tape. "
                                                                  "silence: silent where the speed is not 1x. none: "
                                                                  "no audio out. A freeze is silent in every mode."})


def shutter_widgets() -> dict:
    """The shutter of a speed curve's faster parts: its angle and how its motion blur is sampled."""
    return {
        "shutter_angle": ("FLOAT", {"default": DEFAULT_SHUTTER_ANGLE, "min": 0.0, "max": MAX_SHUTTER_ANGLE,
                                    "step": 15.0, "tooltip": "Only with a speed curve: the " + _HELP["shutter"]}),
        "blur": (list(SAMPLINGS), {"default": SAMPLINGS[0], "tooltip": "Only with a speed curve: " + _HELP["blur"]}),
    }


def model_input() -> dict:
    """The optional input for a RIFE 4.x or FILM model: from Deepshop's Load Interpolation Model, and on a server
    with core interpolation (0.33+) also from core's Load Frame Interpolation Model (a union type, whichever name
    core gives its type)."""
    core_type = core_model_type()
    types = LEARNED_MODEL_TYPE if core_type is None else f"{core_type},{LEARNED_MODEL_TYPE}"
    return {"interpolation_model": (types, {
        "tooltip": "Optional: a RIFE 4.x or FILM model from Load Interpolation Model (Deepshop) or core's Load "
                   f"Frame Interpolation Model (weights in models/{CORE_MODEL_FOLDER}). When connected it makes the "
                   "frames instead of the engine menu (core's runs where ComfyUI keeps it, whatever 'device' "
                   "says)."})}


def chosen_engine(label: str | None, device: str = "auto") -> EngineChoice:
    """The choice behind a menu label (None: the menu's first), with the device widget's value where the engine
    takes a device."""
    menu = engine_menu()
    label = label or next(iter(menu))
    try:
        choice = menu[label]
    except KeyError:
        raise core.InputError(f"engine {label!r} is not on the menu (its weights may have been moved): refresh the "
                              "page and pick an engine again") from None
    return choice.replace(device=device) if choice.info.option("device") else choice


def live_engine(label: str | None, device: str = "auto", interpolation_model=None) -> engines.Engine:
    """The engine a node runs: core's model when connected, else the menu's choice, loaded with ComfyUI's model
    folders to search, its cancel and a progress bar for a download."""
    if isinstance(interpolation_model, EngineChoice):  # Deepshop's loader: loaded here, for this run
        choice = interpolation_model
    elif interpolation_model is not None:  # core's loader: its network, where ComfyUI keeps it
        return load_model_engine(interpolation_model)
    else:
        choice = chosen_engine(label, device)
    folder = choice.info.weights_folder
    return choice.load(search_dirs=model_dirs(folder) if folder else [], should_cancel=cancel_check(),
                       progress=Progress(1))
