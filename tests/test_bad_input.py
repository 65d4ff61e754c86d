"""Bad and unusual input, through both faces: the command line (``deepshop slowmo``, exit 2, one line) and the Python
API (``deepshop_core.slow_motion``). Every bad case must give one clear error, write nothing and leave the input as it
was; every unusual-but-valid case must give correct output. The node cases are in tests/test_nodes.py.

Cases covered elsewhere (not repeated here):
- rotated real phone clip (mpy_fire2, 180 degrees) and 5.1 audio (skv_bigbuckbunny) through the pipeline:
  tests/test_pipeline.py::test_audio_and_video_durations_agree_on_real_clips; rotation on decode:
  tests/test_video.py::test_rotation_is_applied, test_display_matrix_rotation_turns_the_picture_upright;
- 5.1/7.1/quad audio in every container: tests/test_video.py::test_surround_layouts_in_every_container;
- missing input, folder as input, non-video text (.mp4 and .txt), audio-only file: tests/test_video.py::
  test_bad_inputs_give_clear_media_errors, test_audio_only_file_is_not_a_video (here too, through CLI and API);
- cancel leaves nothing: tests/test_pipeline.py::test_cancel_leaves_nothing_behind, tests/test_cli.py (Ctrl-C);
- a non-integer factor, ramps and bad ramps: tests/test_timeline.py, tests/test_pipeline.py.
"""

from __future__ import annotations

import ctypes
import errno
import math
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import warnings
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from deepshop_core import (
    DeepshopWarning,
    InputError,
    MediaError,
    OutputError,
    slow_motion,
)
from deepshop_core.cli import main
from deepshop_core.media import opener as opener_module
from deepshop_core.media.decode import read_frames
from deepshop_core.media.opener import MAX_PIXELS
from deepshop_core.media.probe import probe
from deepshop_core.synthetic import write_clip
from tests.support import ROOT
from tests.support.clips import digest
from tests.support.crafted import write_audio_only, write_glitched_ts

# -- helpers ------------------------------------------------------------------------------------------------------------

def encode(path: Path, frames, codec: str = "libx264", pix_fmt: str = "yuv420p", source_format: str = "rgb24",
           rotation: float | None = None, options: dict | None = None) -> Path:
    """Frames (HxWxC arrays in ``source_format``) encoded with PyAV as they are, without Deepshop's writer."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=25, options=options or {})
        stream.height, stream.width = frames[0].shape[:2] if frames else (48, 64)
        stream.pix_fmt = pix_fmt
        if rotation is not None:
            stream.set_display_rotation(rotation)
        if not frames:
            container.start_encoding()  # the header only
        for index, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format=source_format).reformat(format=pix_fmt)
            frame.pts = index
            container.mux(stream.encode(frame))
        if frames:
            container.mux(stream.encode(None))
    return path


def gradient(height: int, width: int, count: int, maximum: int = 255, dtype=np.uint8) -> list[np.ndarray]:
    """Smooth moving colour ramps (codecs keep them well, so a decoded frame can be compared with its source)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    frames = []
    for i in range(count):
        planes = [(x + 2 * i) / (width + 2 * count), y / height, 0.5 + 0.4 * np.sin((x + y) / 9 + i / 3)]
        frames.append((np.stack(planes, axis=-1).clip(0, 1) * maximum).round().astype(dtype))
    return frames


def arguments(ranges=(), factor=None, **options) -> list[str]:
    """slow_motion's keyword arguments as CLI arguments."""
    argv = [f"--range={r}" if isinstance(r, str) else f"--range={r[0]}:{r[1]}" for r in ranges]
    if factor is not None:
        argv.append(f"--factor={factor}")
    for name, value in options.items():
        if value is True:
            argv.append(f"--{name}")
        elif name == "crop":
            argv.append(f"--crop={value[0]}:{value[1]}")
        else:
            argv.append(f"--{name}={value}")
    return argv


