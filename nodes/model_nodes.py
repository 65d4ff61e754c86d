"""Load Interpolation Model (Deepshop): a RIFE 4.x or FILM weight file from ``models/frame_interpolation``, as the
``rife`` or ``film`` engine on the chosen device, for the interpolating nodes' ``interpolation_model`` input. It lists
the same files as core ComfyUI's Load Frame Interpolation Model (0.33 and newer), and brings them to ComfyUIs
without it (0.3.75); where core's loader exists, its models plug into the same input too."""

from __future__ import annotations

from .comfy import folder_paths
from .widgets import CATEGORY, CORE_MODEL_FOLDER, LEARNED_MODEL_TYPE, devices
from .. import deepshop_core as core
from ..deepshop_core.engines import EngineChoice, describe
from ..deepshop_core.engines.learned.engine import engine_for_file


def model_files() -> list[str]:
    """The weight files ComfyUI lists in models/frame_interpolation."""
    if folder_paths is None:
        return []
    try:
        return list(folder_paths.get_filename_list(CORE_MODEL_FOLDER))
    except KeyError:
        return []


class DeepshopLoadInterpolationModel:
    """A RIFE 4.x or FILM file as a Deepshop engine (loaded by the node that interpolates, once per run)."""

    CATEGORY = CATEGORY
    DESCRIPTION = (
        f"Picks a RIFE 4.x (Practical-RIFE 4.25/4.26: normal, lite, heavy) or FILM weight file from "
        f"models/{CORE_MODEL_FOLDER} (flownet.pkl or a .safetensors repack) and runs it with Deepshop's own torch "
        "networks, which give core ComfyUI's frames within one level. Connect it to Slow Motion's or DAIN "
        "Interpolate's interpolation_model: then it makes the in-betweens, at any time, with Deepshop's ranges, "
        "ramps, curves and cut protection."
    )
    RETURN_TYPES = (LEARNED_MODEL_TYPE,)
    RETURN_NAMES = ("interpolation_model",)
    OUTPUT_TOOLTIPS = ("The engine, for an interpolation_model input.",)
    FUNCTION = "load"

    @classmethod
    def INPUT_TYPES(cls):
        precision = describe("rife").option("precision")
        return {"required": {
            "model_name": (model_files(), {"tooltip": f"A weight file in models/{CORE_MODEL_FOLDER}."}),
            "device": (devices(), {"default": "auto", "tooltip": "auto: the first GPU, else the CPU."}),
            "precision": (list(precision.choices), {"default": precision.choices[0], "tooltip": precision.help}),
        }}

    def load(self, model_name, device="auto", precision="auto"):
        path = folder_paths.get_full_path(CORE_MODEL_FOLDER, model_name) if folder_paths is not None else None
        if not path:
            raise core.InputError(f"{model_name!r} is not in models/{CORE_MODEL_FOLDER}: put the file there and "
                                  "refresh the page")
        return (EngineChoice.of(engine_for_file(path), weights=path, device=device, precision=precision),)


NODE_CLASS_MAPPINGS = {"DeepshopLoadInterpolationModel": DeepshopLoadInterpolationModel}
NODE_DISPLAY_NAME_MAPPINGS = {"DeepshopLoadInterpolationModel": "Load Interpolation Model (Deepshop)"}
