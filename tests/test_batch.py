"""`deepshop batch` without a cluster: inputs, manifests, outputs, resuming, failures, the summary; and chunked
rendering in this process, compared frame for frame with a single run (the cluster tests are in test_cluster.py)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from deepshop_core import EngineChoice, Job, batch, chunks, slow_motion
from deepshop_core.cli import main
from deepshop_core.errors import InputError
from deepshop_core.plan import plan_clip
from deepshop_core.synthetic import write_clip
from deepshop_core.timeline import Step
from deepshop_core.media.decode import read_frames

from tests.support import import_or_skip
from tests.support.clips import same_audio, same_frames, write_cut_clip

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
    for text, words in [("input,speed\nclip0.mp4,3\n", "unknown key"), ("input,factor\nclip0.mp4,fast\n", "factor"),
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
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens on it once closed
    assert main(["batch", str(clips[0]), "-o", str(tmp_path / "out"), "--range", "5:10", "--ray",
                 f"127.0.0.1:{port}", "-q"]) == 2
    assert f"no Ray cluster answers at 127.0.0.1:{port}" in capsys.readouterr().err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.server  # starts a local Ray cluster
def test_cli_batch_uses_a_local_ray_cluster_by_default_with_the_same_result(cut_clip, tmp_path):
    import_or_skip("ray", NEEDS_RAY)
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    command = [sys.executable, "-m", "deepshop_core", "batch", str(cut_clip), "-o", str(tmp_path / "out"),
               "--range", "10:50", "--factor", "3", "--format", "lossless", "--workers", "2", "--chunks", "3", "-q"]
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "1 done, 0 skipped, 0 failed" in run.stdout
    single = slow_motion(cut_clip, tmp_path / "single.mkv", ranges=["10:50"], factor=3, format="lossless")
    output = tmp_path / "out" / "cut_slowmo.mkv"
    assert same_frames(single.output, output) and same_audio(single.output, output)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["cut_slowmo.mkv"]
