"""Subtitle tracks: carried through slow motion, retimed like the audio, in the codec each container takes."""

from __future__ import annotations

from fractions import Fraction

import av
import pytest

from deepshop_core import Job, slow_motion
from deepshop_core.cli import main
from deepshop_core.errors import DeepshopWarning
from deepshop_core.media.subtitles import Cue, SubtitleTrack, read_subtitles, retime
from deepshop_core.plan import build_timeline
from deepshop_core.retime import time_map
from deepshop_core.synthetic import Scene

ASS_HEADER = ("[Script Info]\nScriptType: v4.00+\n\n[V4+ Styles]\nFormat: Name, Fontname, Fontsize, PrimaryColour, "
              "SecondaryColour, OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, "
              "Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding\n"
              "Style: Yellow,Arial,20,&H00ffff,&Hffffff,&H0,&H0,0,0,0,0,100,100,0,0,1,1,0,2,10,10,10,0\n\n"
              "[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n")
# (start ms, end ms, text): before the slowed range (frames 10..20 = 0.4..0.8 s), inside it, and after it.
CUES = [(100, 300, "before"), (500, 600, "inside"), (1000, 1500, "after é")]


@pytest.fixture(scope="module")
def movie(tmp_path_factory):
    """2 s at 25 fps (50 frames, 96x64) with a SubRip track (English) and an ASS track (styled), like an MKV rip."""
    path = tmp_path_factory.mktemp("subs") / "movie.mkv"
    scene = Scene.make(96, 64, seed=3)
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 96, 64, "yuv420p"
        srt = container.add_stream("subrip")
        ass = container.add_stream("ass")
        for stream, header in ((srt, ASS_HEADER), (ass, ASS_HEADER)):
            stream.codec_context.subtitle_header = header.encode()
            stream.time_base = Fraction(1, 1000)
        srt.metadata["language"] = "eng"
        for i in range(50):
            frame = av.VideoFrame.from_ndarray(scene.frame(i / 25), format="rgb24")
            frame.pts = i
            container.mux(video.encode(frame))
            for n, (start, end, text) in enumerate(CUES):
                if start // 40 == i:
                    for stream, data in ((srt, text), (ass, f"{n},0,Yellow,,0,0,0,,{{\\i1}}{text}")):
                        packet = av.Packet(data.encode())
                        packet.stream, packet.time_base = stream, Fraction(1, 1000)
                        packet.pts = packet.dts = start
                        packet.duration = end - start
                        container.mux(packet)
        container.mux(video.encode(None))
    return path


def test_info_lists_the_subtitle_tracks(movie, capsys):
    assert main(["info", str(movie)]) == 0
    assert "subtitles: subrip eng, ass (carried by slowmo)" in capsys.readouterr().out


def test_read_subtitles_gives_the_cues_of_every_text_track(movie):
    found = read_subtitles(movie)
    assert found.left_out == ()
    srt, ass = found.tracks
    assert (srt.codec, srt.language, ass.codec) == ("subrip", "eng", "ass")
    assert [(c.start, c.end, c.text) for c in srt.cues] == [(s / 1000, e / 1000, t) for s, e, t in CUES]
    assert [c.text for c in ass.cues] == [t for _, _, t in CUES]  # override tags stripped from the plain text
    assert ass.cues[0].ass == "0,Yellow,,0,0,0,,{\\i1}before" and "Style: Yellow" in ass.header


def test_time_map_follows_the_audio():
    timeline = build_timeline(50, Fraction(25), Job(ranges=["10:20"], factor=4))
    to_output = time_map(timeline, Fraction(25))
    assert to_output(0.1) == pytest.approx(0.1)  # before the range: unchanged
    assert to_output(0.5) == pytest.approx(0.4 + 0.1 * 4)  # inside: four times slower
    assert to_output(1.0) == pytest.approx(1.0 + 0.4 * 3)  # after: later by the added time
    cropped = time_map(build_timeline(30, Fraction(25), Job(ranges=["5:15"], factor=4)), Fraction(25), offset=0.2)
    assert cropped(0.5) == pytest.approx(0.2 + 0.1 * 4)


def test_retime_drops_and_clips_cues_outside_the_output():
    track = SubtitleTrack("subrip", (Cue(-1.0, -0.5, "gone"), Cue(-0.2, 0.3, "clipped"), Cue(1.8, 3.0, "end"),
                                     Cue(2.5, 2.9, "after")))
    out = retime(track, lambda t: t, duration=2.0)
    assert [(c.start, c.end, c.text) for c in out.cues] == [(0.0, 0.3, "clipped"), (1.8, 2.0, "end")]


@pytest.mark.parametrize("suffix, codecs", [(".mkv", ["subrip", "ass"]), (".mp4", ["mov_text", "mov_text"]),
                                            (".mov", ["mov_text", "mov_text"]), (".webm", ["webvtt", "webvtt"])])
