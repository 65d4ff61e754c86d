"""Finding, downloading (with resume), unpacking (safely) and checking DAIN weights. No network, no paddle."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pytest

from deepshop_core.engines.dain import weights as W
from deepshop_core.errors import WeightsError
from tests.support.http_server import BlobServer, closed_port_url
from tools.dain_standin import write_tar


def fake_archive(path: Path, folder: str = "DAIN_weight", extra: list | None = None) -> Path:
    members = []
    d = tarfile.TarInfo(folder)
    d.type = tarfile.DIRTYPE
    members.append((d, None))
    for name, data in (("model", b"program-bytes" * 100), ("params", os.urandom(5000))):
        members.append((tarfile.TarInfo(f"{folder}/{name}"), data))
    return write_tar(path, members + (extra or []))


def fake_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "model").write_bytes(b"m")
    (path / "params").write_bytes(b"p")
    return path


def env_for(tmp_path: Path, **extra) -> dict:
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path / "home")}
    env.update(extra)
    return env


# ------------------------------------------------------------------------------------------------ finding
def test_cache_dir_honours_xdg(tmp_path):
    assert W.cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "deepshop" / "dain"
    assert W.cache_dir({}).parts[-3:] == (".cache", "deepshop", "dain")


def test_search_order(tmp_path):
    comfy = tmp_path / "comfy" / "models" / "dain"
    models = tmp_path / "models"
    env = env_for(tmp_path, DEEPSHOP_MODELS=str(models))
    cache = W.cache_dir(env)
    assert W.candidate_dirs([comfy], env) == [comfy, models / "dain", models, cache]
    assert W.find_weights(None, [comfy], env) is None

    cache.mkdir(parents=True)
    fake_archive(cache / "DAIN_weight.tar")
    assert W.find_weights(None, [comfy], env) == cache / "DAIN_weight.tar"
    fake_dir(models / "DAIN_weight")
    assert W.find_weights(None, [comfy], env) == models / "DAIN_weight"
    comfy.mkdir(parents=True)
    fake_archive(comfy / "DAIN_weight.tar")
    assert W.find_weights(None, [comfy], env) == comfy / "DAIN_weight.tar"
    fake_dir(comfy / "DAIN_weight")  # an unpacked folder beats the archive beside it
    assert W.find_weights(None, [comfy], env) == comfy / "DAIN_weight"
    explicit = fake_archive(tmp_path / "mine.tar")
    assert W.find_weights(explicit, [comfy], env) == explicit


def test_explicit_path_errors(tmp_path):
    with pytest.raises(WeightsError, match="not found"):
        W.find_weights(tmp_path / "nope.tar")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "model").write_bytes(b"x")
    with pytest.raises(WeightsError, match="lacks 'params'"):
        W.find_weights(tmp_path / "empty")
    assert W.find_weights(fake_dir(tmp_path / "ok")) == tmp_path / "ok"


# -------------------------------------------------------------------------------------------------- unpack
def test_unpack_and_reuse(tmp_path):
    tar = fake_archive(tmp_path / "DAIN_weight.tar")
    env = env_for(tmp_path)
    d = W.unpack(tar, env=env)
    assert d.name == "DAIN_weight" and W.is_weights_dir(d)
    assert W.cache_dir(env) in d.parents
    assert (d / "params").read_bytes() == tarfile.open(tar).extractfile("DAIN_weight/params").read()
    assert W.unpack(tar, env=env) == d  # once only
    assert not [p for p in d.parent.parent.iterdir() if p.name.startswith(".unpack-")]


def _info(name, kind, linkname=""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


@pytest.mark.parametrize("member, why", [
    ((tarfile.TarInfo("/etc/evil"), b"x"), "absolute"),
    ((tarfile.TarInfo("DAIN_weight/../../evil"), b"x"), r"\.\."),
    ((_info("DAIN_weight/link", tarfile.SYMTYPE, "/etc/passwd"), None), "link"),
    ((_info("DAIN_weight/hard", tarfile.LNKTYPE, "DAIN_weight/model"), None), "link"),
    ((_info("DAIN_weight/dev", tarfile.CHRTYPE), None), "device"),
    ((_info("DAIN_weight/fifo", tarfile.FIFOTYPE), None), "device|FIFO"),
], ids=["absolute", "dotdot", "symlink", "hardlink", "chardev", "fifo"])
def test_unsafe_archives_are_refused(tmp_path, member, why):
    tar = fake_archive(tmp_path / "bad.tar", extra=[member])
    dest = tmp_path / "out"
    with pytest.raises(WeightsError, match=why):
        W.unpack(tar, dest_root=dest)
    assert not (tmp_path / "evil").exists()
    assert not list(dest.rglob("model"))  # nothing was written before the check


def test_archive_without_weights(tmp_path):
    tar = write_tar(tmp_path / "x.tar", [(tarfile.TarInfo("readme.txt"), b"hello")])
    with pytest.raises(WeightsError, match="DAIN_weight/model"):
        W.unpack(tar, dest_root=tmp_path / "out")
    (tmp_path / "junk.tar").write_bytes(b"not a tar at all")
    with pytest.raises(WeightsError, match="not a readable tar"):
        W.unpack(tmp_path / "junk.tar", dest_root=tmp_path / "out")


@pytest.mark.parametrize("where", ["first header", "model data", "params header", "params data"])
def test_truncated_archive_is_refused_and_leaves_nothing(tmp_path, where):
    """An interrupted download kept under the final name, cut inside a header or a member's data."""
    whole = fake_archive(tmp_path / "whole.tar")
    with tarfile.open(whole) as tar:
        model, params = tar.getmember("DAIN_weight/model"), tar.getmember("DAIN_weight/params")
    offset = {"first header": 100, "model data": model.offset_data + model.size // 2,
              "params header": params.offset + 200, "params data": params.offset_data + params.size - 10}[where]
    cut = tmp_path / "DAIN_weight.tar"
    cut.write_bytes(whole.read_bytes()[:offset])
    dest = tmp_path / "out"
    with pytest.raises(WeightsError, match="truncated or damaged|not a readable tar|does not hold"):
        W.unpack(cut, dest_root=dest)
    assert not dest.exists() or list(dest.iterdir()) == []  # no half-unpacked folder for the next run to trust


