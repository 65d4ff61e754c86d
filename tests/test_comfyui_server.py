"""The node pack inside real ComfyUI servers, 0.3.75 and 0.33.0, over their HTTP API (tests/comfyui/setup_env.sh).

Each example workflow in workflows/ is converted from the UI format and run through POST /prompt; its output
video is probed with PyAV (frames, frame rate, duration, audio). Also: a cancel through POST /interrupt, ComfyUI's
validation errors for bad inputs, a clip without audio, a window spliced back into the source, an upload, DAIN
weights dropped into models/dain, every Save Video format, and tests/comfyui/video_node_tests.py run in the
server's venv.
"""

from __future__ import annotations

import copy
import json
import os
import time
import uuid
from fractions import Fraction

import pytest

from deepshop_core.speed.parse import parse_speed
from deepshop_core.timeline import curve_timeline
from tests.comfyui.harness import (
    SILENT,
    assert_success,
    cancel_after_progress,
    probe_output,
    require_or_skip,
    run_until_progress,
)
from tests.support import ROOT, skip_or_fail
from tests.support.procstats import command_line, descendants, wait_gone
from tools import comfy_server, workflow_api
from tools.comfy_server import output_files
from tools.make_workflows import CORE_MODEL, CURVE_KEYFRAMES, EXAMPLE, FILES, newer_core_nodes, render

pytestmark = pytest.mark.comfyui  # deselect with -m "not comfyui"

WORKFLOWS = ROOT / "workflows"
NODES = {
    "DeepshopLoadVideoFrames": "Load Video Frames (Deepshop)",
    "DeepshopSelectRange": "Select Slow-Motion Range (Deepshop)",
    "DeepshopInterpolate": "DAIN Interpolate (Deepshop)",
    "DeepshopSlowMotionRetime": "Slow Motion Retime (Deepshop)",
    "DeepshopSaveVideo": "Save Video (Deepshop)",
    "DeepshopSlowMotion": "Slow Motion (Deepshop)",
    "DeepshopSpeedCurve": "Speed Curve (Deepshop)",
    "DeepshopLoadInterpolationModel": "Load Interpolation Model (Deepshop)",
}
# the example clip: 4 s at 25 fps, 100 frames, 640x360, with audio
# highlight: frames 25..50 slowed 4x -> 25 + 25 * 4 + 50 = 175 frames at 25 fps = 7 s
# upconvert: 2x the frames at 2x the rate -> 200 frames at 50 fps = 4 s
EXPECTED = {
    "deepshop_slowmo_highlight.json": dict(frames=175, rate=Fraction(25), size=(640, 360), audio=True),
    "deepshop_slowmo_one_node.json": dict(frames=175, rate=Fraction(25), size=(640, 360), audio=True),
    "deepshop_upconvert_2x.json": dict(frames=200, rate=Fraction(50), size=(640, 360), audio=True),
    "deepshop_slowmo_core_nodes.json": dict(frames=175, rate=Fraction(25), size=(320, 180), audio=True),
    "deepshop_slowmo_core_model.json": dict(frames=175, rate=Fraction(25), size=(640, 360), audio=True),
    # the workflow's curve on the 100 frames, as the core realises it (219 frames: deepshop slowmo --dry-run)
    "deepshop_speed_curve.json": dict(frames=len(curve_timeline(parse_speed(CURVE_KEYFRAMES, Fraction(25), 100))),
                                      rate=Fraction(25), size=(640, 360), audio=True),
}


def load_workflow(name: str) -> dict:
    return json.loads((WORKFLOWS / name).read_text())


def api_prompt(comfy, name: str) -> dict:
    return workflow_api.convert(load_workflow(name), comfy.object_info())


def test_workflow_files_are_what_the_tool_builds(comfy, example_clips):
    """workflows/*.json are exactly what tools/make_workflows.py writes from the /object_info of the ComfyUI each is
    built for: after a change to a node's inputs, run ``make workflows``."""
    built_here = [name for name, (_, version) in FILES.items() if version == comfy.version]
    for name in built_here:
        assert render(name, comfy.object_info()) == (WORKFLOWS / name).read_text(), (
            f"workflows/{name} is not what tools/make_workflows.py builds: run make workflows")
    assert sorted(FILES) == sorted(p.name for p in WORKFLOWS.glob("*.json"))  # every shipped file has its builder