def run(way: str, source: Path, output: Path, capsys=None, **options):
    """Run the job through ``way`` ("api" or "cli"); return the exception (API), or (exit status, stderr) (CLI)."""
    if way == "api":
        options.setdefault("engine", "blend")
        try:
            slow_motion(source, output, **options)
        except Exception as error:  # noqa: BLE001 - the test checks its class
            return error
        return None
    try:
        code = main(["slowmo", str(source), "-o", str(output), "--engine=blend", "-q", *arguments(**options)])
    except SystemExit as exit_:  # argparse refusing an argument
        code = exit_.code
    return code, capsys.readouterr().err


def assert_refused(outcome, way: str, kind: type, message: str) -> None:
    """One clear error: the API raises ``kind`` matching ``message``; the CLI exits 2 with it as its last line."""
    if way == "api":
        assert isinstance(outcome, kind), f"expected {kind.__name__}, got {outcome!r}"
        assert any(word.lower() in str(outcome).lower() for word in message.split("|")), str(outcome)
        return
    code, err = outcome
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert "Traceback" not in err and lines, err
    assert any(word.lower() in lines[-1].lower() for word in message.split("|")), err


WAYS = ["api", "cli"]


# -- bad files ----------------------------------------------------------------------------------------------------------

def _overwritten(data: bytes, share: float) -> bytes:
    """``data`` with 2000 bytes in the middle overwritten by a fixed pattern (deterministic damage)."""
    middle = int(len(data) * share)
    return data[:middle] + bytes((i * 37) % 256 for i in range(2000)) + data[middle + 2000:]


def _huge_header(path: Path) -> Path:
    """A tiny Matroska FFV1 clip whose header claims 16000x8000 (128 megapixels, under FFmpeg's own limit): the
    PixelWidth/PixelHeight elements of a 256x256 file are patched."""
    encode(path, [np.zeros((256, 256, 3), np.uint8)] * 2, codec="ffv1")
    data = path.read_bytes()
    assert data.count(b"\xb0\x82\x01\x00") == data.count(b"\xba\x82\x01\x00") == 1
    path.write_bytes(data.replace(b"\xb0\x82\x01\x00", b"\xb0\x82\x3e\x80").replace(b"\xba\x82\x01\x00",
                                                                                      b"\xba\x82\x1f\x40"))
    return path


