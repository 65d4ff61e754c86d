"""Speed curves through the whole pipeline, the command line and the Python API: ranges as one case of a curve (the
same frames bit for bit), curve files and presets, the shutter, the dry run, every audio mode along the map, chunks,
bad input (one line, exit 2, nothing written), and the 60 s sync clip whose clicks must stay on their flashes."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest

from deepshop_core import InputError, Job, chunks, slow_motion
from deepshop_core.cli import main
from deepshop_core.media.audio import read_audio
from deepshop_core.media.decode import read_frames
from deepshop_core.media.probe import probe
from deepshop_core.plan import build_timeline, dry_run, plan_clip
from deepshop_core.speed.parse import parse_speed
from deepshop_core.steps import Blend
from deepshop_core.synthetic import flash_indices, write_flash_clip
from deepshop_core.timeline import curve_timeline
from tests.support.clips import same_audio, same_frames, write_cut_clip

CURVE = "0s:1, 0.4s:0.25, 0.8s:0.25, 1.2s:3, 1.6s:1"  # the usual 2 s clip: slower, then faster


@pytest.fixture(scope="module")
def lossless_clip(make_clip):
    """The usual clip, lossless: 2 s, 25 fps, 160x96, a click track: 50 frames."""
    return make_clip("curve scene.mkv", format="lossless")


def length_of(text: str, count: int = 50) -> int:
    return len(curve_timeline(parse_speed(text, Fraction(25), count)))


# --- ranges are one case of the curve --------------------------------------------------------------------------


@pytest.mark.parametrize("ranges, factor, ramp, keyframes", [
    (["10:30"], 4, 0, "0:1, 10:0.25:hold, 30:1:hold"),
    (["10:30"], 4, 5, "10:1, 15:0.25, 25:0.25:hold, 30:1"),
    (["0.4s:1.2s"], 2.5, 4, "0.4s:1, 0.56s:0.4, 1.04s:0.4:hold, 1.2s:1"),
])
def test_a_range_and_the_same_curve_as_keyframes_give_the_same_file(lossless_clip, tmp_path, ranges, factor, ramp,
                                                                    keyframes):
    """One code path: a range job and the keyframes that describe the same speed give the same frames, bit for bit
    (flow engine, lossless), and the same audio."""
    ranged = slow_motion(lossless_clip, tmp_path / "ranged.mkv", ranges=ranges, factor=factor, ramp=ramp,
                         format="lossless")
    curved = slow_motion(lossless_clip, tmp_path / "curved.mkv", speed=keyframes, format="lossless")
    assert ranged.frames_out == curved.frames_out > 50
    assert same_frames(ranged.output, curved.output) and same_audio(ranged.output, curved.output)


# --- the command line --------------------------------------------------------------------------------------------


@pytest.mark.slow  # an end-to-end run of a few seconds: the slow level
def test_slowmo_follows_a_speed_curve_on_the_command_line(lossless_clip, tmp_path, capsys):
    out = tmp_path / "curve.mkv"
    assert main(["slowmo", str(lossless_clip), "-o", str(out), "--speed", CURVE, "--format", "lossless", "-q"]) == 0
    expected = length_of(CURVE)
    assert f"50 -> {expected} frames" in capsys.readouterr().out and probe(out).frame_count == expected
    # the faster part is blurred (180 degrees): not the dropped frames a closed shutter gives
    sharp = tmp_path / "sharp.mkv"
    assert main(["slowmo", str(lossless_clip), "-o", str(sharp), "--speed", CURVE, "--shutter", "0",
                 "--format", "lossless", "-q"]) == 0
    blurred, dropped = list(read_frames(out)), list(read_frames(sharp))
    differ = [k for k, (a, b) in enumerate(zip(blurred, dropped)) if not np.array_equal(a, b)]
    steps = plan_clip(lossless_clip, Job(speed=CURVE)).steps
    assert differ and differ == [k for k, s in enumerate(steps) if isinstance(s, Blend)]
    audio = read_audio(out)
    assert audio.duration == pytest.approx(expected / 25, abs=0.03)
    # --blur frames: the covered source frames blended, nothing synthesised
    frames_blend = tmp_path / "frames.mkv"
    assert main(["slowmo", str(lossless_clip), "-o", str(frames_blend), "--speed", CURVE, "--blur", "frames",
                 "--format", "lossless", "-q"]) == 0
    whole = plan_clip(lossless_clip, Job(speed=CURVE, blur="frames")).steps
    assert all(s.is_copy for item in whole if isinstance(item, Blend) for s in item.samples)
    assert not same_frames(frames_blend, out) and probe(frames_blend).frame_count == expected


@pytest.mark.slow  # an end-to-end run of a few seconds: the slow level
def test_a_curve_file_and_a_preset(lossless_clip, tmp_path):
    csv_file = tmp_path / "curve.csv"
    csv_file.write_text("time,speed,ease\n0s,1,\n0.4s,0.25,\n0.8s,0.25,\n1.2s,3,\n1.6s,1,\n")
    from_file = tmp_path / "file.mkv"
    assert main(["slowmo", str(lossless_clip), "-o", str(from_file), "--speed-file", str(csv_file),
                 "--format", "lossless", "--engine", "blend", "--audio", "varispeed", "-q"]) == 0
    from_text = slow_motion(lossless_clip, tmp_path / "text.mkv", speed=CURVE, format="lossless", engine="blend",
                            audio="varispeed")
    assert same_frames(from_file, from_text.output) and same_audio(from_file, from_text.output)
    per_frame = tmp_path / "speeds.json"
    per_frame.write_text(json.dumps([1.0] * 10 + [0.5] * 30 + [2.0] * 10))
    assert main(["slowmo", str(lossless_clip), "-o", str(tmp_path / "list.mkv"), "--speed-file", str(per_frame),
                 "--engine", "blend", "-q"]) == 0
    hero = tmp_path / "hero.mkv"
    text = "hero@0.2s/1.4s, 1.8s:freeze=0.2s"
    assert main(["slowmo", str(lossless_clip), "-o", str(hero), "--speed", text, "--shutter", "270",
                 "--engine", "blend", "-q"]) == 0
    assert probe(hero).frame_count == length_of(text) == length_of("hero@0.2s/1.4s") + 5 > 55
    wide = plan_clip(lossless_clip, Job(speed=text, shutter=270)).steps
    narrow = plan_clip(lossless_clip, Job(speed=text)).steps
    assert sum(len(s.samples) for s in wide if isinstance(s, Blend)) > \
        sum(len(s.samples) for s in narrow if isinstance(s, Blend)) > 0  # a wider shutter: a longer exposure


def test_a_manifest_row_gives_its_own_curve(lossless_clip, tmp_path):
    """Batch manifests take the curve keys: a row's curve (keyframes separated by ';' in a CSV cell, or a file next
    to the manifest) replaces the command line's ranges; a row without one keeps them."""
    from deepshop_core import batch

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "curve.csv").write_text("time,speed\n0s,1\n0.4s,0.25\n1.2s,3\n1.6s,1\n")
    manifest = folder / "jobs.csv"
    manifest.write_text(f"input,output,speed,speed_file,shutter\n{lossless_clip},a.mkv,0s:1;0.4s:0.25;1.2s:3;1.6s:1,,"
                        f"90\n{lossless_clip},b.mkv,,curve.csv,\n{lossless_clip},c.mkv,,,\n")
    rows = batch.read_manifest(manifest, Job(ranges=("10:20",), factor=2))
    assert [job.speed_request.text if job.speed else None for _, job, _ in rows] == \
        ["0s:1;0.4s:0.25;1.2s:3;1.6s:1", None, None]
    assert rows[0][1].shutter == 90 and rows[0][1].ranges == () and rows[1][1].speed_file == folder / "curve.csv"
    assert rows[2][1].ranges == ("10:20",) and rows[2][1].speed_request is None
    assert main(["batch", "--manifest", str(manifest), "-o", str(tmp_path / "out"), "--range", "10:20",
                 "--factor", "2", "--engine", "blend", "--workers", "1", "-q"]) == 0
    counts = [probe(tmp_path / "out" / name).frame_count for name in ("a.mkv", "b.mkv", "c.mkv")]
    assert counts == [length_of("0s:1, 0.4s:0.25, 1.2s:3, 1.6s:1")] * 2 + [60]


