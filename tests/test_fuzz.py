"""Fuzzing the readers: whatever bytes a file holds, `probe`, `read_frames` and `read_audio` (deepshop_core.media) give
valid output or raise the documented `MediaError`: never another exception, never a crash, never a hang.

Inputs: random bytes (some behind a real container's magic number, so they get past format detection), random
mutations of small valid files the test renders (MP4 H.264 + AAC, WebM VP9 + Opus, GIF), and deterministic
mutation classes of the MP4: truncation at every box boundary and at spaced offsets, box sizes and types
corrupted inside the moov box, zeroed ranges, duplicated boxes.

Why a child process: the readers run in FFmpeg's C code through PyAV. A loop inside FFmpeg never returns to the
interpreter, so neither `signal.alarm` (Python runs signal handlers only between bytecodes, in the main thread)
nor Hypothesis's ``deadline`` (it measures an example after it has finished) can stop it, and a segfault would take
pytest down with it. So every case runs in a worker process (tests/support/fuzz_worker.py, started once and reused: about
30 ms a case instead of a second of imports); the parent waits for its answer with a hard timeout and kills it
(then starts a fresh one) when the time is up, which bounds a hang whatever the worker is doing, and reports a
hang or a crash as a failure with the input saved. The Hypothesis deadline is kept too, to flag a case that is
merely slow. Runs are reproducible: ``derandomize=True`` and no example database.
"""

from __future__ import annotations

import json
import os
import select
import signal
import struct
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deepshop_core import synthetic

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
WORKER = ["-m", "tests.support.fuzz_worker"]  # run from the project root (cwd)
CASE_TIMEOUT = 30.0  # seconds: the hard bound for one case (about 0.03 s normally; generous for a loaded CI box)
DEADLINE = timedelta(seconds=10)  # Hypothesis's own per-example limit (it cannot interrupt; the timeout does)
FUZZ = settings(derandomize=True, database=None, deadline=DEADLINE, max_examples=200,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


class Worker:
    """One fuzz_worker.py process, restarted after a hang or a crash."""

    def __init__(self, folder: Path, command: list[str] | None = None, timeout: float = CASE_TIMEOUT):
        self.folder = folder
        self.command = command or [sys.executable, *WORKER]
        self.timeout = timeout
        self.process: subprocess.Popen | None = None
        self.cases = 0
        self.seconds = 0.0

    def _start(self) -> None:
        self.stderr = open(self.folder / "worker.stderr", "wb")
        self.process = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=self.stderr, cwd=HERE.parent, start_new_session=True)
        self._buffer = b""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)  # its own session: FFmpeg threads and all
        if self.process is not None:
            self.process.wait()
            self.stderr.close()
        self.process = None

    def check(self, data: bytes, suffix: str) -> dict:
        """The worker's outcome for a file holding ``data``; AssertionError for a hang or a crash."""
        if self.process is None:
            self._start()
        self.cases += 1
        path = self.folder / f"case{self.cases}{suffix}"
        path.write_bytes(data)
        started = time.monotonic()
        self.process.stdin.write(f"{path}\n".encode())
        self.process.stdin.flush()
        deadline = started + self.timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.process.stdout], [], [], max(0.0, left))
            if not ready:
                self.stop()
                kept = self._keep(path)
                raise AssertionError(f"hang: the readers did not finish within {self.timeout:.0f} s on "
                                     f"{len(data)} bytes (kept as {kept})")
            chunk = os.read(self.process.stdout.fileno(), 65536)
            if not chunk:
                code = self.process.wait()
                self.stop()
                log = (self.folder / "worker.stderr").read_bytes()[-3000:].decode(errors="replace")
                kept = self._keep(path)
                raise AssertionError(f"crash: the reader process died ({_describe_exit(code)}) on {len(data)} "
                                     f"bytes (kept as {kept}); its stderr:\n{log}")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        self.seconds += time.monotonic() - started
        path.unlink()
        return json.loads(line)

    def _keep(self, path: Path) -> Path:
        kept = self.folder / f"failing_{path.name}"
        path.rename(kept)
        return kept


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit status {code}"


