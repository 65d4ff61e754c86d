"""Stand-in frame-interpolation checkpoints in the formats core ComfyUI's FrameInterpolationModelLoader reads, with
random weights (no real RIFE 4.x or FILM weights can be obtained here, see ../shared/docs/FACTS.md section 5).

    <comfyui venv>/bin/python tests/comfyui/interp_standin.py OUT --kind rife|film --comfy <ComfyUI dir> [--seed N]

The key layouts are those of the networks core builds (``comfy_extras/frame_interpolation_models``), written the
way the published files are:

* ``rife``: Practical-RIFE's raw ``flownet.pkl`` layout (``module.`` prefix, ``block0.`` .. ``block4.``, a torch
  pickle of a state dict; or the same keys in a ``.safetensors`` file when OUT ends so), which the loader remaps;
  RIFE 4.x widths are read from the weights, so a narrow network (``--channels``) is a valid, faster stand-in;
* ``film``: a safetensors file in core's own FILM layout (``extract.extract_sublevels.convs.0.0.conv.weight`` is
  how the loader tells FILM apart).

Weights are random but scaled by fan-in, so activations stay finite; then the paths by which the time reaches the
output are made strong (RIFE: the weights on the timestep channel; FILM: a flow of a few pixels at every level,
which the time scales), so that frames at different times clearly differ and a time mix-up cannot pass a test.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path


def random_state(module, seed: int) -> dict:
    import torch

    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, tensor in module.state_dict().items():
        shape = tuple(tensor.shape)
        if key.endswith("beta"):  # RIFE's ResConv residual scale
            value = torch.ones(shape)
        elif len(shape) >= 2:
            transposed = "cnn3" in key or "lastconv" in key  # ConvTranspose2d weights are (in, out, kh, kw)
            fan_in = math.prod(shape) // shape[1] if transposed else math.prod(shape[1:])
            value = torch.randn(shape, generator=generator) * (0.5 / math.sqrt(max(1, fan_in)))
        else:
            value = torch.randn(shape, generator=generator) * 0.01
        state[key] = value.float().contiguous()
    return state


def timestep_channel(head: int) -> int:
    """RIFE IFBlock input: img0, img1 (3 + 3), features f0, f1 (head + head), then the timestep."""
    return 6 + 2 * head


def sensitise(state: dict, kind: str, head: int = 4) -> dict:
    """Make the output depend strongly on the time (see the module doc)."""
    for key, value in state.items():
        if kind == "rife" and key.endswith("conv0.0.0.weight"):
            value[:, timestep_channel(head)] *= 40.0
        if kind == "film" and key.startswith("predict_flow.") and key.endswith("_convs.4.conv.bias"):
            value[:] = 2.0  # pixels per pyramid level, in x and y
        if kind == "film" and key == "fuse.output_conv.weight":
            value *= 0.05  # around mid-grey instead of clipped to 0 or 1, where the time could not show
        if kind == "film" and key == "fuse.output_conv.bias":
            value[:] = 0.5
    return state


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--kind", choices=["rife", "film"], required=True)
    parser.add_argument("--comfy", type=Path, required=True, help="the ComfyUI source tree (for its network code)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--channels", default="64,48,32,24,16",
                        help="RIFE block widths (the real 4.x: 192,128,96,64,32)")
    parser.add_argument("--head", type=int, default=4, help="RIFE feature channels per frame (the real 4.2x: 4)")
    args = parser.parse_args()
    sys.path.insert(0, str(args.comfy))  # runs in ComfyUI's venv, where its tree is not installed (main.py does the same)
    import torch
    from comfy.cli_args import args as comfy_args

    comfy_args.cpu = True  # as the test server runs (--cpu); set before comfy.model_management is imported

    if args.kind == "rife":
        from comfy_extras.frame_interpolation_models.ifnet import IFNet

        net = IFNet(head_ch=args.head, channels=tuple(int(c) for c in args.channels.split(",")))
        state = sensitise(random_state(net, args.seed), "rife", args.head)
        raw = {}
        for key, value in state.items():
            if key.startswith("blocks."):
                index, rest = key[len("blocks."):].split(".", 1)
                key = f"block{index}.{rest}"
            raw["module." + key] = value
        args.out.parent.mkdir(parents=True, exist_ok=True)
        if args.out.suffix == ".safetensors":  # the same keys in a safetensors file (the loader remaps either)
            from safetensors.torch import save_file

            save_file(raw, str(args.out))
        else:
            torch.save(raw, args.out)
    else:
        from comfy_extras.frame_interpolation_models.film_net import FILMNet
        from safetensors.torch import save_file

        state = sensitise(random_state(FILMNet(), args.seed), "film")
        assert "extract.extract_sublevels.convs.0.0.conv.weight" in state
        args.out.parent.mkdir(parents=True, exist_ok=True)
        save_file(state, str(args.out))
    print(f"{args.out}: {args.kind}, {len(state)} tensors, {sum(v.numel() for v in state.values())} weights")
    return 0


if __name__ == "__main__":
    sys.exit(main())
