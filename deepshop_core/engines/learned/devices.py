"""What a device (`engines.devices`) and a precision mean on this machine for the learned engines, with torch, when
an engine loads: a GPU that does not exist is one `InputError` line naming those that do.
``precision``: ``auto`` (fp16 on CUDA, fp32 on the CPU, as core ComfyUI loads these models), ``fp32``, ``fp16``
(also on the CPU, where it is slow and only useful to check the fp16 arithmetic).
"""

from __future__ import annotations

from ...errors import InputError
from ..devices import parse_device

PRECISIONS = ("auto", "fp32", "fp16")


def parse_precision(value) -> str:
    text = str(value).strip().lower()
    if text not in PRECISIONS:
        raise InputError(f"precision must be one of {', '.join(PRECISIONS)}, got {value!r}")
    return text


def resolve(device: str):
    """The `torch.device` for a parsed ``device``; an `InputError` when it does not exist here."""
    import torch

    device = parse_device(device)
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if device == "auto":
        return torch.device("cuda:0" if count else "cpu")
    if device == "cpu":
        return torch.device("cpu")
    index = int(device.split(":")[1])
    if index >= count:
        raise InputError(f"device {device} does not exist: {present()}; choose one of those")
    return torch.device(device)


def present() -> str:
    """What this machine offers, in words: the CUDA GPUs torch sees, or why there are none."""
    import torch

    if not torch.cuda.is_available():
        build = "a CPU-only build" if torch.version.cuda is None else f"CUDA {torch.version.cuda}, but no GPU answers"
        return f"torch {torch.__version__} ({build}) sees no CUDA GPU, only the cpu"
    gpus = [f"cuda:{i} ({torch.cuda.get_device_name(i)})" for i in range(torch.cuda.device_count())]
    return "this machine has cpu, " + ", ".join(gpus)


def dtype(precision: str, device):
    """The torch dtype the network runs in on ``device`` (a `torch.device`)."""
    import torch

    precision = parse_precision(precision)
    if precision == "auto":
        precision = "fp16" if device.type == "cuda" else "fp32"
    return torch.float16 if precision == "fp16" else torch.float32


__all__ = ["PRECISIONS", "dtype", "parse_precision", "present", "resolve"]
