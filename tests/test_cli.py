"""The command line: real runs, bad arguments (exit 2, one line, nothing written) and Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from deepshop_core import EngineChoice, slow_motion
from deepshop_core.cli import main
from deepshop_core.media.audio import read_audio
from deepshop_core.media.probe import probe
from deepshop_core.synthetic import write_clip
from tests.support.clips import digest, same_frames, write_cut_clip
from tests.support.outputs import describe as describe_output
from tests.support.procstats import describe, in_session, interruptible, wait_gone


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
    return write_cut_clip(tmp_path_factory.mktemp("shots") / "two shots.mkv", 160, 96, frames=50, cut=40, held=None,
                          seeds=(1, 2), audio=False)


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


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory):
    """8 s at 320x192: a 4x slow motion of all of it runs long enough to be interrupted."""
    return write_clip(tmp_path_factory.mktemp("long") / "long.mp4", seconds=8, width=320, height=192)


@pytest.mark.slow  # an end-to-end run of a few seconds: the slow level
@pytest.mark.parametrize("existing", [False, True], ids=["new output", "existing output"])
def test_ctrl_c_stops_cleanly_and_leaves_nothing(long_clip, tmp_path, existing):
    """SIGINT while the job runs: exit 130, no temporary file, an existing output (given --overwrite) untouched, and
    no process left: the command runs in a session of its own, which any process it started stays in, even one
    orphaned when the command ended."""
    outdir = tmp_path / "out"
    outdir.mkdir()
    out = outdir / "slow.mp4"
    if existing:
        out.write_bytes(b"last week's render")
    before = {path: digest(path) for path in outdir.iterdir()}
    proc = subprocess.Popen([sys.executable, "-m", "deepshop_core", "slowmo", str(long_clip), "-o", str(out),
                             "--range", "0:199", "--factor", "8", *(["--overwrite"] if existing else [])],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=interruptible,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    # Wait until frames are being rendered (the temporary output exists), then interrupt.
    while time.monotonic() < deadline and set(outdir.iterdir()) == set(before) and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "cancelled" in err
    assert {path: digest(path) for path in outdir.iterdir()} == before
    left = wait_gone(in_session(proc.pid), timeout=5)
    assert left == set(), describe(sorted(left))


@pytest.mark.slow  # renders the full-size demo clip
def test_demo(tmp_path):
    assert main(["demo", "-o", str(tmp_path / "demo"), "-q"]) == 0
    info = probe(tmp_path / "demo" / "demo_slowmo.mp4")
    assert info.frame_count == 100 + 20 * 3 and info.has_audio


# --- every slowmo option, end to end ---------------------------------------------------------------------------------

FORMATS = [  # --format, output name, the codec FFmpeg reads back, the audio codec (None: the format has no sound)
    ("h264", "out.mp4", "h264", "aac"),
    ("h265", "out.mp4", "hevc", "aac"),
    ("vp9", "out.webm", "vp9", "opus"),
    ("lossless", "out.mkv", "h264", "flac"),
    ("png", "frames", "png", None),
    ("gif", "out.gif", "gif", None),
    ("webp", "out.webp", "webp", None),
]


@pytest.mark.parametrize("fmt, name, codec, sound", FORMATS, ids=[f[0] for f in FORMATS])
def test_every_format_writes_its_codec_frames_and_rate(clip, tmp_path, capsys, fmt, name, codec, sound):
    out = tmp_path / name
    assert main(["slowmo", str(clip), "-o", str(out), "--range", "10:20", "--factor", "2", "--engine", "blend",
                 "--format", fmt, "-q"]) == 0
    got = describe_output(out)
    assert (got.codec, got.frames, got.size) == (codec, 60, (160, 96))
    assert got.rate == (None if fmt == "png" else 25)  # a PNG folder stores no rate
    assert (got.audio and got.audio.codec) == sound
    if sound is None:
        assert f"deepshop: warning: {fmt} output carries no sound" in capsys.readouterr().err
    if fmt == "lossless":
        assert got.pix_fmt == "gbrp"  # the RGB planes themselves (x264's RGB mode): no YUV rounding


@pytest.mark.parametrize("fmt, name, codec", [("h265", "api.mkv", "hevc"), ("vp9", "api.webm", "vp9")])
def test_slow_motion_writes_h265_and_vp9(clip, tmp_path, fmt, name, codec):
    result = slow_motion(clip, tmp_path / name, ranges=["10:20"], factor=2, engine="blend", format=fmt)
    got = describe_output(result.output)
    assert (got.codec, got.frames, got.rate, result.frames_out) == (codec, 60, 25, 60)


@pytest.mark.parametrize("fmt, name, low, high", [("h264", "q.mp4", 30, 10), ("h265", "q.mp4", 34, 14),
                                                  ("vp9", "q.webm", 50, 10), ("webp", "q.webp", 20, 95)])
def test_quality_reaches_the_encoder(clip, tmp_path, capsys, fmt, name, low, high):
    """--quality is the encoder's own number: x264 and x265 write their settings into the stream (``crf=...``); for
    VP9 (CRF) and WebP (0-100) a better setting gives a bigger file. Out of range: one line naming the range."""
    sizes = {}
    for quality in (low, high):
        out = tmp_path / str(quality) / name
        out.parent.mkdir()
        assert main(["slowmo", str(clip), "-o", str(out), "--range", "10:20", "--engine", "blend", "--format", fmt,
                     "--quality", str(quality), "-q"]) == 0
        sizes[quality] = out.stat().st_size
        if fmt in ("h264", "h265"):
            assert f"crf={quality}.0".encode() in out.read_bytes()
    assert sizes[high] > 1.5 * sizes[low]
    assert main(["slowmo", str(clip), "-o", str(tmp_path / name), "--range", "10:20", "--format", fmt,
                 "--quality", "101", "-q"]) == 2
    assert f"{fmt} quality must be a whole number" in capsys.readouterr().err
    assert not (tmp_path / name).exists()


@pytest.mark.slow  # an end-to-end run of a few seconds: the slow level
def test_each_preset_reaches_the_flow_engine(clip, tmp_path):
    """``--preset`` gives the same frames as the API with that preset, and the three presets differ."""
    written = {}
    for preset in ("fast", "balanced", "best"):
        out = tmp_path / f"{preset}.mkv"
        assert main(["slowmo", str(clip), "-o", str(out), "--range", "10:16", "--factor", "2", "--preset", preset,
                     "--format", "lossless", "-q"]) == 0
        api = slow_motion(clip, tmp_path / f"api_{preset}.mkv", ranges=["10:16"], factor=2,
                          engine=EngineChoice.of("flow", preset=preset), format="lossless")
        assert same_frames(out, api.output)
        written[preset] = out
    assert not same_frames(written["fast"], written["balanced"])
    assert not same_frames(written["balanced"], written["best"])


def test_smooth_doubles_the_rate_and_keeps_the_length(clip, tmp_path, capsys):
    out = tmp_path / "smooth.mp4"
    assert main(["slowmo", str(clip), "-o", str(out), "--smooth", "--factor", "2", "--engine", "blend", "-q"]) == 0
    got = describe_output(out)
    assert (got.frames, got.rate) == (100, 50)
    assert got.audio.seconds == pytest.approx(2.0, abs=0.05)
    assert "50 -> 100 frames at 50 fps (2.00 s" in capsys.readouterr().out


def test_ramp_eases_in_and_out(clip, tmp_path):
    # 20 intervals at 2.5x last 50; each 4-frame ramp loses (2.5 - 1) x 4 / 2 = 3 of them: 44, so 50 - 20 + 44 = 74
    out = tmp_path / "ramp.mp4"
    assert main(["slowmo", str(clip), "-o", str(out), "--range", "10:30", "--factor", "2.5", "--ramp", "4",
                 "--engine", "blend", "-q"]) == 0
    assert (describe_output(out).frames, describe_output(out).rate) == (74, 25)


def test_overwrite_replaces_an_existing_output(clip, tmp_path):
    taken = tmp_path / "taken.mp4"
    taken.write_bytes(b"last week's render")
    assert main(["slowmo", str(clip), "-o", str(taken), "--range", "10:20", "--factor", "2", "--engine", "blend",
                 "--overwrite", "-q"]) == 0
    assert describe_output(taken).frames == 60
    assert [p.name for p in tmp_path.iterdir()] == ["taken.mp4"]  # no temporary file left beside it


@pytest.mark.parametrize("audio", ["stretch", "silence", "none"])
def test_audio_and_crop_options(clip, tmp_path, audio):
    """``--crop 5:44`` keeps source frames 5..44 (40; 0.2 s to 1.8 s of the sound); ``--audio``: the range's sound
    slowed, silent, or no track at all."""
    out = tmp_path / "out.mp4"
    assert main(["slowmo", str(clip), "-o", str(out), "--crop", "5:44", "--range", "10:20", "--factor", "3",
                 "--engine", "blend", "--audio", audio, "-q"]) == 0
    got = describe_output(out)
    assert (got.frames, got.rate) == (40 + 10 * 2, 25)
    if audio == "none":
        assert got.audio is None
        return
    assert got.audio.seconds == pytest.approx(60 / 25, abs=0.05)
    sound = read_audio(out)
    inside = sound.samples[:, int(0.3 * sound.sample_rate):int(0.9 * sound.sample_rate)]  # the range: 0.2..1.0 s
    assert (np.sqrt(np.mean(inside ** 2)) < 0.01) == (audio == "silence")


def test_no_dedupe_holds_a_repeated_frame(tmp_path, capsys):
    """Frame 45 repeats frame 44: by default the slowed motion is interpolated across it (and the command says so);
    ``--no-dedupe`` keeps it as a hold, as ``dedupe=False`` does."""
    clip = write_cut_clip(tmp_path / "repeat.mkv")
    args = ["slowmo", str(clip), "--range", "35:55", "--factor", "2", "--engine", "blend", "--format", "lossless",
            "-q"]
    assert main([*args, "-o", str(tmp_path / "bridged.mkv")]) == 0
    assert "interpolated across 1 repeated frames" in capsys.readouterr().out
    assert main([*args, "-o", str(tmp_path / "held.mkv"), "--no-dedupe"]) == 0
    assert "repeated" not in capsys.readouterr().out
    api = slow_motion(clip, tmp_path / "api.mkv", ranges=["35:55"], factor=2, engine="blend", format="lossless",
                      dedupe=False)
    assert same_frames(tmp_path / "held.mkv", api.output)
    assert not same_frames(tmp_path / "held.mkv", tmp_path / "bridged.mkv")


def test_version(capsys):
    import tomllib

    from tests.support import ROOT

    assert main(["--version"]) == 0
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert capsys.readouterr().out == f"deepshop {version}\n"


def test_progress_bar_unless_quiet(clip, tmp_path, capsys):
    assert main(["slowmo", str(clip), "-o", str(tmp_path / "a.mp4"), "--range", "10:20", "--engine", "blend"]) == 0
    assert "slow motion: 100%" in capsys.readouterr().err
    assert main(["slowmo", str(clip), "-o", str(tmp_path / "b.mp4"), "--range", "10:20", "--engine", "blend",
                 "-q"]) == 0
    assert capsys.readouterr().err == ""
