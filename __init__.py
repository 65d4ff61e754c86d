"""Deepshop for ComfyUI: slow motion of a range of a video (in-between frames at the same frame rate).

ComfyUI imports this file when the project is cloned into ``custom_nodes/``; the work is done by ``deepshop_core``.
"""

import sys

try:
    from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS
except ImportError:
    if "folder_paths" in sys.modules:  # inside ComfyUI: a real failure, let ComfyUI report it
        raise
    # Imported outside ComfyUI without torch (pytest collects the project root as a package, since this file makes
    # it one): there are no nodes to offer there.
    NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS = {}, {}

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
