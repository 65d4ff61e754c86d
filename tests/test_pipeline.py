"""The file-to-file pipeline and the in-memory path, on clips the tests render, plus the acceptance case on
real footage."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from deepshop_core import (
    Cancelled,
    InputError,
    OutputError,
    SlowMotion,
    engines,
    interpolate_frames,
    slow_motion,
)
from deepshop_core.media.audio import read_audio
from deepshop_core.media.decode import read_frames
from deepshop_core.media.encode import VideoWriter
from deepshop_core.media.probe import probe
from deepshop_core.steps import plan
from deepshop_core.synthetic import Scene
from deepshop_core.timeline import Segment, slow_timeline
from tests.support.clips import write_cut_clip


@pytest.fixture(scope="module")
def lossless_clip(make_clip):
    """The usual clip, lossless (exact pixels) in Matroska: 2 s, 25 fps, 160x96, with a click track: 50 frames."""
    return make_clip("scene.mkv", format="lossless")


def decode(path):
    return list(read_frames(path))


def test_slowed_range_has_the_inserted_frames_and_exact_copies_elsewhere(lossless_clip, tmp_path):
    out = tmp_path / "slow.mkv"
    result = slow_motion(lossless_clip, out, ranges=[(10, 20)], factor=4, engine="blend", format="lossless")
    source, frames = decode(lossless_clip), decode(out)
    assert result.frames_out == len(frames) == 50 + 10 * 3
    info = probe(out)
    assert info.frame_rate == Fraction(25) and info.frame_count == 80
    # Before the range: frames 0..10 unchanged; after: frame 20.. lands 30 frames later.
    for i in range(0, 11):
        assert np.array_equal(frames[i], source[i])
    for i in range(20, 50):
        assert np.array_equal(frames[i + 30], source[i])
    # Inside, every 4th output frame is a source frame, the others lie between their neighbours.
    for k in range(10):
        assert np.array_equal(frames[10 + 4 * k], source[10 + k])
        mid = frames[10 + 4 * k + 2].astype(int)
        expected = (source[10 + k].astype(int) + source[11 + k]) / 2
        assert np.abs(mid - expected).max() <= 1


def test_audio_is_stretched_inside_the_range_and_lasts_as_long_as_the_video(lossless_clip, tmp_path):
    out = tmp_path / "slow.mp4"
    result = slow_motion(lossless_clip, out, ranges=["0.4s:0.8s"], factor=4, engine="blend")
    info = probe(out)
    assert result.has_audio and info.has_audio
    assert info.frame_count == 50 + 10 * 3
    audio = read_audio(out)
    assert abs(audio.duration - float(info.duration)) <= 1 / 25


@pytest.mark.parametrize("mode", ["silence", "none"])
def test_audio_modes(lossless_clip, tmp_path, mode):
    out = tmp_path / f"{mode}.mp4"
    slow_motion(lossless_clip, out, ranges=[(10, 20)], factor=4, engine="blend", audio=mode)
    info = probe(out)
    if mode == "none":
        assert not info.has_audio
        return
    audio = read_audio(out)
    rate = audio.sample_rate
    inside = audio.samples[:, int(0.45 * rate):int(1.15 * rate)]  # output 0.4 s .. 1.2 s is the slowed range
    before = audio.samples[:, : int(0.35 * rate)]
    assert np.sqrt(np.mean(inside ** 2)) < 0.01 < np.sqrt(np.mean(before ** 2))


def test_smooth_mode_doubles_the_frame_rate_and_keeps_the_duration(lossless_clip, tmp_path):
    out = tmp_path / "smooth.mkv"
    slow_motion(lossless_clip, out, smooth=True, factor=2, engine="blend", format="lossless")
    info, source_info = probe(out), probe(lossless_clip)
    assert info.frame_rate == 2 * source_info.frame_rate
    assert info.duration == source_info.duration
    frames, source = decode(out), decode(lossless_clip)
    for i in range(0, 50, 7):
        assert np.array_equal(frames[2 * i], source[i])


def test_non_integer_factor_and_ramp(lossless_clip, tmp_path):
    out = tmp_path / "ramp.mkv"
    result = slow_motion(lossless_clip, out, ranges=[(10, 30)], factor=2.5, ramp=4, engine="blend",
                         format="lossless")
    frames, source = decode(out), decode(lossless_clip)
    # 20 intervals at 2.5x last 50; each smoothstep ramp of 4 frames averages half the extra slowdown, so each loses
    # (2.5 - 1) x 4 / 2 = 3: 44 intervals in place of 20, 50 - 20 + 44 = 74 frames
    assert len(frames) == result.frames_out == 74
    assert np.array_equal(frames[-1], source[-1]) and np.array_equal(frames[0], source[0])


def test_cancel_leaves_nothing_behind(lossless_clip, tmp_path):
    out = tmp_path / "cancelled.mp4"

    def cancel_after_a_few(done, total):
        if done > 5:
            raise Cancelled("stop")

    with pytest.raises(Cancelled):
        slow_motion(lossless_clip, out, ranges=[(5, 40)], factor=4, engine="blend", progress=cancel_after_a_few)
    assert list(tmp_path.iterdir()) == []


def test_existing_output_and_input_are_never_overwritten(lossless_clip, tmp_path):
    out = tmp_path / "taken.mp4"
    out.write_bytes(b"precious")
    with pytest.raises(OutputError, match="already exists"):
        slow_motion(lossless_clip, out, ranges=[(10, 20)], engine="blend")
    assert out.read_bytes() == b"precious"
    before = lossless_clip.read_bytes()
    with pytest.raises(OutputError, match="is the input"):
        slow_motion(lossless_clip, lossless_clip, ranges=[(10, 20)], engine="blend", overwrite=True)
    assert lossless_clip.read_bytes() == before


def test_bad_ranges_are_refused_before_anything_is_written(lossless_clip, tmp_path):
    out = tmp_path / "bad.mp4"
    for ranges in ([(20, 10)], [(10, 60)], [(5, 20), (15, 30)], ["nonsense"], []):
        with pytest.raises(InputError):
            slow_motion(lossless_clip, out, ranges=ranges, engine="blend")
    assert not out.exists()


def test_scene_cut_is_held_not_morphed(tmp_path):
    """Two unrelated shots joined at frame 12: slowing across the join must never blend them."""
    path = write_cut_clip(tmp_path / "cut.mkv", frames=24, cut=12, held=None, seeds=(1, 2), audio=False)
    shots = decode(path)
    out = tmp_path / "out.mkv"
    result = slow_motion(path, out, ranges=[(6, 18)], factor=4, engine="blend", format="lossless")
    assert 12 in result.cuts
    frames = decode(out)
    # Every output frame is either a clean frame or a blend of neighbours from the *same* shot.
    for frame in frames:
        dist_a = min(np.abs(frame.astype(int) - s).mean() for s in shots[:12])
        dist_b = min(np.abs(frame.astype(int) - s).mean() for s in shots[12:])
        blended = np.abs(frame.astype(int) - (shots[11].astype(int) + shots[12]) / 2).mean()
        assert blended > 5 or min(dist_a, dist_b) == 0
    # Cuts are reported in the clip's frame numbers also with a crop, and only when held.
    cropped = slow_motion(path, tmp_path / "crop.mkv", ranges=[(6, 18)], crop=(4, 20), engine="blend")
    assert cropped.cuts == (12,)
    morphed = slow_motion(path, tmp_path / "morph.mkv", ranges=[(6, 18)], scene_cuts=False, engine="blend")
    assert morphed.cuts == ()


def test_in_memory_path_matches_the_file_path(lossless_clip, tmp_path):
    source = decode(lossless_clip)
    timeline = slow_timeline(len(source), [Segment(10, 20, 4)])
    frames = list(interpolate_frames(source, timeline, "blend"))
    out = tmp_path / "file.mkv"
    slow_motion(lossless_clip, out, ranges=[(10, 20)], factor=4, engine="blend", format="lossless")
    from_file = decode(out)
    assert len(frames) == len(from_file) == 80
    assert all(np.array_equal(x, y) for x, y in zip(frames, from_file))


def test_notebook_style_api(lossless_clip, tmp_path):
    out = SlowMotion(engine="blend", format="lossless").run(lossless_clip, slow_rate=0.25, frame_range=[5, 30],
                                                            slow_range=[10, 20], output=tmp_path / "nb.mkv")
    frames, source = decode(out), decode(lossless_clip)
    assert len(frames) == 26 + 30
    assert np.array_equal(frames[0], source[5]) and np.array_equal(frames[-1], source[30])


def test_notebook_style_api_with_an_empty_frame_range_takes_the_whole_clip(lossless_clip, tmp_path):
    """The README's call as written: ``frame_range=[]`` (no crop), no output path (NAME_slowmo beside the input, or
    in ``output_dir``)."""
    out = SlowMotion(engine="blend", format="lossless", output_dir=tmp_path).run(
        lossless_clip, slow_rate=0.25, frame_range=[], slow_range=[10, 20])
    assert out == tmp_path / "scene_slowmo.mkv"
    frames, source = decode(out), decode(lossless_clip)
    assert len(frames) == 50 + 10 * 3
    assert np.array_equal(frames[0], source[0]) and np.array_equal(frames[-1], source[49])
    assert all(np.array_equal(frames[10 + 4 * k], source[10 + k]) for k in range(11))


@pytest.fixture(scope="module")
def cut_clip(tmp_path_factory):
    """Two shots (a cut before frame 30), frame 45 repeating frame 44: 60 frames, 96x64, lossless."""
    return write_cut_clip(tmp_path_factory.mktemp("cut") / "cut.mkv")


def test_without_dedupe_a_repeated_frame_is_a_hold(cut_clip, tmp_path):
    """``dedupe=False``: the repeat (frame 45 = 44) is kept as a hold: the slowed pair 44-45 shows frame 44 still
    (every in-between equals it), where by default the motion is interpolated across 44-46."""
    job = dict(ranges=[(35, 55)], factor=2, engine="blend", format="lossless")
    bridged = slow_motion(cut_clip, tmp_path / "bridged.mkv", **job)
    held = slow_motion(cut_clip, tmp_path / "held.mkv", dedupe=False, **job)
    assert bridged.duplicates == (45,) and held.duplicates == ()
    source = decode(cut_clip)
    assert np.array_equal(source[44], source[45])
    at = 35 + 2 * (44 - 35)  # output frame of source 44; the next is the in-between of the pair 44-45
    bridged_frames, held_frames = decode(bridged.output), decode(held.output)
    assert len(bridged_frames) == len(held_frames) == 60 + 20
    assert np.array_equal(held_frames[at], source[44]) and np.array_equal(held_frames[at + 1], source[44])
    assert not np.array_equal(bridged_frames[at + 1], source[44])  # moving on towards 46


class NeighbourLog(engines.Engine):
    """The blend engine, declaring that it reads a pair's neighbours (as flow does) and logging what it gets."""

    info = engines.EngineInfo("neighbour-log", "blend, logging the neighbours it is given", context_frames=1)

    def __init__(self):
        self.stats = engines.EngineStats()
        self.inner, self.given = engines.load("blend"), []

    def interpolate(self, frame0, frame1, times, before=None, after=None):
        self.given.append((before is not None, after is not None))
        return self.inner.interpolate(frame0, frame1, times)

    def close(self):
        self.inner.close()


