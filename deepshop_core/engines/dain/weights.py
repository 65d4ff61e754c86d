"""Finding, downloading, unpacking and validating PaddleGAN's DAIN weights (``DAIN_weight.tar``).

The archive holds one folder, ``DAIN_weight/``, with two files: ``model`` (a legacy Paddle inference program) and
``params`` (all weights, combined). Where it is looked for, in order (:func:`candidate_dirs`):

1. an explicit path (the archive, its unpacked folder, or a folder holding either);
2. extra search folders given by the caller (the ComfyUI nodes pass ``folder_paths``' ``models/dain`` folders;
   ``deepshop_core`` never imports comfy);
3. ``$DEEPSHOP_MODELS`` (and its ``dain/`` sub-folder);
4. the user cache: ``$XDG_CACHE_HOME/deepshop/dain`` (default ``~/.cache/deepshop/dain``).

The search order and the download (progress through a callback or tqdm, resumed with an HTTP Range request if a
previous download was cut, written to ``DAIN_weight.tar.part`` and renamed into place when complete) are shared
with the other engines (``engines/weights.py``). If no folder holds the weights, they are downloaded from
:data:`DAIN_URL` into the user cache. Archives are unpacked member by member into a temporary folder, refusing absolute
paths, ``..``, links and device files, then renamed into place. Nothing is unpickled: the program is a protobuf and
the params a raw tensor file, read by Paddle itself in the worker, which checks the structure (feed ``image``,
fetch target 0 ``[N, 1, 3, -1, -1]``) with :func:`check_program`.

This module imports neither paddle nor comfy.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Iterable, Sequence

from ...errors import WeightsError
from .. import weights as shared
from ..weights import Progress, download_file  # noqa: F401 - part of this module's interface (tests, callers)

DAIN_URL = "https://paddlegan.bj.bcebos.com/applications/DAIN_weight.tar"
ARCHIVE_NAME = "DAIN_weight.tar"
FOLDER_NAME = "DAIN_weight"
MODEL_FILE = "model"
PARAMS_FILE = "params"
FEED_NAME = "image"

# ---------------------------------------------------------------------------------------------- where to look
FOLDER = "dain"  # the folder name in the shared search order (engines/weights.py)


def cache_dir(env: dict | None = None) -> Path:
    """``$XDG_CACHE_HOME/deepshop/dain`` (``~/.cache/deepshop/dain`` by default)."""
    return shared.cache_dir(FOLDER, env)


def candidate_dirs(search_dirs: Iterable[str | os.PathLike] = (), env: dict | None = None) -> list[Path]:
    """The folders searched, in order (the explicit path comes before all of them)."""
    return shared.candidate_dirs(FOLDER, search_dirs, env)


def is_weights_dir(path: Path) -> bool:
    return (path / MODEL_FILE).is_file() and (path / PARAMS_FILE).is_file()


def _in_dir(d: Path) -> Path | None:
    """The weights inside folder ``d``: an unpacked folder first, then an archive."""
    for p in (d, d / FOLDER_NAME):
        if is_weights_dir(p):
            return p
    if (d / ARCHIVE_NAME).is_file():
        return d / ARCHIVE_NAME
    return None


def find_weights(weights: str | os.PathLike | None = None, search_dirs: Iterable[str | os.PathLike] = (),
                 env: dict | None = None) -> Path | None:
    """The weights folder or archive to use, or None. An explicit ``weights`` that does not exist is an error."""
    if weights is not None:
        p = Path(weights).expanduser()
        if p.is_file():
            return p
        if p.is_dir():
            found = _in_dir(p)
            if found is not None:
                return found
            raise WeightsError(_describe_bad_dir(p))
        raise WeightsError(f"DAIN weights not found at {p}: give the path of {ARCHIVE_NAME} or of its unpacked "
                           f"{FOLDER_NAME}/ folder (holding '{MODEL_FILE}' and '{PARAMS_FILE}')")
    for d in candidate_dirs(search_dirs, env):
        if d.is_dir():
            found = _in_dir(d)
            if found is not None:
                return found
    return None


def _describe_bad_dir(p: Path) -> str:
    try:
        names = sorted(os.listdir(p))[:10]
    except OSError:
        names = []
    missing = [n for n in (MODEL_FILE, PARAMS_FILE) if not (p / n).is_file()]
    return (f"{p} is not a DAIN weights folder: it lacks {' and '.join(repr(m) for m in missing)} "
            f"(it holds {names or 'nothing'}); expected {FOLDER_NAME}/{MODEL_FILE} and {FOLDER_NAME}/{PARAMS_FILE} "
            f"as unpacked from {ARCHIVE_NAME}")


# ------------------------------------------------------------------------------------------------ the entry point
def ensure_weights(weights: str | os.PathLike | None = None, search_dirs: Sequence[str | os.PathLike] = (),
                   download: bool = True, progress: Progress | None = None, url: str = DAIN_URL,
                   env: dict | None = None, timeout: float = 60.0) -> Path:
    """The unpacked weights folder (holding ``model`` and ``params``): found, else downloaded; unpacked if needed."""
    found = find_weights(weights, search_dirs, env)
    if found is None:
        target = cache_dir(env)
        if not download:
            raise WeightsError(_absent_message(search_dirs, env, "downloading is switched off"))
        try:
            found = download_file(url, target / ARCHIVE_NAME, progress=progress, timeout=timeout)
        except WeightsError as e:
            raise WeightsError(_absent_message(search_dirs, env, str(e), url)) from e
    if found.is_dir():
        return found
    return unpack(found, env=env)


def _absent_message(search_dirs, env, why: str, url: str = DAIN_URL) -> str:
    dirs = "\n  ".join(str(d) for d in candidate_dirs(search_dirs, env))
    return (f"DAIN weights are not installed and could not be fetched ({why}).\n"
            f"Download {url} by hand and put {ARCHIVE_NAME} (or its unpacked {FOLDER_NAME}/ folder) in one of:\n"
            f"  {dirs}\nor pass its path explicitly (--weights / weights=).")


# --------------------------------------------------------------------------------------------------------- unpack
def unpack(archive: str | os.PathLike, dest_root: str | os.PathLike | None = None, env: dict | None = None) -> Path:
    """Unpack ``archive`` safely; return the folder holding ``model`` and ``params``.

    The destination is ``<user cache>/unpacked/<key>/`` where the key identifies the archive (path, size, mtime),
    so a changed archive is unpacked again and an unchanged one only once.
    """
    archive = Path(archive)
    st = archive.stat()
    key = hashlib.sha1(f"{archive.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]
    root = Path(dest_root) if dest_root is not None else cache_dir(env) / "unpacked"
    final = root / key
    if final.is_dir():
        found = _in_dir(final)
        if found is not None and found.is_dir():
            return found
        shutil.rmtree(final, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".unpack-", dir=root))
    try:
        safe_extract(archive, tmp)
        found = _locate(tmp)
        if found is None:
            names = sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*"))[:10]
            raise WeightsError(f"{archive} does not hold a DAIN weights folder: expected {FOLDER_NAME}/{MODEL_FILE} "
                               f"and {FOLDER_NAME}/{PARAMS_FILE}, found {names or 'nothing'}")
        rel = found.relative_to(tmp)
        try:
            os.replace(tmp, final)
        except OSError:
            if not final.is_dir():  # another process won the race: use theirs
                raise
            shutil.rmtree(tmp, ignore_errors=True)
        return final / rel
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _locate(root: Path) -> Path | None:
    if is_weights_dir(root):
        return root
    for p in sorted(root.rglob(MODEL_FILE)):
        if is_weights_dir(p.parent):
            return p.parent
    return None


def safe_extract(archive: str | os.PathLike, dest: str | os.PathLike) -> list[str]:
    """Extract regular files and folders of a tar into ``dest``; refuse anything that could escape or is special.

    Refused (a :class:`WeightsError` naming the member): absolute names, ``..`` components, symbolic and hard links,
    character/block devices, FIFOs. Returns the names extracted.
    """
    dest = Path(dest)
    try:
        tar = tarfile.open(archive, "r:*")
    except (tarfile.TarError, OSError) as e:
        raise WeightsError(f"{archive} is not a readable tar archive ({e}); download it again") from e
    try:
        with tar:
            return _extract_checked(tar, archive, dest)
    except (tarfile.TarError, EOFError) as e:  # raised while reading members or their data
        raise WeightsError(f"{archive} is truncated or damaged ({e}): download it again") from e


def _extract_checked(tar: tarfile.TarFile, archive, dest: Path) -> list[str]:
    """``safe_extract``'s work on an open archive."""
    names = []
    members = tar.getmembers()
    for m in members:  # check everything before writing anything
        name = m.name.replace("\\", "/")
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
            raise WeightsError(f"unsafe archive {archive}: member {m.name!r} has an absolute path")
        if ".." in parts:
            raise WeightsError(f"unsafe archive {archive}: member {m.name!r} points outside the folder ('..')")
        if m.issym() or m.islnk():
            raise WeightsError(f"unsafe archive {archive}: member {m.name!r} is a link")
        if not (m.isfile() or m.isdir()):
            raise WeightsError(f"unsafe archive {archive}: member {m.name!r} is a device, FIFO or other "
                               "special file")
    for m in members:
        parts = [p for p in m.name.replace("\\", "/").split("/") if p not in ("", ".")]
        if not parts:
            continue
        target = dest.joinpath(*parts)
        if m.isdir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        src = tar.extractfile(m)
        with src, open(target, "wb") as f:
            shutil.copyfileobj(src, f, 1 << 20)
        if target.stat().st_size != m.size:
            raise tarfile.ReadError(f"{m.name} holds {target.stat().st_size} of its {m.size} bytes")
        names.append("/".join(parts))
    return names


# ------------------------------------------------------------------------------------------- structure (in worker)
def check_program(feed_names: Sequence[str], fetch_shapes: Sequence[Sequence[int]], where: str = "") -> int:
    """Check a loaded program's interface; return N (in-betweens per run). Raises :class:`WeightsError`."""
    at = f" ({where})" if where else ""
    if list(feed_names) != [FEED_NAME]:
        raise WeightsError(f"DAIN program{at} must have exactly one feed named {FEED_NAME!r}, it has "
                           f"{list(feed_names)}: these are not PaddleGAN's DAIN weights")
    if not fetch_shapes:
        raise WeightsError(f"DAIN program{at} has no fetch targets")
    shape = [int(s) for s in fetch_shapes[0]]
    if len(shape) != 5 or shape[1] != 1 or shape[2] != 3 or shape[0] < 1:
        raise WeightsError(f"DAIN program{at}: fetch target 0 has shape {shape}, expected [N, 1, 3, H, W] "
                           "(N in-between frames): these are not PaddleGAN's DAIN weights")
    return shape[0]
