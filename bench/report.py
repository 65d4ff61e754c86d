"""The README's results: reads the bench JSONs, draws the quality-vs-speed plot, rewrites the README's results block.

    python bench/report.py [--out bench/out] [--readme README.md]

Reads bench/out/{quality,speed,memory}.json (and dain_cpu.json when present), written by the other scripts, draws
docs/images/quality_speed.png (x: milliseconds per output frame at 1280x720, end to end, from speed.py; y: mean PSNR
on Middlebury from quality.py; each engine and preset, and ffmpeg minterpolate) and replaces what lies between
``<!-- bench:results -->`` and ``<!-- /bench:results -->`` in README.md; nothing else in the README is touched.
"""

from __future__ import annotations

import argparse
import re
import textwrap
from pathlib import Path

from common import IMAGES, OUT, ROOT, describe, read_results, table

START, END = "<!-- bench:results -->", "<!-- /bench:results -->"
BASELINE = "ffmpeg minterpolate"  # speed.py's label; quality.py calls it "minterpolate"
SPEED_TARGETS = {360: 2.5, 720: 4.0}  # issue 12: the default preset against minterpolate, by frame height
ORDER = ["repeat", "blend", "minterpolate", "dis linear", "flow v0.1.0", "flow fast", "flow balanced", "flow best", "dain"]


def _quality_key(speed_label: str) -> str:
    return "minterpolate" if speed_label == BASELINE else speed_label


def speed_at(speed: dict) -> tuple[int, dict[str, dict]]:
    """The largest frame height measured and, per method, its row at that height (the 720p clip by default)."""
    height = max(r["height"] for r in speed["results"])
    return height, {r["engine"]: r for r in speed["results"] if r["height"] == height}


