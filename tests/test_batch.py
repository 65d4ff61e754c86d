"""`deepshop batch` without a cluster: inputs, manifests, outputs, resuming, failures, the summary; and chunked
rendering in this process, compared frame for frame with a single run (the cluster tests are in test_cluster.py)."""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from deepshop_core import EngineChoice, Job, batch, chunks, slow_motion
from deepshop_core.cli import main
from deepshop_core.errors import InputError
from deepshop_core.media.audio import read_audio
from deepshop_core.media.decode import read_frames
from deepshop_core.plan import plan_clip
from deepshop_core.steps import Step
from deepshop_core.synthetic import write_clip
from tests.support import ROOT, free_port, import_or_skip
from tests.support.clips import same_audio, same_frames, write_cut_clip
from tests.support.outputs import describe as describe_output
from tests.support.procstats import in_session, interruptible, wait_gone

NEEDS_RAY = "needs the cluster extra: pip install -e '.[cluster]' (make test does)"


@pytest.fixture(scope="module")
def cut_clip(tmp_path_factory) -> Path:
    return write_cut_clip(tmp_path_factory.mktemp("cut") / "cut.mkv")


# --- splitting --------------------------------------------------------------------------------------------------


def steps_of(*specs) -> list[Step]:
    return [Step(l, r, t) for l, r, t in specs]


def test_split_covers_every_frame_once_and_cuts_only_between_groups(cut_clip):
    clip = plan_clip(cut_clip, Job(ranges=["10:50"], factor=3, ramp=4))
    allowed = set(chunks.boundaries(clip.steps))
    for pieces in (1, 2, 3, 5, 8, 1000):
        spans = chunks.split(clip.steps, pieces)
        assert spans[0][0] == 0 and spans[-1][1] == len(clip.steps)
        assert all(a < b for a, b in spans) and all(b == c for (_, b), (c, _) in zip(spans, spans[1:]))
        assert len(spans) <= pieces and {a for a, _ in spans[1:]} <= allowed
    costs = [chunks.work(clip.steps[a:b]) for a, b in chunks.split(clip.steps, 4)]
    assert max(costs) < 1.5 * chunks.work(clip.steps) / 4  # about equal shares


def test_a_pair_interpolated_at_several_times_is_never_split():
    steps = steps_of((0, 0, 0), (0, 1, 0.25), (0, 1, 0.5), (0, 1, 0.75), (1, 1, 0), (1, 2, 0.5), (2, 2, 0))
    assert chunks.boundaries(steps) == [1, 4, 5, 6]
    assert chunks.split(steps, 2) in ([(0, 4), (4, 7)], [(0, 5), (5, 7)])


def test_chunk_count_grows_with_the_work_and_the_workers():
    short = steps_of(*[(i, i + 1, 0.5) for i in range(10)])
    long = steps_of(*[(i, i + 1, 0.5) for i in range(5000)])
    assert chunks.chunk_count(short, 16) == 1  # not worth an intermediate file
    assert chunks.chunk_count(long, 1) == 9  # split anyway: at most MAX_CHUNK_WORK each
    assert chunks.chunk_count(long, 64) == 64


# --- chunked rendering is a single run, frame for frame ------------------------------------------------------------


@pytest.mark.parametrize("engine, options", [("blend", {}), ("flow", {"ranges": ["5:55"], "ramp": 6})])
def test_chunks_stitched_equal_a_single_run(cut_clip, tmp_path, engine, options):
    job = Job(**{"ranges": ["10:50"], "factor": 3, **options}, engine=engine, format="lossless")
    single = slow_motion(cut_clip, tmp_path / "single.mkv", job)
    assert single.cuts == (30,) and single.duplicates == (45,)  # the plan holds at the cut, moves across the hold
    clip = plan_clip(cut_clip, job)
    for pieces in (2, 5):
        out = tmp_path / f"chunked{pieces}.mkv"
        result = chunks.render_in_chunks(clip, out, pieces)
        assert result.frames_out == single.frames_out
        assert same_frames(single.output, out) and same_audio(single.output, out)
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["single.mkv", *(f"chunked{n}.mkv" for n in (2, 5)
                                                                                      if n <= pieces)])


