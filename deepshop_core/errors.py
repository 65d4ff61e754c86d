"""The exceptions Deepshop raises on purpose.

Every message says what was wrong and what to do about it; callers (CLI, nodes) show it as is.
"""


class DeepshopError(Exception):
    """Base class of every error Deepshop raises deliberately."""


class InputError(DeepshopError, ValueError):
    """A bad argument or a bad input file (the user can fix it)."""


class MediaError(InputError):
    """A file that cannot be read as video/audio: missing, empty, truncated, not a video."""


class OutputError(DeepshopError, OSError):
    """The output cannot be written: it exists, equals the input, or the disk refuses it."""


class EngineError(DeepshopError, RuntimeError):
    """An interpolation engine failed to load or to run."""


class WeightsError(EngineError):
    """Model weights are missing, cannot be fetched, or have the wrong structure."""


class Cancelled(DeepshopError):
    """The user cancelled the job; nothing partial was left behind."""


class DeepshopWarning(UserWarning):
    """Deepshop did something the user should know about but the job goes on: a variable frame rate retimed onto a
    constant one, an audio track dropped by a format without sound. The CLI shows each as one line on stderr."""
