"""The test ComfyUIs (laid out by ``tests/comfyui/setup_env.sh [VERSION]``): 0.3.75, the oldest supported, and 0.33.0,
the newest obtainable (from ``../shared/vendor``); a server started on its own port, and its HTTP and websocket API.

Standard library only, so the tests and ``tools/make_workflows.py`` run it from the project's own venv: the server
runs in its own venv (``.cache/comfyui/venv``), the browser check (Playwright) runs as a subprocess in that venv too.

    server = ComfyServer.start()          # 0.3.75; own port, own temp input/output/temp/user dirs, in-memory database
    server = ComfyServer.start(INSTALLS["0.33.0"])
    server.post("/prompt", {...})
    server.stop()                         # terminates the whole process group; nothing is left running

The tests share one server per version per pytest session (``tests/comfyui/harness.py``).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETUP = ROOT / "tests" / "comfyui" / "setup_env.sh"
VENDOR = ROOT.parent / "shared" / "vendor"
CHROMIUM = Path("/usr/bin/chromium")
START_TIMEOUT = float(os.environ.get("DEEPSHOP_COMFYUI_START_TIMEOUT", "120"))
# The node pack a server loads: by default the one linked into the install's custom_nodes/ (setup_env.sh links this
# checkout). DEEPSHOP_PACK_DIR names another checkout (a git worktree) to load instead, without touching the install:
# the server then gets a custom_nodes/ folder of its own (the install's other custom nodes linked into it).
PACK_DIR = os.environ.get("DEEPSHOP_PACK_DIR")


@dataclass(frozen=True)
class Install:
    """One test ComfyUI as setup_env.sh lays it out: source tree, its own venv, the torchvision stand-in folder."""

    version: str
    base: Path
    vendored: Path | None = None  # the ../shared/vendor tarball it comes from (None: fetched from PyPI)
    new_frontend: str | None = None  # a newer frontend installed beside the pinned one (frontend-<version>/)
    stand_in: str | None = None  # a stand-in package under stubs/ it needs to start (0.3.75: torchvision)

    @property
    def comfy(self) -> Path:
        return self.base / "ComfyUI"

    @property
    def venv_python(self) -> Path:
        return self.base / "venv" / "bin" / "python"

    @property
    def stubs(self) -> Path:
        return self.base / "stubs"

    @property
    def setup_command(self) -> str:
        return f"{SETUP.relative_to(ROOT)}" + ("" if self.version == OLDEST else f" {self.version}")

    def frontend_root(self, version: str) -> Path:
        """The static files of frontend ``version`` (installed by setup_env.sh), for ``--front-end-root``."""
        return self.base / f"frontend-{version}" / "comfyui_frontend_package" / "static"

    def missing(self) -> str | None:
        """Why this ComfyUI cannot run here, or None when it can."""
        if self.vendored is not None and not self.vendored.is_file():
            return (f"ComfyUI {self.version} comes from {self.vendored}, which is absent (the project's shared "
                    f"vendor folder beside the clone)")
        need = [self.comfy / "main.py", self.venv_python, self.stubs / (self.stand_in or ""),
                self.comfy / "custom_nodes" / "deepshop"]
        absent = [str(p) for p in need if not p.exists()]
        if absent:
            return (f"the test ComfyUI {self.version} is not set up ({', '.join(absent)} missing): run "
                    f"{self.setup_command}")
        return None


OLDEST = "0.3.75"
INSTALLS = {
    OLDEST: Install(OLDEST, Path(os.environ.get("DEEPSHOP_COMFYUI_DIR") or ROOT / ".cache" / "comfyui"),
                    stand_in="torchvision/__init__.py"),
    "0.33.0": Install("0.33.0",
                      Path(os.environ.get("DEEPSHOP_COMFYUI_0_33_0_DIR") or ROOT / ".cache" / "comfyui-0.33.0"),
                      vendored=VENDOR / "ComfyUI-0.33.0.tar.gz", new_frontend="1.58.1"),
}
VERSIONS = tuple(INSTALLS)


def _own_custom_nodes(install: Install, root: Path, pack: Path) -> tuple[str, ...]:
    """ComfyUI arguments giving a server ``root/custom_nodes`` (its base directory is ``root``; the harness names
    every other folder itself): the install's custom nodes linked there, the pack at ``pack`` as ``deepshop``."""
    folder = root / "custom_nodes"
    folder.mkdir()
    for entry in (install.comfy / "custom_nodes").iterdir():
        if entry.name != "deepshop":
            (folder / entry.name).symlink_to(entry.resolve())
    (folder / "deepshop").symlink_to(pack.resolve())
    return ("--base-directory", str(root))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerError(RuntimeError):
    pass


