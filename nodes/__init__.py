"""Deepshop's ComfyUI nodes (classic node API): thin adapters over ``deepshop_core``.

``comfy``: what the nodes take from the running ComfyUI; ``convert``: IMAGE/AUDIO <-> the core's frames and audio;
``widgets``: the widgets the nodes share (the engine menu maps labels to typed engine choices); the node modules
import those three and the core, never each other.
"""

from . import interpolate_nodes, model_nodes, slow_motion_node, speed_curve_node, video_nodes
from .comfy import register_model_folders

register_model_folders()

_MODULES = (video_nodes, interpolate_nodes, slow_motion_node, speed_curve_node, model_nodes)
NODE_CLASS_MAPPINGS = {name: cls for m in _MODULES for name, cls in m.NODE_CLASS_MAPPINGS.items()}
NODE_DISPLAY_NAME_MAPPINGS = {name: text for m in _MODULES for name, text in m.NODE_DISPLAY_NAME_MAPPINGS.items()}

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
