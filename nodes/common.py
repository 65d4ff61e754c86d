"""What the Deepshop nodes share: the core import, IMAGE/AUDIO conversions, progress, the models/dain folder.

The nodes are thin: the work is done by ``deepshop_core``; this module only converts between ComfyUI's types
(IMAGE = float32 [B, H, W, C] 0..1, AUDIO = {"waveform": [B, C, T], "sample_rate"}) and the core's
(HxWx3 uint8 RGB frames, ``Audio``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Iterable

import numpy as np
import torch

# The pack is always imported as a package (ComfyUI and the node tests load its folder), with the core beside
# nodes/: plain relative imports, so every call path is visible.
from .. import deepshop_core as core
from ..deepshop_core import engines
from ..deepshop_core.engines import timestep_net
from ..deepshop_core.media import audio as media_audio


CATEGORY = "Deepshop/slow motion"
SOURCE_TYPE = "DEEPSHOP_SOURCE"
RANGE_TYPE = "DEEPSHOP_RANGE"
PLAN_TYPE = "DEEPSHOP_PLAN"  # an interpolated range's timeline (timeline.RenderedRange)

SLOW_MOTION_NOTE = (
    "Slow motion = more frames at the same frame rate: the in-between frames are shown at the clip's own frame "
    "rate, so the range lasts longer and plays slower. Raise the frame rate by the same factor instead and the "
    "clip keeps its speed and only gets smoother."
)

try:
    import folder_paths  # ComfyUI
except ImportError:  # outside ComfyUI (unit tests)
    folder_paths = None

DAIN_FOLDER = "dain"


def register_model_folder() -> None:
    """``models/dain`` becomes a ComfyUI model folder (extra_model_paths.yaml can add more)."""
    if folder_paths is None:
        return
    path = os.path.join(folder_paths.models_dir, DAIN_FOLDER)
    folder_paths.add_model_folder_path(DAIN_FOLDER, path)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        pass


def dain_dirs() -> list[str]:
    if folder_paths is None:
        return []
    try:
        return [p for p in folder_paths.get_folder_paths(DAIN_FOLDER) if os.path.isdir(p)]
    except KeyError:
        return []


# --- engines ------------------------------------------------------------------------------------------------------

_FLOW = engines.describe("flow")  # the flow engine owns its presets; the menu lists its default first
FLOW_PRESETS = (_FLOW.default_preset, *(p for p in _FLOW.presets if p != _FLOW.default_preset))
DAIN_AUTO = "dain (find or download DAIN_weight.tar)"


def dain_weights_found() -> list[str]:
    """DAIN weights in the models/dain folders: unpacked folders (``model`` + ``params``) and ``.tar`` archives,
    relative to their models folder."""
    found = []
    for base in dain_dirs():
        for dirpath, dirnames, filenames in os.walk(base, followlinks=True):
            dirnames.sort()
            rel = os.path.relpath(dirpath, base)
            if "model" in filenames and "params" in filenames:
                found.append("." if rel == "." else rel)
            for f in sorted(filenames):
                if f.endswith(".tar"):
                    found.append(os.path.normpath(os.path.join(rel, f)))
    return sorted(set(found))


def engine_choices() -> list[str]:
    choices = [f"flow ({p})" for p in FLOW_PRESETS]
    choices += [f"dain: {w}" for w in dain_weights_found()]
    choices += [DAIN_AUTO, "blend (cross-fade, no motion)"]
    return choices


def engine_spec(choice: str, device: str = "auto") -> tuple[str, dict]:
    """``(name, options)`` for ``engines.load`` from an engine menu entry."""
    if choice.startswith("flow"):
        preset = choice[choice.find("(") + 1:choice.find(")")] if "(" in choice else _FLOW.default_preset
        return "flow", {"preset": preset}
    if choice.startswith("blend"):
        return "blend", {}
    if choice.startswith("dain"):
        options = {"device": device, "search_dirs": dain_dirs()}
        if choice.startswith("dain: "):
            rel = choice[len("dain: "):]
            for base in dain_dirs():
                path = os.path.normpath(os.path.join(base, rel))
                if os.path.exists(path):
                    options["weights"] = path
                    break
            else:
                raise core.InputError(f"DAIN weights {rel!r} are no longer in models/{DAIN_FOLDER}: refresh the page "
                                      f"and pick an engine again")
            options["download"] = False
        else:
            options["download"] = True
        return "dain", options
    raise core.InputError(f"unknown engine {choice!r}")


def load_engine(choice: str, device: str = "auto"):
    name, options = engine_spec(choice, device)
    if name == "dain":
        # a cancel reaches the DAIN worker while it runs a pair, and a weights download shows on the bar
        options["should_cancel"] = _cancel_check()
        options["progress"] = Progress(1)
    return engines.load(name, **options)


# --- core ComfyUI's interpolation models ---------------------------------------------------------------------------

MODEL_FOLDER = "frame_interpolation"  # core's models/frame_interpolation: RIFE 4.x IFNet or FILM weights


def core_model_type() -> str | None:
    """The type core ComfyUI's Load Frame Interpolation Model outputs on this server: ``INTERP_MODEL`` (0.33),
    ``FRAME_INTERPOLATION_MODEL`` (newer), or None on a server without core interpolation (0.3.75)."""
    try:
        from comfy_extras import nodes_frame_interpolation as frame_interpolation
    except Exception:  # not inside ComfyUI, or a ComfyUI without the module
        return None
    return getattr(getattr(frame_interpolation, "FrameInterpolationModel", None), "io_type", None)


def load_model_engine(patcher):
    """An engine over the network core's loader gave (a ModelPatcher), run where ComfyUI put it, in its dtype; the
    weights are moved onto the device the way core's FrameInterpolate does (``load_models_gpu``)."""
    net = getattr(patcher, "model", None)
    if net is None or not hasattr(patcher, "load_device"):
        raise core.InputError(f"interpolation_model must come from Load Frame Interpolation Model, got "
                              f"{type(patcher).__name__}")
    import comfy.model_management as mm

    dtype = patcher.model_dtype()

    def prepare(height: int, width: int) -> None:
        needed = getattr(net, "memory_used_forward", None)
        memory = needed((1, height, width, 3), dtype) if needed is not None else 0
        mm.load_models_gpu([patcher], memory_required=memory)

    return timestep_net.TimestepNetEngine(net, device=patcher.load_device, dtype=dtype,
                                                                 prepare=prepare)