class ComfyServer:
    """One ComfyUI process with its own directories under a temp folder."""

    def __init__(self, root: Path, port: int, process: subprocess.Popen, log_path: Path, install: Install):
        self.install = install
        self.version = install.version
        self.root = root
        self.port = port
        self.process = process
        self.log_path = log_path
        self.url = f"http://127.0.0.1:{port}"
        self.input_dir = root / "input"
        self.output_dir = root / "output"
        self.temp_dir = root / "temp" / "temp"  # ComfyUI puts its temp folder inside --temp-directory
        self.user_dir = root / "user"
        self.dain_dir = root / "models" / "dain"
        self.frame_interpolation_dir = root / "models" / "frame_interpolation"

    # --- life cycle -------------------------------------------------------------------------------------------

    @classmethod
    def start(cls, install: Install = INSTALLS[OLDEST], timeout: float = START_TIMEOUT,
              extra_args: tuple[str, ...] = ()) -> "ComfyServer":
        reason = install.missing()
        if reason:
            raise ServerError(reason)
        root = Path(tempfile.mkdtemp(prefix="deepshop-comfyui-"))
        dirs = {name: root / name for name in ("input", "output", "temp", "user", "models/dain",
                                               "models/frame_interpolation", "xdg")}
        for d in dirs.values():
            d.mkdir(parents=True)
        # an extra models folder of the test's own (models/dain/ for DAIN weights, models/frame_interpolation/ for
        # core's RIFE / FILM loader), as a user's extra_model_paths.yaml would add one
        model_paths = root / "extra_model_paths.yaml"
        model_paths.write_text(f"deepshop_tests:\n  base_path: {root / 'models'}\n  dain: dain/\n"
                               f"  frame_interpolation: frame_interpolation/\n")
        port = free_port()
        log_path = root / "server.log"
        env = dict(os.environ)
        env["PYTHONPATH"] = str(install.stubs) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env.pop("VIRTUAL_ENV", None)
        env["PYTHONUNBUFFERED"] = "1"
        env["XDG_CACHE_HOME"] = str(dirs["xdg"])  # unpacked DAIN weights go to the user cache: keep it private
        if PACK_DIR:
            extra_args = (*_own_custom_nodes(install, root, Path(PACK_DIR)), *extra_args)
        cmd = [
            str(install.venv_python), "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(port),
            "--input-directory", str(dirs["input"]), "--output-directory", str(dirs["output"]),
            "--temp-directory", str(dirs["temp"]), "--user-directory", str(dirs["user"]),
            "--database-url", "sqlite:///:memory:", "--disable-auto-launch", "--disable-api-nodes",
            "--extra-model-paths-config", str(model_paths),
            *extra_args,
        ]
        with open(log_path, "wb") as log:
            process = subprocess.Popen(cmd, cwd=install.comfy, env=env, stdout=log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        server = cls(root, port, process, log_path, install)
        try:
            server._wait_ready(timeout)
        except BaseException:
            server.stop(keep_files=True)
            raise
        return server

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(f"ComfyUI exited with code {self.process.returncode} while starting; its log:\n"
                                  f"{self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/system_stats", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.5)
        raise ServerError(f"ComfyUI did not answer on {self.url} within {timeout:.0f} s; its log:\n{self.log()}")

    @property
    def pid(self) -> int:
        """The ComfyUI server's own process id (main.py is exec'd directly, no shell in between): for /proc/<pid>."""
        return self.process.pid

    def log(self, tail: int = 20000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-tail:]
        except OSError:
            return "(no log)"

    def stop(self, keep_files: bool = False) -> None:
        """Stop the server's process group (SIGTERM, then SIGKILL) and remove its folders."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.process.wait(timeout=15)
        if not keep_files and os.environ.get("DEEPSHOP_KEEP_COMFYUI_DIRS") != "1":
            shutil.rmtree(self.root, ignore_errors=True)

    # --- HTTP -------------------------------------------------------------------------------------------------

    def request(self, method: str, path: str, body=None, timeout: float = 30) -> tuple[int, object]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"} if data else {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode(errors="replace")

    def get(self, path: str):
        status, body = self.request("GET", path)
        if status != 200:
            raise ServerError(f"GET {path} -> {status}: {body}")
        return body

    def post(self, path: str, body) -> tuple[int, object]:
        return self.request("POST", path, body)

    def upload(self, path: Path, name: str | None = None) -> dict:
        """POST a file to /upload/image as the editor's upload button does (videos go there too)."""
        boundary = uuid.uuid4().hex
        name = name or Path(path).name
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"{name}\"\r\n"
                f"Content-Type: application/octet-stream\r\n\r\n").encode() + Path(path).read_bytes() + \
               (f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\ninput"
                f"\r\n--{boundary}--\r\n").encode()
        req = urllib.request.Request(self.url + "/upload/image", data=body, method="POST",
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read())

    def object_info(self, node_class: str | None = None) -> dict:
        info = self.get("/object_info" + (f"/{node_class}" if node_class else ""))
        return info[node_class] if node_class else info

    def queue_prompt(self, prompt: dict, client_id: str | None = None) -> str:
        status, body = self.post("/prompt", {"prompt": prompt, "client_id": client_id or uuid.uuid4().hex})
        if status != 200:
            raise ServerError(f"POST /prompt -> {status}: {json.dumps(body, indent=1)[:4000]}")
        return body["prompt_id"]

    def wait_history(self, prompt_id: str, timeout: float = 300) -> dict:
        """The finished job's history entry (status.status_str is "success" or "error")."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            history = self.get(f"/history/{prompt_id}")
            entry = history.get(prompt_id) if isinstance(history, dict) else None
            if entry and entry.get("status", {}).get("completed") is not None and \
                    entry["status"].get("status_str") in ("success", "error"):
                return entry
            if self.process.poll() is not None:
                raise ServerError(f"ComfyUI died while running {prompt_id}; its log:\n{self.log()}")
            time.sleep(0.25)
        raise ServerError(f"job {prompt_id} did not finish within {timeout:.0f} s; log tail:\n{self.log(5000)}")

    def run(self, prompt: dict, timeout: float = 300) -> dict:
        return self.wait_history(self.queue_prompt(prompt), timeout)

    def websocket(self, client_id: str) -> "WebSocket":
        return WebSocket("127.0.0.1", self.port, f"/ws?clientId={client_id}")


def output_files(entry: dict, server: ComfyServer) -> list[Path]:
    """The files a finished prompt's history entry lists as outputs (images, videos, "gifs"), as paths."""
    files = []
    for node_output in entry.get("outputs", {}).values():
        for item in node_output.get("images", []) + node_output.get("gifs", []):
            base = {"output": server.output_dir, "temp": server.temp_dir}[item.get("type", "output")]
            files.append(base / item.get("subfolder", "") / item["filename"])
    return files


