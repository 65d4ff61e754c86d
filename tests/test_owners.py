"""Each vocabulary has one owner, and every reader agrees with it: the engines' presets, options and devices, the
factor limit, the frame-rate normaliser, the input and output checks, the container table; and the probe's timing
scan travels with its `VideoInfo` so reads of the clip do not scan again."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from deepshop_core import InputError, MediaError, OutputError, engines, slow_motion
from deepshop_core.cli import main, parser
from deepshop_core.clock import exact_rate, seconds_to_frame
from deepshop_core.engines.flow import DEFAULT_PRESET, PRESETS
from deepshop_core.media import decode, subtitles
from deepshop_core.media.audio import read_audio
from deepshop_core.media.decode import read_frames
from deepshop_core.media.encode import VideoWriter
from deepshop_core.media.formats import CONTAINERS, FORMATS, format_for_path
from deepshop_core.media.probe import probe
from deepshop_core.speed.limits import MAX_FACTOR, check_factor


def test_engines_describe_their_own_presets_options_and_devices():
    flow = engines.describe("flow")
    assert set(flow.presets) == set(PRESETS) and flow.default_preset == DEFAULT_PRESET == flow.presets[0]
    assert [o.name for o in flow.options if o.user] == ["preset"]
    dain = engines.describe("dain")
    assert [o.name for o in dain.options if o.user] == ["weights", "device"] and "cpu" in dain.devices
    assert dain.presets == () and engines.describe("blend").options == ()
    with pytest.raises(InputError, match="unknown engine"):
        engines.describe("nope")


def test_the_command_line_offers_what_the_engines_describe():
    slowmo = next(a for a in parser()._subparsers._group_actions[0].choices["slowmo"]._actions
                  if a.dest == "preset")
    assert tuple(slowmo.choices) == engines.describe("flow").presets and f"default {DEFAULT_PRESET}" in slowmo.help


@pytest.mark.parametrize("value", [1, 2.5, MAX_FACTOR])
def test_one_factor_limit_accepts(value):
    assert check_factor(value) == value


@pytest.mark.parametrize("value", [0.5, MAX_FACTOR * 2, math.nan, math.inf, "four"])
def test_one_factor_limit_refuses_in_the_api_and_the_cli(value, clip, tmp_path, capsys):
    with pytest.raises(InputError, match="factor"):
        check_factor(value)
    with pytest.raises(InputError, match="factor"):
        slow_motion(clip, tmp_path / "out.mp4", ranges=["10:20"], factor=value)
    status = main(["slowmo", str(clip), "-o", str(tmp_path / "out.mp4"), "--range", "10:20", "--factor", str(value)])
    assert status == 2 and "factor" in capsys.readouterr().err
    assert not (tmp_path / "out.mp4").exists()


@pytest.mark.parametrize("value, rate", [
    (25, Fraction(25)), (29.97002997, Fraction(30000, 1001)), (Fraction(24000, 1001), Fraction(24000, 1001)),
    ("30000/1001", Fraction(30000, 1001)), (np.float32(25.0), Fraction(25)),
])
def test_one_rate_normaliser(value, rate):
    assert exact_rate(value) == rate
    # seconds become frames at that same rate: half a frame at 30000/1001 fps rounds up, given as a float too
    assert seconds_to_frame("1001/60000", value) == seconds_to_frame("1001/60000", rate)
    assert seconds_to_frame("1001/60000", Fraction(30000, 1001)) == 1


@pytest.mark.parametrize("value", [0, -25, math.nan, math.inf, "fast", None])
def test_the_rate_normaliser_refuses_what_is_not_a_rate(value, tmp_path):
    with pytest.raises(InputError, match="frame rate must be a positive number"):
        exact_rate(value)
    with pytest.raises(InputError, match="frame rate must be a positive number"):
        VideoWriter(tmp_path / "out.mp4", value)
    with pytest.raises(InputError, match="frame rate must be a positive number"):
        seconds_to_frame(1.0, value)
    assert list(tmp_path.iterdir()) == []


def test_one_message_for_a_missing_input_in_the_api_and_the_readers(tmp_path):
    missing = tmp_path / "missing.mp4"
    messages = []
    for call, error in ((lambda: slow_motion(missing, tmp_path / "out.mp4"), InputError),
                        (lambda: probe(missing), MediaError), (lambda: read_frames(missing), MediaError),
                        (lambda: read_audio(missing), MediaError)):
        with pytest.raises(error) as caught:
            call()
        messages.append(str(caught.value).split(" not found: ")[1])
    assert set(messages) == {f"{missing} (no such file); check the path"}


def test_one_message_for_an_existing_output_in_the_api_and_the_writer(clip, tmp_path):
    taken = tmp_path / "taken.mp4"
    taken.write_bytes(b"precious")
    with pytest.raises(OutputError) as from_api:
        slow_motion(clip, taken, ranges=["10:20"])
    with pytest.raises(OutputError) as from_writer:
        VideoWriter(taken, 25)
    assert str(from_api.value) == str(from_writer.value)
    assert taken.read_bytes() == b"precious"


def test_the_container_table_is_what_paths_formats_and_subtitles_read():
    for extension, container in CONTAINERS.items():
        assert format_for_path(f"clip{extension}") == container.default_format
        assert extension in FORMATS[container.default_format].extensions
        track = subtitles.SubtitleTrack(codec="subrip", cues=())
        assert subtitles.output_codec(track, extension) == container.subtitle_codec
    assert {e for spec in FORMATS.values() for e in spec.extensions} == set(CONTAINERS)


def test_reads_given_the_probe_reuse_its_timing_scan(clip, monkeypatch):
    info = probe(clip)
    assert info.timing is not None and info.timing.count == info.frame_count
    expected = list(read_frames(clip, 20, 30))

    def no_second_scan(*args, **kwargs):
        raise AssertionError("the file was scanned again")

    monkeypatch.setattr(decode, "scan", no_second_scan)
    again = list(read_frames(info, 20, 30))
    assert len(again) == 10 and all(np.array_equal(a, b) for a, b in zip(again, expected))
    with pytest.raises(AssertionError, match="scanned again"):
        list(read_frames(clip, 20, 30))  # a path alone still needs the scan