def _cancel_check():
    """``should_cancel`` for the DAIN worker's wait: raises ComfyUI's own interrupt exception, which the worker
    lets through after killing its process, so ComfyUI reports the prompt as interrupted rather than failed."""
    check = _interrupt_check()
    if check is None:
        return None

    def should_cancel() -> bool:
        check()
        return False

    return should_cancel


# --- numbers ------------------------------------------------------------------------------------------------------


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


# --- progress -----------------------------------------------------------------------------------------------------

class Progress:
    """``progress(done, total)`` for the core, driving ComfyUI's progress bar. Every update is also where a cancel
    takes effect: ComfyUI raises its interrupt exception from the update, which the core lets through."""

    MIN_INTERVAL = 0.1  # seconds between bar updates (each one is a websocket message); cancel is checked always

    def __init__(self, total: int):
        self.bar = None
        try:
            import comfy.utils
            self.bar = comfy.utils.ProgressBar(max(1, int(total)))
        except ImportError:
            pass
        self.check = _interrupt_check()
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if self.bar is not None and (done >= total or now - self._last >= self.MIN_INTERVAL):
            self._last = now
            self.bar.update_absolute(int(done), int(total))  # raises on cancel
        elif self.check is not None:
            self.check()


def _interrupt_check():
    try:
        import comfy.model_management as mm
        return mm.throw_exception_if_processing_interrupted
    except ImportError:
        return None


def input_files(kind: str = "video") -> list[str]:
    """Files of ``kind`` in ComfyUI's input folder (what the upload widget lists)."""
    if folder_paths is None:
        return []
    base = folder_paths.get_input_directory()
    try:
        files = [f for f in os.listdir(base) if os.path.isfile(os.path.join(base, f))]
    except OSError:
        return []
    return sorted(folder_paths.filter_files_content_types(files, [kind]))
