"""The process tests/test_fuzz.py runs each fuzz case in: ``python -m tests.support.fuzz_worker`` reads one file path per
line on stdin and answers one JSON line per path on stdout.

For each file it calls the readers a caller would: `probe`, `read_frames` (from frame 0 and, to take the
seek path, from frame 3), and `audio.read_audio`. Each call ends in one of: "ok" (and the output passed its
checks), "MediaError" (the documented error for a file that cannot be read), or "unexpected" with the traceback
(any other exception, or output that breaks the documented contract). A crash of this process (a segfault in
FFmpeg, an abort) or a hang is seen by the parent, which kills and restarts it.
"""

from __future__ import annotations

import json
import resource
import sys
import traceback
from fractions import Fraction

import numpy as np

from deepshop_core.errors import MediaError  # noqa: E402
from deepshop_core.media.audio import Audio, read_audio  # noqa: E402
from deepshop_core.media.decode import read_frames  # noqa: E402
from deepshop_core.media.probe import VideoInfo, probe  # noqa: E402

# A frame cap so a mutated header cannot make one case decode for minutes; the seed files have far fewer frames.
MAX_FRAMES = 400
# A mutated header may declare an enormous picture; a bounded address space turns an attempt to allocate gigabytes
# into an allocation failure (reported as unexpected if it escapes as MemoryError) instead of swapping the machine.
ADDRESS_SPACE = 6 << 30


class ContractError(AssertionError):
    pass


def _check_info(info: VideoInfo) -> None:
    if not (info.width > 0 and info.height > 0):
        raise ContractError(f"probe gave a picture size {info.width}x{info.height}")
    if not (isinstance(info.frame_rate, Fraction) and info.frame_rate > 0):
        raise ContractError(f"probe gave the frame rate {info.frame_rate!r}")
    if info.frame_count < 1 or info.duration != info.frame_count / info.frame_rate:
        raise ContractError(f"probe gave {info.frame_count} frames lasting {info.duration}")
    if info.rotation not in (0, 90, 180, 270):
        raise ContractError(f"probe gave the rotation {info.rotation}")


def _check_frames(frames) -> int:
    count = 0
    for frame in frames:
        if not (isinstance(frame, np.ndarray) and frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
                and frame.shape[0] > 0 and frame.shape[1] > 0):
            raise ContractError(f"read_frames gave a {type(frame).__name__} {getattr(frame, 'shape', '')} "
                                f"{getattr(frame, 'dtype', '')}, not HxWx3 uint8")
        count += 1
        if count >= MAX_FRAMES:
            frames.close()
            break
    return count


def _check_audio(audio) -> None:
    if audio is None:
        return
    if not isinstance(audio, Audio) or audio.samples.dtype != np.float32 or audio.samples.ndim != 2 \
            or audio.sample_rate <= 0:
        raise ContractError(f"read_audio gave {audio!r}")


def _outcome(call) -> dict:
    try:
        detail = call()
    except MediaError as error:
        return {"result": "MediaError", "message": str(error)}
    except Exception:  # noqa: BLE001 - anything else is what the fuzzing is looking for
        return {"result": "unexpected", "traceback": traceback.format_exc()}
    return {"result": "ok", "detail": detail}


def check(path: str) -> dict:
    def do_probe():
        info = probe(path)
        _check_info(info)
        return f"{info.codec} {info.width}x{info.height} {info.frame_count} frames at {info.frame_rate}"

    return {
        "probe": _outcome(do_probe),
        "read_frames": _outcome(lambda: _check_frames(read_frames(path))),
        "read_frames_from_3": _outcome(lambda: _check_frames(read_frames(path, 3, 9))),
        "read_audio": _outcome(lambda: _check_audio(read_audio(path))),
    }


def main() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
    for line in sys.stdin:
        path = line.rstrip("\n")
        if not path:
            continue
        sys.stdout.write(json.dumps(check(path)) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
