"""Write the example workflows in workflows/ (UI format, "version": 0.4) from compact descriptions.

The widget order of each node comes from a live ComfyUI's /object_info, so the files match what the editor
expects. Run from the project root after changing a node's inputs (needs the test ComfyUIs, ``make comfyui``):

    .venv/bin/python -m tools.make_workflows [NAME.json ...]

The tests read the descriptions from here too (the example clip's name, the model file a workflow names, the core
nodes a workflow needs beyond the oldest supported ComfyUI).

The example clip they load, ``deepshop_example.mp4``, is made by the project (``deepshop demo`` /
``deepshop_core.synthetic.write_clip``) and copied into ComfyUI's input folder; nothing is downloaded.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tools.comfy_server import INSTALLS, ComfyServer
from tools.workflow_api import UPLOAD_FLAGS, is_widget

ROOT = Path(__file__).resolve().parents[1]

WORKFLOWS = ROOT / "workflows"
EXAMPLE = "deepshop_example.mp4"
ENGINE = "flow (balanced)"
CORE_MODEL = "rife.safetensors"  # the file a user puts into models/frame_interpolation (the tests make a stand-in)

# (id, type, (x, y), {widget: value}, {input: (from_id, from_slot)}, title or None)
SLOWMO = {
    "note": (
        "Slow motion of a highlight, with its audio.\n\n"
        "1. Load Video Frames: pick your clip (or upload one). The example clip deepshop_example.mp4 is the "
        "demo_input.mp4 that `deepshop demo` renders, copied into ComfyUI's input folder (workflows/README.md).\n"
        "2. Select Range: the part to slow down, in seconds (1.0s:2.0s) or frames (25:50).\n"
        "3. DAIN Interpolate renders that part as slow motion: factor (and ramp) are chosen here, once (flow on "
        "the CPU, or DAIN with weights in models/dain).\n"
        "4. Slow Motion Retime puts them back into the clip by the plan DAIN Interpolate hands it (its own factor "
        "and ramp are then unused) and stretches the audio to match.\n"
        "5. Save Video writes an MP4 at the clip's OWN frame rate: more frames at the same rate is exactly what "
        "makes the range play 4x slower. The rest of the clip plays at normal speed."
    ),
    "nodes": [
        (1, "DeepshopLoadVideoFrames", (40, 120), {"video": EXAMPLE, "start_frame": 0, "frame_load_cap": 0}, {}, None),
        (2, "DeepshopSelectRange", (440, 60), {"range": "1.0s:2.0s"},
         {"images": (1, 0), "frame_rate": (1, 1), "source": (1, 4)}, None),
        (3, "DeepshopInterpolate", (800, 60),
         {"factor": 4.0, "engine": ENGINE, "device": "auto", "scene_cut_protection": True, "ramp": 0.0},
         {"images": (2, 0), "frame_rate": (1, 1), "range": (2, 1)}, None),
        (4, "DeepshopSlowMotionRetime", (1180, 120), {"factor": 4.0, "ramp": 0.0, "audio_mode": "stretch"},
         {"images": (1, 0), "interpolated": (3, 0), "range": (2, 1), "frame_rate": (1, 1), "audio": (1, 2),
          "plan": (3, 3)}, None),
        (5, "DeepshopSaveVideo", (1560, 120), {"filename_prefix": "deepshop/highlight", "format": "h264", "quality": -1},
         {"images": (4, 0), "frame_rate": (4, 3), "audio": (4, 1)}, None),
    ],
}

UPCONVERT = {
    "note": (
        "Whole-clip frame-rate up-conversion: 25 fps -> 50 fps, same duration, smoother motion.\n\n"
        "DAIN Interpolate at 2x gives twice the frames and, on its frame_rate output, twice the frame rate. Saving "
        "at that doubled rate keeps the clip's speed and length (and its audio as it is). Save it at the clip's own "
        "rate instead and the whole clip plays 2x slower: that is slow motion."
    ),
    "nodes": [
        (1, "DeepshopLoadVideoFrames", (40, 120), {"video": EXAMPLE, "start_frame": 0, "frame_load_cap": 0}, {}, None),
        (2, "DeepshopInterpolate", (440, 120),
         {"factor": 2.0, "engine": "flow (fast)", "device": "auto", "scene_cut_protection": True},
         {"images": (1, 0), "frame_rate": (1, 1)}, None),
        (3, "DeepshopSaveVideo", (820, 120), {"filename_prefix": "deepshop/smooth_2x", "format": "h264", "quality": -1},
         {"images": (2, 0), "frame_rate": (2, 1), "audio": (1, 2)}, None),
    ],
}

CORE_NODES = {
    "note": (
        "Slow motion with ComfyUI's own video nodes around Deepshop's.\n\n"
        "Core Load Video -> Get Video Components (frames, audio, fps) -> core Upscale Image (to 320x180) -> "
        "Deepshop Select Range (frames 25:50) -> DAIN Interpolate 4x -> Slow Motion Retime (audio stretched) -> "
        "core Create Video at the clip's own fps -> core Save Video. Same frame rate, more frames: the range "
        "plays 4x slower."
    ),
    "nodes": [
        (1, "LoadVideo", (40, 140), {"file": EXAMPLE}, {}, None),
        (2, "GetVideoComponents", (400, 140), {}, {"video": (1, 0)}, None),
        (3, "ImageScale", (760, 60),
         {"upscale_method": "bilinear", "width": 320, "height": 180, "crop": "disabled"}, {"image": (2, 0)}, None),
        (4, "DeepshopSelectRange", (1120, 60), {"range": "25:50"}, {"images": (3, 0), "frame_rate": (2, 2)}, None),
        (5, "DeepshopInterpolate", (1480, 60),
         {"factor": 4.0, "engine": ENGINE, "device": "auto", "scene_cut_protection": True},
         {"images": (4, 0), "frame_rate": (2, 2)}, None),
        (6, "DeepshopSlowMotionRetime", (1120, 440), {"factor": 4.0, "ramp": 0.0, "audio_mode": "stretch"},
         {"images": (3, 0), "interpolated": (5, 0), "range": (4, 1), "frame_rate": (2, 2), "audio": (2, 1)}, None),
        (7, "CreateVideo", (1480, 440), {"fps": 25.0}, {"images": (6, 0), "fps": (6, 3), "audio": (6, 1)}, None),
        (8, "SaveVideo", (1840, 440), {"filename_prefix": "deepshop/core_nodes", "format": "auto", "codec": "auto"},
         {"video": (7, 0)}, None),
    ],
}

CORE_MODEL_SLOWMO = {
    "note": (
        "Slow motion of a highlight made by core ComfyUI's own interpolation model (RIFE 4.x or FILM), with "
        "Deepshop's range, factor, ramps, scene-cut protection and audio. Needs ComfyUI 0.33 or newer.\n\n"
        "The model file goes into ComfyUI/models/frame_interpolation/ (Practical-RIFE's flownet.pkl for RIFE 4.x, or "
        "a .safetensors repack of RIFE 4.x or FILM); press R to refresh, then pick it in Load Frame Interpolation "
        f"Model ({CORE_MODEL} here is a placeholder name).\n\n"
        "DAIN Interpolate uses the connected model instead of its engine menu, at every time the slow motion needs "
        "(any factor, not only whole multiples). Slow Motion Retime puts the frames back at the clip's own frame "
        "rate, so the range plays 4x slower, the audio stretched to match."
    ),
    "nodes": [
        (1, "DeepshopLoadVideoFrames", (40, 120), {"video": EXAMPLE, "start_frame": 0, "frame_load_cap": 0}, {}, None),
        (2, "DeepshopSelectRange", (440, 60), {"range": "1.0s:2.0s"},
         {"images": (1, 0), "frame_rate": (1, 1), "source": (1, 4)}, None),
        (3, "FrameInterpolationModelLoader", (440, 400), {"model_name": CORE_MODEL}, {}, None),
        (4, "DeepshopInterpolate", (800, 60),
         {"factor": 4.0, "engine": ENGINE, "device": "auto", "scene_cut_protection": True},
         {"images": (2, 0), "frame_rate": (1, 1), "interpolation_model": (3, 0)}, None),
        (5, "DeepshopSlowMotionRetime", (1180, 120), {"factor": 4.0, "ramp": 0.0, "audio_mode": "stretch"},
         {"images": (1, 0), "interpolated": (4, 0), "range": (2, 1), "frame_rate": (1, 1), "audio": (1, 2)}, None),
        (6, "DeepshopSaveVideo", (1560, 120),
         {"filename_prefix": "deepshop/highlight_core_model", "format": "h264", "quality": -1},
         {"images": (5, 0), "frame_rate": (5, 3), "audio": (5, 1)}, None),
    ],
}

ONE_NODE = {
    "note": (
        "Slow motion of a highlight in one node, with its audio.\n\n"
        "1. Load Video (core): pick your clip (or upload one).\n"
        "2. Slow Motion (Deepshop): the ranges to slow, in seconds (1.0s:2.0s) or frames (25:50), several "
        "separated by commas; the factor, a ramp, the audio mode and the engine. The clip is streamed from its file "
        "to a new file, so memory stays flat whatever its length.\n"
        "3. Save Video (core) writes it at the clip's OWN frame rate: more frames at the same rate is exactly what "
        "makes the range play 4x slower. The rest of the clip plays at normal speed."
    ),
    "nodes": [
        (1, "LoadVideo", (40, 120), {"file": EXAMPLE}, {}, None),
        (2, "DeepshopSlowMotion", (440, 120),
         {"ranges": "1.0s:2.0s", "factor": 4.0, "ramp": 0.0, "audio_mode": "stretch", "engine": ENGINE,
          "device": "auto", "scene_cut_protection": True},
         {"video": (1, 0)}, None),
        (3, "SaveVideo", (860, 120), {"filename_prefix": "deepshop/highlight_one_node", "format": "auto",
                                      "codec": "auto"},
         {"video": (2, 0)}, None),
    ],
}

CURVE_KEYFRAMES = "0s:1, 1s:0.25, 2s:0.25, 2.5s:3, 3.5s:1"  # the speed curve workflow's (issue 23's example)
SPEED_CURVE = {
    "note": (
        "Any speed over time: slower, faster or frozen, with the audio following.\n\n"
        "1. Load Video (core): pick your clip (or upload one).\n"
        f"2. Speed Curve (Deepshop): keyframes TIME:SPEED. Here {CURVE_KEYFRAMES}: normal speed at 0 s, easing "
        "into 4x slower by 1 s (in-between frames) and held until 2 s, rushing to 3x faster at 2.5 s (motion blur, "
        "not dropped frames) and back to normal at 3.5 s. Add TIME:freeze=0.5s to hold a frame, pick a preset "
        "(hero, bullet, montage, jump_cut, flash_in, flash_out), or connect one speed per frame (the float output of "
        "KJNodes' Spline Editor). Its picture shows the speed over the clip's time, and which source time each "
        "output second shows.\n"
        "3. Slow Motion (Deepshop) follows the curve (its ranges, factor and ramp are unused then). shutter_angle "
        "sets the blur of the faster parts (180: the film look; 0: dropped frames, which strobe). The audio keeps "
        "its pitch (stretch) or follows the speed like tape (varispeed); a freeze is silent.\n"
        "4. Save Video (core) writes it at the clip's own frame rate."
    ),
    "nodes": [
        (1, "LoadVideo", (40, 120), {"file": EXAMPLE}, {}, None),
        (2, "DeepshopSpeedCurve", (40, 480),
         {"keyframes": CURVE_KEYFRAMES, "frame_rate": 25.0, "frame_count": 100}, {}, None),
        (3, "DeepshopSlowMotion", (520, 120),
         {"ranges": "1.0s:2.0s", "factor": 4.0, "ramp": 0.0, "audio_mode": "stretch", "engine": ENGINE,
          "device": "auto", "scene_cut_protection": True, "shutter_angle": 180.0, "blur": "subframes"},
         {"video": (1, 0), "speed": (2, 0)}, None),
        (4, "SaveVideo", (960, 120), {"filename_prefix": "deepshop/speed_curve", "format": "auto", "codec": "auto"},
         {"video": (3, 0)}, None),
    ],
}

# file -> (description, the ComfyUI whose /object_info it is built from: the oldest that has all its nodes)
FILES = {
    "deepshop_slowmo_one_node.json": (ONE_NODE, "0.3.75"),
    "deepshop_slowmo_highlight.json": (SLOWMO, "0.3.75"),
    "deepshop_upconvert_2x.json": (UPCONVERT, "0.3.75"),
    "deepshop_slowmo_core_nodes.json": (CORE_NODES, "0.3.75"),
    "deepshop_slowmo_core_model.json": (CORE_MODEL_SLOWMO, "0.33.0"),
    "deepshop_speed_curve.json": (SPEED_CURVE, "0.3.75"),
}
# core nodes newer than the oldest supported ComfyUI (0.3.75) that a workflow may use
NEWER_CORE_NODES = {"FrameInterpolationModelLoader"}


def newer_core_nodes(name: str) -> set[str]:
    """The core nodes workflow ``name`` uses that ComfyUI 0.3.75 lacks (that server must name exactly these)."""
    desc, _ = FILES[name]
    return {kind for _, kind, *_ in desc["nodes"]} & NEWER_CORE_NODES


def build(desc: dict, object_info: dict) -> dict:
    nodes, links = [], []
    outputs_links: dict[tuple[int, int], list[int]] = {}
    link_id = 0
    kinds = {entry[0]: entry[1] for entry in desc["nodes"]}
    for nid, _kind, _pos, _widgets, inputs, _title in desc["nodes"]:
        for name, (src, slot) in inputs.items():
            link_id += 1
            src_type = object_info[kinds[src]]["output"][slot]
            links.append([link_id, src, slot, nid, name, src_type])
            outputs_links.setdefault((src, slot), []).append(link_id)
    by_target = {(link[3], link[4]): link for link in links}
    order = 0
    max_x = 0
    for nid, kind, pos, widgets, _inputs, title in desc["nodes"]:
        info = object_info[kind]
        req, opt = info["input"].get("required", {}), info["input"].get("optional", {})
        names = [*info.get("input_order", {}).get("required", list(req)),
                 *info.get("input_order", {}).get("optional", list(opt))]
        node_inputs, values = [], []
        upload = None
        widget_count = 0
        for name in names:
            spec = {**req, **opt}[name]
            link = by_target.get((nid, name))
            if is_widget(spec):
                widget_count += 1
                default = spec[1].get("default") if len(spec) > 1 and isinstance(spec[1], dict) else None
                if default is None and isinstance(spec[0], list) and spec[0]:
                    default = spec[0][0]
                values.append(widgets.get(name, default))
                opts = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
                if any(opts.get(f) for f in UPLOAD_FLAGS):
                    upload = opts  # the editor appends its upload button and preview after all widgets
                if link:
                    node_inputs.append({"name": name, "type": spec[0] if isinstance(spec[0], str) else "COMBO",
                                        "widget": {"name": name}, "link": link[0]})
            else:
                node_inputs.append({"name": name, "type": spec[0], "link": link[0] if link else None})
        if upload is not None:
            values += ["image", ""]  # as the editor saves them: the upload button's value, the (empty) preview
        node_outputs = []
        for slot, (otype, oname) in enumerate(zip(info["output"], info["output_name"])):
            node_outputs.append({"name": oname, "type": otype, "links": outputs_links.get((nid, slot), []),
                                 "slot_index": slot})
        height = 46 + 22 * max(len(node_inputs), len(node_outputs)) + 26 * widget_count
        node = {"id": nid, "type": kind, "pos": list(pos), "size": [330, height], "flags": {}, "order": order,
                "mode": 0, "inputs": node_inputs, "outputs": node_outputs,
                "properties": {"Node name for S&R": kind}, "widgets_values": values}
        if title:
            node["title"] = title
        nodes.append(node)
        order += 1
        max_x = max(max_x, pos[0])
    note_id = max(n["id"] for n in nodes) + 1
    nodes.append({"id": note_id, "type": "Note", "pos": [40, -300 if len(desc["nodes"]) > 3 else -260],
                  "size": [900, 240], "flags": {}, "order": order, "mode": 0, "inputs": [], "outputs": [],
                  "properties": {}, "widgets_values": [desc["note"]], "color": "#432", "bgcolor": "#653"})
    # links in the UI format address the target input by its index in the node's inputs list
    index_of = {(n["id"], inp["name"]): k for n in nodes for k, inp in enumerate(n["inputs"])}
    ui_links = [[k[0], k[1], k[2], k[3], index_of[(k[3], k[4])], k[5]] for k in links]
    return {"last_node_id": note_id, "last_link_id": link_id, "nodes": nodes, "links": ui_links, "groups": [],
            "config": {}, "extra": {"ds": {"scale": 0.8, "offset": [60, 360]}}, "version": 0.4}


def object_info(version: str) -> dict:
    server = ComfyServer.start(INSTALLS[version])
    try:
        (server.input_dir / EXAMPLE).write_bytes(b"")  # so LoadVideo's file list has it
        (server.frame_interpolation_dir / CORE_MODEL).write_bytes(b"")  # and the model loader's list
        return server.object_info()
    finally:
        server.stop()


def render(name: str, object_info: dict) -> str:
    """The text of workflow file ``name`` for a ComfyUI whose /object_info is ``object_info``."""
    return json.dumps(build(FILES[name][0], object_info), indent=2) + "\n"


def main(names: list[str]) -> None:
    """Write the workflows ``names`` (all when none are named)."""
    chosen = {name: FILES[name] for name in (names or FILES)}
    infos = {version: object_info(version) for version in sorted({v for _, v in chosen.values()})}
    WORKFLOWS.mkdir(exist_ok=True)
    for name, (_, version) in chosen.items():
        (WORKFLOWS / name).write_text(render(name, infos[version]))
        print("wrote", WORKFLOWS / name)


if __name__ == "__main__":
    main(sys.argv[1:])