def assert_documented(outcome: dict, label: str = "") -> None:
    """Every reader gave valid output or a MediaError."""
    bad = {call: result for call, result in outcome.items() if result["result"] not in ("ok", "MediaError")}
    assert not bad, f"{label}: " + "\n".join(f"{call}: {result.get('traceback')}" for call, result in bad.items())


@pytest.fixture(scope="module")
def worker(tmp_path_factory):
    running = Worker(tmp_path_factory.mktemp("fuzz"))
    yield running
    print(f"\nfuzz: {running.cases} cases in {running.seconds:.1f} s of reading")
    running.stop()


class Seeds(dict):
    def __repr__(self) -> str:  # Hypothesis prints the fixtures of a failing example: not 70 kB of video
        return f"Seeds({', '.join(f'{suffix}: {len(data)} bytes' for suffix, data in self.items())})"


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> dict[str, bytes]:
    """Small valid files: MP4 (H.264 + AAC), WebM (VP9 + Opus), GIF; a dozen frames of 64x48 each."""
    folder = tmp_path_factory.mktemp("seeds")
    made = {
        ".mp4": synthetic.write_clip(folder / "seed.mp4", seconds=0.48, width=64, height=48),
        ".webm": synthetic.write_clip(folder / "seed.webm", seconds=0.48, width=64, height=48),
        ".gif": synthetic.write_clip(folder / "seed.gif", seconds=0.24, width=64, height=48, audio=False),
    }
    return Seeds({suffix: path.read_bytes() for suffix, path in made.items()})


def test_watchdog_catches_a_hang_and_a_crash(tmp_path):
    """The harness itself: a reader that never answers is killed at the timeout, one that dies is reported; both
    as failures, and the next case gets a fresh process."""
    hang = Worker(tmp_path, [sys.executable, "-c", "import time; time.sleep(600)"], timeout=1.0)
    started = time.monotonic()
    with pytest.raises(AssertionError, match="hang"):
        hang.check(b"data", ".mp4")
    assert time.monotonic() - started < 10 and hang.process is None
    assert (tmp_path / "failing_case1.mp4").read_bytes() == b"data"
    crash = Worker(tmp_path, [sys.executable, "-c", "import os, sys; sys.stdin.readline(); os.abort()"])
    with pytest.raises(AssertionError, match="crash: .*SIGABRT"):
        crash.check(b"data", ".webm")
    assert crash.process is None


def test_seed_files_read_back(worker, seeds):
    """The unmutated seeds are read fully (so the mutations below start from files every reader accepts)."""
    for suffix, data in seeds.items():
        outcome = worker.check(data, suffix)
        assert {call: r["result"] for call, r in outcome.items()} == dict.fromkeys(outcome, "ok"), (suffix, outcome)
        assert outcome["read_frames"]["detail"] == (12 if suffix != ".gif" else 6), outcome
        assert outcome["read_frames_from_3"]["detail"] == (6 if suffix != ".gif" else 3), outcome


# --- random bytes ---------------------------------------------------------------------------------------------------

# Magic numbers of containers FFmpeg detects, so random bytes behind them reach the demuxers' parsers.
MAGIC = [b"", b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2", b"\x1a\x45\xdf\xa3", b"GIF89a", b"GIF87a",
         b"RIFF\x00\x10\x00\x00WEBPVP8 ", b"OggS\x00\x02", b"ID3\x03\x00\x00\x00", b"\xff\xfb\x90\x64",
         b"\x00\x00\x00\x01\x67", b"FLV\x01\x05", b"\x89PNG\r\n\x1a\n", b"RIFF\x00\x10\x00\x00AVI LIST"]