def test_object_info_lists_every_node(comfy, example_clips):
    info = comfy.object_info()
    for node, display in NODES.items():
        assert node in info, f"{node} missing from /object_info; server log:\n{comfy.log(6000)}"
        assert info[node]["display_name"] == display
        assert info[node]["category"] == "Deepshop/slow motion"
        assert info[node]["description"]
    load = info["DeepshopLoadVideoFrames"]
    assert load["input_order"]["required"] == ["video", "start_frame", "frame_load_cap"]
    video = load["input"]["required"]["video"]
    assert video[1].get("video_upload") is True and EXAMPLE in video[0]
    assert load["output"] == ["IMAGE", "FLOAT", "AUDIO", "INT", "DEEPSHOP_SOURCE"]
    select = info["DeepshopSelectRange"]
    assert select["input_order"] == {"required": ["images", "frame_rate", "range"], "optional": ["source"]}
    assert select["output"] == ["IMAGE", "DEEPSHOP_RANGE", "INT", "INT"]
    interp = info["DeepshopInterpolate"]
    assert interp["input_order"]["required"] == ["images", "factor", "engine", "device", "scene_cut_protection"]
    engines = interp["input"]["required"]["engine"][0]
    assert {"flow (balanced)", "flow (fast)", "flow (best)"} <= set(engines)
    assert any(e.startswith("dain") for e in engines)
    assert interp["output"] == ["IMAGE", "FLOAT", "INT", "DEEPSHOP_PLAN"]  # new outputs only at the end
    retime = info["DeepshopSlowMotionRetime"]
    assert retime["input_order"]["required"] == ["images", "interpolated", "range", "frame_rate", "factor", "ramp",
                                                 "audio_mode"]
    assert retime["input"]["required"]["audio_mode"][0] == ["stretch", "varispeed", "silence", "none"]
    assert retime["output"] == ["IMAGE", "AUDIO", "INT", "FLOAT"]
    save = info["DeepshopSaveVideo"]
    assert save["output_node"] is True
    assert {"h264", "h265", "vp9", "png", "gif", "webp"} <= set(save["input"]["required"]["format"][0])
    assert save["input_order"]["optional"] == ["audio", "source"]
    # the UI says plainly that the same frame rate is what makes it slow
    assert "same frame rate" in interp["description"] and "slower" in interp["description"]


def put_core_model(comfy) -> None:
    """A stand-in RIFE 4.x checkpoint (random weights, the real key layout) where the model workflow expects it."""
    import subprocess

    target = comfy.frame_interpolation_dir / CORE_MODEL
    if target.exists():
        return
    built = subprocess.run(
        [str(comfy.install.venv_python), str(ROOT / "tests" / "comfyui" / "interp_standin.py"), str(target),
         "--kind", "rife", "--comfy", str(comfy.install.comfy), "--seed", "5"], capture_output=True, text=True,
        timeout=300)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-4000:]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_workflow_runs(comfy, example_clips, name):
    missing = newer_core_nodes(name) - set(comfy.object_info())
    if missing:  # a workflow for a newer ComfyUI: refused up front, naming the node this one lacks
        with pytest.raises(workflow_api.ConversionError, match=sorted(missing)[0]):
            api_prompt(comfy, name)
        return
    if newer_core_nodes(name):
        put_core_model(comfy)
    prompt = api_prompt(comfy, name)
    started = time.monotonic()
    entry = comfy.run(prompt, timeout=600)
    assert_success(entry, comfy)
    files = output_files(entry, comfy)
    previews = [f for f in files if f.suffix == ".png"]  # the Speed Curve node shows its picture
    files = [f for f in files if f.suffix != ".png"]
    assert len(files) == 1 and files[0].is_file(), f"outputs: {entry.get('outputs')}"
    curves = sum(node["class_type"] == "DeepshopSpeedCurve" for node in prompt.values())
    assert len(previews) == curves and all(p.is_file() for p in previews), f"outputs: {entry.get('outputs')}"
    got = probe_output(files[0])
    want = EXPECTED[name]
    assert got["frames"] == want["frames"]
    assert got["rate"] == want["rate"]
    assert got["size"] == want["size"]
    duration = got["frames"] / got["rate"]
    assert got["audio"] is not None, "the output lost its audio"
    assert got["audio"]["seconds"] == pytest.approx(float(duration), abs=0.05)
    print(f"{name}: {got['frames']} frames at {got['rate']} fps = {float(duration):.2f} s, "
          f"audio {got['audio']['seconds']:.3f} s, in {time.monotonic() - started:.1f} s")


