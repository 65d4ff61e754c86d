"""Open ComfyUI's page in headless Chromium, load workflow files into the editor, report what the editor sees.

Runs in the test ComfyUI's venv (which has Playwright's python driver; the browser is Debian's /usr/bin/chromium,
Playwright's own browser download is not used):

    .cache/comfyui/venv/bin/python tests/comfyui/browser_check.py --url http://127.0.0.1:PORT \
        --out report.json --screenshots DIR workflows/*.json

For each workflow: nodes whose type the editor does not know (missing node packs), each node's widgets (name,
value), node error flags, the API prompt the frontend itself makes (``app.graphToPrompt()``), the graph as the
editor serializes it, and a screenshot; the frontend's version, and the deprecation warnings it printed while the
page loaded, while each workflow was loaded, and while this check read it (``deprecations``: [phase, message];
phase "inspect <file>" is this check's own code). Writes one JSON
report; exits 0 unless the page could not be driven.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"]

INSPECT = """
async () => {
  const app = window.app;
  const LG = window.LiteGraph;
  const graph = app.graph;
  const registered = LG.registered_node_types || {};
  const nodes = graph._nodes.map(n => ({
    id: n.id,
    type: n.type,
    title: n.title,
    known: !!registered[n.type],
    has_errors: !!n.has_errors,
    size: [n.size[0], n.size[1]],
    widgets: (n.widgets || []).map(w => ({name: w.name, type: w.type, value: (typeof w.value === 'function') ? null : w.value,
                                         options: (w.options && w.options.values && Array.isArray(w.options.values)) ? w.options.values : null})),
    // connectivity through the node's own methods: input.link / output.links are deprecated (frontend 1.58)
    inputs: (n.inputs || []).map((i, k) => ({
      name: i.name, type: i.type, connected: n.isInputConnected(k),
      from: (n.getInputNode && n.isInputConnected(k)) ? n.getInputNode(k).id : null})),
    outputs: (n.outputs || []).map((o, k) => ({name: o.name, type: o.type, connected: n.isOutputConnected(k),
                                               to: (n.getOutputNodes(k) || []).map(t => t.id)})),
  }));
  let prompt = null, promptError = null;
  try { prompt = (await app.graphToPrompt()).output; } catch (e) { promptError = String(e); }
  return {nodes, prompt, promptError, serialized: graph.serialize(), links: graph.links ? Object.keys(graph.links).length : null};
}
"""


# show every node: scale and move the canvas so the graph's bounding box fits the viewport
FIT = """
() => {
  const c = window.app.canvas, nodes = window.app.graph._nodes;
  if (!c || !c.ds || !nodes.length) return;
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const n of nodes) {
    x0 = Math.min(x0, n.pos[0]); y0 = Math.min(y0, n.pos[1] - 30);
    x1 = Math.max(x1, n.pos[0] + n.size[0]); y1 = Math.max(y1, n.pos[1] + n.size[1]);
  }
  const w = c.canvas.width / (window.devicePixelRatio || 1), h = c.canvas.height / (window.devicePixelRatio || 1);
  const scale = Math.min(1.0, (w - 140) / (x1 - x0), (h - 160) / (y1 - y0));
  c.ds.scale = scale;
  c.ds.offset = [90 / scale - x0, 110 / scale - y0];
  c.setDirty(true, true);
}
"""


# the editor's announcement banner covers the top of the canvas in screenshots: close it when there is one
CLOSE_BANNER = """
() => {
  const els = Array.from(document.querySelectorAll('div,section,header,aside'))
    .filter(e => e.textContent.includes('Introducing Nodes 2.0'));
  els.sort((a, b) => a.textContent.length - b.textContent.length);
  for (const e of els) {
    const buttons = Array.from(e.querySelectorAll('button')).filter(b => !b.textContent.trim());
    if (buttons.length) { buttons[buttons.length - 1].click(); return true; }
  }
  return false;
}
"""

# queue the loaded workflow the way the Run button does, wait until the server's queue is empty
RUN = """
async () => {
  // a prefix of its own, so the job really runs even when the same graph ran before (ComfyUI caches results)
  for (const n of window.app.graph._nodes) {
    const w = (n.widgets || []).find(w => w.name === 'filename_prefix');
    if (w) w.value = 'deepshop/from_editor';
  }
  await window.app.queuePrompt(0, 1);
  const started = Date.now();
  await new Promise(r => setTimeout(r, 1000));
  while (Date.now() - started < 300000) {
    const q = await (await fetch('/queue')).json();
    if (!q.queue_running.length && !q.queue_pending.length) break;
    await new Promise(r => setTimeout(r, 500));
  }
  await new Promise(r => setTimeout(r, 2000));
  return {
    videos: Array.from(document.querySelectorAll('video')).map(v => v.currentSrc || v.src || ''),
    images: Array.from(document.querySelectorAll('img')).map(i => i.src).filter(s => s.includes('/view?')),
  };
}
"""


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--screenshots", required=True)
    parser.add_argument("--timeout", type=float, default=90)
    parser.add_argument("--run", help="after the checks, load this workflow, run it from the page and screenshot "
                                      "the result (the Save node's preview)")
    parser.add_argument("workflows", nargs="+")
    args = parser.parse_args()
    shots = Path(args.screenshots)
    shots.mkdir(parents=True, exist_ok=True)
    report = {"url": args.url, "workflows": {}, "console_errors": [], "page_errors": [], "deprecations": []}
    phase = ["page load"]  # which step of the check a deprecation warning came from
    profile = tempfile.mkdtemp(prefix="deepshop-chromium-")
    try:
        with sync_playwright() as p:
            # a fresh, empty profile each run (launch_persistent_context passes it as --user-data-dir)
            context = p.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True,
                                                           args=FLAGS, viewport={"width": 1600, "height": 1000})
            page = context.pages[0] if context.pages else context.new_page()
            page.on("console", lambda m: m.type == "error" and report["console_errors"].append(m.text[:500]))
            page.on("console", lambda m: "deprecated" in m.text.lower() and
                    report["deprecations"].append([phase[0], m.text[:300]]))
            page.on("pageerror", lambda e: report["page_errors"].append(str(e)[:500]))
            page.goto(args.url, wait_until="domcontentloaded", timeout=args.timeout * 1000)
            page.wait_for_function("() => window.app && window.app.graph && window.LiteGraph && "
                                   "Object.keys(window.LiteGraph.registered_node_types || {}).length > 50",
                                   timeout=args.timeout * 1000)
            time.sleep(2)
            page.keyboard.press("Escape")
            # the frontend (1.58) warns once per deprecated API per page: from now on every use, so that ours shows
            page.evaluate("() => { window.LiteGraph.alwaysRepeatWarnings = true; }")
            report["banner_closed"] = page.evaluate(CLOSE_BANNER)
            report["registered_deepshop"] = page.evaluate(
                "() => Object.keys(window.LiteGraph.registered_node_types).filter(k => k.startsWith('Deepshop'))")
            report["frontend_version"] = page.evaluate("() => window.__COMFYUI_FRONTEND_VERSION__ || null")
            for wf in args.workflows:
                path = Path(wf)
                phase[0] = f"load {path.name}"  # the frontend's (and other packs') code runs
                data = json.loads(path.read_text())
                page.evaluate("async ([wf, name]) => { await window.app.loadGraphData(wf, true, true, name); }",
                              [data, path.stem])
                time.sleep(1.5)
                page.keyboard.press("Escape")  # a 'missing nodes' dialog would also be reported below
                time.sleep(0.3)
                phase[0] = f"inspect {path.name}"  # this check's own code reads the graph
                result = page.evaluate(INSPECT)
                phase[0] = f"screenshot {path.name}"
                result["dialogs"] = page.evaluate(
                    "() => Array.from(document.querySelectorAll('.p-dialog, [role=dialog]')).map(d => d.innerText.slice(0, 400))")
                shot = shots / f"{path.stem}.png"
                page.evaluate(FIT)
                time.sleep(0.5)
                page.screenshot(path=str(shot))
                result["screenshot"] = str(shot)
                report["workflows"][path.name] = result
            if args.run:
                path = Path(args.run)
                phase[0] = f"run {path.name}"
                page.evaluate("async ([wf, name]) => { await window.app.loadGraphData(wf, true, true, name); }",
                              [json.loads(path.read_text()), path.stem])
                time.sleep(1)
                result = page.evaluate(RUN)
                page.evaluate(FIT)
                time.sleep(1)
                shot = shots / f"{path.stem}_result.png"
                page.screenshot(path=str(shot))
                result["screenshot"] = str(shot)
                report["run"] = result
            context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    Path(args.out).write_text(json.dumps(report, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
