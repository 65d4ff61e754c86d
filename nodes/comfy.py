"""What the nodes take from the ComfyUI they run in: its folders (input, temp, models/dain, models/frame_interpolation),
its progress bar and interrupt, and core's VIDEO and interpolation-model types. Outside ComfyUI (the node unit tests
use a stand-in ``folder_paths``) each degrades to nothing."""

from __future__ import annotations

import os
import time
import uuid

from .. import deepshop_core as core
from ..deepshop_core import engines

try:
    import folder_paths  # ComfyUI
except ImportError:  # outside ComfyUI (unit tests)
    folder_paths = None

MODEL_FOLDERS = sorted({f for f in (engines.describe(n).weights_folder for n in engines.names()) if f})


def register_model_folders() -> None:
    """Each engine's weights folder (``models/dain``...) becomes a ComfyUI model folder (extra_model_paths.yaml can
    add more); core's own ``frame_interpolation`` is left to core where it registers it."""
    if folder_paths is None:
        return
    for name in MODEL_FOLDERS:
        if name in getattr(folder_paths, "folder_names_and_paths", {}):
            continue
        path = os.path.join(folder_paths.models_dir, name)
        folder_paths.add_model_folder_path(name, path)
        try:
            os.makedirs(path, exist_ok=True)
        except OSError:
            pass


def model_dirs(folder: str) -> list[str]:
    """The existing folders ComfyUI knows for ``models/<folder>``."""
    if folder_paths is None:
        return []
    try:
        return [p for p in folder_paths.get_folder_paths(folder) if os.path.isdir(p)]
    except KeyError:
        return []


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


def temp_path(suffix: str = ".mp4", prefix: str = "deepshop_slowmo") -> str:
    """A new file name in ComfyUI's temp folder (cleared by ComfyUI at start-up), where VIDEO results and previews
    live."""
    if folder_paths is not None and hasattr(folder_paths, "get_temp_directory"):
        base = folder_paths.get_temp_directory()
    else:  # outside a server: the system's temp folder
        import tempfile
        base = tempfile.gettempdir()
    os.makedirs(base, exist_ok=True)
    return os.path.join(base, f"{prefix}_{uuid.uuid4().hex[:12]}{suffix}")


def temp_video_path(suffix: str = ".mp4") -> str:
    return temp_path(suffix)


def preview_image(picture) -> dict:
    """An HxWx3 uint8 RGB picture saved as a PNG in the temp folder, as the ``ui`` image entry that shows it on the
    node (ComfyUI's Preview Image convention)."""
    from PIL import Image  # ComfyUI's own dependency, and the core's

    path = temp_path(".png", "deepshop_speed_curve")
    Image.fromarray(picture).save(path)
    return {"filename": os.path.basename(path), "subfolder": "", "type": "temp"}


# --- progress and cancel ------------------------------------------------------------------------------------------


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
        self.check = interrupt_check()
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if self.bar is not None and (done >= total or now - self._last >= self.MIN_INTERVAL):
            self._last = now
            self.bar.update_absolute(int(done), int(total))  # raises on cancel
        elif self.check is not None:
            self.check()


def interrupt_check():
    """ComfyUI's check that raises its interrupt exception when the user cancelled (None outside ComfyUI)."""
    try:
        import comfy.model_management as mm
        return mm.throw_exception_if_processing_interrupted
    except ImportError:
        return None


def cancel_check():
    """``should_cancel`` for an engine that polls during a call (the DAIN worker's wait): raises ComfyUI's own
    interrupt exception, which the engine lets through after stopping its work, so ComfyUI reports the prompt as
    interrupted rather than failed."""
    check = interrupt_check()
    if check is None:
        return None

    def should_cancel() -> bool:
        check()
        return False

    return should_cancel


# --- core's VIDEO and interpolation models --------------------------------------------------------------------------


def video_from_file(path: str):
    """Core's ``VideoFromFile`` over ``path`` (the VIDEO type core Save Video and Get Video Components take)."""
    try:
        from comfy_api.input_impl import VideoFromFile
    except ImportError:  # outside ComfyUI (the node unit tests without core on the path)
        from comfy_api.latest import InputImpl
        VideoFromFile = InputImpl.VideoFromFile
    return VideoFromFile(path)


def video_file(video) -> tuple[str, tuple[float, float]] | None:
    """The file behind a VIDEO and its trim window (start, duration; 0 = to the end), or None when it is not a
    file on disk (then its components are used)."""
    try:
        from comfy_api.input_impl import VideoFromComponents
    except ImportError:
        VideoFromComponents = ()
    if isinstance(video, VideoFromComponents):  # frames in memory: asking for a stream would encode them first
        return None
    source = getattr(video, "get_stream_source", None)
    path = source() if source is not None else None
    if not isinstance(path, (str, os.PathLike)) or not os.path.isfile(path):
        return None
    trim = getattr(video, "get_active_trim_window", None)  # 0.33's trimmed VideoFromFile
    return str(path), (tuple(float(v) for v in trim()) if trim is not None else (0.0, 0.0))


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
    from ..deepshop_core.engines import timestep_net

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

    return timestep_net.TimestepNetEngine(net, device=patcher.load_device, dtype=dtype, prepare=prepare)
