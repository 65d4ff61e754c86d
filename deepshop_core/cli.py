"""The ``deepshop`` command line.

    deepshop slowmo INPUT -o OUTPUT --range 120:150 --factor 4 [--range ...] [--ramp 6] [--engine flow|dain]
                    [--audio stretch|silence|none] [--smooth]
    deepshop info INPUT
    deepshop demo [-o FOLDER]
    deepshop batch INPUT... -o FOLDER [--manifest FILE] [slowmo's options] [--ray ADDRESS] [--workers N] [--chunks N]

Exit status: 0 done, 1 the job failed, 2 bad arguments or input (one line on stderr, nothing written),
130 cancelled with Ctrl-C (nothing written).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import sys
import warnings
from fractions import Fraction
from pathlib import Path

from . import __version__, engines
from .errors import DeepshopError, DeepshopWarning, InputError, OutputError
from .media.formats import FORMATS
from .media.probe import probe
from .media.subtitles import read_subtitles
from .pipeline import AUDIO_MODES, slow_motion
from .timeline import check_factor



def _number_at_least(minimum: float, hint: str = ""):
    """An argparse type: a finite float >= ``minimum`` (NaN, inf and words refused with one clear line)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not math.isfinite(value) or value < minimum:
            raise argparse.ArgumentTypeError(f"must be a finite number >= {minimum:g}{hint}, got {text!r}")
        return value

    return parse


def _factor(text: str) -> float:
    try:
        return check_factor(text)
    except InputError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


_non_negative = _number_at_least(0)


