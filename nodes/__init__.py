"""Deepshop's ComfyUI nodes (classic node API): thin adapters over ``deepshop_core``."""

from .common import register_model_folder
from . import interpolate_nodes, slow_motion_node, video_nodes

register_model_folder()

NODE_CLASS_MAPPINGS = {**video_nodes.NODE_CLASS_MAPPINGS, **interpolate_nodes.NODE_CLASS_MAPPINGS,
                       **slow_motion_node.NODE_CLASS_MAPPINGS}
NODE_DISPLAY_NAME_MAPPINGS = {**video_nodes.NODE_DISPLAY_NAME_MAPPINGS, **interpolate_nodes.NODE_DISPLAY_NAME_MAPPINGS,
                              **slow_motion_node.NODE_DISPLAY_NAME_MAPPINGS}

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