def plot(quality: dict, speed: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, rows = speed_at(speed)
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    for label, row in rows.items():
        q = quality["results"].get("middlebury", {}).get(_quality_key(label))
        if q is None:
            continue
        ours = label != BASELINE
        ax.scatter(row["ms_per_frame"], q["mean"]["psnr"], s=60, marker="o" if ours else "s",
                   color="tab:blue" if ours else "tab:red", zorder=3)
        name = label if ours else "ffmpeg minterpolate (mci)"
        ax.annotate(name, (row["ms_per_frame"], q["mean"]["psnr"]), textcoords="offset points", xytext=(7, -3),
                    fontsize=9)
    ax.set_xscale("log")
    clip = next(iter(rows.values()))
    ax.set_xlabel(f"ms per output frame, end to end, {clip['size']} ({clip['clip']}, 4x; log scale)")
    ax.set_ylabel("PSNR dB, Middlebury 'other' (t = 0.5)")
    ax.set_title("Quality against speed (up and left is better)", fontsize=11)
    ax.grid(True, which="both", alpha=0.3)
    ax.margins(x=0.25, y=0.12)
    fig.text(0.99, 0.01, describe(speed["machine"]), ha="right", fontsize=7, color="grey")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")
    return path


SETS = {"middlebury": "Middlebury", "davis22": "davis22", "real": "real footage"}


def quality_section(quality: dict) -> list[str]:
    results = quality["results"]
    sets = [k for k in SETS if k in results]
    keys = list(dict.fromkeys(k for name in sets for k in results[name]))
    keys = [k for k in ORDER if k in keys] + [k for k in keys if k not in ORDER]
    rows = []
    for key in keys:
        label = next(results[name][key]["label"] for name in sets if key in results[name])
        cells = [label]
        for name in sets:
            m = results[name].get(key, {}).get("mean")
            cells += [f"{m['psnr']:.2f}", f"{m['ssim']:.3f}", f"{m['ie']:.2f}"] if m else ["-", "-", "-"]
        rows.append([f"**{c}**" for c in cells] if key == "flow balanced" else cells)
    header = ["method"] + [f"{SETS[n]} {m}" for n in sets for m in ("PSNR", "SSIM", "IE")]
    counts = ", ".join(f"{SETS[n]} {len(next(iter(results[n].values()))['pairs'])}" for n in sets)
    lines = ["**Quality**, t = 0.5 against the true frame, mean over the pairs of each set "
             f"({counts} pairs): Middlebury \"other\" (small motion; the papers' protocol), davis22 (large motion: "
             "sports, animals, vehicles, camera pans) and real footage (../shared/testdata/videos at half rate: frames "
             "i and i+2 against the true i+1, two frames given; the rows \"four frames\" also get frames i-2 "
             "and i+4, real footage only). PSNR dB on 8-bit RGB; SSIM as scikit-image's "
             "`structural_similarity(a, b, channel_axis=2, data_range=255)`; IE = mean absolute error. "
             "`python bench/quality.py`:", "", table(header, rows)]
    notes = [n for n in quality.get("notes", []) if not n.startswith("DAIN")] + quality.get("targets", [])
    if notes:
        lines += [""] + [f"- {n}" for n in notes]
    if "dain" not in keys and quality.get("dain_note"):
        lines += ["", f"*{quality['dain_note'].split(':')[0]}: no real weights were found on the machine "
                      "(`bench/dain_cpu.py` times the network on the CPU with a stand-in of the published sizes).*"]
    return lines


def speed_section(speed: dict) -> list[str]:
    runs = speed["runs"]
    scope = f"the first {speed['frames_limit']} frames of each clip" if speed.get("frames_limit") else "whole clips"
    x264 = speed["x264"]
    rows, stage_rows = [], []
    for r in speed["results"]:
        ours = r["engine"] != BASELINE
        ratio = f"{r['speedup']:.2f}x" if ours else "1 (baseline)"
        rows.append([f"{r['clip']}, {r['size']}", r["frames_out"], r["engine"], f"{r['seconds']:.1f} s",
                     f"{r['fps_out']:.1f}", ratio])
        if ours:
            stages = sorted(r["stages"].items(), key=lambda kv: -kv[1])
            stage_rows.append([f"{r['clip']}", r["engine"], ", ".join(f"{k} {v:.1f}" for k, v in stages)])
    lines = [f"**Speed**: a {speed['factor']}x slow motion of {scope}, decode and H.264 encode included, every side "
             f"producing the same frames with the same x264 settings ({x264['preset']}, CRF {x264['crf']}), "
             f"median of {runs} run{'s' if runs > 1 else ''} interleaved, `python bench/speed.py` "
             "(ratio > 1: faster than ffmpeg minterpolate):", "",
             table(["clip", "frames out", "method", "time", "frames/s out", "vs minterpolate"], rows), "",
             "Where Deepshop's time goes, seconds per stage (encoding runs on a thread of its own, overlapping the "
             "interpolation; analyse = the scene-cut search):", "",
             table(["clip", "engine", "stages (s)"], stage_rows)]
    targets = [f"flow balanced at {r['size']}: {r['speedup']:.2f}x minterpolate (target >= "
               f"{SPEED_TARGETS[r['height']]:g}x): {'met' if r['speedup'] >= SPEED_TARGETS[r['height']] else 'NOT met'}"
               for r in speed["results"] if r["engine"] == "flow balanced" and r["height"] in SPEED_TARGETS]
    if targets:
        lines += [""] + [f"- {t}" for t in targets]
    if speed.get("quick"):
        lines += ["", "*A quick run (`make bench-quick`): one run on a few frames; `make bench` measures 60 "
                      "frames of each clip, three runs each.*"]
    return lines


def memory_section(memory: dict) -> list[str]:
    from memory import PATHS

    rows = [[PATHS[r["path"]], f"{r['clip_seconds']:g} s", f"{r['frames_in']} -> {r['frames_out']}",
             f"{r['peak_mib']:.0f}", f"{r['peak_mib'] - r['base_mib']:.0f}"] for r in memory["results"]]
    lines = [f"**Memory**: peak resident memory (each run a fresh process) for slowing {memory['range_s'][0]:g}-"
             f"{memory['range_s'][1]:g} s of a rendered {memory['size']} clip {memory['factor']}x "
             f"({memory['engine']}), against the clip's length, `python bench/memory.py`. The file-to-file pipeline "
             "streams; ComfyUI's nodes pass whole IMAGE batches, so there memory grows with what Load Video Frames "
             "loads, unless it loads only the range and Save Video splices it back into the source:", "",
             table(["path", "clip", "frames in -> out", "peak RSS MiB", "above start MiB"], rows)]
    if memory.get("note"):
        lines += ["", f"*{memory['note']}*"]
    return lines


def _minutes(*results) -> str:
    """The benches' own run times, summed from their result files."""
    return f"{sum(r.get('elapsed_s', 0) for r in results if r) / 60:.0f}"


SECTION_STARTS = {"quality": "**Quality**", "speed": "**Speed**", "memory": "**Memory**",
                  "dain_cpu": "**DAIN on a CPU**"}


def previous_sections(old_block: str) -> dict[str, list[str]]:
    """The sections of the README's current results block, by bench name, as their lines: what a rerun keeps for
    a bench whose JSON is absent (e.g. memory and DAIN, which need ComfyUI or real weights)."""
    found: dict[str, list[str]] = {}
    current = None
    for line in old_block.splitlines():
        starts = [name for name, head in SECTION_STARTS.items() if line.startswith(head)]
        if starts:
            current = starts[0]
            found[current] = []
        elif line.startswith(("![", "<!--", "## ")):
            current = None
        if current:
            found[current].append(line)
    return {name: lines[:-1] if lines and not lines[-1].strip() else lines for name, lines in found.items()}


def block(quality, speed, memory, dain_cpu, plotted: Path | None, previous: dict[str, list[str]] | None = None) -> str:
    machines = [r["machine"] for r in (quality, speed, memory) if r]
    previous = previous or {}
    kept = [name for name, data in (("memory", memory), ("DAIN on a CPU", dain_cpu))
            if not data and ("dain_cpu" if name.startswith("DAIN") else name) in previous]
    dates = sorted({m["date"] for m in machines})
    when = dates[0] if len(dates) == 1 else f"{dates[0]} to {dates[-1]}"
    m = machines[0]
    mem = f", {m['memory_gib']:g} GiB" if m.get("memory_gib") else ""
    lines = [START, "## Results", "",
             f"Measured on {when} on {m['cpu']} ({m['cores']} cores{mem}, {m['os']}, {m['arch']}, no GPU used; "
             f"Python {m['python']}, OpenCV {m['opencv']}); every ratio compares things measured side by side in the "
             f"same run. `make bench` regenerates every table and picture in this section (needs "
             f"`../shared/testdata`; the quality, speed and memory benches took {_minutes(quality, speed, memory)} "
             "minutes in this run); "
             "`make bench-quick` is a smoke run of the same."
             + (f" The {' and '.join(kept)} section{'s are' if len(kept) > 1 else ' is'} kept from an earlier run "
                "(no new results for them)." if kept else ""), ""]
    if plotted:
        lines += [f"![Middlebury PSNR against milliseconds per output frame at 720p, for each engine and preset and "
                  f"ffmpeg minterpolate](docs/images/{plotted.name})", ""]
    for name, section, data in (("quality", quality_section, quality), ("speed", speed_section, speed),
                                ("memory", memory_section, memory)):
        if data:
            lines += section(data) + [""]
        elif name in previous:
            lines += previous[name] + [""]
    if not dain_cpu and "dain_cpu" in previous:
        lines += previous["dain_cpu"] + [""]
    if dain_cpu:
        per = ", ".join(f"{r['s_per_pair_mean']:.1f} s per pair at {r['size']} (peak {r['worker_peak_rss_mib']} MiB)"
                        for r in dain_cpu["results"])
        lines += [f"**DAIN on a CPU** (a network of the published layer sizes with random weights, `python "
                  f"bench/dain_cpu.py`): {per}.", ""]
    lines += ["![A frame pair of the rendered scene; the frame halfway between them by frame averaging, ffmpeg "
              "minterpolate and Deepshop, each with its PSNR; and the true frame](docs/images/side_by_side.png)", "",
              "*Frames 40 and 41 of the scene `deepshop demo` renders (its true in-betweens are known), and t = 0.5 "
              "by each method with its PSNR against the truth. `bench/pictures.py` also writes the same comparison "
              "on a Middlebury pair and on a pair of a real clip to `bench/out/` (not committed: that footage is not "
              "the project's).*", "",
              "![A rendered clip, part of it slowed down 4x by Deepshop](docs/images/slowmo_preview.webp)", "",
              "*A 2 s rendered clip with 0.6 s slowed down 4x (`slow_motion`, flow engine, balanced).*", END]
    prose = (line if line.startswith(("|", "!", "<!--")) else textwrap.fill(line, 115, break_long_words=False,
                                                                          break_on_hyphens=False) for line in lines)
    return "\n".join(prose)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=OUT, help="where the bench JSONs are")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    parser.add_argument("--images", type=Path, default=IMAGES)
    args = parser.parse_args(argv)
    quality, speed, memory, dain_cpu = (read_results(n, args.out) for n in ("quality", "speed", "memory", "dain_cpu"))
    missing = [n for n, r in (("quality", quality), ("speed", speed), ("memory", memory)) if r is None]
    if missing:
        print(f"no results from {', '.join(missing)} in {args.out}: the README keeps its current sections for them")
    plotted = plot(quality, speed, args.images / "quality_speed.png") if quality and speed else None
    text = args.readme.read_text()
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"{args.readme} has no {START} ... {END} block to rewrite")
    previous = previous_sections(pattern.search(text).group(0))
    args.readme.write_text(pattern.sub(lambda _: block(quality, speed, memory, dain_cpu, plotted, previous), text,
                                       count=1))
    print(f"rewrote the results block of {args.readme}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
