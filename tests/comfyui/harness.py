"""What the ComfyUI tests share: one server per ComfyUI version per pytest session (``acquire`` / ``release``, used
by the ``comfy`` fixture in tests/conftest.py), the rule for a missing test ComfyUI (skip here, fail under CI),
the example clips the workflows load, and the checks of a job (its output probed, progress awaited, a cancel).

The servers themselves are ``tools/comfy_server.py`` (also used by ``tools/make_workflows.py``).
"""

from __future__ import annotations

import atexit
import json
import shutil
import time
import uuid
from pathlib import Path

import pytest

from tests.support import skip_or_fail
from tests.support.outputs import describe
from tools.comfy_server import INSTALLS, OLDEST, ComfyServer, WebSocket
from tools.make_workflows import EXAMPLE

SILENT = "deepshop_example_silent.mp4"  # EXAMPLE without its audio track


# --- one server per version per pytest session, shared by the test modules ----------------------------------------

_shared: dict[str, ComfyServer] = {}
_users: dict[str, int] = {}


def acquire(version: str = OLDEST) -> ComfyServer:
    if version not in _shared:
        _shared[version] = ComfyServer.start(INSTALLS[version])
    _users[version] = _users.get(version, 0) + 1
    return _shared[version]


def release(version: str = OLDEST) -> None:
    _users[version] = _users.get(version, 0) - 1
    if _users[version] <= 0:
        _stop(version)


def _stop(version: str) -> None:
    server = _shared.pop(version, None)
    _users.pop(version, None)
    if server is not None:
        server.stop()


def _stop_all() -> None:
    for version in list(_shared):
        _stop(version)


atexit.register(_stop_all)


def require_or_skip(version: str = OLDEST) -> None:
    """Skip when the test ComfyUI ``version`` is not set up; fail instead under CI=true (a skipped integration test
    must never pass for a pass there)."""
    reason = INSTALLS[version].missing()
    if reason is not None:
        skip_or_fail(reason, "the ComfyUI integration tests must run")


# --- the example clips --------------------------------------------------------------------------------------------

def put_example_clips(server: ComfyServer, made: Path) -> dict:
    """Render the example clips into the folder ``made`` and copy them into ``server``'s input folder:
    EXAMPLE (4 s, 25 fps, 640x360, stereo click track) and SILENT (the same without audio)."""
    from deepshop_core import synthetic

    with_audio = synthetic.write_clip(made / EXAMPLE, seconds=4.0, overwrite=True)
    silent = synthetic.write_clip(made / SILENT, seconds=4.0, audio=False, overwrite=True)
    shutil.copy(with_audio, server.input_dir / EXAMPLE)
    shutil.copy(silent, server.input_dir / SILENT)
    return {"audio": server.input_dir / EXAMPLE, "silent": server.input_dir / SILENT}


# --- a job's checks -----------------------------------------------------------------------------------------------

def probe_output(path: Path) -> dict:
    """A job's output read back (``tests.support.outputs.describe``: every frame decoded and counted): codec, frames,
    rate, size, and its audio (seconds from the decoded samples, channels, rate) or None."""
    got = describe(path)
    audio = None if got.audio is None else {"seconds": got.audio.seconds, "channels": got.audio.channels,
                                            "rate": got.audio.sample_rate}
    return {"codec": got.codec, "frames": got.frames, "rate": got.rate, "size": got.size, "audio": audio}


def assert_success(entry: dict, server: ComfyServer) -> None:
    status = entry["status"]
    assert status["status_str"] == "success", (
        f"job failed: {json.dumps(status.get('messages'), indent=1)[:4000]}\nserver log:\n{server.log(6000)}")


def run_until_progress(server: ComfyServer, prompt: dict, node: str = "3",
                       value: int = 2) -> tuple[str, WebSocket, dict]:
    """Queue ``prompt``; once ``node`` reports ``value`` steps done: the prompt id, the open websocket (the caller
    closes it) and that progress message's data."""
    client_id = uuid.uuid4().hex
    ws = server.websocket(client_id)
    try:
        prompt_id = server.queue_prompt(prompt, client_id)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            message = ws.receive(timeout=120)
            assert message is not None, f"no progress from the server; log:\n{server.log(4000)}"
            data = message.get("data", {})
            if message.get("type") == "progress" and data.get("node") == node and data.get("value", 0) >= value:
                return prompt_id, ws, data
            if message.get("type") in ("execution_success", "execution_error"):
                pytest.fail(f"the job ended before the test could act: {message}")
        pytest.fail(f"node {node} reported no progress within 300 s")
    except BaseException:
        ws.close()
        raise


def cancel_after_progress(server: ComfyServer, prompt: dict, node: str, value: int) -> tuple[dict, dict, float]:
    """Queue ``prompt``, POST /interrupt once ``node`` reports progress ``value``; the history entry, that
    progress message's data and the seconds the cancel took."""
    prompt_id, ws, progressed = run_until_progress(server, prompt, node, value)
    try:
        status, _ = server.post("/interrupt", {})
        assert status == 200
        cancelled_at = time.monotonic()
        entry = server.wait_history(prompt_id, timeout=120)
        return entry, progressed, time.monotonic() - cancelled_at
    finally:
        ws.close()