def _crop(text: str) -> tuple[int, int]:
    try:
        first, last = (int(v) for v in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected FIRST:LAST frame numbers, got {text!r}") from None
    return first, last


class _OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad argument gets the one ``deepshop: error: ...`` line the README promises (exit 2), not the
    usage block first: the message already names the option and what is wrong; ``--help`` shows the usage."""

    def error(self, message: str):
        self.exit(2, f"deepshop: error: {message} (see '{self.prog} --help')\n")


def parser() -> argparse.ArgumentParser:
    top = _OneLineParser(prog="deepshop", description="Slow motion of a video's highlight, audio in sync.")
    top.add_argument("--version", action="version", version=f"deepshop {__version__}")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    slow = sub.add_parser("slowmo", help="slow ranges of a video down (or raise its frame rate with --smooth)",
                          description="Synthesizes in-between frames for each range and keeps the frame rate, so "
                                      "the range plays FACTOR times slower while the rest plays normally.")
    slow.add_argument("input", type=Path, help="the video to read (never modified)")
    slow.add_argument("-o", "--output", type=Path, required=True, help="the file to write (a folder for png)")
    slow.add_argument("--range", dest="ranges", action="append", default=[], metavar="START:END",
                      help="frames to slow down, e.g. 120:150, or seconds, e.g. 4.8s:6.0s (repeatable)")
    slow.add_argument("--factor", type=_factor, default=4.0, help="how many times slower (default 4; 2.5 works)")
    slow.add_argument("--ramp", type=_non_negative, default=0.0, metavar="FRAMES",
                      help="ease in and out of the slowdown over this many source frames (default 0: a hard cut)")
    slow.add_argument("--smooth", action="store_true",
                      help="instead of slowing ranges, play the whole clip at FACTOR x the frame rate, same duration")
    slow.add_argument("--engine", choices=engines.names(), default=engines.DEFAULT_ENGINE,
                      help="interpolation engine (default flow: optical flow on the CPU, no weights needed)")
    flow, dain = engines.describe("flow"), engines.describe("dain")
    slow.add_argument("--preset", choices=flow.presets, default=flow.default_preset,
                      help=f"flow engine quality/speed trade-off (default {flow.default_preset})")
    slow.add_argument("--weights", type=Path, help="DAIN weights: DAIN_weight.tar or its unpacked folder")
    slow.add_argument("--device", default=dain.devices[0],
                      help=f"DAIN device: {', '.join(dain.devices)} (default {dain.devices[0]})")
    slow.add_argument("--audio", choices=AUDIO_MODES, default="stretch",
                      help="sound inside the slowed ranges: stretch (pitch kept, default), silence, or none (no track)")
    slow.add_argument("--format", choices=sorted(FORMATS), help="output format (default: from the extension)")
    slow.add_argument("--quality", type=int, help="encoder quality (CRF for h264/h265/vp9; lower is better)")
    slow.add_argument("--crop", type=_crop, metavar="FIRST:LAST", help="keep only source frames FIRST..LAST")
    slow.add_argument("--no-scene-cuts", dest="scene_cuts", action="store_false",
                      help="interpolate across scene cuts too (default: hold the nearest frame at a cut)")
    slow.add_argument("--no-dedupe", dest="dedupe", action="store_false",
                      help="treat repeated source frames as motion stops (default: interpolate across them)")
    slow.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    slow.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    info = sub.add_parser("info", help="describe a video: frame rate, frames, size, rotation, audio")
    info.add_argument("input", type=Path)
    info.add_argument("--json", action="store_true", help="machine-readable output")

    demo = sub.add_parser("demo", help="render a test clip and slow part of it down (no download needed)")
    demo.add_argument("-o", "--output", type=Path, default=Path("deepshop-demo"), help="folder for the two files")
    demo.add_argument("--engine", choices=engines.names(), default=engines.DEFAULT_ENGINE)
    demo.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _add_batch_parser(sub, slow)
    _add_splice_parser(sub)
    return top


def _add_splice_parser(sub) -> None:
    splice = sub.add_parser(
        "splice", help="put processed frames back into the source clip in place of a window (audio too)",
        description="Writes OUTPUT: SOURCE with the frames and audio of PROCESSED in place of its frames START to "
                    "END-1 (--window START:END, frames or seconds, end excluded). PROCESSED may be longer than the "
                    "window (a slowed window); it needs SOURCE's size and frame rate.")
    splice.add_argument("source", type=Path)
    splice.add_argument("processed", type=Path)
    splice.add_argument("output", type=Path)
    splice.add_argument("--window", required=True, help="the frames replaced: START:END (end excluded), e.g. 120:150 "
                                                        "or 4.8s:6.0s")
    splice.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    splice.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _engine_options(args: argparse.Namespace) -> dict:
    """The options the chosen engine takes, from the command line's arguments of the same names."""
    return {o.name: getattr(args, o.name) for o in engines.describe(args.engine).options if o.user}


class _Bar:
    """A tqdm bar created on the first progress report (the total is known only then)."""

    def __init__(self, enabled: bool, desc: str):
        self.enabled, self.desc, self.bar = enabled, desc, None

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=self.desc, unit="frame", dynamic_ncols=True)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _run_slowmo(args: argparse.Namespace) -> int:
    bar = _Bar(not args.quiet, "slow motion")
    try:
        result = slow_motion(args.input, args.output, ranges=args.ranges, factor=args.factor, ramp=args.ramp,
                             smooth=args.smooth, engine=args.engine, engine_options=_engine_options(args),
                             audio=args.audio, scene_cuts=args.scene_cuts, dedupe=args.dedupe, crop=args.crop,
                             format=args.format, quality=args.quality, overwrite=args.overwrite, progress=bar)
    finally:
        bar.close()
    notes = []
    if result.cuts:
        notes.append(f"held at scene cuts before frames {', '.join(map(str, result.cuts))}")
    if result.duplicates:
        notes.append(f"interpolated across {len(result.duplicates)} repeated frames")
    print(f"wrote {result.output}: {result.frames_in} -> {result.frames_out} frames at {_rate(result.frame_rate)} fps "
          f"({float(result.duration):.2f} s, {'with' if result.has_audio else 'no'} audio)"
          + "".join(f"; {n}" for n in notes))
    return 0


def _rate(rate: Fraction) -> str:
    return str(rate.numerator) if rate.denominator == 1 else f"{rate} (~{float(rate):.3f})"


