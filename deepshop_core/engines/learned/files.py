"""Which weight files the learned engines know, where they look for them, and where they download them from.

Weights are found as DAIN's are (the shared search order of ``engines/weights.py``, folder ``frame_interpolation``):

1. ``weights=``: a path to a file; or a folder holding one of the known files; or a known file's bare name
   (``rife_v4.25_lite.safetensors``), looked for in the folders below (and downloadable by that name);
2. the folders the caller passes (ComfyUI's ``models/frame_interpolation``, the folder core ComfyUI's loader reads);
3. ``$DEEPSHOP_MODELS/frame_interpolation``, then ``$DEEPSHOP_MODELS``;
4. the user cache, ``~/.cache/deepshop/frame_interpolation`` (``$XDG_CACHE_HOME``), where downloads go.

In each folder the engine's known files are tried in `CATALOG` order (the default first), then Practical-RIFE's own
``flownet.pkl`` for RIFE. On request (``download=True``), a missing file is fetched from ComfyUI's official repack,
:data:`REPO` on Hugging Face at the pinned :data:`REVISION`, and must have the SHA-256 listed here (the LFS object
ids of that revision; where they were checked: docs/LEARNED.md); the download resumes after a cut. Offline, one
line says where to put the file. No torch here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from ...errors import WeightsError
from .. import weights as shared
from ..weights import Progress

FOLDER = "frame_interpolation"  # ComfyUI's models folder for these files, and ours under $DEEPSHOP_MODELS and the cache
REPO = "Comfy-Org/frame_interpolation"
REVISION = "219da3c9d8c357ceaf457fc1d5932c6e861b8dee"
BASE_URL = f"https://huggingface.co/{REPO}/resolve/{REVISION}/frame_interpolation/"
PAGE = f"https://huggingface.co/{REPO}"


@dataclass(frozen=True)
class WeightFile:
    """A published weight file the engines know by name."""

    name: str
    kind: str  # the engine that runs it: "rife" or "film"
    sha256: str
    what: str

    @property
    def url(self) -> str:
        return BASE_URL + self.name


# Each engine's files, its default first (the one core ComfyUI's template uses for RIFE).
CATALOG = (
    WeightFile("rife_v4.26.safetensors", "rife", "151874592c877740e5db11522f4514df569eeafb0a0fcb2696f16e9e8d317c94",
               "RIFE 4.26 (Practical-RIFE, MIT), 22.7 MB"),
    WeightFile("rife_v4.25.safetensors", "rife", "1505884b9bdae956795430d2a70f7e2317b2abd8f130f8cfdb35a5759f909481",
               "RIFE 4.25, 22.7 MB"),
    WeightFile("rife_v4.25_lite.safetensors", "rife",
               "e5e5fe0286d30708f4c36aa23639a38d3d7cd0c724922c66e6b04130ae12c6e4", "RIFE 4.25 lite (faster)"),
    WeightFile("rife_v4.25_heavy.safetensors", "rife",
               "40aa1838b91531f829caaac026f40d9d2e2f1eb12b65d1d6029a58ae4c703191", "RIFE 4.25 heavy, 86.7 MB"),
    WeightFile("rife_v4.26_heavy.safetensors", "rife",
               "d2448f68503134b8c7c5430ce6032d6c76681a9a72f0ea8e0a56c7bee813482f", "RIFE 4.26 heavy"),
    WeightFile("film_net_fp16.safetensors", "film", "f226e51375dc839d4b40e5c3d63da560dd1ea1c962364ec78f5adf2d05db05c0",
               "FILM (Google Research, Apache-2.0), fp16, 68.9 MB"),
)
LOCAL_ONLY = {"rife": ("flownet.pkl",)}  # found in a folder, never downloaded: Practical-RIFE's own file name
KINDS = {"rife": "RIFE", "film": "FILM"}


def known(kind: str) -> list[WeightFile]:
    return [f for f in CATALOG if f.kind == kind]


def default(kind: str) -> WeightFile:
    return known(kind)[0]


def by_name(name: str) -> WeightFile | None:
    return next((f for f in CATALOG if f.name == name), None)


def names(kind: str) -> list[str]:
    """The file names looked for in each folder, in order."""
    return [f.name for f in known(kind)] + list(LOCAL_ONLY.get(kind, ()))


def candidate_dirs(search_dirs: Iterable[str | os.PathLike] = (), env: dict | None = None) -> list[Path]:
    return shared.candidate_dirs(FOLDER, search_dirs, env)


def cache_dir(env: dict | None = None) -> Path:
    return shared.cache_dir(FOLDER, env)


def _bare_name(weights) -> str | None:
    """``weights`` when it is a bare file name (no folder part), else None."""
    text = os.fspath(weights)
    return text if text and os.path.basename(text) == text and text not in (".", "..") else None


def find(kind: str, weights: str | os.PathLike | None = None, search_dirs: Iterable[str | os.PathLike] = (),
         env: dict | None = None) -> Path | None:
    """The weight file to use, or None when none is found (then `ensure` may download). An explicit path that does
    not exist, or a folder without a known file, is a `WeightsError`."""
    wanted = names(kind)
    if weights is not None:
        path = Path(weights).expanduser()
        if path.is_file():
            return path
        if path.is_dir():
            found = next((path / n for n in wanted if (path / n).is_file()), None)
            if found is None:
                raise WeightsError(f"{path} holds no {KINDS[kind]} weight file (looked for {', '.join(wanted)}): "
                                   f"give the file's own path")
            return found
        name = _bare_name(weights)
        if name is None:
            raise WeightsError(f"{KINDS[kind]} weights not found at {path}: give the path of a .safetensors or .pkl "
                               f"file, or a file name from {PAGE} to look for it (and download it)")
        wanted = [name]
    for folder in candidate_dirs(search_dirs, env):
        for name in wanted:
            if (folder / name).is_file():
                return folder / name
    return None


def ensure(kind: str, weights: str | os.PathLike | None = None, search_dirs: Iterable[str | os.PathLike] = (),
           download: bool = False, progress: Progress | None = None, env: dict | None = None,
           base_url: str | None = None, timeout: float = 60.0) -> Path:
    """The weight file: found (`find`), else downloaded when ``download`` is set, else a one-line `WeightsError`
    saying where to put it."""
    search_dirs = list(search_dirs)
    found = find(kind, weights, search_dirs, env)
    if found is not None:
        return found
    entry = by_name(_bare_name(weights)) if weights is not None else default(kind)
    if entry is None:
        offered = ", ".join(names(kind))
        raise WeightsError(f"{weights} is not in {', '.join(map(str, candidate_dirs(search_dirs, env)))}, and it is "
                           f"not a file Deepshop can download (those are: {offered}): give its path")
    if entry.kind != kind:
        raise WeightsError(f"{entry.name} holds {KINDS[entry.kind]} weights: use the {entry.kind} engine for it, "
                           f"or give the {kind} engine {default(kind).name}")
    if not download:
        raise WeightsError(_absent(entry, search_dirs, env, "none found"))
    try:
        return shared.download_file((base_url or BASE_URL) + entry.name, cache_dir(env) / entry.name,
                                    progress=progress, timeout=timeout, sha256=entry.sha256)
    except WeightsError as error:
        raise WeightsError(_absent(entry, search_dirs, env, str(error))) from error


def _absent(entry: WeightFile, search_dirs, env, why: str) -> str:
    folders = [str(d) for d in candidate_dirs(search_dirs, env)]
    return (f"no {KINDS[entry.kind]} weights ({why}): put {entry.name} ({entry.url}) in {folders[0]}"
            + (f" (or {', '.join(folders[1:])})" if len(folders) > 1 else "")
            + ", pass weights=PATH, or allow the download (download=True)")


__all__ = ["BASE_URL", "CATALOG", "FOLDER", "REPO", "REVISION", "WeightFile", "by_name", "cache_dir",
           "candidate_dirs", "default", "ensure", "find", "known", "names"]