def test_clip_without_audio(comfy, example_clips):
    prompt = api_prompt(comfy, "deepshop_slowmo_highlight.json")
    prompt["1"]["inputs"]["video"] = SILENT
    prompt["5"]["inputs"]["filename_prefix"] = "deepshop/silent"
    entry = comfy.run(prompt, timeout=600)
    assert_success(entry, comfy)
    (path,) = output_files(entry, comfy)
    got = probe_output(path)
    assert got["frames"] == 175 and got["audio"] is None


def test_window_spliced_into_the_source(comfy, example_clips):
    """Load frames 20..59 only, slow 1.0s:2.0s (frames 25..50) 2x, save spliced into the full clip."""
    prompt = api_prompt(comfy, "deepshop_slowmo_highlight.json")
    prompt["1"]["inputs"].update(start_frame=20, frame_load_cap=40)
    prompt["3"]["inputs"]["factor"] = 2.0
    prompt["4"]["inputs"]["factor"] = 2.0
    prompt["5"]["inputs"].update(filename_prefix="deepshop/spliced", source=["1", 4])
    entry = comfy.run(prompt, timeout=600)
    assert_success(entry, comfy)
    (path,) = output_files(entry, comfy)
    got = probe_output(path)
    assert got["frames"] == 100 + 25  # 25 intervals slowed 2x add 25 frames to the 100-frame clip
    assert got["rate"] == 25
    assert got["audio"]["seconds"] == pytest.approx(125 / 25, abs=0.05)


def test_invalid_inputs_give_node_errors(comfy, example_clips):
    prompt = api_prompt(comfy, "deepshop_slowmo_highlight.json")
    bad_file = copy.deepcopy(prompt)
    bad_file["1"]["inputs"]["video"] = "no_such_clip.mp4"
    status, body = comfy.post("/prompt", {"prompt": bad_file, "client_id": uuid.uuid4().hex})
    assert status == 400, body
    assert "1" in body["node_errors"], body
    bad_range = copy.deepcopy(prompt)
    bad_range["2"]["inputs"]["range"] = "soon:later"
    status, body = comfy.post("/prompt", {"prompt": bad_range, "client_id": uuid.uuid4().hex})
    assert status == 400, body
    assert "2" in body["node_errors"], body
    assert "120:150" in json.dumps(body["node_errors"]["2"])  # the message shows the accepted forms
    bad_factor = copy.deepcopy(prompt)
    bad_factor["3"]["inputs"]["factor"] = 0.25
    status, body = comfy.post("/prompt", {"prompt": bad_factor, "client_id": uuid.uuid4().hex})
    assert status == 400 and "3" in body["node_errors"], body


def test_interrupt_cancels_without_partial_output(comfy, example_clips):
    prompt = api_prompt(comfy, "deepshop_slowmo_highlight.json")
    prompt["2"]["inputs"]["range"] = "0.2s:3.8s"  # 90 pairs with the slowest flow preset: long enough to cancel
    prompt["3"]["inputs"].update(factor=2.0, engine="flow (best)")
    prompt["4"]["inputs"]["factor"] = 2.0
    prompt["5"]["inputs"]["filename_prefix"] = "deepshop/cancelled"
    before = {p for p in comfy.output_dir.rglob("*")}
    processes_before = descendants(comfy.pid)
    entry, progressed, seconds = cancel_after_progress(comfy, prompt, "3", 2)
    kinds = [kind for kind, _ in comfy_server.history_messages(entry)]
    assert entry["status"]["status_str"] == "error" and "execution_interrupted" in kinds, entry["status"]
    assert progressed["value"] < progressed["max"]
    assert seconds < 30, f"the cancel took {seconds:.1f} s to take effect"
    after = {p for p in comfy.output_dir.rglob("*")}
    assert after == before, f"files left behind by the cancelled job: {sorted(after - before)}"
    assert descendants(comfy.pid) == processes_before  # no encoder or worker process left behind
    # the server is still usable
    assert comfy.get("/queue")["queue_running"] == []


