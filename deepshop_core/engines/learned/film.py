"""FILM (Frame Interpolation for Large Motion; Reda et al., ECCV 2022) as a torch network.

Follows the film_net architecture of Google Research's FILM (github.com/google-research/frame-interpolation,
``models/film_net``: feature extractor, pyramid flow estimator, fusion; Apache-2.0 licence), written for Deepshop in
torch. The TensorFlow conventions kept: resizing with half-pixel centres (torch's ``align_corners=False``), "same"
padding of even kernels on the right and bottom, backward warping at pixel centres. The PyTorch port
dajes/frame-interpolation-pytorch (no licence file found) was read to check those conventions; nothing is copied from
it, nor from ComfyUI (GPL-3.0), whose loader reads the same files. What it computes:

* an image pyramid of each frame (``PYRAMID_LEVELS`` levels, halving), and a *cascaded* feature pyramid: at every
  level, small feature pyramids started at that level and at the finer ones are stacked, so levels 3 and coarser
  have features of the same meaning and share one flow estimator;
* residual flows coarse to fine, both ways (frame 0 -> 1 and 1 -> 0), summed into flow pyramids;
* for each time ``t``: the finest ``FUSION_LEVELS`` levels of both frames' images and features, warped by ``t`` and
  ``1 - t`` times the flows, go with the scaled flows through a U-Net-like decoder to the RGB frame.

The flows do not depend on ``t``: ``forward_multi_timestep`` computes them once for all times of a pair. Tensor names
are those of Comfy-Org's ``film_net_fp16.safetensors`` (``extract.extract_sublevels.convs.0.0.conv.weight``, ...),
which core ComfyUI's loader also reads. The calling convention is that of `engines.timestep_net`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

PYRAMID_LEVELS = 7  # the image and feature pyramids
FUSION_LEVELS = 5  # the finest levels the decoder reads
SUB_LEVELS = 4  # depth of each small feature pyramid in the cascade
SPECIALIZED_LEVELS = 3  # the finest flow levels with estimators of their own; coarser ones share one
FILTERS = 64
FLOW_CONVS = (3, 3, 3, 3)
FLOW_FILTERS = (32, 64, 128, 256)
MIN_SIZE = 2 ** (PYRAMID_LEVELS - 1)  # the coarsest level must keep a pixel
SIGNATURE = "extract.extract_sublevels.convs.0.0.conv.weight"  # the tensor by which a FILM file is known


def is_film(state: dict) -> bool:
    return SIGNATURE in state


class _Conv(nn.Module):
    """A convolution with TensorFlow's "same" padding (an even kernel pads right and bottom), LeakyReLU optional."""

    def __init__(self, inputs: int, outputs: int, size: int, activation: bool = True):
        super().__init__()
        self.even = size % 2 == 0
        self.conv = nn.Conv2d(inputs, outputs, size, padding=0 if self.even else size // 2)
        self.activation = activation

    def forward(self, x):
        if self.even:
            x = F.pad(x, (0, 1, 0, 1))
        x = self.conv(x)
        return F.leaky_relu(x, 0.2) if self.activation else x


class _SubTree(nn.Module):
    """A conventional feature pyramid: two 3x3 convolutions per level, doubling the filters, average pooling."""

    def __init__(self):
        super().__init__()
        self.convs = nn.ModuleList()
        inputs = 3
        for level in range(SUB_LEVELS):
            outputs = FILTERS << level
            self.convs.append(nn.Sequential(_Conv(inputs, outputs, 3), _Conv(outputs, outputs, 3)))
            inputs = outputs

    def forward(self, image, levels: int):
        out, head = [], image
        for level in range(levels):
            if level:
                head = F.avg_pool2d(head, 2, 2)
            head = self.convs[level](head)
            out.append(head)
        return out


class _FeatureExtractor(nn.Module):
    def __init__(self):
        super().__init__()
        self.extract_sublevels = _SubTree()

    def forward(self, images):
        subtrees = [self.extract_sublevels(image, min(len(images) - i, SUB_LEVELS)) for i, image in enumerate(images)]
        # level i: the subtree started at i, then the deeper levels of the subtrees started at i-1, i-2, ...
        return [torch.cat([subtrees[i - j][j] for j in range(min(i + 1, SUB_LEVELS))], 1) for i in range(len(images))]


class _FlowEstimator(nn.Module):
    """The flow between two feature maps at one level: 3x3 convolutions, then two 1x1 down to 2 channels."""

    def __init__(self, inputs: int, convs: int, filters: int):
        super().__init__()
        layers = []
        for _ in range(convs):
            layers.append(_Conv(inputs, filters, 3))
            inputs = filters
        layers += [_Conv(filters, filters // 2, 1), _Conv(filters // 2, 2, 1, activation=False)]
        self._convs = nn.ModuleList(layers)

    def forward(self, a, b):
        x = torch.cat((a, b), 1)
        for conv in self._convs:
            x = conv(x)
        return x


def _feature_channels(level: int) -> int:
    """Channels of the cascaded features at ``level``."""
    return sum(FILTERS << j for j in range(min(level + 1, SUB_LEVELS)))


class _PyramidFlow(nn.Module):
    """Residual flows coarse to fine: at each level the flow so far, upsampled, warps frame B's features, and an
    estimator adds what is left. ``_predictors`` are the finest levels' own estimators (finest last, the order of
    the weights); ``_predictor`` serves every coarser level."""

    def __init__(self):
        super().__init__()
        own = [_FlowEstimator(2 * _feature_channels(level), FLOW_CONVS[level], FLOW_FILTERS[level])
               for level in range(SPECIALIZED_LEVELS)]
        self._predictors = nn.ModuleList(own[::-1])
        shared = SPECIALIZED_LEVELS
        self._predictor = _FlowEstimator(2 * _feature_channels(shared), FLOW_CONVS[shared], FLOW_FILTERS[shared])

    def forward(self, features_a, features_b, warp):
        levels = len(features_a)
        flow = self._predictor(features_a[-1], features_b[-1])
        residuals = [flow]
        for level in range(levels - 2, -1, -1):
            predictor = self._predictor if level >= SPECIALIZED_LEVELS else self._predictors[-1 - level]
            flow = F.interpolate(flow, size=features_a[level].shape[2:], mode="bilinear", align_corners=False) * 2
            residual = predictor(features_a[level], warp(features_b[level], flow))
            residuals.append(residual)
            flow = flow + residual
        return residuals[::-1]  # finest first


def _flow_pyramid(residuals):
    """Residual flows (finest first) summed into flows at every level (finest first)."""
    flow = residuals[-1]
    out = [flow]
    for residual in residuals[-2::-1]:
        flow = F.interpolate(flow, size=residual.shape[2:], mode="bilinear", align_corners=False) * 2 + residual
        out.append(flow)
    return out[::-1]


def _fusion_channels(level: int) -> int:
    """Channels of the decoder's input at ``level``: per frame, features, image (3) and flow (2); both frames."""
    return 2 * (_feature_channels(level) + 3 + 2)


class _Fusion(nn.Module):
    """The decoder: from the coarsest fused level, at each finer level upsample (nearest), a 2x2 convolution,
    concatenate with that level's input, two 3x3 convolutions; a 1x1 convolution to RGB at the end."""

    def __init__(self):
        super().__init__()
        self.output_conv = nn.Conv2d(FILTERS, 3, 1)
        self.convs = nn.ModuleList()
        inputs = _fusion_channels(FUSION_LEVELS - 1)
        for level in range(FUSION_LEVELS - 2, -1, -1):  # coarse to fine, the order of the weights
            filters = FILTERS << min(level, SPECIALIZED_LEVELS)
            self.convs.append(nn.ModuleList([
                _Conv(inputs, filters, 2, activation=False),
                _Conv(_fusion_channels(level) + filters, filters, 3),
                _Conv(filters, filters, 3)]))
            inputs = filters

    def forward(self, pyramid):
        x = pyramid[-1]
        for layers, level in zip(self.convs, range(len(pyramid) - 2, -1, -1)):
            x = layers[0](F.interpolate(x, size=pyramid[level].shape[2:], mode="nearest"))
            x = layers[2](layers[1](torch.cat((pyramid[level], x), 1)))
        return self.output_conv(x)


class FILMNet(nn.Module):
    """FILM: ``forward_multi_timestep(img0, img1, times, cache)`` -> the frames at ``times`` (len(times) x 3 x H x W);
    ``img0``, ``img1``: 1 x 3 x H x W in 0..1, H and W at least ``MIN_SIZE``."""

    pad_align = 1  # any size (core ComfyUI does not pad FILM's frames either; see docs/LEARNED.md)
    min_size = MIN_SIZE

    def __init__(self):
        super().__init__()
        self.extract = _FeatureExtractor()
        self.predict_flow = _PyramidFlow()
        self.fuse = _Fusion()
        self._grids: dict = {}  # warp grids per (height, width, device): the pyramid levels of recent sizes

    def extract_features(self, img):
        """The image and feature pyramids of one frame (kept by the engine for the next pair)."""
        images = [img]
        for _ in range(PYRAMID_LEVELS - 1):
            images.append(F.avg_pool2d(images[-1], 2, 2))
        return images, self.extract(images)

    def forward(self, img0, img1, timestep=0.5, cache=None):
        """One time per call (a tensor's mean, or a number), for callers without ``forward_multi_timestep``."""
        t = float(timestep.float().mean()) if torch.is_tensor(timestep) else float(timestep)
        return self.forward_multi_timestep(img0, img1, [t], cache)

    def forward_multi_timestep(self, img0, img1, times, cache=None):
        cache = cache or {}
        images0, features0 = cache["img0"] if "img0" in cache else self.extract_features(img0)
        images1, features1 = cache["img1"] if "img1" in cache else self.extract_features(img1)
        forward = _flow_pyramid(self.predict_flow(features0, features1, self._warp))[:FUSION_LEVELS]
        backward = _flow_pyramid(self.predict_flow(features1, features0, self._warp))[:FUSION_LEVELS]
        sources0 = [torch.cat(pair, 1) for pair in zip(images0[:FUSION_LEVELS], features0[:FUSION_LEVELS])]
        sources1 = [torch.cat(pair, 1) for pair in zip(images1[:FUSION_LEVELS], features1[:FUSION_LEVELS])]
        frames = []
        for t in times:
            # the in-between frame reads frame 0 along t x the backward flow, frame 1 along (1 - t) x the forward one
            to0 = [flow * t for flow in backward]
            to1 = [flow * (1 - t) for flow in forward]
            levels = [torch.cat((self._warp(s0, f0), self._warp(s1, f1), f0, f1), 1)
                      for s0, s1, f0, f1 in zip(sources0, sources1, to0, to1)]
            frames.append(self.fuse(levels))
        return torch.cat(frames, 0)

    def _warp(self, image, flow):
        """``image`` read at each pixel centre plus ``flow`` (pixels; bilinear, borders repeated), in float32."""
        height, width = flow.shape[2:]
        key = (height, width, flow.device)
        if key not in self._grids:
            if len(self._grids) >= 2 * PYRAMID_LEVELS:  # another frame size: forget the old one's levels
                self._grids.clear()
            self._grids[key] = (torch.linspace(-(1 - 1 / width), 1 - 1 / width, width, device=flow.device),
                                torch.linspace(-(1 - 1 / height), 1 - 1 / height, height, device=flow.device))
        xs, ys = self._grids[key]
        flow = flow.float()
        grid = torch.stack((xs[None, None, :] + flow[:, 0] / (width * 0.5),
                            ys[None, :, None] + flow[:, 1] / (height * 0.5)), 3)
        return F.grid_sample(image.float(), grid, mode="bilinear", padding_mode="border",
                             align_corners=False).to(image.dtype)


def build(state: dict, where: str = "the file") -> tuple[FILMNet, dict]:
    """The network for a FILM state dict, and that state dict (checked by `checkpoint.load_into`)."""
    return FILMNet(), state


__all__ = ["FILMNet", "MIN_SIZE", "PYRAMID_LEVELS", "build", "is_film"]
