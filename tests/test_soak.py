"""Soak: 20 consecutive slow-motion jobs in one Python process leak nothing.

`deepshop_core.slow_motion` runs 20 times in a fresh process (so other tests cannot perturb its memory) on a small
rendered clip with sound, flow engine, alternating MP4 (H.264 + AAC) and WebM (VP9 + Opus) output. After the first
and after the last job the process reads /proc/self: resident memory within 10%, the same open file descriptors,
the same number of threads (the encoder thread and FFmpeg's codec threads end with their job), no child process.

How memory is measured: glibc's malloc keeps freed memory in its arenas for reuse instead of returning it to the
kernel, and with several threads allocating (the encode thread, FFmpeg's threads) how much free memory the arenas
hold after a job varies. Plain VmRSS after job 1 and job 20 measured 126 and 226 MiB (MP4 and WebM alternating), yet
it levels off (about 240 MiB from job 20 to job 60) while the Python object count stays the same: memory kept for
reuse, not leaked. So before each reading the process runs gc.collect() and malloc_trim(0), which hands the free
pages back, leaving VmRSS to count what is still allocated. Trimmed, the readings were flat over 60 jobs but
jumped between 97 and 108 MiB from job to job: glibc raises its mmap threshold after large blocks are freed, so
whether a frame-sized buffer lands in an arena (and fragments it) depends on the history. The soak process
therefore runs with a fixed threshold (MALLOC_MMAP_THRESHOLD_=65536: every block of 64 KiB or more - frames,
packets, flow fields - is its own mapping, resident exactly while it is allocated); then the trimmed readings were
95 MiB after job 1 and 97 MiB after every job from 2 to 24 (job 2 is the first WebM one: libvpx and Opus set up).
A leak of frames, packets or codec contexts stays in these readings: `test_the_soak_check_sees_a_leak` shows the
check fails for 1 MiB kept per job, one file descriptor per job, or a child process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
JOBS = 20
MAX_GROWTH = 0.10


def _soak(folder: Path, mode: str) -> dict:
    """Run in the child process: the jobs, and the snapshots after the first and the last."""
    import numpy as np

    from deepshop_core import slow_motion, synthetic
    from tests.support import procstats

    clip = synthetic.write_clip(folder / "soak_input.mp4", seconds=2.0, width=320, height=180)  # 50 frames, sound
    leaked: list = []
    first = None
    jobs = []
    started = time.monotonic()
    for job in range(JOBS):
        suffix = (".mp4", ".webm")[job % 2]
        output = folder / f"soak_{job:02d}{suffix}"
        if mode == "jobs" or job == 0:
            result = slow_motion(clip, output, ranges=["10:20"], factor=4, engine="flow")
            assert output.is_file()
            output.unlink()
            jobs.append({"format": suffix, "frames_out": result.frames_out, "audio": result.has_audio})
        else:  # mode "leak": what the check must catch, in place of jobs 2..20
            leaked.append(np.ones(1 << 20, np.uint8))  # 1 MiB per job, touched so it is resident
            leaked.append(open(os.devnull, "rb"))  # a descriptor per job
            if job == JOBS - 1:
                leaked.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]))
        if job == 0:
            first = procstats.Snapshot.of_self()
    last = procstats.Snapshot.of_self()
    for item in leaked:
        if isinstance(item, subprocess.Popen):
            item.kill()
            item.wait()
    return {"first": first.__dict__, "last": last.__dict__, "jobs": jobs, "seconds": time.monotonic() - started}


def run_soak(tmp_path: Path, mode: str) -> dict:
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(64 * 1024)}  # see the module's docstring
    completed = subprocess.run([sys.executable, "-m", "tests.test_soak", str(tmp_path), mode], capture_output=True,
                               text=True, timeout=600, stdin=subprocess.DEVNULL, cwd=HERE.parent, env=env)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-5000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def problems(report: dict) -> list[str]:
    """What leaked between the first job and the last, as sentences (empty when nothing did)."""
    first, last = report["first"], report["last"]
    found = []
    growth = last["rss_kib"] / first["rss_kib"] - 1
    if abs(growth) > MAX_GROWTH:
        found.append(f"resident memory went from {first['rss_kib'] / 1024:.1f} to {last['rss_kib'] / 1024:.1f} MiB "
                     f"({growth:+.1%})")
    new_fds = {fd: target for fd, target in last["fds"].items() if first["fds"].get(fd) != target
               and not target.startswith("/proc/")}  # /proc/self/fd itself, open while it is listed
    if new_fds:
        found.append(f"file descriptors left open: {new_fds}")
    if last["threads"] > first["threads"]:
        found.append(f"threads went from {first['threads']} to {last['threads']}")
    if last["children"]:
        found.append(f"child processes left: {last['children']}")
    return found


def summary(report: dict) -> str:
    first, last = report["first"], report["last"]
    return (f"{len(report['jobs'])} jobs in {report['seconds']:.1f} s; RSS (trimmed) after job 1 "
            f"{first['rss_kib'] / 1024:.1f} MiB, after job {JOBS} {last['rss_kib'] / 1024:.1f} MiB "
            f"({last['rss_kib'] / first['rss_kib'] - 1:+.1%}); untrimmed {first['rss_untrimmed_kib'] / 1024:.1f} -> "
            f"{last['rss_untrimmed_kib'] / 1024:.1f} MiB; fds {len(first['fds'])} -> {len(last['fds'])}; threads "
            f"{first['threads']} -> {last['threads']}; children {first['children']} -> {last['children']}")


def test_twenty_jobs_leak_nothing(tmp_path):
    report = run_soak(tmp_path, "jobs")
    print(summary(report))
    assert len(report["jobs"]) == JOBS
    for job in report["jobs"]:  # every job did the real work: 50 frames + 10 intervals x 3 new frames, with sound
        assert job["frames_out"] == 80 and job["audio"], job
    assert {job["format"] for job in report["jobs"]} == {".mp4", ".webm"}
    assert problems(report) == [], summary(report)


def test_the_soak_check_sees_a_leak(tmp_path):
    """The same measurement over one real job and 19 that each keep 1 MiB and a file open (and a child process at
    the end) reports all three: trimming the heap does not hide memory still in use."""
    report = run_soak(tmp_path, "leak")
    found = problems(report)
    assert any(p.startswith("resident memory") for p in found), (found, summary(report))
    assert any(p.startswith("file descriptors left open") and p.count(os.devnull) == JOBS - 1 for p in found), found
    assert any(p.startswith("child processes left") for p in found), found


if __name__ == "__main__":
    print(json.dumps(_soak(Path(sys.argv[1]), sys.argv[2])))