# name: (make(folder, good clip) -> path, error class, words one of which the message must contain)
BAD_FILES = {
    "text named .mp4": (lambda d, c: _write(d / "notes.mp4", b"this is not a video\n" * 50), MediaError,
                        "not a video"),
    "random bytes": (lambda d, c: _write(d / "noise.mp4", np.random.default_rng(1).bytes(20000)), MediaError,
                     "not a video"),
    "audio only": (lambda d, c: write_audio_only(d / "tone.m4a"), MediaError, "no video stream"),
    "zero bytes": (lambda d, c: _write(d / "empty.mp4", b""), MediaError, "empty (0 bytes)"),
    "zero frames (mp4)": (lambda d, c: encode(d / "none.mp4", []), MediaError, "no streams|no frames"),
    "zero frames (mkv)": (lambda d, c: encode(d / "none.mkv", [], codec="ffv1"), MediaError, "no frames"),
    "one frame": (lambda d, c: encode(d / "one.mp4", gradient(48, 64, 1)), InputError, "only 1 frame"),
    "a still PNG image": (lambda d, c: _png(d / "still.png"), InputError, "only 1 frame"),
    **{f"cut at {share:.0%}": (lambda d, c, share=share: _write(d / "cut.mp4", c.read_bytes()[:int(c.stat().st_size
                                                                                                  * share)]),
                               MediaError, "truncated")
       for share in (0.1, 0.5, 0.9)},
    **{f"bytes overwritten at {share:.0%}": (lambda d, c, share=share: _write(d / "damaged.mp4",
                                                                              _overwritten(c.read_bytes(), share)),
                                             MediaError, "corrupt|truncated")
       for share in (0.3, 0.5, 0.7)},
    "header claims 16000x8000": (lambda d, c: _huge_header(d / "huge.mkv"), MediaError, "megapixels"),
    "missing": (lambda d, c: d / "missing.mp4", InputError, "not found|no such file"),
    "a folder": (lambda d, c: _folder(d / "folder.mp4"), MediaError, "folder"),
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _png(path: Path) -> Path:
    from PIL import Image

    Image.fromarray(gradient(48, 64, 1)[0]).save(path)
    return path


def _folder(path: Path) -> Path:
    path.mkdir()
    return path


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_files_give_one_clear_error_and_write_nothing(clip, tmp_path, capsys, way, case):
    make, kind, message = BAD_FILES[case]
    inputs, outputs = tmp_path / "in", tmp_path / "out"
    inputs.mkdir(), outputs.mkdir()
    source = make(inputs, clip)
    before = digest(source)
    outcome = run(way, source, outputs / "slow.mp4", capsys, ranges=[(1, 3)], factor=2)
    assert_refused(outcome, way, kind, message)
    assert list(outputs.iterdir()) == []
    assert digest(source) == before


@pytest.mark.parametrize("case", ["header claims 16000x8000", "cut at 50%", "cut at 90%", "zero bytes"])
def test_bad_files_are_refused_by_probe_and_info(clip, tmp_path, capsys, case):
    """The same error from probe, and as one line from `deepshop info`. (read_frames alone streams a truncated file
    up to where it ends; slow_motion and the Load node probe first.)"""
    make, kind, message = BAD_FILES[case]
    source = make(tmp_path, clip)
    with pytest.raises(kind) as caught:
        probe(source)
    assert message.split("|")[0] in str(caught.value)
    assert main(["info", str(source)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_too_large_a_picture_is_refused_before_decoding(tmp_path):
    """Refused from the header: read_frames fails when called, before a frame is decoded or allocated."""
    with pytest.raises(MediaError, match="16000x8000 .* megapixels"):
        read_frames(_huge_header(tmp_path / "huge.mkv"))


def test_the_size_limit_is_documented_and_sane():
    assert MAX_PIXELS == 8192 * 8192 >= 7680 * 4320 * 2  # 8K UHD fits twice over


# -- bad arguments on a good clip ---------------------------------------------------------------------------------------

# name: (slow_motion keywords, error class, words one of which the message must contain)
BAD_ARGUMENTS = {
    "range past the end": (dict(ranges=[(10, 60)]), InputError, "past the last frame"),
    "range in seconds past the end": (dict(ranges=["1s:9s"]), InputError, "past the last frame"),
    "start after end": (dict(ranges=[(30, 10)]), InputError, "empty or reversed"),
    "start equals end": (dict(ranges=[(10, 10)]), InputError, "empty or reversed"),
    "negative start": (dict(ranges=["-5:10"]), InputError, "negative"),
    "negative seconds": (dict(ranges=["-0.5s:1s"]), InputError, "negative"),
    "overlapping ranges": (dict(ranges=[(5, 20), (10, 30)]), InputError, "overlap"),
    "no range": (dict(ranges=[]), InputError, "nothing to slow down"),
    "crop outside the clip": (dict(ranges=[(10, 20)], crop=(40, 80)), InputError, "outside the clip"),
    "ramp longer than the range": (dict(ranges=[(10, 14)], ramp=3), InputError, "ramp"),
    **{f"factor {factor}": (dict(ranges=[(10, 20)], factor=factor), InputError, "factor")
       for factor in (0.5, 0, -2, math.nan, math.inf, 1e9)},
    "smooth factor nan": (dict(smooth=True, factor=math.nan), InputError, "factor"),
    "smooth factor below 1": (dict(smooth=True, factor=0.25), InputError, "factor"),
}


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("case", sorted(BAD_ARGUMENTS))
def test_bad_arguments_give_one_clear_error_and_write_nothing(clip, tmp_path, capsys, way, case):
    options, kind, message = BAD_ARGUMENTS[case]
    before = digest(clip)
    outcome = run(way, clip, tmp_path / "slow.mp4", capsys, **options)
    assert_refused(outcome, way, kind, message)
    assert list(tmp_path.iterdir()) == []
    assert digest(clip) == before


# -- bad outputs ----------------------------------------------------------------------------------------------------

def _symlink(folder: Path, source: Path) -> Path:
    link = folder / "link.mp4"
    link.symlink_to(source)
    return link


def _through_a_folder(source: Path) -> Path:
    """``a/../clip.mp4`` relative to the working folder, where ``a`` exists beside the clip: the same file by another
    spelling (through a folder that does not exist, the path would not name the input at all)."""
    folder = source.parent / "a"
    folder.mkdir(exist_ok=True)
    return Path(os.path.relpath(folder, Path.cwd())) / ".." / source.name


def _hard_link(folder: Path, source: Path) -> Path:
    copy = folder / "copy.mp4"
    _write(copy, source.read_bytes())
    link = folder / "hard.mp4"
    os.link(copy, link)
    return link


# name: (make(folder, input) -> (input, output), overwrite, error class, words)
BAD_OUTPUTS = {
    "output is the input": (lambda d, c: (c, c), True, OutputError, "is the input"),
    "output is a symlink to the input": (lambda d, c: (c, _symlink(d, c)), True, OutputError, "is the input"),
    "output spells the input differently": (lambda d, c: (c, _through_a_folder(c)), True, OutputError,
                                            "is the input"),
    "output is a hard link to the input": (lambda d, c: (_hard_link(d, c), d / "copy.mp4"), True,
                                           OutputError, "is the input"),
    "output exists": (lambda d, c: (c, _write(d / "taken.mp4", b"precious")), False, OutputError, "already exists"),
    "output folder missing": (lambda d, c: (c, d / "nowhere" / "out.mp4"), False, OutputError, "does not exist"),
    "output extension unknown": (lambda d, c: (c, d / "out.xyz"), False, InputError, "cannot tell the output format"),
}


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("case", sorted(BAD_OUTPUTS))
def test_bad_outputs_are_refused_and_nothing_is_changed(clip, tmp_path, capsys, way, case):
    make, overwrite, kind, message = BAD_OUTPUTS[case]
    source, output = make(tmp_path, clip)
    existing = {p: digest(p) for p in [source, *tmp_path.iterdir()]}
    options = dict(ranges=[(10, 20)], factor=2, **({"overwrite": True} if overwrite else {}))
    assert_refused(run(way, source, output, capsys, **options), way, kind, message)
    assert {p: digest(p) for p in [source, *tmp_path.iterdir()]} == existing  # nothing added, changed or removed


# -- the disk refuses -------------------------------------------------------------------------------------------------

FULL_DISK_CHILD = textwrap.dedent("""
    import resource, signal, sys
    from deepshop_core.cli import main
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG instead of killing us
    limit = int(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    sys.exit(main(["slowmo", *sys.argv[2:], "--range", "10:20", "--engine", "blend", "-q"]))
""")


@pytest.mark.parametrize("name, limit", [("out.mp4", 1000), ("out.mp4", 20000), ("out.webm", 20000),
                                         ("out.mkv", 20000), ("frames", 2000)])
def test_a_full_disk_is_named_and_leaves_nothing(clip, tmp_path, name, limit):
    """A file-size limit (RLIMIT_FSIZE) stands in for a full disk: every write past it fails with EFBIG."""
    proc = subprocess.run([sys.executable, "-c", FULL_DISK_CHILD, str(limit), str(clip), "-o", str(tmp_path / name)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    lines = [line for line in proc.stderr.splitlines() if line.startswith("deepshop: error")]
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and "file-size limit" in lines[0] and "Traceback" not in proc.stderr, proc.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def read_only_disk(monkeypatch):
    """Creating the output (FFmpeg opening a file for writing, or the PNG folder) fails with EROFS."""
    real_open, real_mkdir = av.open, Path.mkdir

    def refused(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    def open_(file, mode="r", *args, **kwargs):
        return refused() if mode == "w" else real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(opener_module.av, "open", open_)
    monkeypatch.setattr(Path, "mkdir", lambda self, *a, **k: refused() if ".partial" in self.name else
                        real_mkdir(self, *a, **k))


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("name", ["out.mp4", "frames"])
def test_a_read_only_disk_is_named_and_leaves_nothing(clip, tmp_path, capsys, read_only_disk, way, name):
    outcome = run(way, clip, tmp_path / name, capsys, ranges=[(10, 20)], factor=2)
    assert_refused(outcome, way, OutputError, "read-only")
    assert list(tmp_path.iterdir()) == []


def _without_root_override() -> None:
    """In the child, before exec: drop the capabilities that let root write anywhere (CAP_DAC_OVERRIDE,
    CAP_DAC_READ_SEARCH), so folder permissions apply to it as to any user."""
    if os.geteuid() == 0:
        libc = ctypes.CDLL(None, use_errno=True)
        for capability in (1, 2):
            if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
                raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def test_a_read_only_folder_is_refused(clip):
    """A real read-only folder (permissions 0555): the CLI gets EACCES from the system and says so."""
    folder = Path(tempfile.mkdtemp(prefix="deepshop-read-only-"))
    try:
        source = folder / "clip.mp4"
        shutil.copy(clip, source)
        folder.chmod(0o555)
        source.chmod(0o444)
        proc = subprocess.run([sys.executable, "-m", "deepshop_core", "slowmo", str(source), "-o",
                               str(folder / "out.mp4"), "--range", "10:20", "--engine", "blend", "-q"],
                              capture_output=True, text=True, cwd=ROOT, timeout=300, preexec_fn=_without_root_override)
        lines = [line for line in proc.stderr.splitlines() if line.startswith("deepshop: error")]
        assert proc.returncode == 2, proc.stderr
        assert len(lines) == 1 and "ermission denied" in lines[0], proc.stderr
        assert sorted(p.name for p in folder.iterdir()) == ["clip.mp4"]
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder)


# -- unusual but valid input: correct output ----------------------------------------------------------------------------

def _slowed(way, source, output, capsys, **options):
    outcome = run(way, source, output, capsys, ranges=[(2, 4)], factor=2, format="lossless", **options)
    assert outcome is None or outcome[0] == 0, outcome
    return outcome


# name: (make(folder) -> source clip, the frames it holds as RGB uint8 (None: decode the source))
UNUSUAL = {
    "odd size 63x47": lambda d: encode(d / "odd.mkv", gradient(47, 63, 8), "libx264rgb", "rgb24",
                                       options={"qp": "0"}),
    "10-bit yuv420p10": lambda d: encode(d / "ten.mp4", gradient(48, 64, 8), "libx264", "yuv420p10le",
                                         options={"qp": "0"}),
    "16-bit rgb48": lambda d: encode(d / "deep.mkv", gradient(48, 64, 8, 65535, np.uint16), "ffv1", "rgb48le",
                                     source_format="rgb48le"),
    "grayscale": lambda d: encode(d / "gray.mkv", gradient(48, 64, 8), "ffv1", "gray"),
    "RGBA with alpha": lambda d: encode(d / "alpha.mkv", [np.dstack([f, np.full(f.shape[:2], 128, np.uint8)])
                                                          for f in gradient(48, 64, 8)], "ffv1", "bgra",
                                        source_format="rgba"),
    "rotated 90 degrees": lambda d: encode(d / "turned.mp4", gradient(48, 64, 8), "libx264rgb", "rgb24",
                                           rotation=-90, options={"qp": "0"}),
}


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("case", sorted(UNUSUAL))
def test_unusual_input_gives_correct_output(tmp_path, capsys, way, case):
    """Exotic pixel formats are read as 8-bit RGB (upright, alpha dropped, gray repeated); the output has the frames
    copied bit for bit outside the slowed range and the source's displayed size."""
    source = UNUSUAL[case](tmp_path)
    before = digest(source)
    output = tmp_path / "slow.mkv"
    _slowed(way, source, output, capsys)
    info, source_info = probe(output), probe(source)
    assert (info.width, info.height) == (source_info.width, source_info.height)
    assert info.frame_count == 8 + 2 and info.rotation == 0
    original, slowed = list(read_frames(source)), list(read_frames(output))
    for index in (0, 1, 2, 4, 5, 7):  # copies; frame 4 follows the two in-betweens of 2..4
        np.testing.assert_array_equal(slowed[index + (2 if index >= 4 else 0)], original[index])
    assert digest(source) == before


def test_deep_colour_is_read_as_its_8_bit_picture(tmp_path):
    """16-bit and 10-bit input decode to the 8-bit picture the file holds, not noise or a clipped image."""
    deep = gradient(48, 64, 8, 65535, np.uint16)[0]
    got = next(iter(read_frames(UNUSUAL["16-bit rgb48"](tmp_path))))
    assert np.abs(got.astype(int) - deep / 257).max() <= 2  # rounding and dither of the 16 -> 8 bit conversion
    got = next(iter(read_frames(UNUSUAL["10-bit yuv420p10"](tmp_path))))
    assert np.abs(got.astype(int) - gradient(48, 64, 8)[0]).mean() < 3  # 4:2:0 chroma loses a little


@pytest.mark.parametrize("way", WAYS)
def test_paths_with_spaces_and_non_ascii_letters(clip, tmp_path, capsys, way):
    folder = tmp_path / "sortie vidéo 日本"
    folder.mkdir()
    output = folder / "ralenti é 日本.mp4"
    outcome = run(way, clip, output, capsys, ranges=[(10, 20)], factor=2)
    assert outcome is None or outcome[0] == 0, outcome
    assert probe(output).frame_count == 60 and probe(output).has_audio


def test_non_square_pixels_are_kept(videos, tmp_path):
    source = videos / "skv_carphone_pristine.mp4"
    result = slow_motion(source, tmp_path / "out.mp4", ranges=[(10, 12)], factor=2, engine="blend", crop=(0, 20))
    assert probe(result.output).sample_aspect_ratio == probe(source).sample_aspect_ratio == Fraction(128, 117)


@pytest.mark.parametrize("name", ["out.mp4", "frames"])
def test_no_audio_in_or_out(tmp_path, name):
    """A clip without sound gives a file without sound; a format without sound says so and reports no audio."""
    silent = write_clip(tmp_path / "silent.mp4", seconds=1, width=64, height=48, audio=False)
    result = slow_motion(silent, tmp_path / name, ranges=[(5, 10)], factor=2, engine="blend")
    assert not result.has_audio and result.frames_out == 30
    with pytest.warns(DeepshopWarning, match="carries no sound"):
        result = slow_motion(write_clip(tmp_path / "loud.mp4", seconds=1, width=64, height=48),
                             tmp_path / "frames2", ranges=[(5, 10)], factor=2, engine="blend")
    assert not result.has_audio


# -- variable frame rate: retimed onto a constant rate, with a warning --------------------------------------------------

@pytest.mark.parametrize("name, slow", [("mpy_fire2.mp4", (5, 7)), ("newtonscradle.gif", (5, 8))])
def test_variable_frame_rate_warns_through_the_api(videos, tmp_path, name, slow):
    source = videos / name
    with pytest.warns(DeepshopWarning, match="variable frame rate") as caught:
        result = slow_motion(source, tmp_path / "out.mkv", ranges=[slow], factor=2, engine="blend", audio="none")
    assert len([w for w in caught if issubclass(w.category, DeepshopWarning)]) == 1
    info = probe(source)
    assert result.frame_rate == info.frame_rate and result.frames_in == info.frame_count
    assert probe(result.output).frame_count == info.frame_count + (slow[1] - slow[0])


def test_variable_frame_rate_warns_on_the_command_line_in_one_line(videos, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "deepshop_core", "slowmo", str(videos / "newtonscradle.gif"), "-o",
                           str(tmp_path / "out.mp4"), "--range", "5:8", "--engine", "blend", "-q"],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("deepshop: warning: ") and "variable frame rate" in lines[0]


def test_a_constant_rate_clip_does_not_warn(clip, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeepshopWarning)
        slow_motion(clip, tmp_path / "out.mp4", ranges=[(10, 12)], factor=2, engine="blend")


def test_a_glitch_inside_the_file_warns_and_the_job_goes_on(tmp_path):
    """A corrupt packet in the middle (an MPEG-TS reception glitch) is decoded through with a warning, as players do;
    only a cut-off last frame (a truncated file) is refused."""
    source = write_glitched_ts(tmp_path / "broadcast.ts")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # probe only describes; the job (or the Load node) warns
        info = probe(source)
    assert info.frame_count == 40 and info.damaged_frames
    with pytest.warns(DeepshopWarning, match=r"damaged frame\(s\) \(the first is frame \d+\)"):
        result = slow_motion(source, tmp_path / "slow.mp4", ranges=[(5, 10)], factor=2, engine="blend")
    assert probe(result.output).frame_count == 40 + 5