@pytest.mark.parametrize("path", ["file", "memory"])
def test_no_neighbour_is_read_when_the_clip_is_not_analysed(cut_clip, tmp_path, path):
    """An engine that reads a pair's neighbours gets them where the analysis says they are of the same shot, and
    none at all when both ``scene_cuts=False`` and ``dedupe=False`` leave the clip unanalysed (nothing then says
    where a neighbour lies across a cut)."""
    def run(**flags) -> list[tuple[bool, bool]]:
        engine = NeighbourLog()
        if path == "file":
            slow_motion(cut_clip, tmp_path / f"out{len(list(tmp_path.iterdir()))}.mkv", ranges=[(20, 40)], factor=2,
                        engine=engine, format="lossless", **flags)
        else:
            list(interpolate_frames(decode(cut_clip), slow_timeline(60, [Segment(20, 40, 2)]), engine, **flags))
        return engine.given

    analysed = run()
    assert len(analysed) == 19 and analysed.count((True, True)) > 10  # the cut pair 29-30 is held, not rendered
    assert (False, True) in analysed and (True, False) in analysed  # none across the cut before 30
    unanalysed = run(scene_cuts=False, dedupe=False)
    assert len(unanalysed) == 20 and set(unanalysed) == {(False, False)}


def test_acceptance_chaplin_range_50_75_factor_4(videos, tmp_path):
    """The issue's acceptance case, through the command line, with the default engine."""
    from deepshop_core.cli import main

    src = videos / "mpy_chaplin.mp4"
    out = tmp_path / "chaplin_slow.mkv"
    assert main(["slowmo", str(src), "-o", str(out), "--range", "50:75", "--factor", "4", "--format", "lossless",
                 "-q"]) == 0
    info = probe(out)
    assert info.frame_count == 241 + 75 and info.frame_rate == 25 and info.has_audio
    assert abs(read_audio(out).duration - float(info.duration)) <= 1 / 25
    source, frames = decode(src), decode(out)
    for i in list(range(0, 51)) + list(range(75, 241)):
        assert np.array_equal(frames[i if i <= 50 else i + 75], source[i]), i