@pytest.mark.parametrize("version", comfy_server.VERSIONS)
def test_video_node_tests_in_the_comfyui_venv(version):
    """tests/comfyui/video_node_tests.py needs core ComfyUI's own comfy_api (its VIDEO types), which only the test
    ComfyUIs have: run it in each one's venv (the other node tests run here, tests/test_nodes.py)."""
    require_or_skip(version)
    import subprocess

    python = comfy_server.INSTALLS[version].venv_python
    result = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             str(ROOT / "tests" / "comfyui" / "video_node_tests.py")], cwd=ROOT, capture_output=True,
                            text=True, timeout=600, stdin=subprocess.DEVNULL,
                            env={**os.environ, "CI": os.environ.get("CI", "")})
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert " passed" in result.stdout and "skipped" not in result.stdout, result.stdout[-3000:]


@pytest.fixture(scope="module")
def dain_standin(comfy, dain_standins):
    """The session's tiny stand-in of the published DAIN_weight.tar (same format, random weights; built once by the
    ``dain_standins`` fixture) in the server's models/dain: its engine menu entry. The server's venv needs paddle
    to run it (its DAIN worker runs in that python)."""
    import shutil
    import subprocess

    probe_paddle = subprocess.run([str(comfy.install.venv_python), "-c", "import paddle"], capture_output=True)
    if probe_paddle.returncode != 0:
        skip_or_fail("paddlepaddle is not in the test ComfyUI's venv (setup_env.sh with DEEPSHOP_COMFYUI_DAIN=1)")
    shutil.copy(dain_standins("n1"), comfy.dain_dir / "standin_tiny.tar")
    return "dain: standin_tiny.tar"


def dain_prompt(comfy, engine: str, range_: str, prefix: str) -> dict:
    prompt = api_prompt(comfy, "deepshop_slowmo_highlight.json")
    prompt["2"]["inputs"]["range"] = range_
    prompt["3"]["inputs"].update(factor=2.0, engine=engine, device="cpu")
    prompt["4"]["inputs"]["factor"] = 2.0
    prompt["5"]["inputs"]["filename_prefix"] = prefix
    return prompt


def dain_workers(comfy) -> set[int]:
    return {p for p in descendants(comfy.pid) if "dain.worker" in command_line(p)}


@pytest.mark.comfyui_versions(comfy_server.OLDEST)  # DAIN runs in its own worker: the server version is moot
def test_dain_weights_in_models_dain_run(comfy, example_clips, dain_standin):
    """A DAIN weights archive dropped into models/dain appears in the engine menu and runs (the DAIN worker runs
    Paddle in a process of its own, beside torch)."""
    engines = comfy.object_info("DeepshopInterpolate")["input"]["required"]["engine"][0]
    assert dain_standin in engines, engines
    entry = comfy.run(dain_prompt(comfy, dain_standin, "25:29", "deepshop/dain"), timeout=600)
    assert_success(entry, comfy)
    (path,) = output_files(entry, comfy)
    got = probe_output(path)
    assert got["frames"] == 100 + 4 and got["rate"] == 25


