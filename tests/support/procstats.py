"""What a process holds, read from Linux's /proc (no psutil): resident memory, open file descriptors, threads and
child processes. Used by the soak and fault tests (tests/test_soak.py, test_comfyui_soak.py, test_faults.py,
test_comfyui_server.py) on their own process or on the ComfyUI server's."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path


def rss_kib(pid: int | str = "self") -> int:
    """Resident set size (VmRSS) in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/status has no VmRSS line")


def open_fds(pid: int | str = "self") -> dict[int, str]:
    """Open file descriptors -> what they point at ("/path", "socket:[123]", "pipe:[45]", "anon_inode:...")."""
    fds = {}
    folder = Path(f"/proc/{pid}/fd")
    for entry in folder.iterdir():
        try:
            fds[int(entry.name)] = os.readlink(entry)
        except FileNotFoundError:  # closed while listing (listing /proc/self/fd opens one itself)
            continue
    return fds


def threads(pid: int | str = "self") -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def children(pid: int | str = "self") -> list[int]:
    """Live child processes (of any thread of the process), zombies included: a child never waited for counts."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except FileNotFoundError:  # a thread that ended while listing
            continue
    return sorted(set(found))


def describe(pids: list[int]) -> list[str]:
    return [f"{pid}: {command_line(pid) or '(gone)'}" for pid in pids]


_libc = None


def trim_heap() -> bool:
    """Give the C heap's free pages back to the kernel (glibc's malloc_trim), so that VmRSS counts memory in use
    rather than freed memory the allocator keeps for later. False where the C library has no malloc_trim (musl)."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    trim = getattr(_libc, "malloc_trim", None)
    if trim is None:
        return False
    trim(0)
    return True


@dataclass(frozen=True)
class Snapshot:
    rss_kib: int
    rss_untrimmed_kib: int  # before trim_heap(): what `ps` would have shown
    fds: dict[int, str]
    threads: int
    children: list[int]

    @classmethod
    def of_self(cls) -> "Snapshot":
        import gc

        gc.collect()
        untrimmed = rss_kib()
        trim_heap()
        return cls(rss_kib(), untrimmed, open_fds(), threads(), children())

    @classmethod
    def of(cls, pid: int) -> "Snapshot":
        rss = rss_kib(pid)
        return cls(rss, rss, open_fds(pid), threads(pid), children(pid))


def _parents() -> dict[int, int]:
    """pid -> parent pid, for every process visible now."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # it ended while we looked
            continue
        # "pid (command) state ppid ...": the command may hold spaces and parentheses, so split after the last ')'
        fields = text[text.rindex(")") + 2:].split()
        parents[int(stat.parent.name)] = int(fields[1])
    return parents


def in_session(session: int) -> set[int]:
    """Every living process of the session ``session`` (started with ``start_new_session=True``, its id is the
    leader's pid): the leader, its children and theirs, also those orphaned when the leader ended (adopted by init,
    they are no longer anyone's descendants, but they keep the session)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2:].split()  # state ppid pgrp session ...
        if int(fields[3]) == session and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def descendants(pid: int | None = None) -> set[int]:
    """Every living process below ``pid`` (default: this process), children's children included, except Python's
    multiprocessing resource tracker: shared memory starts one per process, and it lives exactly as long as the
    process that started it (it is the tracker that removes leaked shared memory)."""
    root = os.getpid() if pid is None else pid
    parents = _parents()
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier and p not in found}
        found |= frontier
    return {p for p in found if exists(p) and "multiprocessing.resource_tracker" not in command_line(p)}


def exists(pid: int) -> bool:
    """Whether ``pid`` is still running. A zombie (ended, its exit status not yet collected by whoever adopted it)
    does not count: it holds no memory and no files."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return text[text.rindex(")") + 2:].split()[0] != "Z"


def wait_gone(pids, timeout: float = 10.0) -> set[int]:
    """The pids of ``pids`` still present after waiting up to ``timeout`` seconds for them to end."""
    deadline = time.monotonic() + timeout
    left = set(pids)
    while left and time.monotonic() < deadline:
        left = {p for p in left if exists(p)}
        time.sleep(0.05)
    return {p for p in left if exists(p)}


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def interruptible() -> None:
    """``preexec_fn`` for a child that a test will Ctrl-C: a background job's shell may have set SIGINT to "ignore",
    which children inherit; give the child the default a user pressing Ctrl-C in a terminal has."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