@pytest.mark.parametrize("name, crop, slow", [
    ("realshort.mp4", None, (5, 15)),             # fractional frame rate, AAC mono
    ("skv_bigbuckbunny.mp4", (20, 80), (30, 40)),  # 5.1 audio, 720p
    ("mpy_fire2.mp4", None, (5, 10)),              # variable frame rate, rotated 180 degrees
    ("cockatoo.mp4", (100, 160), (110, 120)),      # 720p 4:4:4, a silent MP3 track
])
@pytest.mark.parametrize("mode", ["stretch", "silence"])
def test_audio_and_video_durations_agree_on_real_clips(videos, tmp_path, name, crop, slow, mode):
    src = videos / name
    out = tmp_path / "out.mp4"
    result = slow_motion(src, out, ranges=[slow], factor=3, engine="blend", audio=mode, crop=crop)
    info, source = probe(out), probe(src)
    count = (crop[1] - crop[0] + 1) if crop else source.frame_count
    assert info.frame_count == result.frames_out == count + (slow[1] - slow[0]) * 2
    assert info.frame_rate == source.frame_rate
    audio = read_audio(out)
    assert audio.channels == source.audio.channels
    assert abs(audio.duration - float(info.duration)) <= 1 / float(info.frame_rate)


def _screen(lines: int) -> np.ndarray:
    import cv2

    frame = np.full((96, 160, 3), 255, np.uint8)
    for i in range(lines):
        cv2.putText(frame, f"line {i}", (8, 20 + 22 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (20, 20, 20), 2)
    return frame


@pytest.mark.parametrize("path", ["file", "memory"])
def test_a_held_screen_is_not_bridged_so_new_text_pops_in_on_time(tmp_path, path):
    """A screen recording: one line shown three frames, then a second line pops in (frame 3), a third, a fourth
    (irregular holds, 5, 4 and 4 frames). Slowed, every output frame before the pop shows the old screen exactly:
    the repeats are a real hold, not duplicates to interpolate across (which would fade the new line in early)."""
    source = [_screen(lines) for lines, hold in ((1, 3), (2, 5), (3, 4), (4, 4)) for _ in range(hold)]
    timeline = slow_timeline(len(source), [Segment(0, 15, 4)])
    if path == "memory":  # what the nodes call
        frames = list(interpolate_frames(source, timeline, "blend"))
    else:
        clip = tmp_path / "screen.mkv"
        with VideoWriter(clip, Fraction(25), format="lossless") as writer:
            for frame in source:
                writer.write(frame)
        result = slow_motion(clip, tmp_path / "out.mkv", ranges=[(0, 15)], factor=4, engine="blend",
                             format="lossless")
        assert result.duplicates == ()
        frames = decode(tmp_path / "out.mkv")
    assert len(frames) == 15 * 4 + 1
    # Source frames 0..2 (one line) are output frames 0..8 and stay exactly that; the new line is interpolated in
    # only between source frames 2 and 3 (output 9..11), like any change; source frame 3 is output frame 12.
    assert all(np.array_equal(f, source[0]) for f in frames[:9])
    assert not np.array_equal(frames[9], source[0]) and np.array_equal(frames[12], source[3])


@pytest.mark.parametrize("smooth", [False, True])
def test_a_fade_from_black_is_interpolated_not_held(smooth):
    """Four black frames, then the scene fades in over six frames: a fade is not a cut, so no in-between repeats
    the frame before it (a hold would stutter), in a slowed range and in smooth mode (what the nodes call)."""
    from deepshop_core.timeline import smooth_timeline

    scene = Scene.make(96, 64, seed=5)
    black = np.zeros((64, 96, 3), np.uint8)
    fade = [(scene.frame(i / 25) * min(1.0, (i + 1) / 7)).astype(np.uint8) for i in range(16)]
    source = [black] * 4 + fade
    timeline = smooth_timeline(len(source), 2) if smooth else slow_timeline(len(source), [Segment(2, 14, 2)])
    frames = list(interpolate_frames(source, timeline, "blend"))
    pairs = {i: (s.left, s.right) for i, s in enumerate(plan(timeline, (), ())) if not s.is_copy}
    assert pairs, "the timeline has in-betweens"
    for i, (j, k) in pairs.items():
        if j >= 3:  # from the last black frame on: each in-between is a mix, neither of its two frames held
            assert not np.array_equal(frames[i], source[j]) and not np.array_equal(frames[i], source[k]), (i, j)