def _run_splice(args: argparse.Namespace) -> int:
    from .splice import splice_files

    bar = _Bar(not args.quiet, "splice")
    try:
        output = splice_files(args.source, args.processed, args.output, args.window, overwrite=args.overwrite,
                              progress=bar)
    finally:
        bar.close()
    print(f"wrote {output}: {args.processed.name} in place of frames {args.window} of {args.source.name}")
    return 0


def _run_info(args: argparse.Namespace) -> int:
    info = probe(args.input)
    found = read_subtitles(args.input)
    texts = [f"{t.codec} {t.language}" if t.language else t.codec for t in found.tracks]
    if args.json:
        fields = info.as_json()
        fields["subtitles"] = {"text": texts, "pictures": list(found.left_out)}
        print(json.dumps(fields, indent=2))
        return 0
    print(f"{info.path}")
    print(f"  video: {info.codec} {info.width}x{info.height} {info.pix_fmt}, {_rate(info.frame_rate)} fps"
          f"{' (variable: retimed to this constant rate)' if info.variable_frame_rate else ''}")
    print(f"  frames: {info.frame_count}, duration {float(info.duration):.3f} s")
    if info.sample_aspect_ratio != 1:
        print(f"  sample aspect ratio: {info.sample_aspect_ratio}")
    if info.rotation:
        print(f"  rotation: {info.rotation} degrees (applied when decoding)")
    if info.damaged_frames:
        print(f"  damaged frames: {len(info.damaged_frames)} (the first is frame {info.damaged_frames[0]})")
    a = info.audio
    print(f"  audio: {a.codec} {a.channels} ch ({a.layout}) {a.sample_rate} Hz" if a else "  audio: none")
    if texts:
        print(f"  subtitles: {', '.join(texts)} (carried by slowmo)")
    if found.left_out:
        print(f"  picture subtitles: {', '.join(found.left_out)} (left out by slowmo)")
    return 0


def _run_demo(args: argparse.Namespace) -> int:
    from .synthetic import write_clip

    args.output.mkdir(parents=True, exist_ok=True)
    source = write_clip(args.output / "demo_input.mp4", overwrite=True)
    print(f"rendered {source}: 4 s at 25 fps with a click track")
    bar = _Bar(not args.quiet, "slow motion")
    try:
        result = slow_motion(source, args.output / "demo_slowmo.mp4", ranges=["1.6s:2.4s"], factor=4,
                             engine=args.engine, overwrite=True, progress=bar)
    finally:
        bar.close()
    print(f"wrote {result.output}: frames 40..60 play 4x slower, {result.frames_in} -> {result.frames_out} frames "
          f"at {_rate(result.frame_rate)} fps, {float(result.duration):.2f} s with audio")
    return 0


# --- deepshop batch ------------------------------------------------------------------------------------------------

# The slowmo options that make up a batch's job description (shared with slowmo: same names, checks and help).
_JOB_OPTIONS = ("ranges", "factor", "ramp", "smooth", "engine", "preset", "weights", "device", "audio", "format",
                "quality", "scene_cuts", "dedupe", "overwrite", "quiet")


def _add_batch_parser(sub, slow: argparse.ArgumentParser) -> None:
    batch = sub.add_parser(
        "batch", help="slow many videos down with one job description (or a manifest), into a folder",
        description="Processes every input (files, folders, glob patterns, or a manifest) with the same options as "
                    "slowmo and writes NAME_slowmo.EXT into the output folder. Resumable: an output that exists is "
                    "skipped. Runs on a local Ray cluster using every core when Ray is installed (deepshop[cluster]),"
                    " or on the cluster at --ray ADDRESS / RAY_ADDRESS; long clips are split into chunks, and the "
                    "result is identical to slowmo's. Exit status 1 if any input failed.")
    batch.add_argument("inputs", nargs="*", metavar="INPUT", help="video files, folders, or glob patterns ('*.mp4')")
    batch.add_argument("-o", "--output", type=Path, required=True, help="the folder for the outputs")
    batch.add_argument("--manifest", type=Path, metavar="FILE",
                       help="CSV or JSON listing input, and optionally output, ranges, factor, ramp, smooth, engine, "
                            "format, quality, audio per file (missing values: the options given here)")
    batch.add_argument("--ray", metavar="ADDRESS", default=os.environ.get("RAY_ADDRESS"),
                       help="run on this Ray cluster (default: $RAY_ADDRESS, else a local one)")
    batch.add_argument("--workers", type=int, metavar="N",
                       help="CPUs of the local cluster (default: all); 1 runs here, one file after the other")
    batch.add_argument("--chunks", type=int, metavar="N",
                       help="split each clip into N chunks (default: enough to keep every CPU busy)")
    for action in slow._actions:  # the job options, shared with slowmo (argparse's own `parents` mechanism)
        if action.dest in _JOB_OPTIONS:
            batch._add_action(action)


