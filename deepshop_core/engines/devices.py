"""Where an engine runs: the one device vocabulary every engine, the command line and the nodes use.

``auto`` (the first GPU the engine's framework sees, else the CPU), ``cpu``, or ``cuda:N`` (a GPU by its number;
``cuda``, ``gpu`` and ``gpu:N`` are other spellings of the same). Checked without importing torch or Paddle, when a
choice is made; whether the GPU exists is each engine's to say when it loads, naming those that do.
"""

from __future__ import annotations

from ..errors import InputError

DEVICES = ("auto", "cpu", "cuda:N")
MENU = ("auto", "cpu", "cuda:0", "cuda:1")  # the node menu: "cuda:N" spelled out for the first GPUs


def parse_device(value) -> str:
    """``auto``, ``cpu`` or ``cuda:N`` from what a user wrote."""
    text = str(value).strip().lower()
    if text in ("auto", "cpu"):
        return text
    if text in ("cuda", "gpu"):
        return "cuda:0"
    for prefix in ("cuda:", "gpu:"):
        if text.startswith(prefix) and text[len(prefix):].isdigit():
            return f"cuda:{int(text[len(prefix):])}"
    raise InputError(f"device must be auto, cpu or cuda:N (a GPU's number), got {value!r}")


def gpu_index(device: str) -> int | None:
    """The GPU a checked device names (None for auto and cpu)."""
    device = parse_device(device)
    return int(device.split(":")[1]) if device.startswith("cuda:") else None


def gpu_requested(device: str) -> bool:
    """Whether a device names a GPU (``auto`` decides only where the engine loads): for a scheduler that must reserve
    one (Ray) without importing torch."""
    return gpu_index(device) is not None