def test_slow_motion_carries_the_subtitles_retimed(movie, tmp_path, suffix, codecs):
    out = tmp_path / f"slow{suffix}"
    slow_motion(movie, out, ranges=[(10, 20)], factor=4, engine="blend")
    found = read_subtitles(out)
    assert [track.codec for track in found.tracks] == codecs
    expected = [(0.1, 0.3, "before"), (0.4 + 0.1 * 4, 0.4 + 0.2 * 4, "inside"), (2.2, 2.7, "after é")]
    for track in found.tracks:
        assert [(pytest.approx(c.start, abs=0.002), pytest.approx(c.end, abs=0.002), c.text)
                for c in track.cues] == expected
    if suffix == ".mkv":  # ASS stays ASS in Matroska: styling kept
        assert found.tracks[1].cues[0].ass.endswith("Yellow,,0,0,0,,{\\i1}before")
        assert found.tracks[0].language == "eng"


def test_subtitles_follow_a_speed_curve(movie, tmp_path):
    """Along a curve (frames 10..20 4x slower, 30..40 4x faster, hard switches), the cues follow the same map as the
    audio: "inside" (0.5-0.6 s) lasts four times longer, "after" (1.0-1.5 s = frames 25..37.5) starts 1.2 s later
    (+30 frames, 10 intervals x 3) and its part in the fast stretch (frames 30..37.5) plays about four times faster
    (10 intervals in 2.5 output frames, rounded to whole frames: 3, so 0.3 frame each)."""
    out = tmp_path / "curve.mkv"
    slow_motion(movie, out, speed="0:1, 10:0.25:hold, 20:1:hold, 30:4:hold, 40:1:hold", engine="blend")
    cues = [(round(c.start, 3), round(c.end, 3), c.text) for c in read_subtitles(out).tracks[0].cues]
    assert cues == [(0.1, 0.3, "before"), (0.8, 1.2, "inside"), (2.2, round((60 + 7.5 * 0.3) / 25, 3), "after é")]


def test_crop_and_smooth_retime_the_subtitles_too(movie, tmp_path):
    cropped = tmp_path / "crop.mkv"
    slow_motion(movie, cropped, ranges=[(10, 20)], factor=2, crop=(5, 40), engine="blend")
    # The crop starts at 0.2 s; 0.1-0.3 s is clipped to 0-0.1 s; the range is 0.2-0.6 s of the crop, slowed twice;
    # 1.0-1.5 s is 0.8-1.3 s of the crop, 0.4 s later.
    cues = [(round(c.start, 3), round(c.end, 3), c.text) for c in read_subtitles(cropped).tracks[0].cues]
    assert cues == [(0.0, 0.1, "before"), (0.4, 0.6, "inside"), (1.2, 1.7, "after é")]
    smooth = tmp_path / "smooth.mkv"
    slow_motion(movie, smooth, smooth=True, factor=2, engine="blend")
    cues = [(round(c.start, 3), round(c.end, 3)) for c in read_subtitles(smooth).tracks[0].cues]
    assert cues == [(s / 1000, e / 1000) for s, e, _ in CUES]


@pytest.mark.parametrize("fmt, name", [("gif", "slow.gif"), ("webp", "slow.webp"), ("png", "frames")])
def test_outputs_without_subtitles_say_in_one_warning_that_they_are_left_out(movie, tmp_path, capsys, fmt, name):
    (tmp_path / "api").mkdir()
    with pytest.warns(DeepshopWarning, match=f"{fmt} output .* carries no subtitles: 2 subtitle track"):
        slow_motion(movie, tmp_path / "api" / name, ranges=[(10, 20)], factor=2, engine="blend", format=fmt)
    assert main(["slowmo", str(movie), "-o", str(tmp_path / name), "--range", "10:20", "--engine", "blend",
                 "--format", fmt, "-q"]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "subtitle" in line]
    assert len(warnings) == 1 and warnings[0].startswith(f"deepshop: warning: {fmt} output"), warnings


def test_a_file_without_subtitles_has_none(videos):
    assert read_subtitles(videos / "mpy_chaplin.mp4").tracks == ()
    assert read_subtitles(videos / "skv_bikes.mp4") == read_subtitles(videos / "skv_bikes.mp4").__class__((), ())


def test_picture_subtitles_are_left_out_with_one_warning(tmp_path, capsys):
    # A DVD (bitmap) subtitle track: it cannot be retimed as text; the job goes on and one line says so.
    path = tmp_path / "dvd.mkv"
    scene = Scene.make(64, 48, seed=4)
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        bitmap = container.add_stream("dvdsub")
        bitmap.time_base = Fraction(1, 1000)
        for i in range(30):
            frame = av.VideoFrame.from_ndarray(scene.frame(i / 25), format="rgb24")
            frame.pts = i
            container.mux(video.encode(frame))
            if i == 2:
                packet = av.Packet(b"\x00\x10" + bytes(14))
                packet.stream, packet.time_base = bitmap, Fraction(1, 1000)
                packet.pts = packet.dts = 80
                packet.duration = 100
                container.mux(packet)
        container.mux(video.encode(None))
    assert read_subtitles(path).left_out == ("dvdsub",)
    with pytest.warns(DeepshopWarning, match=r"1 picture subtitle track\(s\) \(dvdsub\)"):
        slow_motion(path, tmp_path / "out.mkv", ranges=[(5, 10)], factor=2, engine="blend")
    assert main(["slowmo", str(path), "-o", str(tmp_path / "cli.mkv"), "--range", "5:10", "-q"]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if "subtitle" in line]
    assert len(lines) == 1 and lines[0].startswith("deepshop: warning: ")
