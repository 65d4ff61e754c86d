"""Where engines look for their weight files, and how a missing one is downloaded: shared by DAIN
(``dain/weights.py``) and the learned torch engines (``learned/files.py``).

Each engine kind has a folder name (``dain``, ``frame_interpolation``). After an explicit path (which the engine
checks itself), its files are looked for in (:func:`candidate_dirs`):

1. the folders the caller passes (the ComfyUI nodes pass ``folder_paths``' ``models/<folder>``; ``deepshop_core``
   never imports comfy);
2. ``$DEEPSHOP_MODELS/<folder>``, then ``$DEEPSHOP_MODELS``;
3. the user cache, ``$XDG_CACHE_HOME/deepshop/<folder>`` (``~/.cache/deepshop/<folder>``), where downloads go.

:func:`download_file` fetches a file into place atomically: written to ``<name>.part``, resumed with an HTTP Range
request when a previous download was cut, checked against its SHA-256 when one is given, then renamed. A partial
or damaged download is never found under the final name.

Standard library only: no torch, no paddle.
"""

from __future__ import annotations

import hashlib
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, Iterable

from ..errors import WeightsError

Progress = Callable[[int, int], object]


def cache_dir(folder: str, env: dict | None = None) -> Path:
    """``$XDG_CACHE_HOME/deepshop/<folder>`` (``~/.cache/deepshop/<folder>`` by default)."""
    env = os.environ if env is None else env
    base = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "deepshop" / folder


def candidate_dirs(folder: str, search_dirs: Iterable[str | os.PathLike] = (), env: dict | None = None) -> list[Path]:
    """The folders searched for ``folder``'s files, in order, each once (the explicit path comes before all)."""
    env = os.environ if env is None else env
    out: list[Path] = [Path(d) for d in search_dirs]
    models = env.get("DEEPSHOP_MODELS")
    if models:
        out += [Path(models) / folder, Path(models)]
    out.append(cache_dir(folder, env))
    seen, unique = set(), []
    for d in out:
        key = os.path.abspath(d)
        if key not in seen:
            seen.add(key)
            unique.append(d)
    return unique


def sha256_of(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while data := f.read(chunk):
            digest.update(data)
    return digest.hexdigest()


def download_file(url: str, dest: str | os.PathLike, progress: Progress | None = None, timeout: float = 60.0,
                  chunk: int = 1 << 20, sha256: str | None = None) -> Path:
    """Download ``url`` to ``dest`` atomically, resuming a previous ``dest.part`` with an HTTP Range request.

    ``progress(done, total)`` is called as bytes arrive (total is 0 when unknown); without it, a tqdm bar is shown
    on a terminal. An exception raised by ``progress`` cancels the download and keeps the partial file for resume.
    With ``sha256``, the complete file must have that digest: otherwise it is deleted and a `WeightsError` says so.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(url, headers={"User-Agent": "deepshop"})
    if have:
        req.add_header("Range", f"bytes={have}-")
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # the part file is already complete (or bigger than the file): start over
            part.unlink()
            return download_file(url, dest, progress, timeout, chunk, sha256)
        raise WeightsError(f"download of {url} failed: HTTP {e.code} {e.reason}") from e
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise WeightsError(f"cannot reach {url}: {reason}") from e
    with resp:
        done, total = _receive(resp, url, part, have, progress, chunk)
    if total and done != total:
        raise WeightsError(f"download of {url} incomplete: {done} of {total} bytes; run again to resume")
    if sha256 is not None:
        got = sha256_of(part)
        if got != sha256.lower():
            part.unlink()
            raise WeightsError(f"download of {url} is damaged or not the expected file (SHA-256 {got}, expected "
                               f"{sha256}): it was deleted; run again, or fetch it by hand and check it")
    os.replace(part, dest)
    return dest


def _receive(resp, url: str, part: Path, have: int, progress: Progress | None, chunk: int) -> tuple[int, int]:
    """Write the response body to ``part`` (appended after a 206 for ``have`` bytes); return (done, total)."""
    status = getattr(resp, "status", 200)
    length = resp.headers.get("Content-Length")
    if status == 206 and have:
        mode, done = "ab", have
        total = have + int(length) if length else 0
        crange = resp.headers.get("Content-Range", "")
        if crange.startswith("bytes ") and "/" in crange:
            start = crange[6:].split("-")[0]
            if start.strip().isdigit() and int(start) != have:
                raise WeightsError(f"download of {url}: server resumed at byte {start}, expected {have}")
            size = crange.rsplit("/", 1)[1]
            if size.isdigit():
                total = int(size)
    else:  # 200: the server ignored the Range header, start over
        mode, done = "wb", 0
        total = int(length) if length else 0
    bar = None
    if progress is None and sys.stderr is not None and hasattr(sys.stderr, "isatty") and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=total or None, initial=done, unit="B", unit_scale=True, desc=part.name[:-len(".part")])
    try:
        with open(part, mode) as f:
            while True:
                try:
                    data = resp.read(chunk)
                except OSError as e:
                    raise WeightsError(f"download of {url} interrupted after {done} bytes ({e}); "
                                       "run again to resume") from e
                if not data:
                    break
                f.write(data)
                done += len(data)
                if bar is not None:
                    bar.update(len(data))
                if progress is not None:
                    progress(done, total)
    finally:
        if bar is not None:
            bar.close()
    return done, total


__all__ = ["Progress", "cache_dir", "candidate_dirs", "download_file", "sha256_of"]
