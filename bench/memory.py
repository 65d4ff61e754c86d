"""Peak memory against clip length: the file-to-file pipeline and the ComfyUI node path.

    python bench/memory.py [--seconds 3 6 12 24] [--width 640 --height 360] [--engine "flow balanced"]
    python bench/memory.py --quick       # development: 3 s and 6 s clips at 320x180
    python bench/memory.py --paths one --seconds 3 24   # just the one node's rows, merged into memory.json

Renders synthetic clips (deepshop_core.synthetic) of each length and slows the same 1-second range (1 s to 2 s) of
each by 4x, every measurement in a fresh process, whose peak resident memory (VmHWM) is reported with its resident
memory just before the work started (imports done: Python, numpy, OpenCV, PyAV; torch and ComfyUI for the nodes):

- file: ``slow_motion(clip, out, ranges=["1s:2s"], factor=4)`` in the project's Python. It streams, so a longer
  clip should cost (almost) no more memory;
- nodes: Load Video Frames (the whole clip) -> Select Slow-Motion Range -> DAIN Interpolate -> Slow Motion Retime
  -> Save Video (H.264), the pack's node classes called in-process in ComfyUI's Python (its real folder_paths and
  comfy.utils; ``.cache/comfyui``, made by tests/comfyui/setup_env.sh). ComfyUI passes whole IMAGE batches
  (float32) between nodes, so memory grows with the clip;
- curve: ``slow_motion(clip, out, speed=CURVE)``: a speed curve with a freeze (1-2 s 4x slower, 3x faster with
  motion blur from flow in-betweens, a held frame; the audio stretched along it): it streams like the file path;
- one: Slow Motion (Deepshop) given core ComfyUI's VIDEO (``VideoFromFile`` over the clip): streamed file to file
  through the core pipeline, so memory should not grow with the clip;
- nodes, window: the same graph with Load Video Frames loading only the range (plus one frame each side) and Save
  Video splicing the result back into the untouched source (its ``source`` input): what a long clip needs.

Writes bench/out/memory.json. The node rows are skipped with a note when ComfyUI's environment is absent.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import (
    COMFYUI,
    OUT,
    ROOT,
    describe,
    machine,
    read_results,
    table,
    write_results,
)

RANGE_S = (1.0, 2.0)
FACTOR = 4
CURVE = "0s:1, 1s:0.25, 2s:0.25:hold, 2.3s:3, 2.5s:freeze=0.5s, 2.8s:1"  # fits the shortest clip (3 s)


def _hwm_and_rss() -> tuple[float, float]:
    with open("/proc/self/status") as f:
        fields = {l.split(":")[0]: int(l.split()[1]) for l in f if l.startswith(("VmHWM:", "VmRSS:"))}
    return fields["VmHWM"] / 1024, fields["VmRSS"] / 1024


# ---------------------------------------------------------------------------------------------- in the child
def child_file(src: str, out: str, engine: str, curve: bool = False) -> dict:
    from deepshop_core import EngineChoice, slow_motion

    name, _, preset = engine.partition(" ")
    choice = EngineChoice.of(name, preset=preset or None)
    choice.load().close()  # imports done before the baseline
    base = _hwm_and_rss()[1]
    started = time.perf_counter()
    retime = {"speed": CURVE} if curve else {"ranges": [f"{RANGE_S[0]}s:{RANGE_S[1]}s"], "factor": FACTOR}
    result = slow_motion(src, Path(out) / "slow.mp4", overwrite=True, engine=choice, **retime)
    return {"frames_in": result.frames_in, "frames_out": result.frames_out, "base_mib": base,
            "seconds": time.perf_counter() - started}


def _pack(out: str):
    """The pack imported the way ComfyUI imports it (ComfyUI's real folder_paths, outputs into ``out``)."""
    import importlib.util

    import folder_paths  # ComfyUI's own (the parent puts ComfyUI on the path)
    from comfy.cli_args import args

    args.cpu = True  # as main.py --cpu: this torch has no CUDA
    import comfy.model_management
    import comfy.utils  # noqa: F401

    folder_paths.set_output_directory(out)
    folder_paths.set_temp_directory(out)
    spec = importlib.util.spec_from_file_location("deepshop_pack", ROOT / "__init__.py",
                                                  submodule_search_locations=[str(ROOT)])
    pack = importlib.util.module_from_spec(spec)
    sys.modules["deepshop_pack"] = pack
    spec.loader.exec_module(pack)
    return pack


def _engine_choice(pack, engine: str) -> str:
    name, _, preset = engine.partition(" ")
    return f"flow ({preset or 'balanced'})" if name == "flow" else next(
        c for c in pack.NODE_CLASS_MAPPINGS["DeepshopInterpolate"].INPUT_TYPES()["required"]["engine"][0]
        if c.startswith(name))


def child_one(src: str, out: str, engine: str) -> dict:
    """Slow Motion (Deepshop) given core's VIDEO (a VideoFromFile over the clip): streamed file to file."""
    pack = _pack(out)
    from comfy_api.input_impl import VideoFromFile

    node = pack.NODE_CLASS_MAPPINGS["DeepshopSlowMotion"]()
    choice = _engine_choice(pack, engine)
    base = _hwm_and_rss()[1]
    started = time.perf_counter()
    video, _, _, _ = node.slow_motion(f"{RANGE_S[0]}s:{RANGE_S[1]}s", float(FACTOR), 0.0, "stretch", choice,
                                      video=VideoFromFile(src))
    seconds = time.perf_counter() - started
    return {"frames_in": pack.deepshop_core.probe(src).frame_count,
            "frames_out": pack.deepshop_core.probe(video.get_stream_source()).frame_count, "base_mib": base,
            "seconds": seconds}


def child_nodes(src: str, out: str, engine: str, window: bool) -> dict:
    """The pack imported the way ComfyUI imports it, its nodes called as ComfyUI's executor would."""
    pack = _pack(out)
    node = {name: cls() for name, cls in pack.NODE_CLASS_MAPPINGS.items()}
    choice = _engine_choice(pack, engine)
    info = pack.deepshop_core.probe(src)
    rate = float(info.frame_rate)
    first, last = round(RANGE_S[0] * rate), round(RANGE_S[1] * rate)
    start, cap = (first - 1, last - first + 3) if window else (0, 0)
    base = _hwm_and_rss()[1]
    started = time.perf_counter()
    images, rate, audio, count, source = node["DeepshopLoadVideoFrames"].load("", start_frame=start,
                                                                              frame_load_cap=cap, path=src)
    segment, rng, _, _ = node["DeepshopSelectRange"].select(images, rate, f"{first}:{last}", source)
    dense, _, _, _ = node["DeepshopInterpolate"].interpolate(segment, float(FACTOR), choice)
    slowed, track, frames, out_rate = node["DeepshopSlowMotionRetime"].retime(images, dense, rng, rate,
                                                                             float(FACTOR), 0.0, "stretch", audio)
    node["DeepshopSaveVideo"].save(slowed, out_rate, "memory", "h264", -1, audio=track,
                                   source=source if window else None)
    frames_out = frames + (info.frame_count - count if window else 0)
    return {"frames_in": info.frame_count, "frames_out": frames_out, "base_mib": base,
            "seconds": time.perf_counter() - started}


# ---------------------------------------------------------------------------------------------- in the parent
def comfy_python() -> Path | None:
    python = COMFYUI / "venv" / "bin" / "python"
    return python if python.exists() and (COMFYUI / "ComfyUI" / "folder_paths.py").exists() else None


def measure(path: str, src: Path, tmp: Path, engine: str) -> dict:
    """One measurement in a fresh process: ``path`` is file, nodes or window."""
    cmd = [__file__, "--child", path, str(src), str(tmp / f"{path}_out"), "--engine", engine]
    env = dict(os.environ)
    if path in ("file", "curve"):
        cmd.insert(0, sys.executable)
    else:
        cmd.insert(0, str(comfy_python()))
        # ComfyUI's venv has neither ComfyUI nor this project installed: both on its path, ComfyUI's first (its own
        # top-level `nodes` module comes before the pack's `nodes/` folder)
        env["PYTHONPATH"] = os.pathsep.join([str(COMFYUI / "stubs"), str(COMFYUI / "ComfyUI"), str(ROOT / "bench"),
                                             str(ROOT)])
    (tmp / f"{path}_out").mkdir(exist_ok=True)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode:
        raise RuntimeError(f"{path} measurement failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


PATHS = {"file": "file to file (`slow_motion`)", "curve": "file to file along a speed curve (`speed=`)",
         "nodes": "ComfyUI nodes, whole clip loaded",
         "window": "ComfyUI nodes, range window + splice", "one": "Slow Motion node, VIDEO in (streamed)"}


def markdown(rows: list[dict]) -> str:
    out = [[PATHS[r["path"]], f"{r['clip_seconds']:g} s", f"{r['frames_in']} -> {r['frames_out']}",
            f"{r['peak_mib']:.0f}", f"{r['peak_mib'] - r['base_mib']:.0f}", f"{r['seconds']:.1f}"] for r in rows]
    return table(["path", "clip", "frames in -> out", "peak RSS MiB", "above start MiB", "seconds"], out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, nargs="+", default=[3, 6, 12, 24], help="clip lengths")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--engine", default="flow balanced", help="blend, 'flow fast|balanced|best'")
    parser.add_argument("--paths", nargs="+", default=list(PATHS), choices=list(PATHS),
                        help="which rows to measure (e.g. --paths one --seconds 3 24: the one node's rows only; "
                             "the rows are merged into bench/out/memory.json by path and length)")
    parser.add_argument("--quick", action="store_true", help="development: 3 s and 6 s clips at 320x180")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--child", nargs=3, metavar=("PATH", "SRC", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        path, src, out = args.child
        if path in ("file", "curve"):
            row = child_file(src, out, args.engine, curve=path == "curve")
        elif path == "one":
            row = child_one(src, out, args.engine)
        else:
            row = child_nodes(src, out, args.engine, window=path == "window")
        row["peak_mib"] = _hwm_and_rss()[0]
        print(json.dumps(row))
        return 0
    if args.quick:
        args.seconds, args.width, args.height = [3, 6], 320, 180
    paths, note = list(args.paths), ""
    if comfy_python() is None and set(paths) - {"file", "curve"}:
        paths = [p for p in paths if p in ("file", "curve")]
        note = f"node path skipped: no ComfyUI environment at {COMFYUI} (make comfyui / tests/comfyui/setup_env.sh)"
        print(note)
    print(f"peak RSS, {args.width}x{args.height}, {RANGE_S[0]:g}-{RANGE_S[1]:g} s slowed {FACTOR}x, engine "
          f"{args.engine}; {describe(machine())}")

    from deepshop_core.synthetic import write_clip

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seconds in args.seconds:
            src = write_clip(Path(tmp) / f"clip_{seconds:g}s.mp4", seconds=seconds, width=args.width,
                             height=args.height)
            for path in paths:
                row = {"path": path, "clip_seconds": seconds, **measure(path, src, Path(tmp), args.engine)}
                rows.append(row)
                print(f"  {path:7s} {seconds:5g} s: peak {row['peak_mib']:.0f} MiB (start {row['base_mib']:.0f}), "
                      f"{row['seconds']:.1f} s", flush=True)
            src.unlink()
    print(markdown(rows))
    earlier = read_results("memory", args.out) if set(paths) != set(PATHS) else None
    if earlier:  # a partial run: the rows it did not measure are kept from the last one
        measured = {(r["path"], r["clip_seconds"]) for r in rows}
        rows = [r for r in earlier["results"] if (r["path"], r["clip_seconds"]) not in measured] + rows
    write_results("memory", rows, args.out, size=f"{args.width}x{args.height}", engine=args.engine,
                  range_s=RANGE_S, factor=FACTOR, note=note)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
