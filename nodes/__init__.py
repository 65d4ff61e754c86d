"""Deepshop's ComfyUI nodes (classic node API): thin adapters over ``deepshop_core``.

``comfy``: what the nodes take from the running ComfyUI; ``convert``: IMAGE/AUDIO <-> the core's frames and audio;
``widgets``: the widgets the nodes share (the engine menu maps labels to typed engine choices); the node modules
import those three and the core, never each other.
"""

from . import interpolate_nodes, slow_motion_node, speed_curve_node, video_nodes
from .comfy import register_model_folders

register_model_folders()

NODE_CLASS_MAPPINGS = {**video_nodes.NODE_CLASS_MAPPINGS, **interpolate_nodes.NODE_CLASS_MAPPINGS,
                       **slow_motion_node.NODE_CLASS_MAPPINGS, **speed_curve_node.NODE_CLASS_MAPPINGS}
NODE_DISPLAY_NAME_MAPPINGS = {**video_nodes.NODE_DISPLAY_NAME_MAPPINGS, **interpolate_nodes.NODE_DISPLAY_NAME_MAPPINGS,
                              **slow_motion_node.NODE_DISPLAY_NAME_MAPPINGS,
                              **speed_curve_node.NODE_DISPLAY_NAME_MAPPINGS}

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
