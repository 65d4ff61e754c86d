"""The command line: real runs, bad arguments (exit 2, one line, nothing written) and Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.support.procstats import interruptible

from deepshop_core.cli import main
from deepshop_core.synthetic import write_clip
from deepshop_core.media.probe import probe


def test_slowmo_writes_the_slowed_clip(clip, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    assert main(["slowmo", str(clip), "-o", str(out), "--range", "10:20", "--factor", "2", "-q"]) == 0
    assert probe(out).frame_count == 50 + 10
    assert "50 -> 60 frames" in capsys.readouterr().out


def test_ranges_in_seconds_and_several_ranges(clip, tmp_path):
    out = tmp_path / "out.mp4"
    code = main(["slowmo", str(clip), "-o", str(out), "--range", "0.2s:0.4s", "--range", "30:35",
                 "--factor", "3", "--engine", "blend", "-q"])
    assert code == 0
    assert probe(out).frame_count == 50 + (5 + 5) * 2


def test_info_json_describes_the_clip(clip, capsys):
    """`deepshop info --json` prints one JSON object with the clip's exact rate, counts and audio (it once raised a
    TypeError on every file: the probe's demux timing is not a description)."""
    assert main(["info", "--json", str(clip)]) == 0
    described = json.loads(capsys.readouterr().out)
    assert (described["frame_rate"], described["frame_count"], described["duration"]) == ("25", 50, "2")
    assert (described["width"], described["height"], described["audio"]["channels"]) == (160, 96, 2)
    assert described["subtitles"] == {"text": [], "pictures": []} and "timing" not in described


@pytest.mark.parametrize("args, message", [
    (["--factor", "0"], "--factor"),
    (["--factor", "nan"], "--factor"),
    (["--factor", "inf"], "--factor"),
    (["--factor", "-2"], "--factor"),
    (["--range", "30:10"], "range"),
    (["--range", "10:999"], "range"),
    (["--range", "abc"], "range"),
    (["--range", "-5:10"], "negative bound -5"),  # a value starting with '-', given after a space
    (["--range", "5:20", "--range", "10:30"], "overlap"),
    (["--ramp", "-1", "--range", "10:20"], "--ramp"),
    (["--engine", "nope", "--range", "10:20"], "--engine"),
    (["--audio", "loud", "--range", "10:20"], "--audio"),
])
def test_bad_arguments_exit_2_with_one_line_and_write_nothing(clip, tmp_path, args, message):
    out = tmp_path / "out.mp4"
    proc = subprocess.run([sys.executable, "-m", "deepshop_core", "slowmo", str(clip), "-o", str(out), *args],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    # Exactly one line, argparse's own type errors included (no usage block before it: the README promises one line).
    assert len(lines) == 1 and lines[0].startswith("deepshop: error:") and message.lower() in lines[0].lower()
    assert "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def two_shots(tmp_path_factory):
    """Two unrelated synthetic shots, the second starting at frame 40 (50 frames, lossless)."""
    from fractions import Fraction

    from deepshop_core.synthetic import Scene
    from deepshop_core.media.encode import VideoWriter

    a, b = Scene.make(160, 96, seed=1), Scene.make(160, 96, seed=2)
    path = tmp_path_factory.mktemp("shots") / "two shots.mkv"
    with VideoWriter(path, Fraction(25), format="lossless") as writer:
        for frame in [a.frame(i / 25) for i in range(40)] + [b.frame(i / 25) for i in range(10)]:
            writer.write(frame)
    return path


@pytest.mark.parametrize("extra, held", [([], "40"), (["--crop", "30:49"], "40"), (["--no-scene-cuts"], None)])
def test_the_scene_cut_message_tells_the_truth(two_shots, tmp_path, capsys, extra, held):
    # With --crop the cut is still numbered in the clip's frames (like --range); with --no-scene-cuts nothing is held,
    # so nothing is said to be.
    out = tmp_path / "out.mkv"
    assert main(["slowmo", str(two_shots), "-o", str(out), "--range", "35:45", "--factor", "2", "--engine", "blend",
                 "--format", "lossless", "-q", *extra]) == 0
    printed = capsys.readouterr().out
    if held:
        assert f"held at scene cuts before frames {held}\n" in printed
    else:
        assert "held at" not in printed and "scene cuts" not in printed


def test_missing_input_and_existing_output(clip, tmp_path, capsys):
    assert main(["slowmo", str(tmp_path / "missing.mp4"), "-o", str(tmp_path / "o.mp4"), "--range", "1:2"]) == 2
    taken = tmp_path / "taken.mp4"
    taken.write_bytes(b"keep me")
    assert main(["slowmo", str(clip), "-o", str(taken), "--range", "10:20", "-q"]) == 2
    assert taken.read_bytes() == b"keep me"
    err = capsys.readouterr().err
    assert "not found" in err and "already exists" in err


def test_info(clip, capsys):
    assert main(["info", str(clip)]) == 0
    out = capsys.readouterr().out
    assert "160x96" in out and "25 fps" in out and "frames: 50" in out and "audio: aac" in out


def test_ctrl_c_stops_cleanly_and_leaves_nothing(tmp_path):
    """SIGINT while the job runs: exit 130, no output, no temporary file, no child process left."""
    src = write_clip(tmp_path / "long.mp4", seconds=8, width=320, height=192)
    outdir = tmp_path / "out"
    outdir.mkdir()
    out = outdir / "slow.mp4"
    proc = subprocess.Popen([sys.executable, "-m", "deepshop_core", "slowmo", str(src), "-o", str(out),
                             "--range", "0:199", "--factor", "8"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=interruptible)
    deadline = time.monotonic() + 60
    # Wait until frames are being rendered (the temporary output exists), then interrupt.
    while time.monotonic() < deadline and not any(outdir.iterdir()) and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "cancelled" in err
    assert list(outdir.iterdir()) == []
    children = subprocess.run(["pgrep", "-P", str(os.getpid())], capture_output=True, text=True).stdout.split()
    assert str(proc.pid) not in children


@pytest.mark.slow  # renders the full-size demo clip
def test_demo(tmp_path):
    assert main(["demo", "-o", str(tmp_path / "demo"), "-q"]) == 0
    info = probe(tmp_path / "demo" / "demo_slowmo.mp4")
    assert info.frame_count == 100 + 20 * 3 and info.has_audio
