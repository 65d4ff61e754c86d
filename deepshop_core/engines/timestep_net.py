"""A torch frame-interpolation network that takes the time as an input, driven as an Engine.

The networks core ComfyUI loads with FrameInterpolationModelLoader (RIFE 4.x IFNet and FILM, from
``models/frame_interpolation``) share one calling convention, which this adapter follows exactly as core's
FrameInterpolate node does (ComfyUI 0.33, ``comfy_extras/nodes_frame_interpolation.py``):

* frames are float BCHW tensors in 0..1 on the model's device and dtype, padded on the right and bottom to a
  multiple of ``net.pad_align`` (reflect padding), and the result is cropped back;
* ``net.extract_features(img)`` (when present) gives per-frame features, passed as ``cache={"img0", "img1"}``;
* ``net.forward_multi_timestep(img0, img1, times, cache=...)`` (FILM) computes the flow once for all times;
  otherwise ``net(img0, img1, timestep=tensor[b, 1, H, W], cache=...)`` runs all times as one batch.

Any time in (0, 1) works (the network takes it as an input), so Deepshop's planning (ranges, ramps, non-integer
factors, cut protection, held duplicates) applies unchanged; progress and cancel happen between pairs, in the
pipeline. torch is imported only here, when such an engine is made.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ..errors import EngineError, InputError
from .base import Engine, EngineInfo, EngineStats, check_pair


class TimestepNetEngine(Engine):
    """``interpolate(frame0, frame1, times)`` through ``net``.

    ``device`` / ``dtype``: where and how the network runs (default: where its parameters are). ``prepare(height,
    width)``, when given, is called before the first pair of each frame size: ComfyUI passes a function that loads
    the weights onto the device with room for that size (``load_models_gpu``), as FrameInterpolate does.
    """

    info = EngineInfo("timestep-net", "a torch network taking (img0, img1, timestep), as core ComfyUI's RIFE 4.x and "
                                      "FILM models")

    def __init__(self, net, device=None, dtype=None, prepare: Callable[[int, int], None] | None = None):
        import torch

        if not isinstance(net, torch.nn.Module) or not callable(getattr(net, "forward", None)):
            raise InputError(f"the interpolation model must be a torch network (a torch.nn.Module taking img0, img1 "
                             f"and a timestep), got {type(net).__name__}")
        first = next(iter(net.parameters()), None)
        self.net = net
        self.device = torch.device(device) if device is not None else (first.device if first is not None else
                                                                       torch.device("cpu"))
        self.dtype = dtype if dtype is not None else (first.dtype if first is not None else torch.float32)
        self.pad_align = int(getattr(net, "pad_align", 1) or 1)
        self._prepare = prepare
        self._prepared: tuple[int, int] | None = None
        self._inputs: list[tuple[np.ndarray, tuple]] = []  # (frame, (tensor, features)), the last two frames
        self.stats = EngineStats()

    def interpolate(self, frame0: np.ndarray, frame1: np.ndarray, times: Sequence[float]) -> list[np.ndarray]:
        import torch

        times = check_pair(frame0, frame1, times)
        if not times:
            return []
        height, width = frame0.shape[:2]
        if self._prepare is not None and self._prepared != (height, width):
            self._prepare(height, width)
            self._prepared = (height, width)
        try:
            with torch.inference_mode():
                (img0, features0), (img1, features1) = self._input(frame0), self._input(frame1)
                cache = {} if features0 is None else {"img0": features0, "img1": features1}
                multi = getattr(self.net, "forward_multi_timestep", None)
                if multi is not None:
                    mids = multi(img0, img1, times, cache=cache)
                else:
                    count = len(times)
                    steps = torch.tensor(times, device=self.device, dtype=self.dtype).reshape(count, 1, 1, 1)
                    steps = steps.expand(-1, 1, img0.shape[2], img0.shape[3])
                    mids = self.net(img0.expand(count, -1, -1, -1), img1.expand(count, -1, -1, -1),
                                    timestep=steps, cache=cache)
                mids = mids[:, :3, :height, :width].float().clamp_(0.0, 1.0)
                out = (mids * 255.0).round_().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
        except (RuntimeError, TypeError, ValueError) as error:
            raise EngineError(f"the interpolation model failed on a {width}x{height} pair: {error}") from error
        if out.shape[0] != len(times):
            raise EngineError(f"the interpolation model gave {out.shape[0]} frames for {len(times)} times")
        return [np.ascontiguousarray(frame) for frame in out]

    def _input(self, frame: np.ndarray):
        """``(tensor, features)`` of a frame; the last two frames' are kept, since the second frame of one pair is
        the first of the next, as core's FrameInterpolate keeps them. Matched by content (a copy is kept), not by
        identity: a caller may reuse one array for the next frame."""
        for entry in self._inputs:
            if entry[0].shape == frame.shape and np.array_equal(entry[0], frame):
                self._inputs = [other for other in self._inputs if other is not entry] + [entry]  # most recent last
                return entry[1]
        image = self._tensor(frame)
        extract = getattr(self.net, "extract_features", None)
        prepared = (image, extract(image) if extract is not None else None)
        self._inputs = [*self._inputs[-1:], (frame.copy(), prepared)]
        return prepared

    def _tensor(self, frame: np.ndarray):
        """HxWx3 uint8 -> 1x3xHxW in 0..1 (scaled as ComfyUI's IMAGE batches are), padded to ``pad_align``."""
        import torch

        image = torch.from_numpy(np.multiply(frame, np.float32(1.0 / 255.0), dtype=np.float32))
        image = image.permute(2, 0, 1).unsqueeze(0).to(device=self.device, dtype=self.dtype)
        pad_h = (-image.shape[2]) % self.pad_align
        pad_w = (-image.shape[3]) % self.pad_align
        if pad_h or pad_w:
            # reflect, as core does; a frame smaller than its padding cannot be reflected: repeat its edge instead
            mode = "reflect" if pad_h < image.shape[2] and pad_w < image.shape[3] else "replicate"
            image = torch.nn.functional.pad(image, (0, pad_w, 0, pad_h), mode=mode)
        return image

    def close(self) -> None:
        """Drop the kept frames; the network belongs to the caller (ComfyUI's model management keeps or offloads
        it)."""
        self._prepared = None
        self._inputs = []
