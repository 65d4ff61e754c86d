"""The workflows in the real ComfyUI editor: headless Chromium (Debian's /usr/bin/chromium, driven by Playwright
in the test ComfyUI's venv) opens the server's page and loads each workflow file with ``app.loadGraphData``.

Three editors: ComfyUI 0.3.75 with its frontend, 0.33.0 with the frontend its requirements pin (1.49.6), and 0.33.0
serving the newest frontend on PyPI (1.58.1, ``--front-end-root``), which reports deprecated API use.

Checks: every node type is known (no missing node pack), every declared widget is rendered with the value the
file gives (the editor's own ``graphToPrompt`` agrees with tools/workflow_api.py), no node is flagged,
no page error, no deprecation warning while our check reads the graphs. Screenshots go to
.cache/screenshots/<editor>/ (git-ignored); the README's copies are taken from there.
"""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import pytest

from tests.comfyui.harness import acquire, put_example_clips, release, require_or_skip
from tests.support import ROOT, skip_or_fail
from tools import comfy_server, workflow_api
from tools.make_workflows import CORE_MODEL, newer_core_nodes

pytestmark = [pytest.mark.comfyui, pytest.mark.browser]  # deselect with -m "not comfyui"

WORKFLOWS = sorted((ROOT / "workflows").glob("*.json"))
# (ComfyUI version, frontend served instead of the one its requirements pin, or None)
EDITORS = [(version, None) for version in comfy_server.VERSIONS] + [
    (version, install.new_frontend) for version, install in comfy_server.INSTALLS.items() if install.new_frontend]
SCREENSHOTS = ROOT / ".cache" / "screenshots"
BROWSER_CHECK = ROOT / "tests" / "comfyui" / "browser_check.py"


def _need_browser(python: Path) -> None:
    reasons = []
    if not comfy_server.CHROMIUM.exists():
        reasons.append(f"{comfy_server.CHROMIUM} (apt-get install chromium)")
    if python.exists():
        probe = subprocess.run([str(python), "-c", "import playwright"], capture_output=True)
        if probe.returncode != 0:
            reasons.append("playwright in the test ComfyUI's venv (tests/comfyui/setup_env.sh)")
    if not reasons:
        return
    skip_or_fail("the browser test needs " + " and ".join(reasons), "the browser test must run")


@pytest.fixture(scope="module", params=EDITORS,
                ids=lambda e: f"comfyui-{e[0]}" + (f"-frontend-{e[1]}" if e[1] else ""))
def editor(request, tmp_path_factory):
    """The server behind the editor: the session's shared one for a version's own frontend, a private one serving
    another frontend."""
    version, frontend = request.param
    require_or_skip(version)
    install = comfy_server.INSTALLS[version]
    try:
        if frontend is None:
            server = acquire(version)
        else:
            root = install.frontend_root(frontend)
            if not root.is_dir():
                pytest.fail(f"frontend {frontend} is not installed ({root}): run {install.setup_command}")
            server = comfy_server.ComfyServer.start(install, extra_args=("--front-end-root", str(root)))
    except comfy_server.ServerError as error:
        pytest.fail(str(error))
    server.label = f"comfyui-{version}" + (f"-frontend-{frontend}" if frontend else "")
    server.frontend = frontend
    put_example_clips(server, tmp_path_factory.mktemp("clips"))
    yield server
    if frontend is None:
        release(version)
    else:
        server.stop()


@pytest.fixture(scope="module")
def editor_report(editor, tmp_path_factory):
    _need_browser(editor.install.venv_python)
    # the model the core-model workflow names, as a user would have it (the editor flags a missing file)
    (editor.frame_interpolation_dir / CORE_MODEL).write_bytes(b"")
    # a fresh user folder would open the template browser over the canvas on first visit
    editor.post("/settings/Comfy.TutorialCompleted", True)
    editor.post("/settings/Comfy.Minimap.Visible", False)
    out = tmp_path_factory.mktemp("browser") / "report.json"
    shots = SCREENSHOTS / editor.label
    shots.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [str(editor.install.venv_python), str(BROWSER_CHECK), "--url", editor.url, "--out", str(out),
         "--screenshots", str(shots), "--run", str(ROOT / "workflows" / "deepshop_slowmo_highlight.json"),
         *map(str, WORKFLOWS)],
        capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert result.returncode == 0 and out.exists(), (
        f"browser check failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}")
    return json.loads(out.read_text())


