"""Stand-in frame-interpolation checkpoints in the formats core ComfyUI's FrameInterpolationModelLoader reads, with
random weights (no real RIFE 4.x or FILM weights can be obtained here, see ../shared/docs/FACTS.md section 5).

    <comfyui venv>/bin/python tests/comfyui/interp_standin.py OUT --kind rife|film --comfy <ComfyUI dir> [--seed N]

The key layouts are those of the networks core builds (``comfy_extras/frame_interpolation_models``), written the
way the published files are:

* ``rife``: Practical-RIFE's raw ``flownet.pkl`` layout (``module.`` prefix, ``block0.`` .. ``block4.``, the
  training-only ``teacher.`` / ``caltime.`` tensors, a torch pickle of a state dict; or the same keys in a
  ``.safetensors`` file when OUT ends so), which the loader remaps;
  RIFE 4.x widths are read from the weights, so a narrow network (``--channels``) is a valid, faster stand-in;
* ``film``: a safetensors file in core's own FILM layout (``extract.extract_sublevels.convs.0.0.conv.weight`` is
  how the loader tells FILM apart).

Weights are random but scaled by fan-in, so activations stay finite; then the paths by which the time reaches the
output are made strong (RIFE: the weights on the timestep channel; FILM: a flow of a few pixels at every level,
which the time scales), so that frames at different times clearly differ and a time mix-up cannot pass a test. How:
tools/learned_standin.py (``random_state``, ``sensitise``), which makes the same stand-ins from Deepshop's own
networks.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


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
    # runs in ComfyUI's venv, where neither its tree nor this project is installed (ComfyUI's main.py does the same)
    sys.path[:0] = [str(args.comfy), str(ROOT)]  # ComfyUI's first: the project's nodes/ must not shadow its nodes.py
    from tools.learned_standin import practical_names, random_state, sensitise, write_state
    from comfy.cli_args import args as comfy_args

    comfy_args.cpu = True  # as the test server runs (--cpu); set before comfy.model_management is imported

    if args.kind == "rife":
        from comfy_extras.frame_interpolation_models.ifnet import IFNet

        net = IFNet(head_ch=args.head, channels=tuple(int(c) for c in args.channels.split(",")))
        state = sensitise(random_state(net, args.seed), "rife", args.head)
        write_state(practical_names(state), args.out)  # .safetensors: the same names (the loader remaps either)
    else:
        from comfy_extras.frame_interpolation_models.film_net import FILMNet

        state = sensitise(random_state(FILMNet(), args.seed), "film")
        assert "extract.extract_sublevels.convs.0.0.conv.weight" in state and args.out.suffix == ".safetensors"
        write_state(state, args.out)
    print(f"{args.out}: {args.kind}, {len(state)} tensors, {sum(v.numel() for v in state.values())} weights")
    return 0


if __name__ == "__main__":
    sys.exit(main())