@FUZZ
@given(magic=st.sampled_from(MAGIC), tail=st.binary(min_size=0, max_size=3000),
       suffix=st.sampled_from([".mp4", ".webm", ".gif", ".mkv", ".bin"]))
def test_random_bytes(worker, magic, tail, suffix):
    assert_documented(worker.check(magic + tail, suffix), f"{len(magic + tail)} random bytes as {suffix}")


# --- random mutations of valid files --------------------------------------------------------------------------------

def _header_length(data: bytes, suffix: str) -> int:
    """Bytes at the front that describe the streams (MP4: up to the end of moov, written first by +faststart)."""
    if suffix == ".mp4":
        for kind, start, size, _ in boxes(data):
            if kind == b"moov":
                return start + size
    return min(len(data), 600)


OPERATION = st.tuples(
    st.sampled_from(["set", "flip", "zero", "truncate", "insert", "delete", "duplicate"]),
    st.booleans(),  # in the header (stream descriptions, indexes) rather than anywhere
    st.integers(0, 1 << 20),  # position, taken modulo the region's length
    st.integers(1, 64),  # length for zero / delete / duplicate, bit number for flip
    st.binary(min_size=1, max_size=16),  # bytes for set / insert
)


def mutate(data: bytes, header: int, operations) -> bytes:
    out = bytearray(data)
    for name, in_header, position, length, payload in operations:
        if not out:
            break
        region = min(header, len(out)) if in_header else len(out)
        at = position % max(region, 1)
        if name == "set":
            out[at : at + len(payload)] = payload[: len(out) - at]
        elif name == "flip":
            out[at] ^= 1 << (length % 8)
        elif name == "zero":
            out[at : at + length] = bytes(len(out[at : at + length]))
        elif name == "truncate":
            del out[at:]
        elif name == "insert":
            out[at:at] = payload
        elif name == "delete":
            del out[at : at + length]
        elif name == "duplicate":
            out[at:at] = out[at : at + length]
    return bytes(out)


@FUZZ
@given(suffix=st.sampled_from([".mp4", ".webm", ".gif"]), operations=st.lists(OPERATION, min_size=1, max_size=6))
def test_mutated_files(worker, seeds, suffix, operations):
    data = seeds[suffix]
    mutated = mutate(data, _header_length(data, suffix), operations)
    assert_documented(worker.check(mutated, suffix), f"{suffix} seed mutated by {operations}")


# --- deterministic mutation classes of the MP4 ----------------------------------------------------------------------

CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf", b"udta", b"mvex", b"meta"}


def boxes(data: bytes, start: int = 0, end: int | None = None, depth: int = 0):
    """(type, offset, size, depth) of every ISO-BMFF box, container boxes descended into."""
    end = len(data) if end is None else end
    at = start
    while at + 8 <= end:
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        header = 8
        if size == 1:
            size, header = struct.unpack(">Q", data[at + 8 : at + 16])[0], 16
        elif size == 0:
            size = end - at
        if size < header or at + size > end:
            return
        yield kind, at, size, depth
        if kind in CONTAINERS:
            skip = 4 if kind == b"meta" else 0  # meta is a full box: version and flags first
            yield from boxes(data, at + header + skip, at + size, depth + 1)
        at += size


