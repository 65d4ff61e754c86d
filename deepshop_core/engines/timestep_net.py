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

Deepshop's own networks (``learned/``: the ``rife`` and ``film`` engines) follow the same convention and run through
this same class. Beyond core's: frames travel to the device as 8-bit and become floats there (a quarter of the
bytes over the bus); a network may ask for a ``min_size`` (FILM's coarsest pyramid level needs 64 pixels), reached by
the same padding; when the device runs out of memory the times of a pair are run in smaller batches (halved down to
one, and kept for the next pairs, as core does), and only a single time that does not fit is an error, in one line.
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
        self.min_size = int(getattr(net, "min_size", 1) or 1)
        self.batch: int | None = None  # times run at once; None: all of a pair (lowered when memory runs out)
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
                with self.stats.timed("inputs"):  # to the device, padded, the features of a new frame
                    (img0, features0), (img1, features1) = self._input(frame0), self._input(frame1)
                cache = {} if features0 is None else {"img0": features0, "img1": features1}
                with self.stats.timed("network"):  # the frames made and read back (which waits for the device)
                    out = self._run(img0, img1, times, cache, height, width)
                self.stats.count("pairs")
        except EngineError:
            raise
        except (RuntimeError, TypeError, ValueError, MemoryError) as error:
            if out_of_memory(error):
                raise EngineError(f"out of memory on {self.device} for a {width}x{height} pair, even one time at "
                                  f"once: {memory_advice(self.device)}") from error
            raise EngineError(f"the interpolation model failed on a {width}x{height} pair: "
                              f"{first_line(error)}") from error
        if out.shape[0] != len(times):
            raise EngineError(f"the interpolation model gave {out.shape[0]} frames for {len(times)} times")
        return [np.ascontiguousarray(frame) for frame in out]

    def _run(self, img0, img1, times: list[float], cache: dict, height: int, width: int) -> np.ndarray:
        """The frames at ``times`` as uint8 N x H x W x 3, run ``self.batch`` times at once (all by default); out of
        memory, the batch is halved and the rest of the pair goes on with it."""
        import torch

        done: list[np.ndarray] = []
        while len(done) < len(times):
            batch = times[len(done):len(done) + (self.batch or len(times))]
            try:
                mids = self._forward(img0, img1, batch, cache)
                mids = mids[:, :3, :height, :width].float().clamp_(0.0, 1.0)
                frames = (mids * 255.0).round_().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
            except (RuntimeError, MemoryError) as error:
                if not out_of_memory(error) or len(batch) == 1:
                    raise
                self.batch = max(1, len(batch) // 2)
                release_memory(self.device)
                continue
            done.extend(frames)
        return np.stack(done)

    def _forward(self, img0, img1, times: list[float], cache: dict):
        """The network on one batch of times: once for all of them (FILM's ``forward_multi_timestep``), or with the
        pair repeated along the batch and a time map each (core's convention)."""
        import torch

        multi = getattr(self.net, "forward_multi_timestep", None)
        if multi is not None:
            return multi(img0, img1, times, cache=cache)
        count = len(times)
        steps = torch.tensor(times, device=self.device, dtype=self.dtype).reshape(count, 1, 1, 1)
        steps = steps.expand(-1, 1, img0.shape[2], img0.shape[3])
        return self.net(img0.expand(count, -1, -1, -1), img1.expand(count, -1, -1, -1), timestep=steps, cache=cache)

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
        """HxWx3 uint8 -> 1x3xHxW in 0..1 (scaled as ComfyUI's IMAGE batches are), padded to ``pad_align`` and to at
        least ``min_size``. The bytes go to the device as they are and become floats there."""
        import torch

        image = torch.from_numpy(np.ascontiguousarray(frame)).to(self.device).permute(2, 0, 1).unsqueeze(0)
        image = image.to(torch.float32).mul_(1.0 / 255.0).to(self.dtype)
        pad_h = _padded(image.shape[2], self.pad_align, self.min_size) - image.shape[2]
        pad_w = _padded(image.shape[3], self.pad_align, self.min_size) - image.shape[3]
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


def _padded(size: int, align: int, minimum: int) -> int:
    """``size`` rounded up to a multiple of ``align``, and to at least ``minimum``."""
    size = max(size, minimum)
    return -(-size // align) * align


def out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is the device (or the host) running out of memory."""
    import torch

    if isinstance(error, (torch.cuda.OutOfMemoryError, MemoryError)):
        return True
    text = str(error).lower()
    return isinstance(error, RuntimeError) and ("out of memory" in text or "not enough memory" in text)


def memory_advice(device) -> str:
    if getattr(device, "type", str(device)) == "cuda":
        return "use precision=fp16, a smaller picture, or device=cpu; close other programs using the GPU"
    return "use a smaller picture, or free memory for this process"


def release_memory(device) -> None:
    """Give the device's cached, unused memory back (after an out-of-memory error, before a smaller batch)."""
    import torch

    if getattr(device, "type", None) == "cuda":
        torch.cuda.empty_cache()


def first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
