"""The rife and film engines on the CPU with stand-in weight files (random weights in the real formats): options,
configurations read from the weights, bad files, devices, memory, the search order and the checksum-verified
download. Their frames against core ComfyUI's own implementation, and with the real RIFE 4.2x file:
tests/test_learned_equivalence.py."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from deepshop_core import EngineError, InputError, WeightsError, engines
from deepshop_core.engines import timestep_net
from deepshop_core.engines.learned import files
from deepshop_core.engines.weights import sha256_of
from deepshop_core.synthetic import Scene
from tests.support import import_or_skip
from tests.support.http_server import BlobServer, closed_port_url

torch = import_or_skip("torch", "the rife and film engines run on torch (the test extra installs it)")
from tools import learned_standin  # noqa: E402 - needs torch

TIMES = [0.25, 0.5, 0.75]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Nothing from the user's real cache or $DEEPSHOP_MODELS; downloads land in the test's folder."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("DEEPSHOP_MODELS", raising=False)


@pytest.fixture(scope="module")
def pair():
    scene = Scene.make(120, 72, seed=4)
    return scene.frame(0.0), scene.frame(0.08)


@pytest.fixture(scope="module")
def rife_file(tmp_path_factory):
    return learned_standin.write_rife(tmp_path_factory.mktemp("rife") / "flownet.pkl", seed=1)


@pytest.fixture(scope="module")
def film_file(tmp_path_factory):
    return learned_standin.write_film(tmp_path_factory.mktemp("film") / "film_net_fp16.safetensors", seed=2)


# ------------------------------------------------------------------------------------------------ the vocabulary
def test_choosing_a_learned_engine_imports_no_torch():
    code = ("import sys\nfrom deepshop_core import engines\n"
            "for name in ('rife', 'film'):\n"
            "    engines.describe(name)\n"
            "    engines.EngineChoice.of(name, weights='x.safetensors', device='gpu:1', precision='fp16',\n"
            "                            download='yes')\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'safetensors', 'comfy'}))\n")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() \
        == "[]"


def test_options_are_checked_when_chosen():
    choice = engines.EngineChoice.of("rife", device="GPU:1", precision="fp16", download="no")
    assert choice.settings == {"device": "cuda:1", "precision": "fp16", "download": False}
    for bad, match in ((dict(device="tpu"), "device must be auto, cpu or cuda:N"),
                       (dict(precision="fp8"), "precision must be one of auto, fp32, fp16"),
                       (dict(download="maybe"), "download must be yes or no"),
                       (dict(weights=" "), "weights must name a file"),
                       (dict(preset="best"), "has no option 'preset'")):
        with pytest.raises(InputError, match=match):
            engines.EngineChoice.of("film", **bad)
    info = engines.describe("rife")
    assert [o.name for o in info.options if o.user] == ["weights", "device", "precision", "download"]
    assert info.devices == ("auto", "cpu", "cuda:N") and info.threaded


# ------------------------------------------------------------------------------------------- the networks load
@pytest.mark.parametrize("widths, head, name, practical", [
    ((64, 48, 32, 24, 16), 4, "flownet.pkl", True),  # Practical-RIFE's own names, with the training-only tensors
    ((32, 24, 16, 12, 8), 4, "lite.safetensors", False),  # a lite configuration in this project's names
    ((96, 64, 48, 32, 16), 8, "heavy.pth", True),  # a wider head changes every block's inputs
], ids=["normal", "lite", "heavy-head"])
def test_the_rife_configuration_is_read_from_the_weights(tmp_path, pair, widths, head, name, practical):
    path = learned_standin.write_rife(tmp_path / name, widths, head, seed=3, practical=practical)
    with engines.load("rife", weights=path, device="cpu") as engine:
        config = engine.net.config
        assert (config.widths, config.head_channels, config.residuals) == (widths, head, (8,) * 5)
        mids = engine.interpolate(*pair, TIMES)
    assert [m.shape for m in mids] == [pair[0].shape] * 3 and all(m.dtype == np.uint8 for m in mids)
    assert np.abs(mids[0].astype(int) - mids[2]).mean() > 2  # the time reaches the output


def test_one_file_two_formats_same_frames(tmp_path, pair):
    state = learned_standin.rife_state(seed=5)
    pkl = learned_standin.write_state(learned_standin.practical_names(state), tmp_path / "a.pkl")
    safe = learned_standin.write_state(state, tmp_path / "a.safetensors")
    outputs = []
    for path in (pkl, safe):
        with engines.load("rife", weights=path, device="cpu") as engine:
            outputs.append(engine.interpolate(*pair, TIMES))
    assert all(np.array_equal(a, b) for a, b in zip(*outputs))


def test_film_runs_any_size_even_below_its_coarsest_level(film_file):
    with engines.load("film", weights=film_file, device="cpu") as engine:
        assert engine.dtype == torch.float32  # the fp16 file runs in fp32 on the CPU (precision auto)
        for height, width in ((64, 80), (40, 50)):  # 40x50: padded to FILM's 64 pixels, cropped back
            scene = Scene.make(width, height, seed=6)
            mids = engine.interpolate(scene.frame(0.0), scene.frame(0.08), TIMES)
            assert [m.shape for m in mids] == [(height, width, 3)] * 3
            assert np.abs(mids[0].astype(int) - mids[2]).mean() > 1


def test_fp16_on_the_cpu_stays_close_to_fp32(rife_file, pair):
    runs = {}
    for precision in ("fp32", "fp16"):
        with engines.load("rife", weights=rife_file, device="cpu", precision=precision) as engine:
            assert engine.dtype == {"fp32": torch.float32, "fp16": torch.float16}[precision]
            runs[precision] = engine.interpolate(*pair, TIMES)
    for a, b in zip(runs["fp32"], runs["fp16"]):
        diff = np.abs(a.astype(int) - b)
        assert diff.mean() < 1.0 and diff.max() < 32


def test_threads_and_close(rife_file, pair):
    before = torch.get_num_threads()
    try:
        engine = engines.load("rife", weights=rife_file, device="cpu", threads=1)
        assert torch.get_num_threads() == 1 and engine.stats.seconds["load"] > 0
    finally:
        torch.set_num_threads(before)
    engine.interpolate(*pair, [0.5])
    engine.close()
    engine.close()  # idempotent
    with pytest.raises(EngineError, match="closed"):
        engine.interpolate(*pair, [0.5])


# --------------------------------------------------------------------------------------------------- bad files
def one_line(error) -> str:
    text = str(error.value)
    assert "\n" not in text, text
    return text


def test_a_file_for_another_network_says_which_engine(rife_file, film_file, tmp_path):
    with pytest.raises(WeightsError) as caught:
        engines.load("rife", weights=film_file, device="cpu")
    assert "holds FILM weights, not RIFE 4.x: use the film engine" in one_line(caught)
    with pytest.raises(WeightsError, match="holds RIFE 4.x weights, not FILM: use the rife engine"):
        engines.load("film", weights=rife_file, device="cpu")
    other = learned_standin.write_state({"model.diffusion.conv.weight": torch.zeros(2, 2)}, tmp_path / "sd.safetensors")
    with pytest.raises(WeightsError) as caught:
        engines.load("rife", weights=other, device="cpu")
    assert "is not a RIFE 4.x or FILM weight file (its tensors begin model.diffusion.conv.weight)" in one_line(caught)


def test_four_flow_blocks_are_refused(tmp_path):
    state = {k: v for k, v in learned_standin.rife_state().items() if not k.startswith("blocks.4.")}
    path = learned_standin.write_state(state, tmp_path / "rife47.safetensors")
    with pytest.raises(WeightsError) as caught:
        engines.load("rife", weights=path, device="cpu")
    assert "has 4 RIFE flow blocks; the rife engine runs the five-block RIFE 4.2x networks" in one_line(caught)


@pytest.mark.parametrize("name", ["cut.pkl", "cut.safetensors"])
def test_a_truncated_file(rife_file, tmp_path, name):
    whole = learned_standin.write_rife(tmp_path / ("whole" + name[3:]), seed=1)
    cut = tmp_path / name
    cut.write_bytes(whole.read_bytes()[:whole.stat().st_size // 2])
    with pytest.raises(WeightsError) as caught:
        engines.load("rife", weights=cut, device="cpu")
    assert f"{cut} is truncated or not a" in one_line(caught) and "download it again" in one_line(caught)


def test_missing_extra_and_misshapen_tensors(tmp_path):
    state = learned_standin.rife_state()
    cases = {"missing": {k: v for k, v in state.items() if k != "blocks.2.convblock.3.conv.bias"},
             "extra": {**state, "blocks.0.spare.weight": torch.zeros(1)},
             "shape": {**state, "blocks.1.convblock.0.conv.bias": torch.zeros(7)}}
    expected = {"missing": "lacks 1 of its 158 tensors (e.g. blocks.2.convblock.3.conv.bias)",
                "extra": "has 1 tensors the network does not use (e.g. blocks.0.spare.weight)",
                "shape": "tensor blocks.1.convblock.0.conv.bias has shape (7,)"}
    for case, broken in cases.items():
        path = learned_standin.write_state(broken, tmp_path / f"{case}.safetensors")
        with pytest.raises(WeightsError) as caught:
            engines.load("rife", weights=path, device="cpu")
        assert expected[case] in one_line(caught)


class Payload:
    """Unpickling this would run code (here: write a marker file)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickled_program_is_refused_unrun(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "flownet.pkl"
    torch.save({"block0.conv0.0.0.weight": torch.zeros(1), "payload": Payload(marker)}, path)
    with pytest.raises(WeightsError) as caught:
        engines.load("rife", weights=path, device="cpu")
    assert "holds more than tensors (a pickled program" in one_line(caught)
    assert not marker.exists()
    (tmp_path / "notes.pkl").write_text("not weights at all")
    with pytest.raises(WeightsError, match="is truncated or not a torch weight file"):
        engines.load("rife", weights=tmp_path / "notes.pkl", device="cpu")


def test_a_device_that_does_not_exist_names_those_that_do(rife_file):
    missing = f"cuda:{torch.cuda.device_count()}"  # one past the last GPU: cuda:0 on a machine without any
    with pytest.raises(InputError) as caught:
        engines.load("rife", weights=rife_file, device=missing)
    text = one_line(caught)
    assert text.startswith(f"device {missing} does not exist: ") and "cpu" in text and "choose one of those" in text


# ------------------------------------------------------------------------------------------------------ memory
class Lerp(torch.nn.Module):
    """(1 - t) img0 + t img1; raises CUDA's out-of-memory error when given more than ``fits`` times at once."""

    pad_align = 1

    def __init__(self, fits: int):
        super().__init__()
        self.fits, self.batches = fits, []
        self.weight = torch.nn.Parameter(torch.ones(1))

    def forward(self, img0, img1, timestep, cache=None):
        self.batches.append(img0.shape[0])
        if img0.shape[0] > self.fits:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB\n(a second line)")
        return torch.lerp(img0, img1, timestep) * self.weight


def test_out_of_memory_runs_fewer_times_at_once(pair):
    roomy = timestep_net.TimestepNetEngine(Lerp(fits=8)).interpolate(*pair, TIMES + [0.9])
    engine = timestep_net.TimestepNetEngine(Lerp(fits=1))
    tight = engine.interpolate(*pair, TIMES + [0.9])
    assert all(np.array_equal(a, b) for a, b in zip(roomy, tight))
    assert engine.net.batches == [4, 2, 1, 1, 1, 1] and engine.batch == 1  # halved, then kept for the next pairs
    engine.interpolate(*pair, TIMES)
    assert engine.net.batches[-3:] == [1, 1, 1]


def test_out_of_memory_with_one_time_is_one_line_and_writes_nothing(clip, tmp_path):
    from deepshop_core import slow_motion

    with pytest.raises(EngineError) as caught:
        timestep_net.TimestepNetEngine(Lerp(fits=0)).interpolate(*[np.zeros((8, 8, 3), np.uint8)] * 2, [0.5])
    assert "out of memory on cpu for a 8x8 pair, even one time at once: use a smaller picture" in one_line(caught)
    out = tmp_path / "out.mp4"
    with pytest.raises(EngineError, match="out of memory"):
        slow_motion(clip, out, ranges=["10:20"], engine=timestep_net.TimestepNetEngine(Lerp(fits=0)))
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------------- finding the file
def test_the_search_order(tmp_path, monkeypatch, rife_file):
    comfy, models = tmp_path / "comfy" / "frame_interpolation", tmp_path / "models"
    monkeypatch.setenv("DEEPSHOP_MODELS", str(models))
    cache = files.cache_dir()
    assert files.candidate_dirs([comfy]) == [comfy, models / "frame_interpolation", models, cache]
    assert files.find("rife", None, [comfy]) is None

    def put(folder, name):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(rife_file.read_bytes())
        return folder / name

    for folder, name in ((cache, "flownet.pkl"), (models, "rife_v4.25_lite.safetensors"),
                         (models, "rife_v4.26.safetensors"),  # the catalog's order within a folder
                         (comfy, "rife_v4.25.safetensors")):  # the caller's folder before all others
        placed = put(folder, name)
        assert files.find("rife", None, [comfy]) == placed
    assert files.find("film", None, [comfy]) is None
    assert files.find("rife", "rife_v4.25_lite.safetensors", [comfy]) == models / "rife_v4.25_lite.safetensors"
    assert files.find("rife", comfy, []) == comfy / "rife_v4.25.safetensors"  # a folder: its known file
    assert files.find("rife", rife_file, [comfy]) == rife_file  # a path: that file
    with pytest.raises(WeightsError, match="holds no FILM weight file"):
        files.find("film", comfy)
    with pytest.raises(WeightsError, match="weights not found at .*nope.pkl: give the path"):
        files.find("rife", tmp_path / "nope.pkl")


def test_absent_and_offline_say_where_to_put_the_file(tmp_path):
    comfy = tmp_path / "comfy"
    with pytest.raises(WeightsError) as caught:
        engines.load("rife", search_dirs=[comfy], device="cpu")
    text = one_line(caught)
    assert text.startswith("no RIFE weights (none found): put rife_v4.26.safetensors (https://huggingface.co/"
                           "Comfy-Org/frame_interpolation/resolve/219da3c9")
    assert f"in {comfy} (or {files.cache_dir()})" in text and "download=True" in text
    with pytest.raises(WeightsError) as caught:
        files.ensure("film", search_dirs=[comfy], download=True, base_url=closed_port_url(""), timeout=5)
    text = one_line(caught)
    assert "no FILM weights (cannot reach http://127.0.0.1:" in text and "put film_net_fp16.safetensors" in text
    with pytest.raises(WeightsError, match="is not a file Deepshop can download"):
        files.ensure("rife", "my_rife.pth", [comfy], download=True)
    with pytest.raises(WeightsError, match="film_net_fp16.safetensors holds FILM weights: use the film engine"):
        files.ensure("rife", "film_net_fp16.safetensors", [comfy], download=True)


@pytest.fixture
def served_rife(rife_file, monkeypatch):
    """The stand-in served as rife_v4.26.safetensors, the catalog holding its real checksum."""
    served = learned_standin.write_rife(rife_file.with_name("served.safetensors"), seed=1)
    entry = files.WeightFile("rife_v4.26.safetensors", "rife", sha256_of(served), "a stand-in")
    monkeypatch.setattr(files, "CATALOG", (entry,) + files.CATALOG[1:])
    return served.read_bytes()


def test_download_on_request_then_found(served_rife, monkeypatch, pair):
    seen = []
    with BlobServer(served_rife, name="rife_v4.26.safetensors") as server:
        monkeypatch.setattr(files, "BASE_URL", server.base)
        with engines.load("rife", download=True, device="cpu", progress=lambda d, t: seen.append((d, t))) as engine:
            assert engine.weights == files.cache_dir() / "rife_v4.26.safetensors"
            engine.interpolate(*pair, [0.5])
        with engines.load("rife", download=True, device="cpu") as engine:  # found: not fetched again
            assert engine.weights == files.cache_dir() / "rife_v4.26.safetensors"
    assert server.paths == ["/rife_v4.26.safetensors"] and seen[-1] == (len(served_rife), len(served_rife))


def test_the_command_line_downloads_only_when_asked(served_rife, monkeypatch, clip, tmp_path, capsys):
    """Without --download a missing file is one line saying where to put it, and nothing is fetched or written;
    with it the file is fetched into the cache (checked) and the clip is written (--precision reaches the engine)."""
    from deepshop_core.cli import main

    args = ["slowmo", str(clip), "-o", str(tmp_path / "out.mkv"), "--range", "10:12", "--factor", "2",
            "--engine", "rife", "--device", "cpu", "--precision", "fp32", "--format", "lossless", "-q"]
    with BlobServer(served_rife, name="rife_v4.26.safetensors") as server:
        monkeypatch.setattr(files, "BASE_URL", server.base)
        assert main(args) == 1
        lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        assert len(lines) == 1 and "frame_interpolation" in lines[0] and server.paths == []
        assert not (tmp_path / "out.mkv").exists()
        assert main([*args, "--download"]) == 0
    assert server.paths == ["/rife_v4.26.safetensors"] and (files.cache_dir() / "rife_v4.26.safetensors").is_file()
    assert (tmp_path / "out.mkv").is_file()


def test_a_download_is_cancelled_by_should_cancel_and_resumed_later(served_rife, monkeypatch):
    from deepshop_core import Cancelled

    asked = []
    with BlobServer(served_rife) as server:
        monkeypatch.setattr(files, "BASE_URL", server.base)
        with pytest.raises(Cancelled, match="partial file is kept"):
            engines.load("rife", download=True, device="cpu", should_cancel=lambda: asked.append(1) or len(asked) > 2)
        part = files.cache_dir() / "rife_v4.26.safetensors.part"
        assert part.stat().st_size == 3 * (1 << 20) and not part.with_suffix("").exists()  # 3 chunks, no file
        with engines.load("rife", download=True, device="cpu", should_cancel=lambda: False) as engine:
            assert sha256_of(engine.weights) == files.default("rife").sha256
    assert server.requests == [None, f"bytes={3 * (1 << 20)}-"]


def test_a_cut_download_resumes_and_a_wrong_one_is_deleted(served_rife, monkeypatch):
    target = files.cache_dir() / "rife_v4.26.safetensors"
    with BlobServer(served_rife, cut_after=5000) as server:
        with pytest.raises(WeightsError, match="run again to resume"):
            files.ensure("rife", download=True, base_url=server.base)
        assert not target.exists()
        assert files.ensure("rife", download=True, base_url=server.base) == target
    assert server.requests == [None, "bytes=5000-"] and sha256_of(target) == files.default("rife").sha256
    target.unlink()
    with BlobServer(served_rife[:-10] + b"0123456789") as server:  # same size, other bytes
        with pytest.raises(WeightsError) as caught:
            files.ensure("rife", download=True, base_url=server.base)
    assert "is damaged or not the expected file (SHA-256" in one_line(caught)
    assert list(files.cache_dir().iterdir()) == []  # neither the file nor its .part


# ------------------------------------------------------------------------------------------------ every face
@pytest.mark.slow  # an end-to-end run of a few seconds: the slow level
def test_the_command_line_batch_and_chunks_run_rife(clip, tmp_path, rife_file):
    """`deepshop slowmo --engine rife --weights ... --device cpu` writes the slowed clip; a batch manifest row asks
    for the same engine by name with its weights; a chunked run gives the single run's frames; a device that does
    not exist (bad input: exit 2) or a weights file that is not there (a weights error: exit 1) is one line, and
    nothing is written."""
    from deepshop_core import Job, batch, chunks
    from deepshop_core.cli import main
    from deepshop_core.plan import plan_clip
    from tests.support.clips import same_frames

    args = ["--range", "10:16", "--factor", "2", "--engine", "rife", "--weights", str(rife_file), "--device", "cpu",
            "--format", "lossless", "-q"]
    assert main(["slowmo", str(clip), "-o", str(tmp_path / "cli.mkv"), *args]) == 0
    manifest = tmp_path / "jobs.csv"
    manifest.write_text(f"input,engine,weights,device\n{clip},rife,{rife_file},cpu\n")
    job = Job(ranges=["10:16"], factor=2, format="lossless")
    [row] = batch.read_manifest(manifest, job)
    assert row[1].engine == engines.EngineChoice.of("rife", weights=str(rife_file), device="cpu")
    [outcome] = batch.run(batch.items([row], job, tmp_path / "batch"))
    assert outcome.status == batch.DONE and same_frames(outcome.item.output, tmp_path / "cli.mkv")
    chunked = chunks.render_in_chunks(plan_clip(clip, row[1]), tmp_path / "chunked.mkv", 3)
    assert same_frames(chunked.output, tmp_path / "cli.mkv")
    for bad, words, status in ((["--device", "cuda:7"], "device cuda:7 does not exist", 2),
                               (["--weights", str(tmp_path / "none.pkl")], "RIFE weights not found", 1)):
        out = tmp_path / "bad.mkv"
        proc = subprocess.run([sys.executable, "-m", "deepshop_core", "slowmo", str(clip), "-o", str(out),
                               *args, *bad], capture_output=True, text=True)
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert proc.returncode == status and len(lines) == 1 and words in lines[0], proc.stderr
        assert not out.exists()