def history_messages(entry: dict) -> list[tuple[str, dict]]:
    return [(m[0], m[1]) for m in entry.get("status", {}).get("messages", [])]


class WebSocket:
    """A minimal websocket client (text frames from the server; enough to follow ComfyUI's /ws events)."""

    def __init__(self, host: str, port: int, path: str, timeout: float = 30):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ServerError("websocket handshake failed")
            head += chunk
        status_line = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status_line:
            raise ServerError(f"websocket handshake refused: {status_line!r}")
        self._buf = head.split(b"\r\n\r\n", 1)[1]

    def _read(self, n: int) -> bytes:
        while len(self._buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("websocket closed")
            self._buf += chunk
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def receive(self, timeout: float = 60) -> dict | None:
        """The next JSON text message (binary preview frames are skipped), or None on timeout."""
        self.sock.settimeout(timeout)
        while True:
            try:
                b0, b1 = self._read(2)
            except socket.timeout:
                return None
            opcode, length = b0 & 0x0F, b1 & 0x7F
            if length == 126:
                length = struct.unpack(">H", self._read(2))[0]
            elif length == 127:
                length = struct.unpack(">Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            payload = self._read(length)
            if mask:
                payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
            if opcode == 0x8:
                raise ConnectionError("websocket closed by server")
            if opcode == 0x1:
                return json.loads(payload)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