class _BatchBar(_Bar):
    """The batch's one progress bar, in output frames; its total grows as the clips are planned."""

    def __call__(self, done: int, total: int) -> None:
        super().__call__(done, total)
        if self.bar is not None and self.bar.total != total:
            self.bar.total = total
            self.bar.refresh()


def _run_batch(args: argparse.Namespace) -> int:
    from . import batch

    for name in ("workers", "chunks"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise InputError(f"--{name} must be at least 1, got {getattr(args, name)}")
    job = batch.Job(ranges=tuple(args.ranges), factor=args.factor, ramp=args.ramp, smooth=args.smooth,
                    engine=args.engine, engine_options=_engine_options(args), audio=args.audio, format=args.format,
                    quality=args.quality, scene_cuts=args.scene_cuts, dedupe=args.dedupe)
    inputs: list = batch.find_inputs(args.inputs) if args.inputs else []
    if args.manifest is not None:
        inputs += batch.read_manifest(args.manifest, job)
    if not inputs:
        raise InputError("no inputs: give video files, folders or glob patterns, or --manifest FILE")
    items = batch.items(inputs, job, args.output)
    bar = _BatchBar(not args.quiet, "batch")
    try:
        outcomes = batch.run(items, overwrite=args.overwrite, ray=_ray_address(args), workers=args.workers,
                             chunks=args.chunks, progress=bar)
    except KeyboardInterrupt:
        print("deepshop: cancelled; the outputs already finished are kept: run the same command to go on",
              file=sys.stderr)
        return 130
    finally:
        bar.close()
    print(batch.summary(outcomes))
    return 1 if any(o.status == batch.FAILED for o in outcomes) else 0


def _ray_address(args: argparse.Namespace) -> str | None:
    """The cluster to run on: ``--ray``/RAY_ADDRESS; else "" (a local Ray cluster) when Ray is installed and more
    than one worker is wanted; else None (here, one file after the other)."""
    if args.ray:
        return args.ray
    if args.workers == 1:
        return None
    if importlib.util.find_spec("ray") is None:  # not imported here: cluster.connect sets Ray up first
        if args.workers:
            raise InputError("--workers needs Ray: pip install 'deepshop[cluster]'") from None
        warnings.warn("Ray is not installed, so the batch runs one file after the other; "
                      "pip install 'deepshop[cluster]' to use every core", DeepshopWarning)
        return None
    return ""


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as one line on stderr, like the errors (no source file and line)."""
    print(f"deepshop: warning: {message}", file=sys.stderr)


def _attach_range_values(argv: list[str]) -> list[str]:
    """``--range -5:10`` as ``--range=-5:10``: argparse takes a value starting with '-' for an option and would only
    say "expected one argument"; attached, it reaches the range parser, which says what is wrong with it."""
    out: list[str] = []
    for arg in argv:
        if out and out[-1] == "--range" and arg.startswith("-") and ":" in arg:
            out[-1] = f"--range={arg}"
        else:
            out.append(arg)
    return out


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(_attach_range_values(sys.argv[1:] if argv is None else list(argv)))
    run = {"slowmo": _run_slowmo, "info": _run_info, "demo": _run_demo, "batch": _run_batch,
           "splice": _run_splice}[args.command]
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return run(args)
    except (InputError, OutputError) as error:
        print(f"deepshop: error: {error}", file=sys.stderr)
        return 2
    except DeepshopError as error:
        print(f"deepshop: failed: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("deepshop: cancelled; nothing was written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
