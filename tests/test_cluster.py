"""Batches and chunked clips on a real Ray cluster: a head and a second node, both on 127.0.0.1, started by the
fixture (``ray start``) and always torn down. Every output is compared with a single-process run, bit for bit in
the lossless format; a worker process is killed mid-chunk and a node is lost mid-run.

The nodes run from this Python (the test environment installs the ``cluster`` extra). Teardown stops exactly the
processes the fixture started (their process groups), not every Ray process of the machine as ``ray stop`` would.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.support import LOOPBACK, ROOT, free_port, import_or_skip

ray = import_or_skip("ray", "needs the cluster extra: pip install -e '.[cluster]' (make test does)")

from deepshop_core import DeepshopWarning, EngineChoice, Job, batch, slow_motion  # noqa: E402
from deepshop_core.media.decode import read_frames  # noqa: E402
from deepshop_core.synthetic import write_clip  # noqa: E402
from tests.support.clips import same_audio, same_frames, write_cut_clip  # noqa: E402
from tests.support.procstats import interruptible  # noqa: E402

pytestmark = pytest.mark.cluster
START_TIMEOUT_S = 90
# Faster failure detection than Ray's default (~15 s), so the lost-node test stays short.
HEALTH = {"RAY_health_check_period_ms": "1000", "RAY_health_check_failure_threshold": "3"}


class Cluster:
    """The test cluster: ``ray start --head`` plus a node joining it, each with one CPU, on the loopback address."""

    def __init__(self, folder: Path):
        token = folder / "token"
        token.write_text(secrets.token_hex(32))
        # Token authentication (Ray's default for new clusters) with a token of this cluster's own, not ~/.ray's.
        self.env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token), **HEALTH}
        self.env.pop("RAY_ADDRESS", None)
        self.folder = folder
        self.port = free_port()
        self.address = f"{LOOPBACK}:{self.port}"
        self.nodes: dict[str, subprocess.Popen] = {}

    def start_node(self, name: str, *flags: str) -> None:
        command = [sys.executable, str(ROOT / "tests" / "support" / "ray_node.py"), "start", f"--node-ip-address={LOOPBACK}",
                   "--num-cpus=1", "--object-store-memory=80000000", "--disable-usage-stats", "--block", *flags]
        log = open(self.folder / f"{name}.log", "w")
        self.nodes[name] = subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)  # its own process group, to stop it exactly

    def start(self) -> None:
        self.start_node("head", "--head", f"--port={self.port}", "--include-dashboard=false")
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _port_open(self.port):
            self._check_running("head", deadline)
            time.sleep(0.2)
        self.start_node("node2", f"--address={self.address}", "--num-gpus=1")  # a logical GPU: scheduling only
        self.wait_for_nodes(2, deadline)

    def wait_for_nodes(self, count: int, deadline: float) -> None:
        probe = ("import ray,sys; ray.init(address=sys.argv[1], logging_level='ERROR'); "
                 "print(sum(n['Alive'] for n in ray.nodes()))")
        while True:
            self._check_running("head", deadline)
            result = subprocess.run([sys.executable, "-c", probe, self.address], env=self.driver_env(),
                                    capture_output=True, text=True, timeout=max(1, deadline - time.monotonic()))
            if result.stdout.strip() == str(count):
                return
            time.sleep(0.5)

    def _check_running(self, name: str, deadline: float) -> None:
        node = self.nodes[name]
        if node.poll() is not None or time.monotonic() > deadline:
            log = (self.folder / f"{name}.log").read_text()[-2000:]
            raise RuntimeError(f"the Ray {name} did not start (exit {node.poll()}):\n{log}")

    def driver_env(self) -> dict[str, str]:
        """A driver's environment: keeps the loopback address as given (Ray would swap in the network address)."""
        return {**self.env, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}

    def pids(self, name: str) -> set[int]:
        """The processes of node ``name``: its process group."""
        group = self.nodes[name].pid
        return {pid for pid in _all_pids() if _pgid(pid) == group}

    def stop_node(self, name: str, sig: int = signal.SIGTERM, timeout: float = 5) -> None:
        node = self.nodes.pop(name)
        for s in (sig, signal.SIGKILL):
            try:
                os.killpg(node.pid, s)
            except ProcessLookupError:
                break
            try:
                node.wait(timeout)
                break
            except subprocess.TimeoutExpired:
                continue

    def stop(self) -> None:
        for name in list(self.nodes)[::-1]:
            self.stop_node(name)


