"""The ``deepshop`` command line.

    deepshop slowmo INPUT -o OUTPUT --range 120:150 --factor 4 [--range ...] [--ramp 6] [--engine flow|dain]
                    [--audio stretch|varispeed|silence|none] [--smooth]
    deepshop slowmo INPUT -o OUTPUT --speed 0s:1,1s:0.25,2s:0.25,2.5s:3,3.5s:1 [--shutter 180] [--dry-run]
    deepshop slowmo INPUT -o OUTPUT --speed-file curve.csv
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
import os
import sys
import warnings
from fractions import Fraction
from pathlib import Path

from . import __version__, engines
from .api import slow_motion
from .errors import DeepshopError, DeepshopWarning, InputError, OutputError
from .job import SETTINGS, Job
from .media.probe import probe
from .media.subtitles import read_subtitles
from .plan import dry_run


def _checked(check):
    """An argparse type from a job's or an engine's check: its InputError becomes argparse's one-line error."""
    def parse(text: str):
        try:
            return check(text)
        except InputError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


class _OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad argument gets the one ``deepshop: error: ...`` line the README promises (exit 2), not the
    usage block first: the message already names the option and what is wrong; ``--help`` shows the usage."""

    def error(self, message: str):
        self.exit(2, f"deepshop: error: {message} (see '{self.prog} --help')\n")


def add_job_arguments(parser: argparse.ArgumentParser) -> None:
    """Every option of a `Job` (job.SETTINGS), and the engine with the options the engines declare."""
    for s in SETTINGS:
        if s.kind in ("on", "off"):
            parser.add_argument(s.flag, dest=s.name, action="store_true" if s.kind == "on" else "store_false",
                                help=s.help)
        else:
            parser.add_argument(s.flag, dest=s.name, type=_checked(s.check), help=s.help, metavar=s.metavar,
                                choices=s.choices, default=[] if s.kind == "list" else argparse.SUPPRESS,
                                action="append" if s.kind == "list" else "store")
    parser.add_argument("--engine", choices=engines.names(), default=engines.DEFAULT_ENGINE,
                        help=f"interpolation engine (default {engines.DEFAULT_ENGINE}: "
                             f"{engines.describe(engines.DEFAULT_ENGINE).summary})")
    for name, declared in engines.user_options().items():  # checked by the chosen engine (job_from)
        said: dict[str, list[str]] = {}  # the same words for several engines are said once, naming them all
        for engine, o in declared.items():
            said.setdefault(o.help + (f" (default {o.choices[0]})" if o.choices else ""), []).append(engine)
        helps = "; ".join(f"{', '.join(engines_)}: {words}" for words, engines_ in said.items())
        if all(o.switch for o in declared.values()):
            parser.add_argument(f"--{name}", action="store_const", const=True, default=None, help=helps)
            continue
        menus = [o.choices for o in declared.values()]
        choices = tuple(dict.fromkeys(c for menu in menus for c in menu)) if all(menus) else None
        parser.add_argument(f"--{name}", metavar=None if choices else name.upper(), choices=choices, help=helps)


def job_from(args: argparse.Namespace) -> Job:
    """The job the command line describes."""
    given = {s.name: getattr(args, s.name) for s in SETTINGS if hasattr(args, s.name)}
    given["ranges"] = [r for group in given.get("ranges", []) for r in group]
    engine = engines.EngineChoice.from_settings(args.engine, vars(args))
    return Job.of(**given, engine=engine)


def parser() -> argparse.ArgumentParser:
    top = _OneLineParser(prog="deepshop", description="Slow motion of a video's highlight, audio in sync.")
    top.add_argument("--version", action="version", version=f"deepshop {__version__}")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    slow = sub.add_parser("slowmo", help="slow ranges of a video down, or retime it along a speed curve (or raise "
                                          "its frame rate with --smooth)",
                          description="Synthesizes in-between frames for each range and keeps the frame rate, so "
                                      "the range plays FACTOR times slower while the rest plays normally; or "
                                      "retimes the clip along a speed curve (--speed, --speed-file): slower parts "
                                      "get in-betweens, faster parts motion blur, freezes hold a frame.")
    slow.add_argument("input", type=Path, help="the video to read (never modified)")
    slow.add_argument("-o", "--output", type=Path, help="the file to write (a folder for png)")
    add_job_arguments(slow)
    slow.add_argument("--dry-run", action="store_true", help="print where each keyframe (or range) lands in the "
                                                             "output and the output's length; write nothing")
    slow.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    slow.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    info = sub.add_parser("info", help="describe a video: frame rate, frames, size, rotation, audio")
    info.add_argument("input", type=Path)
    info.add_argument("--json", action="store_true", help="machine-readable output")

    demo = sub.add_parser("demo", help="render a test clip and slow part of it down (no download needed)")
    demo.add_argument("-o", "--output", type=Path, default=Path("deepshop-demo"), help="folder for the two files")
    demo.add_argument("--engine", choices=engines.names(), default=engines.DEFAULT_ENGINE)
    demo.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _add_batch_parser(sub)
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
    if args.dry_run:
        for line in dry_run(args.input, job_from(args)).lines():
            print(line)
        print("dry run: nothing was written")
        return 0
    if args.output is None:
        raise InputError("give the file to write with -o OUTPUT (only --dry-run writes nothing and needs none)")
    bar = _Bar(not args.quiet, "slow motion")
    try:
        result = slow_motion(args.input, args.output, job_from(args), overwrite=args.overwrite, progress=bar)
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

def _add_batch_parser(sub) -> None:
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
                       help="CSV or JSON listing input, and optionally output and any slowmo option by its name "
                            "(ranges, factor, ramp, engine, preset, format, ...) per file (missing values: the "
                            "options given here)")
    batch.add_argument("--ray", metavar="ADDRESS", default=os.environ.get("RAY_ADDRESS"),
                       help="run on this Ray cluster (default: $RAY_ADDRESS, else a local one)")
    batch.add_argument("--workers", type=int, metavar="N",
                       help="CPUs of the local cluster (default: all); 1 runs here, one file after the other")
    batch.add_argument("--chunks", type=int, metavar="N",
                       help="split each clip into N chunks (default: enough to keep every CPU busy)")
    add_job_arguments(batch)  # the job options, the same as slowmo's
    batch.add_argument("--overwrite", action="store_true", help="replace outputs that exist")
    batch.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


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
    job = job_from(args)
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
        if out and out[-1] in ("--range", "--speed") and arg.startswith("-") and ":" in arg:
            out[-1] = f"{out[-1]}={arg}"
        else:
            out.append(arg)
    return out


def main(argv: list[str] | None = None) -> int:
    try:
        args = parser().parse_args(_attach_range_values(sys.argv[1:] if argv is None else list(argv)))
    except SystemExit as done:  # --help, --version (0) or a bad argument (2, its one line printed)
        return done.code
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
