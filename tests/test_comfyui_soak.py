"""Soak in ComfyUI: 20 consecutive slow-motion prompts in one ComfyUI 0.3.75 server process must not make it grow.

The slow-motion workflow from workflows/ (converted to the API format by tools/workflow_api.py) is queued
20 times, one after the other. After the first and after the last job the server process's resident memory
(/proc/<pid>/status VmRSS), open file descriptors (/proc/<pid>/fd) and child processes are read: memory within 10%,
no descriptor and no child process more than after the first job. (The server's heap cannot be trimmed from
outside as tests/test_soak.py does in its own process, so this is plain VmRSS; measured: 853 -> 863 MiB, +1.2%.)

Every job really executes every node: Load Video Frames' IS_CHANGED is the file's modification time, so giving the
clip a new mtime before each prompt changes the cache key of the loader and of everything downstream (a new
filename_prefix alone would only re-run Save Video, the rest coming from ComfyUI's cache). The work is the same in
every job (same frames, same range), so memory can be compared from job to job.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from deepshop_core.media.probe import probe
from tests.support import ROOT, procstats
from tools import workflow_api
from tools.comfy_server import output_files

pytestmark = pytest.mark.comfyui  # deselect with -m "not comfyui"

JOBS = 20
SOAK_CLIP = "deepshop_soak.mp4"
# A shorter job than the workflow's own (its 100-frame clip, 1.0s:2.0s at 4x) keeps 20 of them quick on 2 cores:
# the first 40 frames of the example clip, frames 25..33 slowed 4x -> 25 + 8 * 4 + 7 = 64 frames, with audio.
FRAMES_LOADED, RANGE, FACTOR = 40, "25:33", 4.0
EXPECTED_FRAMES = 25 + 8 * 4 + (FRAMES_LOADED - 33)
MAX_GROWTH = 0.10


def settled(comfy, baseline: procstats.Snapshot | None, timeout: float = 5.0) -> procstats.Snapshot:
    """The server's snapshot once the HTTP connection of our last request has been closed on its side too (an
    aiohttp socket lingers for a moment after the client hangs up); a real leak does not go away by waiting."""
    deadline = time.monotonic() + timeout
    while True:
        snap = procstats.Snapshot.of(comfy.pid)
        if baseline is None or len(snap.fds) <= len(baseline.fds) or time.monotonic() > deadline:
            return snap
        time.sleep(0.1)


def test_twenty_prompts_leak_nothing(comfy, example_clips):
    assert "main.py" in Path(f"/proc/{comfy.pid}/cmdline").read_bytes().decode(errors="replace"), \
        "comfy.pid is not the ComfyUI process itself"
    clip = comfy.input_dir / SOAK_CLIP
    shutil.copy(example_clips["audio"], clip)
    workflow = json.loads((ROOT / "workflows" / "deepshop_slowmo_highlight.json").read_text())
    prompt = workflow_api.convert(workflow, comfy.object_info())
    prompt["1"]["inputs"].update(video=SOAK_CLIP, start_frame=0, frame_load_cap=FRAMES_LOADED)
    prompt["2"]["inputs"]["range"] = RANGE
    prompt["3"]["inputs"]["factor"] = FACTOR
    prompt["4"]["inputs"]["factor"] = FACTOR
    mtime = int(time.time())
    before = procstats.Snapshot.of(comfy.pid)  # children the server has of its own, before any soak job
    first = last = None
    times = []
    for job in range(JOBS):
        os.utime(clip, (mtime + job, mtime + job))  # a new IS_CHANGED value: every node runs again
        prompt["5"]["inputs"]["filename_prefix"] = f"deepshop/soak_{job:02d}"
        started = time.monotonic()
        entry = comfy.run(prompt, timeout=300)
        times.append(time.monotonic() - started)
        assert entry["status"]["status_str"] == "success", (
            f"job {job} failed: {json.dumps(entry['status'].get('messages'), indent=1)[:4000]}\n{comfy.log(4000)}")
        cached = [node for message in entry["status"]["messages"] if message[0] == "execution_cached"
                  for node in message[1].get("nodes", [])]
        assert cached == [], f"job {job}: nodes {cached} came from the cache, so they did not really run"
        (path,) = output_files(entry, comfy)
        info = probe(path)
        assert info.frame_count == EXPECTED_FRAMES and info.has_audio, (job, info)
        path.unlink()
        if job == 0:
            first = settled(comfy, None)
        elif job == JOBS - 1:
            last = settled(comfy, first)
    growth = last.rss_kib / first.rss_kib - 1
    report = (f"ComfyUI server RSS after job 1: {first.rss_kib / 1024:.1f} MiB, after job {JOBS}: "
              f"{last.rss_kib / 1024:.1f} MiB ({growth:+.1%}); fds {len(first.fds)} -> {len(last.fds)}; "
              f"threads {first.threads} -> {last.threads}; children {first.children} -> {last.children}; "
              f"job seconds: first {times[0]:.1f}, median {sorted(times)[len(times) // 2]:.1f}")
    print(report)
    assert abs(growth) <= MAX_GROWTH, report
    new_fds = {fd: target for fd, target in last.fds.items() if first.fds.get(fd) != target}
    assert len(last.fds) <= len(first.fds), f"descriptors opened and never closed: {new_fds}; {report}"
    # a pipe, a file of the job (the clip, the output) or an FFmpeg handle must not stay open from job to job
    assert not [t for t in new_fds.values() if not t.startswith("socket:")], f"{new_fds}; {report}"
    assert set(last.children) <= set(before.children), (
        f"child processes left behind: {procstats.describe(sorted(set(last.children) - set(before.children)))}")
