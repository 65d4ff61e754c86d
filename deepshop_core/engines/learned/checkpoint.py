"""Reading a learned engine's weight file safely, telling which network it is for, and loading it into one.

Two readers only, neither of which runs code from the file: safetensors (``.safetensors``: a JSON header and raw
tensors), and ``torch.load(weights_only=True)`` for everything else (Practical-RIFE's ``flownet.pkl``, ``.pth``: a zip
whose pickle may rebuild tensors and plain containers only; torch refuses anything more). Each failure is one
`WeightsError` line saying what is wrong with the file and what to do.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ...errors import WeightsError
from . import film, ifnet

ARCHITECTURES = {"rife": "RIFE 4.x", "film": "FILM"}


def read_state(path: str | os.PathLike) -> dict:
    """The tensors of a weight file, by name, on the CPU as stored."""
    path = Path(path)
    if path.suffix.lower() == ".safetensors":
        state = _read_safetensors(path)
    else:
        state = _read_torch(path)
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):  # a training checkpoint's wrapper
        state = state["state_dict"]
    import torch

    if not isinstance(state, dict) or not state or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise WeightsError(f"{path} holds no tensors by name (a {type(state).__name__}): it is not a network's "
                           "weight file; use a RIFE 4.x or FILM file (.safetensors or Practical-RIFE's .pkl)")
    return state


def _read_safetensors(path: Path) -> dict:
    try:
        from safetensors.torch import load_file
    except ImportError:
        raise WeightsError(f"reading {path} needs the safetensors package: pip install 'deepshop[torch]'") from None
    try:
        return load_file(str(path), device="cpu")
    except Exception as error:  # safetensors raises its own SafetensorError, and OSError for the file
        raise WeightsError(f"{path} is truncated or not a safetensors file ({_first_line(error)}): download it "
                           "again") from error


def _read_torch(path: Path) -> dict:
    import pickle

    import torch

    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        refused = re.search(r"Unsupported global: GLOBAL [\w.]+", str(error))
        if refused is None:  # not a pickle torch can read at all
            raise WeightsError(f"{path} is truncated or not a torch weight file (it cannot be unpickled as tensors): "
                               "download it again") from error
        # weights_only stopped at a global: the pickle would construct other objects (run code), not just tensors
        raise WeightsError(f"{path} holds more than tensors (a pickled program: {refused.group(0)}); Deepshop loads "
                           "only plain weight files: use the .safetensors repack, or save the state dict "
                           "alone") from error
    except (RuntimeError, EOFError, ValueError, OSError) as error:
        raise WeightsError(f"{path} is truncated or not a torch weight file ({_first_line(error)}): download it "
                           "again") from error


def architecture(state: dict) -> str | None:
    """``"film"``, ``"rife"`` or None, from the tensor names (as core ComfyUI tells them apart)."""
    if film.is_film(state):
        return "film"
    if ifnet.is_rife(ifnet.canonical(state)):
        return "rife"
    return None


def build(kind: str, state: dict, where: str):
    """The network of ``kind`` for ``state``, with the weights loaded (float32, on the CPU); a `WeightsError` when
    the file is for another network or does not fit."""
    found = architecture(state)
    if found != kind:
        if found is not None:
            raise WeightsError(f"{where} holds {ARCHITECTURES[found]} weights, not {ARCHITECTURES[kind]}: use the "
                               f"{found} engine for it")
        sample = ", ".join(list(state)[:3])
        raise WeightsError(f"{where} is not a RIFE 4.x or FILM weight file (its tensors begin {sample}); give "
                           f"the {kind} engine a {ARCHITECTURES[kind]} file")
    module = ifnet if kind == "rife" else film
    state = ifnet.canonical(state) if kind == "rife" else state
    net, state = module.build(state, where)
    load_into(net, state, where)
    return net


def load_into(net, state: dict, where: str) -> None:
    """Copy ``state`` into ``net`` exactly: every tensor present, none left over, every shape as built."""
    import torch

    expected = net.state_dict()
    missing = [k for k in expected if k not in state]
    extra = [k for k in state if k not in expected]
    if missing or extra:
        what = (f"lacks {len(missing)} of its {len(expected)} tensors (e.g. {missing[0]})" if missing else
                f"has {len(extra)} tensors the network does not use (e.g. {extra[0]})")
        raise WeightsError(f"{where} {what}: the file is incomplete or of another variant; download it again")
    wrong = [k for k, v in expected.items() if tuple(state[k].shape) != tuple(v.shape)]
    if wrong:
        k = wrong[0]
        raise WeightsError(f"{where}: tensor {k} has shape {tuple(state[k].shape)}, the network built from the file "
                           f"expects {tuple(expected[k].shape)}; the file is damaged or of another variant")
    with torch.no_grad():
        net.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


__all__ = ["ARCHITECTURES", "architecture", "build", "load_into", "read_state"]
