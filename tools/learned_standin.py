"""Stand-in weight files for the rife and film engines, with random weights, in the real files' formats and layouts:
Practical-RIFE's ``flownet.pkl`` (``module.block0.`` ..., with the training-only ``teacher.`` and ``caltime.``
tensors the real file has) or a ``.safetensors`` file; FILM as Comfy-Org's ``film_net_fp16.safetensors``. For the unit
tests and for bench/gpu.py where no real FILM file can be had; tests/comfyui/interp_standin.py makes the same from core
ComfyUI's own network classes (in a test ComfyUI's venv) with ``random_state`` and ``sensitise`` from here.

    write_rife(path, widths=(64, 48, 32, 24, 16), head=4, seed=0)    # .pkl: Practical-RIFE's names; .safetensors
    write_film(path, seed=0)
    python -m tools.learned_standin OUT --kind rife|film [--seed N]

Weights are random but scaled by fan-in, so activations stay finite, and the time's input weights are made strong so
frames at different times clearly differ (a time mix-up cannot pass a test). Needs torch (and safetensors).
"""

from __future__ import annotations

import math
from pathlib import Path


def random_state(module, seed: int) -> dict:
    """Random weights for ``module``'s tensors, scaled by fan-in; residual scales (``beta``) at one."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, tensor in module.state_dict().items():
        shape = tuple(tensor.shape)
        if key.endswith("beta"):
            value = torch.ones(shape)
        elif len(shape) >= 2:
            transposed = "cnn3" in key or "lastconv" in key  # ConvTranspose2d weights are (in, out, kh, kw)
            fan_in = math.prod(shape) // shape[1] if transposed else math.prod(shape[1:])
            value = torch.randn(shape, generator=generator) * (0.5 / math.sqrt(max(1, fan_in)))
        else:
            value = torch.randn(shape, generator=generator) * 0.01
        state[key] = value.float().contiguous()
    return state


def sensitise(state: dict, kind: str, head: int = 4) -> dict:
    """Make the output depend strongly on the time, in place (see the module doc)."""
    for key, value in state.items():
        if kind == "rife" and key.endswith("conv0.0.0.weight"):
            value[:, 6 + 2 * head] *= 40.0  # the time's channel (after both frames and both frames' features)
        if kind == "film" and key.startswith("predict_flow.") and key.endswith("_convs.4.conv.bias"):
            value[:] = 2.0  # a flow of a few pixels at every level, which the time scales
        if kind == "film" and key == "fuse.output_conv.weight":
            value *= 0.05  # around mid-grey rather than clipped, where the time could not show
        if kind == "film" and key == "fuse.output_conv.bias":
            value[:] = 0.5
    return state


def rife_state(widths=(64, 48, 32, 24, 16), head: int = 4, seed: int = 0, residuals: int = 8) -> dict:
    """A random RIFE 4.2x state dict in this project's names (``blocks.N.``)."""
    from deepshop_core.engines.learned.ifnet import BLOCKS, IFNet, RifeConfig

    config = RifeConfig(16, head, tuple(widths), (residuals,) * BLOCKS, (8,) * BLOCKS)
    return sensitise(random_state(IFNet(config), seed), "rife", head)


def practical_names(state: dict) -> dict:
    """The names Practical-RIFE's flownet.pkl uses: ``module.block0.`` ..., plus training-only tensors."""
    import torch

    out = {}
    for key, value in state.items():
        if key.startswith("blocks."):
            index, rest = key[len("blocks."):].split(".", 1)
            key = f"block{index}.{rest}"
        out["module." + key] = value
    out["module.teacher.conv0.0.0.weight"] = torch.zeros(4, 3, 3, 3)
    out["module.caltime.0.weight"] = torch.zeros(4, 3, 3, 3)
    return out


def write_rife(path: Path, widths=(64, 48, 32, 24, 16), head: int = 4, seed: int = 0, practical: bool = True) -> Path:
    """A stand-in RIFE file: ``.pkl`` / ``.pth`` a torch pickle, ``.safetensors`` otherwise; in Practical-RIFE's names
    (``practical``) or this project's."""
    state = rife_state(widths, head, seed)
    return write_state(practical_names(state) if practical else state, path)


def film_state(seed: int = 0) -> dict:
    from deepshop_core.engines.learned.film import FILMNet

    return sensitise(random_state(FILMNet(), seed), "film")


def write_film(path: Path, seed: int = 0) -> Path:
    """A stand-in FILM file in fp16, as Comfy-Org's film_net_fp16.safetensors stores it."""
    return write_state({k: v.half() for k, v in film_state(seed).items()}, path)


def write_state(state: dict, path: Path) -> Path:
    """``state`` as a torch pickle (``.pkl``, ``.pth``) or a ``.safetensors`` file, by the suffix."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    else:
        torch.save(state, path)
    return path


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--kind", choices=["rife", "film"], required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    path = write_film(args.out, args.seed) if args.kind == "film" else write_rife(args.out, seed=args.seed)
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