def test_the_dry_run_says_where_keyframes_land_and_writes_nothing(lossless_clip, tmp_path, capsys):
    out = tmp_path / "out.mkv"
    assert main(["slowmo", str(lossless_clip), "-o", str(out), "--speed", CURVE + ", 1s:freeze=0.2s",
                 "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[:7]] == ["keyframe"] * 3 + ["freeze"] + ["keyframe"] * 2 + ["output:"]
    expected = length_of(CURVE + ", 1s:freeze=0.2s")
    assert lines[6].startswith(f"output: {expected} frames, {expected / 25:.3f}s") and "nothing was written" in lines[7]
    assert list(tmp_path.iterdir()) == []
    report = dry_run(lossless_clip, Job(speed=CURVE + ", 1s:freeze=0.2s"))
    timeline = build_timeline(50, Fraction(25), Job(speed=CURVE + ", 1s:freeze=0.2s"))
    for landing in report.landings:  # the picture: the output frame near each landing shows that source time
        assert abs(timeline.positions[min(round(landing.output_frame), len(timeline) - 1)] - landing.source_frame) <= 1
    # ranges too, in the clip's frames with a crop; no output file needed
    assert main(["slowmo", str(lossless_clip), "--range", "20:30", "--factor", "4", "--crop", "10:49",
                 "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "range 20:30 (4x) starts" in lines[0] and "(frame     20.00)" in lines[0] and "(frame     10.00)" in lines[0]
    assert "(frame     50.00)" in lines[1] and lines[2].startswith("output: 70 frames, 2.800s (source: 40 frames")


@pytest.mark.parametrize("mode", ["stretch", "varispeed", "silence"])
def test_every_audio_mode_follows_the_curve_and_a_freeze_is_silent(lossless_clip, tmp_path, mode):
    text = CURVE + ", 1s:freeze=0.4s"
    out = slow_motion(lossless_clip, tmp_path / f"{mode}.mkv", speed=text, audio=mode, engine="blend",
                      format="lossless")
    audio = read_audio(out.output)
    assert audio.duration == pytest.approx(out.frames_out / 25, abs=0.03)
    timeline = build_timeline(50, Fraction(25), Job(speed=text))
    (start, frames), = timeline.curve.freeze_spans()
    frozen = audio.samples[:, round((start / 25 + 0.01) * audio.sample_rate):
                           round(((start + frames) / 25 - 0.01) * audio.sample_rate)]
    assert frozen.size and np.abs(frozen).max() < 1e-3  # the click track's tone is 0.1: silence, not the tone
    played = audio.samples[:, -round(0.3 * audio.sample_rate):]  # the 1x end (from 1.6 s) sounds in every mode
    assert np.sqrt(np.mean(played**2)) > 0.05


# --- chunks ---------------------------------------------------------------------------------------------------


@pytest.mark.slow  # an end-to-end run of a few seconds: the slow level
def test_chunks_of_a_curve_equal_a_single_run(tmp_path):
    """Slower and faster across a scene cut: a blurred frame (one plan item) never blends the two shots and never
    falls between chunks; its samples are its cost; the stitched file is the single run's, bit for bit."""
    clip_path = write_cut_clip(tmp_path / "cut.mkv")
    job = Job(speed="0:1, 10:0.3, 24:0.3:hold, 34:4, 50:4:hold, 56:1", engine="flow", format="lossless")
    single = slow_motion(clip_path, tmp_path / "single.mkv", job)
    clip = plan_clip(clip_path, job)
    blends = [(k, s) for k, s in enumerate(clip.steps) if isinstance(s, Blend)]
    assert len(blends) > 3 and single.cuts == (30,)
    assert all(s.right < 30 or s.left >= 30 for _, s in blends)
    for _, blend in blends:
        assert chunks.work([blend]) == sum(0.1 if s.is_copy else 1.0 for s in blend.samples) > 1
    for pieces in (3, 7):
        edges = [start for start, _ in chunks.split(clip.steps, pieces)]
        assert any(start in {k for k, _ in blends} for start in edges[1:]) or pieces == 3
        out = tmp_path / f"chunked{pieces}.mkv"
        chunks.render_in_chunks(clip, out, pieces)
        assert same_frames(single.output, out) and same_audio(single.output, out)


# --- bad input -------------------------------------------------------------------------------------------------


BAD = [  # (the job's options, what the one line names)
    ({"speed": "1s:0.5, 0.5s:1"}, "out of order"),
    ({"speed": "0s:1, 3s:0.5"}, "past the last frame"),
    ({"speed": "1s:-2"}, "'-2'"),
    ({"speed": "1s:nan"}, "'nan'"),
    ({"speed": "1s:inf"}, "'inf'"),
    ({"speed": "1s:500"}, "'500'"),
    ({"speed": "1s:0.0001"}, "'0.0001'"),
    ({"speed": "warp@0.5s"}, "unknown preset 'warp'"),
    ({"speed": "1s:1", "ranges": ["10:20"]}, "given together"),
    ({"speed_file": "missing.csv"}, "not found"),
    ({"shutter": 400}, "shutter angle 400"),
]


@pytest.mark.parametrize("options, named", BAD, ids=[named for _, named in BAD])
def test_bad_curves_are_refused_by_the_api_and_the_command_line(lossless_clip, tmp_path, capsys, options, named):
    out = tmp_path / "out.mkv"
    with pytest.raises(InputError, match=named) as error:
        slow_motion(lossless_clip, out, **options)
    assert "\n" not in str(error.value)
    flags = []
    for name, value in options.items():
        flags += [f"--{name.replace('_', '-').rstrip('s') if name == 'ranges' else name.replace('_', '-')}",
                  *(value if isinstance(value, list) else [str(value)])]
    assert main(["slowmo", str(lossless_clip), "-o", str(out), *flags]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("deepshop: error:") and named in err[0]
    assert list(tmp_path.iterdir()) == []


def test_a_float_list_of_the_wrong_length_is_refused(lossless_clip, tmp_path, capsys):
    out = tmp_path / "out.mkv"
    with pytest.raises(InputError, match="49 values but the clip has 50 frames"):
        slow_motion(lossless_clip, out, speed=[0.5] * 49)
    with pytest.raises(InputError, match="frame 3 of the speed list"):
        slow_motion(lossless_clip, out, speed=[1.0, 1.0, 1.0, -1.0] + [1.0] * 46)
    listed = tmp_path / "speeds.json"
    listed.write_text(json.dumps([0.5] * 51))
    assert main(["slowmo", str(lossless_clip), "-o", str(out), "--speed-file", str(listed)]) == 2
    assert "51 values but the clip has 50 frames" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["speeds.json"]


# --- sync: 60 s, a curve of 9 keyframes and a freeze, every click on its flash ---------------------------------


@pytest.mark.slow  # an end-to-end run of a few seconds: the slow level
def test_every_click_stays_on_its_flash_through_a_long_curve(tmp_path):
    """A 60 s clip flashing white with a 10 ms 2 kHz click at every whole second, through the whole pipeline along a
    curve (slower down to 0.1x, faster up to 5x, held, a freeze, every ease): the onset of every click in the
    output's sound lies within one output frame of its flash in the output's picture.

    The flash is the brightest output frame near where the curve puts it (blurred, so dimmer, in the faster parts:
    a full 360 degree shutter, so that no flash falls between two exposures, as half would at 180 degrees). A click
    is found by the centre of its energy above 1 kHz (the 220 Hz bed removed), less half its own length as the curve
    stretches it (10 ms at 0.1x plays 100 ms). Sped up, WSOLA skips part of the source between its grains (a third
    of it at 3x), so a click there may be lost (docs/speed_curves.md): every click at or below 1x must be heard,
    and every click heard must be on time."""
    rate = Fraction(25)
    source = write_flash_clip(tmp_path / "sync.mkv", seconds=60, frame_rate=rate)
    text = ("0s:1, 5s:1, 7s:0.25, 12s:0.25:hold, 14s:3, 20s:3:linear, 22s:1, 30s:0.5:hold, 33s:2, 40s:0.1, "
            "41s:0.1:hold, 44s:5, 44.5s:freeze=1s, 50s:1")
    result = slow_motion(source, tmp_path / "out.mkv", speed=text, shutter=360, engine="blend", format="lossless")
    timeline = build_timeline(1500, rate, Job(speed=text))
    assert result.frames_out == len(timeline) and len(parse_speed(text, rate, 1500).keyframes) >= 8
    brightness = np.array([frame.mean() for frame in read_frames(result.output)])
    audio = read_audio(result.output)
    spectrum = np.fft.rfft(audio.samples[0].astype(np.float64))
    spectrum[np.fft.rfftfreq(audio.num_samples, 1 / audio.sample_rate) < 1000] = 0
    high = np.fft.irfft(spectrum, audio.num_samples) ** 2
    flashes = np.array(flash_indices(1500, rate), dtype=np.float64)
    at = timeline.curve.output_time(flashes)  # output frames
    half_click = timeline.curve.output_time(flashes + 0.005 * 25) - at  # half a click's length, as played
    bounds = np.concatenate([[at[0] - 8], (at[:-1] + at[1:]) / 2, [at[-1] + 8]])  # halfway to the next click
    one_x = high[: round(0.5 * audio.sample_rate)].sum()  # the first click, at 1x
    heard_clicks = 0
    for k, flash in enumerate(flashes):
        near = np.arange(max(0, int(at[k]) - 3), min(len(brightness), int(at[k]) + 5))
        seen = near[np.argmax(brightness[near])]  # the output frame showing the flash
        assert brightness[seen] > brightness[max(0, seen - 12): seen + 13].min() + 8, (flash, at[k])  # dark ~5
        lo, hi = (round(max(0.0, b) / 25 * audio.sample_rate)
                  for b in (max(bounds[k], at[k] - 8), min(bounds[k + 1], at[k] + 8)))
        energy = high[lo:hi]
        speed = 1 / float(timeline.curve.slowdown_at(flashes[k: k + 1])[0])
        if energy.sum() < 0.01 * one_x:
            assert speed > 1, f"the click of the flash at source frame {flash:g} ({speed:.2f}x) is lost"
            continue
        heard = (lo + np.sum(np.arange(len(energy)) * energy) / energy.sum()) / audio.sample_rate * 25 - half_click[k]
        assert abs(heard - seen) <= 1, (flash, at[k], seen, heard)
        heard_clicks += 1
    assert heard_clicks >= 50  # of 60: at most the faster parts' lose theirs