def test_chunks_equal_a_single_run_on_real_footage_with_scene_cuts(videos, tmp_path):
    """skv_bikes.mp4 (H.264, 640x272) has hard cuts at frames 30 and 76: chunks that start mid-file decode from a
    keyframe, and the cuts found over the whole clip are held in every chunk as in the single run."""
    job = Job(ranges=["20:90"], factor=3, crop=(0, 99), engine=EngineChoice.of("flow", preset="fast"),
              format="lossless")
    single = slow_motion(videos / "skv_bikes.mp4", tmp_path / "single.mkv", job)
    assert {30, 76} <= set(single.cuts)
    clip = plan_clip(videos / "skv_bikes.mp4", job)
    out = tmp_path / "chunked.mkv"
    chunks.render_in_chunks(clip, out, 3)
    assert same_frames(single.output, out)


def test_a_damaged_intermediate_fails_the_stitch_and_writes_nothing(cut_clip, tmp_path):
    clip = plan_clip(cut_clip, Job(ranges=["10:50"], factor=3, engine="blend", format="lossless"))
    parts = chunks.plan_chunks(clip, 2, tmp_path)
    for part in parts:
        chunks.render_chunk(clip, part)
    short = chunks.Chunk(parts[0].index, parts[0].start, parts[0].end + 1, parts[0].path)
    with pytest.raises(Exception, match="holds .* frames"):
        chunks.stitch(clip, [short, parts[1]], tmp_path / "out.mkv")
    assert not (tmp_path / "out.mkv").exists()


# --- inputs, manifests, outputs ---------------------------------------------------------------------------------


@pytest.fixture()
def clips(tmp_path) -> list[Path]:
    folder = tmp_path / "in"
    folder.mkdir()
    return [write_clip(folder / f"clip{i}.mp4", seconds=1, width=64, height=48, seed=i) for i in range(3)]


def test_inputs_from_files_folders_and_globs_each_once(clips, tmp_path):
    (tmp_path / "in" / "notes.txt").write_text("not a video")
    folder = tmp_path / "in"
    assert batch.find_inputs([folder]) == [c.resolve() for c in clips]
    assert batch.find_inputs([str(folder / "clip*.mp4"), clips[0]]) == [c.resolve() for c in clips]
    with pytest.raises(InputError, match="input not found"):
        batch.find_inputs([tmp_path / "missing.mp4"])
    with pytest.raises(InputError, match="no file matches"):
        batch.find_inputs([str(tmp_path / "*.mov")])


def test_outputs_are_named_after_the_inputs_and_never_collide(clips, tmp_path):
    job = Job(ranges=("5:10",))
    items = batch.items(clips, job, tmp_path / "out")
    assert [i.output.name for i in items] == ["clip0_slowmo.mp4", "clip1_slowmo.mp4", "clip2_slowmo.mp4"]
    assert batch.output_for(clips[0], tmp_path, "lossless").name == "clip0_slowmo.mp4"  # the format fits it: kept
    assert batch.output_for(clips[0], tmp_path, "vp9").name == "clip0_slowmo.webm"
    assert batch.output_for(clips[0], tmp_path, "png").name == "clip0_slowmo"
    twin = tmp_path / "other" / "clip0.mp4"
    twin.parent.mkdir()
    twin.write_bytes(clips[0].read_bytes())
    with pytest.raises(InputError, match="both be written"):
        batch.items([clips[0], twin], job, tmp_path / "out")


def test_manifest_rows_override_the_command_line_job(clips, tmp_path):
    base = Job(ranges=("5:10",), factor=2, engine=EngineChoice.of("flow", preset="fast"))
    csv_file = tmp_path / "in" / "list.csv"
    csv_file.write_text("input,ranges,factor,engine,output\nclip0.mp4,2:6;10:14,3,blend,first.mkv\nclip1.mp4,,,,\n")
    rows = batch.read_manifest(csv_file, base)
    assert rows[0] == (clips[0].resolve(), Job(ranges=("2:6", "10:14"), factor=3.0, engine="blend"),
                       Path("first.mkv"))
    assert rows[1] == (clips[1].resolve(), base, None)
    json_file = tmp_path / "in" / "list.json"
    json_file.write_text(json.dumps([{"input": str(clips[2]), "ranges": ["1s:1.5s"], "smooth": "no"}]))
    assert batch.read_manifest(json_file, base)[0][1] == Job(ranges=("1s:1.5s",), factor=2,
                                                             engine=EngineChoice.of("flow", preset="fast"))
    for text, words in [("input,tempo\nclip0.mp4,3\n", "unknown key"), ("input,factor\nclip0.mp4,fast\n", "factor"),
                        ("input,ranges\nclip0.mp4,9:3\n", "entry 1: range '9:3'"),
                        ("input,factor\nnope.mp4,2\n", "not found"), ("input\n", "no inputs")]:
        csv_file.write_text(text)
        with pytest.raises(InputError, match=words):
            batch.read_manifest(csv_file, base)


