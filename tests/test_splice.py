"""deepshop_core.splice: processed frames put back into the untouched source clip (Save Video's splice, the API
and `deepshop splice`)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from deepshop_core import cli
from deepshop_core.errors import InputError
from deepshop_core.media.audio import read_audio
from deepshop_core.media.decode import read_frames
from deepshop_core.media.probe import probe
from deepshop_core.splice import SourceWindow, splice, splice_files

pytestmark = pytest.mark.unit


def _mean_diff(a, b) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def test_splice_files_replaces_the_window_and_keeps_the_rest(clip, make_clip, tmp_path):
    processed = make_clip("processed.mp4", seconds=1.2, seed=3)  # 30 frames of another scene, in place of 10
    out = splice_files(clip, processed, tmp_path / "out.mp4", "10:20")
    info = probe(out)
    assert info.frame_count == 10 + 30 + 30 and info.frame_rate == probe(clip).frame_rate
    source, inserted, result = list(read_frames(clip)), list(read_frames(processed)), list(read_frames(out))
    # before and after the window: the source's frames; in it: the processed ones (equal up to the codec)
    assert max(_mean_diff(result[k], source[k]) for k in range(10)) < 3
    assert max(_mean_diff(result[10 + k], inserted[k]) for k in range(30)) < 3
    assert max(_mean_diff(result[40 + k], source[20 + k]) for k in range(30)) < 3
    assert _mean_diff(result[10], source[10]) > 3 * _mean_diff(result[10], inserted[0]) + 1  # really replaced
    track = read_audio(out)
    assert abs(track.duration - 70 / 25) < 0.05


def test_splice_keeps_the_windows_audio_when_no_track_is_given(clip, tmp_path):
    window = SourceWindow.of(clip, 5, 15)
    frames = list(read_frames(clip, 5, 15))
    out = splice(window, frames, len(frames), tmp_path / "same.mp4")
    assert probe(out).frame_count == 50
    full, again = read_audio(clip), read_audio(out)
    n = min(full.samples.shape[1], again.samples.shape[1])
    assert abs(full.duration - again.duration) < 0.05
    assert np.corrcoef(full.samples[0, :n], again.samples[0, :n])[0, 1] > 0.9


def test_splice_refuses_other_sizes_rates_and_windows_outside(clip, make_clip, tmp_path, capsys):
    small = make_clip("small.mp4", width=96, height=64)
    with pytest.raises(InputError, match="source's size"):
        splice_files(clip, small, tmp_path / "x.mp4", "10:20")
    faster = make_clip("faster.mp4", seconds=1, frame_rate=Fraction(30))
    with pytest.raises(InputError, match="cannot splice frames at 30 fps into the 25 fps source clip"):
        splice_files(clip, faster, tmp_path / "x.mp4", "10:20")
    assert cli.main(["splice", str(clip), str(faster), str(tmp_path / "x.mp4"), "--window", "10:20", "-q"]) == 2
    assert capsys.readouterr().err.startswith("deepshop: error: cannot splice frames at 30 fps")
    with pytest.raises(InputError, match="not inside"):
        SourceWindow.of(clip, 40, 60)
    assert list(tmp_path.iterdir()) == []


def test_cli_splice(clip, make_clip, tmp_path, capsys):
    processed = make_clip("processed.mp4", seconds=1.2, seed=3)
    assert cli.main(["splice", str(clip), str(processed), str(tmp_path / "cli.mp4"), "--window", "0.4s:0.8s",
                     "-q"]) == 0
    assert probe(tmp_path / "cli.mp4").frame_count == 10 + 30 + 30
    assert cli.main(["splice", str(clip), str(processed), str(tmp_path / "cli.mp4"), "--window", "10:20",
                     "-q"]) == 2  # exists: refused without --overwrite
    assert "exists" in capsys.readouterr().err
    assert probe(tmp_path / "cli.mp4").frame_count == 10 + 30 + 30  # untouched
    assert cli.main(["splice", str(clip), str(processed), str(tmp_path / "cli.mp4"), "--window", "0:40",
                     "--overwrite", "-q"]) == 0
    assert probe(tmp_path / "cli.mp4").frame_count == 30 + 10  # replaced: frames 0..39 by the 30 processed ones
    assert [p.name for p in tmp_path.iterdir()] == ["cli.mp4"]