def truncations(data: bytes) -> list[bytes]:
    cuts = {0, 1, 7, 8, 9, len(data) - 1}
    for _, start, size, _ in boxes(data):
        cuts.update({start - 1, start, start + 4, start + 8, start + size - 1, start + size + 1})
    cuts.update(len(data) * k // 24 for k in range(1, 24))
    return [data[:cut] for cut in sorted(c for c in cuts if 0 < c < len(data))]


def corrupted_boxes(data: bytes) -> list[bytes]:
    """Inside moov, each box's size set to 0, 1, 7, its size +/- 1 and 0xFFFFFFFF, and its type zeroed."""
    variants = []
    moov = next((start, size) for kind, start, size, _ in boxes(data) if kind == b"moov")
    for kind, start, size, _ in boxes(data, moov[0] + 8, moov[0] + moov[1]):
        for new_size in (0, 1, 7, size - 1, size + 1, 0xFFFFFFFF):
            variants.append(data[:start] + struct.pack(">I", new_size) + data[start + 4 :])
        variants.append(data[: start + 4] + b"\0\0\0\0" + data[start + 8 :])
        # the box's first payload bytes (version, flags, counts, the sample description's codec tag) all 0xFF
        variants.append(data[: start + 8] + b"\xff" * min(12, size - 8) + data[start + 8 + min(12, size - 8) :])
    return variants


def zeroed_ranges(data: bytes) -> list[bytes]:
    variants = []
    for k in range(32):
        at = len(data) * k // 32
        variants.append(data[:at] + bytes(min(128, len(data) - at)) + data[at + 128 :])
    for kind, start, size, depth in boxes(data):
        if depth <= 1:  # a whole box's payload: ftyp, moov, mdat; mvhd, each trak
            variants.append(data[: start + 8] + bytes(size - 8) + data[start + size :])
    return variants


def duplicated_boxes(data: bytes) -> list[bytes]:
    """Each box written twice in a row (two moov, two trak, two stsd...), and each top-level box moved to the end."""
    variants = []
    for kind, start, size, depth in boxes(data):
        box = data[start : start + size]
        variants.append(data[: start + size] + box + data[start + size :])
        if depth == 0:
            variants.append(data[:start] + data[start + size :] + box)
    return variants


@pytest.mark.parametrize("mutations", [truncations, corrupted_boxes, zeroed_ranges, duplicated_boxes])
def test_mp4_mutation_class(worker, seeds, mutations):
    data = seeds[".mp4"]
    kinds = {kind for kind, *_ in boxes(data)}
    assert {b"ftyp", b"moov", b"mdat", b"trak", b"stbl", b"stsd"} <= kinds, kinds  # the parser sees the structure
    variants = [variant for variant in dict.fromkeys(mutations(data)) if variant != data]  # distinct, all changed
    assert len(variants) >= 20
    results: dict[str, int] = {}
    for number, variant in enumerate(variants):
        outcome = worker.check(variant, ".mp4")
        assert_documented(outcome, f"{mutations.__name__} variant {number}")
        key = outcome["probe"]["result"]
        results[key] = results.get(key, 0) + 1
    print(f"{mutations.__name__}: {len(variants)} variants, probe results {results}")


def test_undecodable_audio_track(tmp_path, seeds):
    """Found by this fuzzing: an audio track FFmpeg has no decoder for (here the MP4's sample entry 'mp4a' renamed
    and its esds object type, 0x40 = AAC, changed to an unassigned one) made probe and read_audio fail with
    AttributeError. Now probe describes the video without audio and warns, and read_audio raises MediaError."""
    from deepshop_core.errors import DeepshopWarning, MediaError
    from deepshop_core.media.audio import read_audio
    from deepshop_core.media.decode import read_frames
    from deepshop_core.media.probe import probe

    data = seeds[".mp4"]
    config = b"\x04\x80\x80\x80\x17\x40"  # esds: DecoderConfigDescriptor (tag 4), length 0x17, object type 0x40
    assert data.count(b"mp4a") == 1 and data.count(config) == 1
    path = tmp_path / "unknown_audio_codec.mp4"
    path.write_bytes(data.replace(b"mp4a", b"qqqq").replace(config, config[:-1] + b"\xfe"))
    with pytest.warns(DeepshopWarning, match="audio track .* cannot be decoded"):
        info = probe(path)
    assert info.audio is None and info.frame_count == 12 and (info.width, info.height) == (64, 48)
    assert sum(1 for _ in read_frames(path)) == 12
    with pytest.raises(MediaError, match="cannot be decoded"):
        read_audio(path)