def test_every_deepshop_node_is_registered_in_the_editor(editor, editor_report):
    assert set(editor_report["registered_deepshop"]) == {
        "DeepshopLoadVideoFrames", "DeepshopSelectRange", "DeepshopInterpolate", "DeepshopSlowMotionRetime",
        "DeepshopSaveVideo", "DeepshopSlowMotion", "DeepshopSpeedCurve", "DeepshopLoadInterpolationModel"}
    assert editor_report["page_errors"] == []
    if editor.frontend is not None:  # the page really is the frontend served in place of the pinned one
        assert editor_report["frontend_version"] == editor.frontend
    # (the editor asks api.comfy.org about every node it shows: blocked offline, not the pack's doing)
    ours = [e for e in editor_report["console_errors"] if "deepshop" in e.lower() and "api.comfy.org" not in e]
    assert not ours, ours


def test_no_deprecation_warning_while_the_workflows_are_read(editor_report):
    """Frontend 1.58 warns about deprecated graph APIs (input.link, output.links): loading our workflows and reading
    the graph as the check does must not use any."""
    ours = [(phase, message) for phase, message in editor_report["deprecations"] if phase.startswith("inspect ")]
    assert not ours, ours


def _same(a, b) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-6, abs_tol=1e-9)
    return a == b


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_loads_in_the_editor(editor, editor_report, path):
    seen = editor_report["workflows"][path.name]
    object_info = editor.object_info()
    assert not [d for d in seen["dialogs"] if "missing" in d.lower()], seen["dialogs"]
    data = json.loads(path.read_text())
    assert len(seen["nodes"]) == len(data["nodes"])
    lacking = newer_core_nodes(path.name) - set(object_info)
    if lacking:  # the core-model workflow in a ComfyUI without core interpolation (0.3.75): exactly that is missing
        assert {n["type"] for n in seen["nodes"] if not n["known"]} == lacking
        return
    for node in seen["nodes"]:
        assert node["known"], f"node {node['id']}: type {node['type']} is missing in the editor"
        assert not node["has_errors"], f"node {node['id']} ({node['type']}) is flagged"
        if node["type"] in workflow_api.VIRTUAL_NODES:
            continue
        info = object_info[node["type"]]
        declared = {**info["input"].get("required", {}), **info["input"].get("optional", {})}
        widgets = {w["name"] for w in node["widgets"]}
        for name, spec in declared.items():
            if workflow_api.is_widget(spec):
                assert name in widgets, f"node {node['id']} ({node['type']}): widget {name!r} not rendered"
    # the editor's own conversion to the API format agrees with ours, input by input
    assert seen["promptError"] is None, seen["promptError"]
    ours = workflow_api.convert(data, object_info)
    theirs = seen["prompt"]
    assert set(ours) == set(theirs)
    for node_id, node in ours.items():
        assert theirs[node_id]["class_type"] == node["class_type"]
        for name, value in node["inputs"].items():
            assert name in theirs[node_id]["inputs"], f"node {node_id}: the editor gives no {name!r}"
            assert _same(theirs[node_id]["inputs"][name], value), (
                f"node {node_id} ({node['class_type']}) input {name!r}: editor {theirs[node_id]['inputs'][name]!r}, "
                f"file {value!r}")
    shot = Path(seen["screenshot"])
    assert shot.is_file() and shot.stat().st_size > 20_000


def test_run_from_the_editor_shows_the_result_in_the_save_node(editor_report):
    """Run (as the Run button does) the highlight workflow from the page: the Save node previews the MP4."""
    run = editor_report["run"]
    previews = [src for src in run["videos"] + run["images"] if "from_editor" in src]
    assert previews, run
    assert Path(run["screenshot"]).is_file()