# ------------------------------------------------------------------------------------------------ download
@pytest.fixture
def blob(tmp_path):
    return fake_archive(tmp_path / "src.tar").read_bytes()


def test_download_with_progress(tmp_path, blob):
    seen = []
    with BlobServer(blob) as srv:
        out = W.download_file(srv.url, tmp_path / "d" / "DAIN_weight.tar", progress=lambda d, t: seen.append((d, t)),
                              chunk=1000)
    assert out.read_bytes() == blob
    assert seen[-1] == (len(blob), len(blob)) and len(seen) > 3
    assert not (tmp_path / "d" / "DAIN_weight.tar.part").exists()


def test_download_resumes_with_range(tmp_path, blob):
    dest = tmp_path / "DAIN_weight.tar"
    half = len(blob) // 2
    Path(str(dest) + ".part").write_bytes(blob[:half])
    with BlobServer(blob) as srv:
        W.download_file(srv.url, dest)
    assert srv.requests == [f"bytes={half}-"]
    assert dest.read_bytes() == blob


def test_download_cut_then_resumed(tmp_path, blob):
    dest = tmp_path / "DAIN_weight.tar"
    with BlobServer(blob, cut_after=3000) as srv:
        with pytest.raises(WeightsError, match="run again to resume"):
            W.download_file(srv.url, dest, chunk=1000)
        assert not dest.exists() and Path(str(dest) + ".part").stat().st_size == 3000
        W.download_file(srv.url, dest)
    assert srv.requests == [None, "bytes=3000-"]
    assert dest.read_bytes() == blob


def test_download_cancelled_by_progress_keeps_part(tmp_path, blob):
    dest = tmp_path / "DAIN_weight.tar"

    def stop(done, total):
        if done >= 2000:
            raise KeyboardInterrupt

    with BlobServer(blob) as srv:
        with pytest.raises(KeyboardInterrupt):
            W.download_file(srv.url, dest, progress=stop, chunk=1000)
        assert Path(str(dest) + ".part").stat().st_size == 2000
        W.download_file(srv.url, dest)
    assert dest.read_bytes() == blob


def test_server_without_range_restarts(tmp_path, blob):
    dest = tmp_path / "DAIN_weight.tar"
    Path(str(dest) + ".part").write_bytes(b"garbage-from-elsewhere")
    with BlobServer(blob, ranges=False) as srv:
        W.download_file(srv.url, dest)
    assert dest.read_bytes() == blob


def test_ensure_weights_downloads_unpacks_then_finds(tmp_path, blob):
    env = env_for(tmp_path)
    with BlobServer(blob) as srv:
        d = W.ensure_weights(None, [], url=srv.url, env=env, progress=lambda *a: None)
        assert W.is_weights_dir(d)
        assert (W.cache_dir(env) / "DAIN_weight.tar").read_bytes() == blob
        assert W.ensure_weights(None, [], url=srv.url, env=env) == d
    assert len(srv.requests) == 1


def test_offline_and_absent_says_what_to_do(tmp_path):
    env = env_for(tmp_path)
    url = closed_port_url("DAIN_weight.tar")
    with pytest.raises(WeightsError) as e:
        W.ensure_weights(None, [tmp_path / "comfy"], url=url, env=env, timeout=5)
    msg = str(e.value)
    assert url in msg and "cannot reach" in msg
    assert str(W.cache_dir(env)) in msg and str(tmp_path / "comfy") in msg and "DAIN_weight.tar" in msg
    with pytest.raises(WeightsError, match="downloading is switched off") as e:
        W.ensure_weights(None, [], download=False, env=env)
    assert W.DAIN_URL in str(e.value)


def test_http_error_is_clear(tmp_path):
    class NotFound(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            self.send_error(404)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/DAIN_weight.tar"
        with pytest.raises(WeightsError, match="HTTP 404"):
            W.ensure_weights(None, [], url=url, env=env_for(tmp_path))
    finally:
        httpd.shutdown()
        httpd.server_close()


# ---------------------------------------------------------------------------------------------- structure
def test_check_program():
    assert W.check_program(["image"], [[3, 1, 3, -1, -1], [3, 1, 3, -1, -1]]) == 3
    with pytest.raises(WeightsError, match="feed named 'image'"):
        W.check_program(["x"], [[1, 1, 3, -1, -1]])
    with pytest.raises(WeightsError, match=r"\[N, 1, 3, H, W\]"):
        W.check_program(["image"], [[1, 3, -1, -1]])
    with pytest.raises(WeightsError, match="no fetch"):
        W.check_program(["image"], [])


def test_no_paddle_no_pickle():
    code = ("import sys, deepshop_core.engines, deepshop_core.engines.dain, deepshop_core.engines.dain.weights, "
            "deepshop_core.engines.dain.correlation; "
            "assert 'paddle' not in sys.modules and 'torch' not in sys.modules, sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ})
    src = Path(W.__file__).read_text() + Path(W.__file__).with_name("worker.py").read_text()
    assert "pickle" not in src.replace("Nothing is unpickled", "")