# --- running in this process ------------------------------------------------------------------------------------


def test_a_batch_resumes_skips_what_exists_and_reports_a_failed_input(clips, tmp_path):
    broken = tmp_path / "in" / "broken.mp4"
    broken.write_bytes(b"not a video at all" * 100)
    job = Job(ranges=("5:15",), factor=2, engine="blend")
    items = batch.items([*clips, broken], job, tmp_path / "out")
    first = batch.run(items[:1])
    assert [o.status for o in first] == [batch.DONE]
    done_at = items[0].output.stat().st_mtime_ns
    seen = []
    outcomes = batch.run(items, progress=lambda done, total: seen.append((done, total)))
    assert [o.status for o in outcomes] == [batch.SKIPPED, batch.DONE, batch.DONE, batch.FAILED]
    assert items[0].output.stat().st_mtime_ns == done_at  # left as it was
    assert "broken.mp4" in outcomes[3].reason or "MediaError" in outcomes[3].reason
    assert not items[3].output.exists()
    assert seen[-1] == (2 * 35, 2 * 35)  # 25 frames + 10 inserted, for the two files done
    table = batch.summary(outcomes)
    assert "2 done, 1 skipped, 1 failed" in table and "MediaError" in table
    for clip, item in zip(clips[1:], items[1:3]):
        reference = slow_motion(clip, tmp_path / f"ref_{clip.name}", ranges=["5:15"], factor=2, engine="blend")
        assert reference.frames_out == len(list(read_frames(item.output)))


def test_cli_batch_here_exits_1_when_an_input_failed_and_0_when_resumed(clips, tmp_path, capsys):
    manifest = tmp_path / "in" / "jobs.json"
    manifest.write_text(json.dumps([{"input": "clip2.mp4", "factor": 3}, {"input": "clip1.mp4", "ranges": "20:30"}]))
    args = ["batch", str(clips[0]), "--manifest", str(manifest), "-o", str(tmp_path / "out"), "--range", "5:10",
            "--engine", "blend", "--workers", "1", "-q"]
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "2 done, 0 skipped, 1 failed" in out and "20:30" in out  # clip1's range ends past its 25 frames
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["clip0_slowmo.mp4", "clip2_slowmo.mp4"]
    assert main([a for a in args if a not in ("--manifest", str(manifest))]) == 0
    assert "0 done, 1 skipped, 0 failed" in capsys.readouterr().out


def test_cli_batch_refuses_bad_arguments_with_one_line(tmp_path, capsys):
    assert main(["batch", "-o", str(tmp_path), "--workers", "1"]) == 2
    assert "no inputs" in capsys.readouterr().err
    assert main(["batch", str(tmp_path / "nope.mp4"), "-o", str(tmp_path), "--workers", "0"]) == 2
    assert "--workers must be at least 1" in capsys.readouterr().err
    assert main(["batch", str(tmp_path / "nope.mp4"), "-o", str(tmp_path), "--range", "6s:4.8s"]) == 2
    assert "empty or reversed" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.server  # starts Ray
def test_cli_batch_says_when_no_cluster_answers_at_the_address(clips, tmp_path, capsys):
    import_or_skip("ray", NEEDS_RAY)
    port = free_port()
    assert main(["batch", str(clips[0]), "-o", str(tmp_path / "out"), "--range", "5:10", "--ray",
                 f"127.0.0.1:{port}", "-q"]) == 2
    assert f"no Ray cluster answers at 127.0.0.1:{port}" in capsys.readouterr().err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def _listening(pids) -> dict[tuple[int, str, int], str]:
    """The unconnected inet sockets (TCP listening, UDP bound) of ``pids``: (pid, address, port) -> the process."""
    import psutil

    found = {}
    for pid in pids:
        try:
            process = psutil.Process(pid)
            for connection in process.net_connections(kind="inet"):
                if not connection.raddr and connection.laddr:
                    found[(pid, connection.laddr.ip, connection.laddr.port)] = " ".join(process.cmdline()[:2])
        except psutil.Error:  # ended while we looked
            continue
    return found