@pytest.mark.parametrize("fault", ["interrupt", "worker killed"])
@pytest.mark.comfyui_versions(comfy_server.OLDEST)
def test_dain_fault_in_the_server(comfy, example_clips, dain_standin, fault):
    """/interrupt during DAIN stops the worker (no process left) and writes nothing; a worker killed mid-job (as by
    the out-of-memory killer) fails the prompt with a clear error and writes nothing. Either way the same prompt
    then runs to the end in the same server."""
    prompt = dain_prompt(comfy, dain_standin, "0.2s:3.8s", f"deepshop/dain_{fault.replace(' ', '_')}")
    before = set(comfy.output_dir.rglob("*"))
    prompt_id, ws, _ = run_until_progress(comfy, prompt)
    try:
        workers = dain_workers(comfy)
        assert len(workers) == 1, [command_line(p) for p in descendants(comfy.pid)]
        if fault == "interrupt":
            assert comfy.post("/interrupt", {})[0] == 200
        else:
            os.kill(workers.pop(), 9)
        entry = comfy.wait_history(prompt_id, timeout=120)
    finally:
        ws.close()
    kinds = dict(comfy_server.history_messages(entry))
    assert entry["status"]["status_str"] == "error", entry["status"]
    if fault == "interrupt":
        assert "execution_interrupted" in kinds
        assert wait_gone(workers) == set() and dain_workers(comfy) == set()
    else:
        message = kinds["execution_error"]["exception_message"]
        assert "DAIN worker process was killed by SIGKILL" in message and "out of memory" in message, message
    assert set(comfy.output_dir.rglob("*")) == before
    prompt["2"]["inputs"]["range"] = "25:29"  # the next job, shorter
    entry = comfy.run(prompt, timeout=600)
    assert_success(entry, comfy)
    (path,) = output_files(entry, comfy)
    assert probe_output(path)["frames"] == 100 + 4


def test_uploaded_video_is_offered_and_loads(comfy, example_clips):
    """The upload button's request (POST /upload/image) puts a video in the input folder; Load Video Frames lists
    it and loads it."""
    answer = comfy.upload(example_clips["silent"], "uploaded_clip.mp4")
    assert answer["name"] == "uploaded_clip.mp4"
    options = comfy.object_info("DeepshopLoadVideoFrames")["input"]["required"]["video"][0]
    assert "uploaded_clip.mp4" in options
    prompt = api_prompt(comfy, "deepshop_upconvert_2x.json")
    prompt["1"]["inputs"].update(video="uploaded_clip.mp4", frame_load_cap=10)
    prompt["3"]["inputs"]["filename_prefix"] = "deepshop/uploaded"
    entry = comfy.run(prompt, timeout=300)
    assert_success(entry, comfy)
    (path,) = output_files(entry, comfy)
    got = probe_output(path)
    assert got["frames"] == 20 and got["rate"] == 50 and got["audio"] is None


SAVE_FORMATS = [  # format, file suffix ("" for a PNG folder), the codec FFmpeg reads back, whether it keeps the audio
    ("h265", ".mp4", "hevc", True), ("vp9", ".webm", "vp9", True), ("gif", ".gif", "gif", False),
    ("webp", ".webp", "webp", False), ("png", "", "png", False)]


@pytest.mark.parametrize("fmt,suffix,codec,audio", SAVE_FORMATS, ids=[f[0] for f in SAVE_FORMATS])
def test_save_formats(comfy, example_clips, fmt, suffix, codec, audio):
    """Save Video's formats, each previewed in the node (only the Save node re-runs: the rest is cached): the codec,
    all 175 frames, 25 fps (a PNG folder stores no rate) and the audio where the format carries it."""
    prompt = api_prompt(comfy, "deepshop_slowmo_highlight.json")
    prompt["5"]["inputs"].update(format=fmt, filename_prefix=f"deepshop/format_{fmt}")
    entry = comfy.run(prompt, timeout=600)
    assert_success(entry, comfy)
    ui = entry["outputs"]["5"]
    (path,) = output_files(entry, comfy)
    if fmt == "png":
        path = path.parent
        assert path.name.endswith("_")
    else:
        assert path.suffix == suffix and ui.get("animated") == [True]
    got = probe_output(path)
    assert (got["codec"], got["frames"], got["size"]) == (codec, 175, (640, 360))
    assert got["rate"] == (None if fmt == "png" else 25)
    assert (got["audio"] is not None) == audio
