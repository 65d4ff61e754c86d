"""The checks on the files a job is given and the files it writes: one check and one message each, wherever made
(the pipeline, batch, the readers, the writer, the nodes)."""

from __future__ import annotations

from pathlib import Path

from .errors import DeepshopError, InputError, OutputError


def require_input(path, what: str = "input video", error: type[DeepshopError] = InputError) -> Path:
    """``path`` as a `Path`, or ``error`` when nothing is there."""
    path = Path(path)
    if not (path.exists() or path.is_symlink()):
        raise error(f"{what} not found: {path} (no such file); check the path")
    return path


def refuse_existing(path, overwrite: bool) -> None:
    """An `OutputError` when ``path`` exists and may not be replaced."""
    path = Path(path)
    if not overwrite and (path.exists() or path.is_symlink()):
        raise OutputError(f"{path} already exists: choose another name, or allow overwriting "
                          "(--overwrite / overwrite=True)")


def check_output(input, output, overwrite: bool) -> None:
    """The checks of a job's output before anything is read: the input exists, the output is not the input itself
    (whatever the spelling: a symlink, a hard link, ``a/../clip.mp4``), and an existing output may be replaced."""
    input, output = require_input(input), Path(output)
    if output.exists() and (output.resolve() == input.resolve() or output.samefile(input)):
        raise OutputError(f"the output {output} is the input video itself: choose another output path")
    refuse_existing(output, overwrite)