def _loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return (getattr(ip, "ipv4_mapped", None) or ip).is_loopback


@pytest.mark.server  # starts a local Ray cluster
def test_cli_batch_uses_a_local_ray_cluster_by_default_with_the_same_result(cut_clip, tmp_path):
    """With Ray installed and no address, the batch starts a local cluster on this machine's cores and writes what a
    single run writes; every socket that cluster listens on (its processes are the command's session: the GCS, the
    raylet, the agents, the workers) is on 127.0.0.1."""
    import_or_skip("ray", NEEDS_RAY)
    import_or_skip("psutil", NEEDS_RAY)
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    command = [sys.executable, "-m", "deepshop_core", "batch", str(cut_clip), "-o", str(tmp_path / "out"),
               "--range", "10:50", "--factor", "3", "--format", "lossless", "--workers", "2", "--chunks", "3", "-q"]
    run = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           start_new_session=True)
    listening: dict = {}
    deadline = time.monotonic() + 300
    while run.poll() is None and time.monotonic() < deadline:
        listening.update(_listening(in_session(run.pid)))
        time.sleep(0.1)
    out, err = run.communicate(timeout=60)
    assert run.returncode == 0, err
    assert "1 done, 0 skipped, 0 failed" in out
    servers = " ".join(listening.values())
    assert "gcs_server" in servers and "raylet" in servers, listening  # the cluster's own servers were seen
    assert {key: name for key, name in listening.items() if not _loopback(key[1])} == {}
    single = slow_motion(cut_clip, tmp_path / "single.mkv", ranges=["10:50"], factor=3, format="lossless")
    output = tmp_path / "out" / "cut_slowmo.mkv"
    assert same_frames(single.output, output) and same_audio(single.output, output)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["cut_slowmo.mkv"]


