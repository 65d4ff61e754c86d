"""ComfyUI's types <-> the core's: IMAGE (float32 [B, H, W, C] 0..1) and HxWx3 uint8 RGB frames, AUDIO (any mapping
{"waveform": [B, C, T], "sample_rate"}) and the core's ``Audio``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Iterable

import numpy as np
import torch

from .. import deepshop_core as core
from ..deepshop_core.media import audio as media_audio

# --- IMAGE <-> frames ---------------------------------------------------------------------------------------------

def check_image(images, what: str = "images") -> None:
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        raise core.InputError(f"{what} must be an IMAGE batch [B, H, W, C], got "
                              f"{getattr(images, 'shape', type(images).__name__)}")
    if images.shape[0] == 0:
        raise core.InputError(f"{what} is an empty batch (no frames)")
    if images.shape[-1] not in (1, 3, 4):
        raise core.InputError(f"{what} has {images.shape[-1]} channels: use 3 (RGB), 4 (RGBA) or 1 (gray)")


def as_numpy(images: torch.Tensor) -> np.ndarray:
    """The tensor's memory as a float32 numpy array (no copy for a CPU float32 tensor).

    Per-frame conversions are done in numpy: small torch ops on a busy 2-core machine were 10-30x slower (thread
    hand-offs), and numpy writes into the preallocated batch in place."""
    return images.detach().to("cpu", torch.float32).numpy()


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """One IMAGE frame [H, W, C] (C = 1, 3 or 4; 0..1) -> HxWx3 uint8 RGB (alpha dropped, gray repeated)."""
    a = as_numpy(image)
    if a.shape[-1] == 4:
        a = a[..., :3]
    scaled = np.multiply(a, np.float32(255.0), dtype=np.float32)
    np.clip(scaled, 0.0, 255.0, out=scaled)
    np.rint(scaled, out=scaled)
    frame = scaled.astype(np.uint8)
    if frame.shape[-1] == 1:
        frame = np.repeat(frame, 3, axis=-1)
    return frame


class FrameView:
    """An IMAGE batch seen as a sequence of HxWx3 uint8 frames, converted on access (no full uint8 copy).
    The last few conversions are kept, since interpolation reads each frame about twice."""

    def __init__(self, images: torch.Tensor, keep: int = 4):
        check_image(images)
        self.images = images
        self._cache: dict[int, np.ndarray] = {}
        self._keep = keep

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, index: int) -> np.ndarray:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        index = int(index)
        if index < 0:
            index += len(self)
        frame = self._cache.get(index)
        if frame is None:
            frame = to_uint8(self.images[index])
            if len(self._cache) >= self._keep:
                self._cache.pop(next(iter(self._cache)))
            self._cache[index] = frame
        return frame


def image_batch(frame: np.ndarray) -> torch.Tensor:
    """One HxWx3 uint8 frame as an IMAGE batch of one."""
    out = alloc_images(1, int(frame.shape[0]), int(frame.shape[1]))
    put_frame(out, 0, frame)
    return out


def float_list(value) -> list[float]:
    """A FLOAT list as other packs hand it on (KJNodes' Spline Editor: a list of floats, a tensor, a numpy array or a
    pandas Series) as plain floats; anything else is the core's to refuse."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", torch.float64).reshape(-1).tolist()
    if isinstance(value, (int, float)):
        return [float(value)]
    if hasattr(value, "__array__") or isinstance(value, (list, tuple)):
        try:
            return np.asarray(value, dtype=np.float64).reshape(-1).tolist()
        except (TypeError, ValueError):
            raise core.InputError("the speed list must be numbers, one speed per frame (a FLOAT list, e.g. from "
                                  "KJNodes' Spline Editor)") from None
    raise core.InputError(f"speeds must be a FLOAT list, one speed per frame (e.g. from KJNodes' Spline Editor); got "
                          f"{type(value).__name__}")


def alloc_images(count: int, height: int, width: int) -> torch.Tensor:
    """The output IMAGE batch, allocated once (frames are written into it one by one)."""
    check_memory(count * height * width * 3 * 4, f"{count} frames of {width}x{height}")
    return torch.empty((count, height, width, 3), dtype=torch.float32)


def put_frame(out: torch.Tensor, index: int, frame: np.ndarray) -> None:
    """Write an HxWx3 uint8 frame into ``out[index]`` as 0..1 floats (no temporary float copy of the batch)."""
    if frame.shape[0] != out.shape[1] or frame.shape[1] != out.shape[2]:
        raise core.InputError(f"frame {index} is {frame.shape[1]}x{frame.shape[0]} but the batch is "
                              f"{out.shape[2]}x{out.shape[1]}: all frames must have one size")
    np.multiply(frame[..., :3], np.float32(1.0 / 255.0), out=out[index].numpy(), casting="unsafe")


def fill_images(frames: Iterable[np.ndarray], count: int, height: int, width: int, progress=None) -> torch.Tensor:
    """A preallocated IMAGE batch filled from ``frames`` (at most ``count``; fewer gives a shorter view)."""
    out = alloc_images(count, height, width)
    n = 0
    for frame in frames:
        if n >= count:
            break
        put_frame(out, n, frame)
        n += 1
        if progress is not None:
            progress(n, count)
    if n == 0:
        raise core.MediaError("no frames could be decoded")
    return out if n == count else out[:n]


def check_memory(nbytes: int, what: str) -> None:
    """Refuse an allocation that cannot fit, with advice, instead of letting the machine swap or die."""
    try:
        import psutil  # ComfyUI's own dependency (its requirements.txt): the nodes only run inside it
        available = psutil.virtual_memory().available
    except Exception:
        return
    if nbytes > 0.9 * available:
        raise core.InputError(
            f"{what} need {nbytes / 2**30:.1f} GiB as an IMAGE batch but only {available / 2**30:.1f} GiB of memory "
            f"is free: load a shorter window (start_frame / frame_load_cap), or use a smaller size")


# --- AUDIO <-> Audio ----------------------------------------------------------------------------------------------

def to_comfy_audio(audio) -> dict | None:
    """A core ``Audio`` -> ComfyUI AUDIO (None stays None: ComfyUI's own convention for 'no audio track')."""
    if audio is None:
        return None
    samples = np.ascontiguousarray(audio.samples, dtype=np.float32)
    return {"waveform": torch.from_numpy(samples).unsqueeze(0), "sample_rate": int(audio.sample_rate)}


def from_comfy_audio(audio):
    """ComfyUI AUDIO (any mapping with ``waveform`` and ``sample_rate``) -> core ``Audio`` (first item of the
    batch), or None for None / an empty waveform."""
    if audio is None:
        return None
    # any Mapping: VideoHelperSuite's AUDIO is a lazy Mapping that decodes on first access, not a dict
    if not isinstance(audio, Mapping) or "waveform" not in audio or "sample_rate" not in audio:
        raise core.InputError("audio must be ComfyUI AUDIO: a mapping {'waveform': [B, C, T] tensor, 'sample_rate': "
                              f"int}}, got {type(audio).__name__}")
    waveform = audio["waveform"]
    if waveform is None:
        return None
    waveform = torch.as_tensor(waveform)
    if waveform.ndim == 3:
        waveform = waveform[0]
    elif waveform.ndim == 1:
        waveform = waveform[None]
    if waveform.numel() == 0 or waveform.shape[-1] == 0:
        return None
    samples = waveform.detach().to("cpu", torch.float32).numpy()
    layout = {1: "mono", 2: "stereo"}.get(samples.shape[0], "")
    Audio = media_audio.Audio
    return Audio(np.ascontiguousarray(samples), int(audio["sample_rate"]), layout)