def _port_open(port: int) -> bool:
    try:
        socket.create_connection((LOOPBACK, port), timeout=1).close()
        return True
    except OSError:
        return False


def _all_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def _ppid(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _title(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
    except OSError:
        return ""


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    """A running two-node cluster on 127.0.0.1; this process connected to it as the driver."""
    made = Cluster(tmp_path_factory.mktemp("ray"))
    saved = {k: os.environ.get(k) for k in made.driver_env()}
    try:
        made.start()
        os.environ.update(made.driver_env())
        import ray._private.ray_constants as constants
        from ray._raylet import Config

        # Both were read when ray was imported: keep 127.0.0.1 for this driver too, and use the cluster's token.
        constants.ENABLE_RAY_CLUSTER = False
        Config.initialize("")
        ray.init(address=made.address, logging_level="ERROR", log_to_driver=False)
        yield made
    finally:
        if ray.is_initialized():
            ray.shutdown()
        made.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module")
def cut_clip(tmp_path_factory) -> Path:
    return write_cut_clip(tmp_path_factory.mktemp("cut") / "cut.mkv")


@pytest.fixture(scope="module")
def busy_clip(tmp_path_factory) -> Path:
    """Big enough that a chunk runs for a while: a worker can be killed in the middle of one."""
    return write_clip(tmp_path_factory.mktemp("busy") / "busy.mkv", seconds=2.4, width=320, height=180,
                      format="lossless")


def _worker_of(cluster: Cluster, task: str, node: str | None = None) -> int | None:
    """A worker process of the test cluster running ``task`` now (its process title is ray::TASK)."""
    raylets = set().union(*(cluster.pids(n) for n in ([node] if node else list(cluster.nodes))))
    for pid in _all_pids():
        if _title(pid) == f"ray::{task}" and _ppid(pid) in raylets:
            return pid
    return None


def _in_background(function):
    """Run ``function`` on a thread; return a callable that joins it and returns its value (or raises)."""
    box: dict = {}

    def target():
        try:
            box["value"] = function()
        except BaseException as error:  # handed to the test's thread
            box["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()

    def join(timeout: float = 240):
        thread.join(timeout)
        assert not thread.is_alive(), "the run did not finish"
        if "error" in box:
            raise box["error"]
        return box["value"]

    join.running = thread.is_alive
    return join


def test_the_cluster_is_two_nodes_on_the_loopback_address(cluster):
    nodes = [n for n in ray.nodes() if n["Alive"]]
    assert len(nodes) == 2 and {n["NodeManagerAddress"] for n in nodes} == {LOOPBACK}


def test_a_rendering_task_keeps_to_the_cpus_ray_gave_it(cluster):
    """On a full node every task's threads beyond its allotment steal another task's core: a threaded engine gets
    ``threads`` equal to the task's CPUs, OpenCV's pool as many; an engine without threads is left as it was."""
    from deepshop_core import cluster as on_ray

    @ray.remote(num_cpus=on_ray.TASK_CPUS)
    def inside(engine):
        import cv2

        engine = on_ray.allotted(engine)
        return cv2.getNumThreads(), engine.settings

    flow = EngineChoice.of("flow", preset="fast")
    assert ray.get(inside.remote(flow)) == (1, {"preset": "fast", "threads": 1})
    assert ray.get(inside.remote(EngineChoice.of("blend"))) == (1, {})


def test_an_engine_on_cuda_asks_ray_for_a_gpu_and_runs_on_the_one_it_is_given():
    """A task rendering with a learned engine on a GPU reserves one (or on ``auto``, where the cluster has GPUs); Ray
    then shows it only that GPU, so the engine runs on cuda:0 whatever number was asked for. Engines without a
    device, or told cpu, take none."""
    from deepshop_core import cluster as on_ray

    rife = EngineChoice.of("rife", device="cuda:1")
    assert on_ray.gpu_options(rife, cluster_gpus=0) == {"num_gpus": 1}
    assert on_ray.gpu_options(EngineChoice.of("rife"), cluster_gpus=2) == {"num_gpus": 1}
    assert on_ray.gpu_options(EngineChoice.of("rife"), cluster_gpus=0) == {}
    assert on_ray.gpu_options(EngineChoice.of("film", device="cpu"), cluster_gpus=2) == {}
    assert on_ray.gpu_options(EngineChoice.of("flow"), cluster_gpus=2) == {}
    assert on_ray.within_allotment(rife, gpu_ids=[3]).get("device") == "cuda:0"
    assert on_ray.within_allotment(rife, gpu_ids=[]).get("device") == "cuda:1"
    assert on_ray.within_allotment(EngineChoice.of("flow"), gpu_ids=[0]).get("device") is None


def test_a_gpu_task_lands_where_the_gpu_is_and_sees_only_it(cluster):
    """On the test cluster the second node has one (logical) GPU: a task with the options the driver gives a CUDA
    engine runs there, with that GPU as its only visible device, and its engine set to cuda:0."""
    from deepshop_core import cluster as on_ray

    rife = EngineChoice.of("rife", device="cuda:1")

    @ray.remote(num_cpus=on_ray.TASK_CPUS, **on_ray.gpu_options(rife, cluster_gpus=1))
    def inside(engine):
        return (os.environ.get("CUDA_VISIBLE_DEVICES"), ray.get_runtime_context().get_node_id(),
                on_ray.allotted(engine).get("device"))

    visible, node, device = ray.get(inside.remote(rife), timeout=60)
    gpu_nodes = {n["NodeID"] for n in ray.nodes() if n["Alive"] and n["Resources"].get("GPU")}
    assert visible == "0" and device == "cuda:0" and gpu_nodes == {node}


def test_a_batch_on_the_cluster_equals_single_runs_and_goes_on_past_a_failed_input(cluster, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    clips = [write_clip(folder / f"clip{i}.mkv", seconds=1.2, width=96, height=64, format="lossless", seed=i)
             for i in range(3)]
    (folder / "broken.mkv").write_bytes(b"\x1a\x45\xdf\xa3 not really matroska" * 50)
    job = Job(ranges=("0.2s:0.8s",), factor=3, engine="flow", format="lossless")
    items = batch.items(batch.find_inputs([folder]), job, tmp_path / "out")
    seen = []
    outcomes = batch.run(items, ray=cluster.address, progress=lambda done, total: seen.append((done, total)))
    by_name = {o.item.input.name: o for o in outcomes}
    assert by_name["broken.mkv"].status == batch.FAILED and "MediaError" in by_name["broken.mkv"].reason
    for clip in clips:
        outcome = by_name[clip.name]
        assert outcome.status == batch.DONE, outcome.reason
        single = slow_motion(clip, tmp_path / f"single_{clip.name}", ranges=["0.2s:0.8s"], factor=3, engine="flow",
                             format="lossless")
        assert outcome.result.frames_out == single.frames_out == 30 + 15 * 2
        assert same_frames(single.output, outcome.item.output) and same_audio(single.output, outcome.item.output)
    assert seen[-1] == (3 * 60, 3 * 60)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"clip{i}_slowmo.mkv" for i in range(3)]
    again = batch.run(items, ray=cluster.address)  # resumed: the finished ones are skipped, the broken one fails
    assert {o.item.input.name: o.status for o in again} == {
        "broken.mkv": batch.FAILED, **{clip.name: batch.SKIPPED for clip in clips}}
    assert "MediaError" in next(o.reason for o in again if o.status == batch.FAILED)


def test_a_long_clip_in_chunks_on_two_nodes_equals_a_single_run(cluster, cut_clip, tmp_path):
    # A preset other than the default: the engine's settings must reach the workers for the frames to match.
    job = Job(ranges=("5:55",), factor=4, ramp=6, engine=EngineChoice.of("flow", preset="fast"), format="lossless")
    single = slow_motion(cut_clip, tmp_path / "single.mkv", job)
    default = slow_motion(cut_clip, tmp_path / "default.mkv", ranges=["5:55"], factor=4, ramp=6, engine="flow",
                          format="lossless")
    assert not same_frames(single.output, default.output)
    assert single.cuts == (30,) and single.duplicates == (45,)
    [outcome] = batch.run(batch.items([cut_clip], job, tmp_path / "out"), ray=cluster.address, chunks=5)
    assert outcome.status == batch.DONE, outcome.reason
    assert outcome.result.frames_out == single.frames_out
    assert same_frames(single.output, outcome.item.output) and same_audio(single.output, outcome.item.output)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["cut_slowmo.mkv"]  # no intermediates left


def test_a_speed_curve_in_chunks_on_two_nodes_equals_a_single_run(cluster, cut_clip, tmp_path):
    """Slower and faster across the cut, with motion blur (blends of flow in-betweens): the chunks rendered on the
    two nodes stitch into the single run's file, bit for bit, audio included."""
    job = Job(speed="0:1, 10:0.3, 24:0.3:hold, 34:4, 50:4:hold, 56:1", engine="flow", format="lossless")
    single = slow_motion(cut_clip, tmp_path / "single.mkv", job)
    [outcome] = batch.run(batch.items([cut_clip], job, tmp_path / "out"), ray=cluster.address, chunks=5)
    assert outcome.status == batch.DONE, outcome.reason
    assert outcome.result.frames_out == single.frames_out
    assert same_frames(single.output, outcome.item.output) and same_audio(single.output, outcome.item.output)


def test_the_workers_warnings_are_shown_by_the_driver(cluster, tmp_path):
    clip = write_clip(tmp_path / "loud.mp4", seconds=1, width=64, height=48)
    for pieces in (1, 2):  # the whole clip in one task, and chunks with a stitch task
        job = Job(ranges=("5:20",), engine="blend", format="png")
        with pytest.warns(DeepshopWarning, match="loud.mp4: png output carries no sound"):
            [outcome] = batch.run(batch.items([clip], job, tmp_path / f"out{pieces}"), ray=cluster.address,
                                  chunks=pieces)
        assert outcome.status == batch.DONE and len(list(outcome.item.output.iterdir())) == 25 + 15 * 3


def test_a_worker_killed_mid_chunk_is_retried_and_the_output_is_the_same(cluster, busy_clip, tmp_path):
    job = Job(ranges=("1:58",), factor=6, engine="flow", format="lossless")
    items = batch.items([busy_clip], job, tmp_path / "out")
    join = _in_background(lambda: batch.run(items, ray=cluster.address, chunks=4))
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and time.monotonic() < deadline:
        pid = _worker_of(cluster, "_chunk_task")
        if pid is not None:
            time.sleep(0.2)  # well inside the chunk: its engine is loaded and frames are being written
            if _title(pid) == "ray::_chunk_task":
                os.kill(pid, signal.SIGKILL)
                killed = pid
        time.sleep(0.02)
    [outcome] = join()
    assert killed is not None, "no chunk task was seen running"
    assert outcome.status == batch.DONE, outcome.reason
    single = slow_motion(busy_clip, tmp_path / "single.mkv", ranges=["1:58"], factor=6, engine="flow",
                         format="lossless")
    assert same_frames(single.output, outcome.item.output) and same_audio(single.output, outcome.item.output)


def test_a_task_is_retried_up_to_three_times_then_its_input_fails(cluster, busy_clip, tmp_path):
    """``cluster.RETRIES``: a rendering task whose worker process is killed is run again, three times; killed a
    fourth time, its input fails with the reason, the batch ends and nothing is written."""
    job = Job(ranges=("1:58",), factor=6, engine="flow", format="lossless")
    items = batch.items([busy_clip], job, tmp_path / "out")
    join = _in_background(lambda: batch.run(items, ray=cluster.address, chunks=1))  # one task renders it all
    killed: list[int] = []
    deadline = time.monotonic() + 180
    while len(killed) < 4 and join.running() and time.monotonic() < deadline:
        pid = _worker_of(cluster, "_whole_task")
        if pid is not None and pid not in killed:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        time.sleep(0.02)
    [outcome] = join()
    assert len(killed) == 4, f"{len(killed)} attempts were seen: the first and {len(killed) - 1} retries"
    assert outcome.status == batch.FAILED, "a fifth attempt ran"
    assert "Worker" in outcome.reason or "worker" in outcome.reason, outcome.reason
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_the_command_line_runs_a_batch_on_the_cluster(cluster, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(2):
        write_clip(folder / f"clip{i}.mp4", seconds=1, width=64, height=48, seed=i)
    command = [sys.executable, "-m", "deepshop_core", "batch", str(folder / "*.mp4"), "-o", str(tmp_path / "out"),
               "--range", "5:15", "--factor", "2", "--engine", "blend", "--ray", cluster.address, "-q"]
    env = cluster.driver_env()  # the address from --ray (the Ctrl-C test below gives it in RAY_ADDRESS)
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "2 done, 0 skipped, 0 failed" in run.stdout
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["clip0_slowmo.mp4", "clip1_slowmo.mp4"]


def test_ctrl_c_cancels_every_task_keeps_the_finished_outputs_and_the_same_command_finishes(cluster, busy_clip,
                                                                                              tmp_path):
    """Ctrl-C while a clip's chunks render, once another clip's output is written: exit 130, every task cancelled,
    the intermediates removed, the finished output kept; the same command again skips it and finishes the batch."""
    short = write_clip(tmp_path / "short.mkv", seconds=0.4, width=64, height=48, format="lossless")
    manifest = tmp_path / "jobs.csv"
    manifest.write_text(f"input,ranges\n{short},1:9\n{busy_clip},1:58\n")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "deepshop_core", "batch", "--manifest", str(manifest), "-o", str(out),
               "--factor", "6", "--chunks", "2", "--format", "lossless", "-q"]
    env = {**cluster.driver_env(), "RAY_ADDRESS": cluster.address}
    run = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           preexec_fn=interruptible)
    finished = out / "short_slowmo.mkv"
    deadline = time.monotonic() + 120
    while not (finished.exists() and _worker_of(cluster, "_chunk_task") is not None) and run.poll() is None \
            and time.monotonic() < deadline:
        time.sleep(0.02)
    assert run.poll() is None and finished.exists(), "no chunk task was seen running after the first output"
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 130 and "cancelled" in err
    assert [p.name for p in out.iterdir()] == [finished.name]  # no other output, no intermediates
    assert len(list(read_frames(finished))) == 10 + 8 * 5
    deadline = time.monotonic() + 20
    while _worker_of(cluster, "_chunk_task") is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _worker_of(cluster, "_chunk_task") is None, "a chunk task went on after the cancel"
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "1 done, 1 skipped, 0 failed" in again.stdout
    single = slow_motion(busy_clip, tmp_path / "single.mkv", ranges=["1:58"], factor=6, format="lossless")
    assert same_frames(single.output, out / "busy_slowmo.mkv")


def test_a_node_lost_mid_run_is_survived(cluster, busy_clip, tmp_path):
    """The node is started again afterwards (a new node joining at the same address), so the tests may run in any
    order."""
    job = Job(ranges=("1:58",), factor=6, engine="flow", format="lossless")
    items = batch.items([busy_clip], job, tmp_path / "out")
    join = _in_background(lambda: batch.run(items, ray=cluster.address, chunks=4))
    try:
        deadline = time.monotonic() + 120
        while _worker_of(cluster, "_chunk_task", node="node2") is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert time.monotonic() < deadline, "no chunk task was seen running on the second node"
        cluster.stop_node("node2", signal.SIGKILL)  # the whole node at once, as when a machine goes away
        [outcome] = join()
    finally:
        if "node2" not in cluster.nodes:
            cluster.start_node("node2", f"--address={cluster.address}")
            cluster.wait_for_nodes(2, time.monotonic() + START_TIMEOUT_S)
    assert outcome.status == batch.DONE, outcome.reason
    single = slow_motion(busy_clip, tmp_path / "single.mkv", ranges=["1:58"], factor=6, engine="flow",
                         format="lossless")
    assert same_frames(single.output, outcome.item.output)