def test_manifest_format_quality_audio_and_ramp_reach_each_output(clips, tmp_path):
    """Each manifest key a row may set reaches that row's output: its format (codec and extension), quality (the CRF
    x264 writes into the stream), audio mode and ramp (the frame count); what a row leaves out is the command line's."""
    manifest = tmp_path / "in" / "jobs.json"
    manifest.write_text(json.dumps([
        {"input": "clip0.mp4", "output": "crf10.mp4", "quality": 10},
        {"input": "clip0.mp4", "output": "crf40.mp4", "quality": "40", "audio": "none"},
        {"input": "clip1.mp4", "format": "vp9", "ramp": 2, "audio": "silence"},
    ]))
    out = tmp_path / "out"
    assert main(["batch", "--manifest", str(manifest), "-o", str(out), "--range", "5:15", "--factor", "2",
                 "--engine", "blend", "--workers", "1", "-q"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["clip1_slowmo.webm", "crf10.mp4", "crf40.mp4"]
    crf10, crf40, vp9 = (describe_output(out / name) for name in ("crf10.mp4", "crf40.mp4", "clip1_slowmo.webm"))
    assert b"crf=10.0" in (out / "crf10.mp4").read_bytes() and b"crf=40.0" in (out / "crf40.mp4").read_bytes()
    assert (crf10.codec, crf10.frames, crf10.audio.codec) == ("h264", 25 + 10, "aac")
    assert (crf40.frames, crf40.audio) == (35, None)
    # 10 intervals at 2x with a 2-frame ramp at each end: 20 - (2 - 1) x 2 = 18 intervals, so 25 - 10 + 18 frames
    assert (vp9.codec, vp9.frames, vp9.rate, vp9.audio.codec) == ("vp9", 33, 25, "opus")
    sound = read_audio(out / "clip1_slowmo.webm")
    inside = sound.samples[:, int(0.3 * sound.sample_rate):int(0.85 * sound.sample_rate)]  # output 0.2 s .. 0.92 s
    stretched = read_audio(slow_motion(clips[1], tmp_path / "stretched.mp4", ranges=["5:15"], factor=2, ramp=2,
                                       engine="blend").output)
    loud = stretched.samples[:, int(0.3 * stretched.sample_rate):int(0.85 * stretched.sample_rate)]
    assert np.sqrt(np.mean(inside ** 2)) < 0.01 < np.sqrt(np.mean(loud ** 2))


def test_cli_batch_takes_every_slowmo_option(clips, tmp_path):
    """The batch's job options are slowmo's own (both built from job.SETTINGS and the engines' options), and they
    reach the job: the flow preset, format and quality give the frames slowmo gives."""
    from deepshop_core.cli import parser

    subcommands = next(a for a in parser()._actions if a.dest == "command").choices
    slowmo = {a.dest: a for a in subcommands["slowmo"]._actions}
    batch_options = {a.dest: a for a in subcommands["batch"]._actions}
    # overwriting is the call's, said for each; a dry run reports one clip
    job = set(slowmo) - {"help", "input", "output", "overwrite", "dry_run"}

    def spelled(action):
        return action.option_strings, action.help, action.default, action.choices, type(action).__name__

    assert all(spelled(batch_options[name]) == spelled(slowmo[name]) for name in job)
    options = ["--range", "5:15", "--factor", "2", "--preset", "fast", "--format", "lossless", "-q"]
    assert main(["batch", str(clips[0]), "-o", str(tmp_path / "out"), "--workers", "1", *options]) == 0
    assert main(["slowmo", str(clips[0]), "-o", str(tmp_path / "single.mkv"), *options]) == 0
    assert same_frames(tmp_path / "out" / "clip0_slowmo.mp4", tmp_path / "single.mkv")
    fast = slow_motion(clips[0], tmp_path / "api.mkv", ranges=["5:15"], factor=2,
                       engine=EngineChoice.of("flow", preset="fast"), format="lossless")
    default = slow_motion(clips[0], tmp_path / "default.mkv", ranges=["5:15"], factor=2, format="lossless")
    assert same_frames(fast.output, tmp_path / "single.mkv") and not same_frames(default.output, fast.output)


@pytest.mark.slow  # an end-to-end run of a few seconds: the slow level
def test_without_ray_a_batch_runs_here_and_says_so(clips, tmp_path):
    """On a machine without Ray (simulated: the import system finds no ``ray``), ``deepshop batch`` warns once and
    runs one file after the other; asking for workers is refused with what to install."""
    hidden = [sys.executable, "-m", "tests.support.hide", "ray"]
    probe = subprocess.run([*hidden, "-m", "ray"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert "No module named ray" in probe.stderr  # Ray is installed here, and hidden from the command below
    command = [*hidden, "-m", "deepshop_core", "batch", *map(str, clips[:2]), "-o", str(tmp_path / "out"),
               "--range", "5:10", "--engine", "blend", "-q"]
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    run = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stderr.splitlines() == ["deepshop: warning: Ray is not installed, so the batch runs one file after the "
                                       "other; pip install 'deepshop[cluster]' to use every core"]
    assert "2 done, 0 skipped, 0 failed" in run.stdout
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["clip0_slowmo.mp4", "clip1_slowmo.mp4"]
    refused = subprocess.run([*command, "--workers", "2"], capture_output=True, text=True, cwd=ROOT, env=env,
                             timeout=120)
    assert refused.returncode == 2
    assert refused.stderr == "deepshop: error: --workers needs Ray: pip install 'deepshop[cluster]'\n"


@pytest.mark.slow  # two runs of a batch in a process of its own
def test_ctrl_c_keeps_the_finished_outputs_and_the_same_command_finishes_the_batch(tmp_path):
    """``--workers 1`` (this process, one file after the other): Ctrl-C once the first output is written stops the
    second at once (exit 130, no temporary file, no process left) and keeps the first; the same command again skips
    it and finishes the second."""
    folder = tmp_path / "in"
    folder.mkdir()
    write_clip(folder / "a_short.mp4", seconds=0.6, width=64, height=48)
    write_clip(folder / "b_long.mp4", seconds=3, width=160, height=96)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "deepshop_core", "batch", str(folder), "-o", str(out), "--smooth", "--factor",
               "8", "--workers", "1", "-q"]
    first = out / "a_short_slowmo.mp4"
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            preexec_fn=interruptible, start_new_session=True)
    deadline = time.monotonic() + 60
    while not first.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None and first.exists(), proc.communicate()
    time.sleep(0.3)  # into the second file
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "the outputs already finished are kept: run the same command to go on" in err
    assert [p.name for p in out.iterdir()] == [first.name]  # no temporary file of the second
    assert wait_gone(in_session(proc.pid), timeout=5) == set()
    kept = describe_output(first)
    assert (kept.frames, kept.rate) == (15 * 8, 200)
    again = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "1 done, 1 skipped, 0 failed" in again.stdout
    assert describe_output(out / "b_long_slowmo.mp4").frames == 75 * 8
