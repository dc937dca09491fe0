"""The device logic of the GPU path, checked on the CPU: --device everywhere, CUDA refused in one
line where there is none, the frozen encode (uint8 transport, precision in the cache key, split
across processes), compiled generation with padded batches, and the background writer."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import torch

from judgefixtures import build_dataset, demo_judge, write_image_folder

from dataigm.devices import autocast_dtype, default_workers, precision_name, resolve_device
from dataigm.errors import InputError

NO_CUDA = not torch.cuda.is_available()


def test_resolve_device() -> None:
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda:0" if not NO_CUDA else "cpu")
    with pytest.raises(InputError, match="expected auto, cpu, cuda or cuda:N, got 'gpu'"):
        resolve_device("gpu")
    assert autocast_dtype("cpu", "auto") is None and precision_name(None) == "float32"
    assert autocast_dtype("cpu", "bfloat16") is torch.bfloat16 and precision_name(torch.bfloat16) == "bfloat16"
    assert default_workers("cpu") == 0


@pytest.mark.skipif(not NO_CUDA, reason="checks the one-line refusal on a machine without CUDA")
@pytest.mark.parametrize("command", ["judge", "evaluate", "train", "curate", "generate", "generate-bad-device-name"])
def test_device_cuda_without_cuda_is_one_line_on_every_command(cli, capsys, tmp_path: Path, command: str) -> None:
    judge = str(demo_judge())
    images = write_image_folder(tmp_path / "imgs", {"m": (1, 1)}) if command == "judge" else None
    data = build_dataset(tmp_path / "ds", n_per_split={"train": 8, "validation": 4, "test": 4}) \
        if command in ("evaluate", "train") else None
    run = tmp_path / "run"
    if command == "curate":
        assert cli("generate", "--out", run, "--concepts", "nudity", "--limit", "4", "--quiet")[0] == 0
    capsys.readouterr()  # only what the command under test prints
    args = {
        "judge": ("judge", "--judge", judge, "--images", images, "--device", "cuda"),
        "evaluate": ("evaluate", "--judge", judge, "--data", data, "--device", "cuda:0"),
        "train": ("train", "--data", data, "--concept", "object_square", "--out", tmp_path / "J", "--device", "cuda"),
        "curate": ("curate", run, "--quiet", "--set", "judge_agreement.enabled=true",
                   "--set", f"judge_agreement.concepts.nudity.judge={judge}",
                   "--set", "judge_agreement.concepts.nudity.device=cuda"),
        "generate": ("generate", "--out", tmp_path / "run2", "--limit", "2", "--quiet",
                     "--set", "generation.generator=tiny", "--set", f"generation.model={tmp_path / 'tiny'}",
                     "--set", "generation.device=cuda"),
        "generate-bad-device-name": ("generate", "--out", tmp_path / "run3", "--set", "generation.device=gpu"),
    }[command]
    code, _, err = cli(*args)
    # One error line (libraries imported earlier in this test process may still draw a bar).
    lines = [line for line in err.splitlines() if "error" in line]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("dataigm: error: ") and "Traceback" not in err, err
    assert ("CUDA is not available" in err) or ("expected auto, cpu, cuda or cuda:N" in err), err


@pytest.fixture(scope="module")
def encode_data(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("encode")
    return root, build_dataset(root / "ds", n_per_split={"train": 30, "validation": 10, "test": 10})


def _module(ds: Path, backbone: str = "test_vit"):  # noqa: ANN202
    from dataigm.detectors.data import JudgeDataModule, resolve_data_config
    from dataigm.detectors.networks import build_network

    torch.manual_seed(0)
    net = build_network(backbone, "linear", 1)
    return net, JudgeDataModule(str(ds), "object_square", resolve_data_config(net), batch_size=8)


def test_frozen_encode_normalises_on_the_device_and_keys_the_cache_on_precision(encode_data) -> None:
    from torch.utils.data import DataLoader

    from dataigm.detectors.features import cache_key, cached_features, encode

    root, ds = encode_data
    net, dm = _module(ds)
    got, hit = cached_features(net, dm, "test_vit", root / "cache", "cpu", batch_size=8, progress=False)
    assert hit is False and got["train"][0].shape[0] == 30
    # The old path (normalised float tensors from the workers) gives the same features.
    ref = encode(net, DataLoader(dm.image_split("train"), batch_size=8), "cpu", progress=False)
    assert torch.allclose(got["train"][0], ref[0], atol=1e-5) and torch.equal(got["train"][1], ref[1])
    assert cached_features(net, dm, "test_vit", root / "cache", "cpu", progress=False)[1] is True
    assert cache_key(net, dm, "test_vit", None) != cache_key(net, dm, "test_vit", torch.bfloat16)
    # bfloat16 on the CPU: a different cache entry, close to float32, never the float32 one.
    half, hit = cached_features(net, dm, "test_vit", root / "cache", "cpu", precision="bfloat16", progress=False)
    assert hit is False and torch.allclose(half["train"][0], got["train"][0], atol=0.1)
    assert len(list((root / "cache").glob("*.safetensors"))) == 2


SPLIT_SCRIPT = textwrap.dedent('''
    import sys, torch
    sys.path.insert(0, {tests!r})
    from test_devices import _module
    from dataigm.detectors.features import cached_features
    net, dm = _module({ds!r})
    feats, hit = cached_features(net, dm, "test_vit", {cache!r}, "cpu", batch_size=4, progress=False)
    rank = torch.distributed.get_rank()
    with open({out!r} + f"/rank{{rank}}.txt", "w") as fh:  # one file per rank: stdout interleaves
        fh.write(f"{{rank}} {{hit}} {{feats['train'][0].shape[0]}}")
''')


@pytest.mark.slow
def test_encoding_splits_across_processes_and_matches_one_process(encode_data, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    from dataigm.detectors.features import cached_features

    root, ds = encode_data
    script = tmp_path / "encode.py"
    script.write_text(SPLIT_SCRIPT.format(tests=str(Path(__file__).parent), ds=str(ds), cache=str(tmp_path / "c2"),
                                          out=str(tmp_path)))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           str(script)], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = sorted((tmp_path / f"rank{r}.txt").read_text().split() for r in (0, 1))
    assert results == [["0", "False", "30"], ["1", "False", "30"]]  # both ranks got every row, in order
    files = list((tmp_path / "c2").glob("*.safetensors"))
    assert len(files) == 1  # rank 0 wrote the one cache file
    net, dm = _module(ds)
    single, _ = cached_features(net, dm, "test_vit", tmp_path / "c1", "cpu", batch_size=4, progress=False)
    split = load_file(str(files[0]))
    for s in ("train", "validation", "test"):
        assert torch.allclose(split[f"{s}.x"], single[s][0], atol=1e-5)
        assert torch.equal(split[f"{s}.y"], single[s][1])


@pytest.mark.slow
def test_compiled_generation_pads_batches_records_it_and_regenerates_exactly(cli, tmp_path: Path) -> None:
    import numpy as np
    import pyarrow.parquet as pq

    from dataigm.generate import regenerate_image

    run = tmp_path / "run"
    code, _, err = cli("generate", "--out", run, "--concepts", "object_church", "--limit", "6", "--quiet",
                       "--set", "generation.generator=tiny", "--set", f"generation.model={tmp_path / 'tiny'}",
                       "--set", "generation.height=64", "--set", "generation.width=64",
                       "--set", "generation.steps=2", "--set", "generation.batch_size=4",
                       "--set", "generation.compile=true", "--set", "generation.compile_backend=eager")
    assert code == 0, err
    rows = pq.read_table(run / "manifest.parquet").to_pylist()
    assert len(rows) == 6 and all(r["compiled"] is True for r in rows)
    last = max(rows, key=lambda r: (r["pair_id"], r["prompt_set"] != "forget", r["prompt_id"], r["image_index"]))
    again = regenerate_image(run, last)  # its batch held 2 images, padded to 4 both times
    with __import__("PIL.Image").Image.open(run / last["path"]) as im:
        assert np.array_equal(np.asarray(again), np.asarray(im.convert("RGB")))


def test_background_writer_keeps_order_bounds_the_queue_and_raises() -> None:
    from dataigm.background import BackgroundWriter

    running, peak, lock = [0], [0], threading.Lock()

    def job(i: int) -> int:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.01 * (5 - i % 5))  # later jobs finish first
        with lock:
            running[0] -= 1
        return i

    with BackgroundWriter(threads=3, limit=4) as bg:
        futures = [bg.submit(job, i) for i in range(20)]
        assert [f.result() for f in futures] == list(range(20))
    assert peak[0] <= 3

    def fail() -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        with BackgroundWriter(threads=2) as bg:
            bg.submit(fail).result()


def test_training_encodes_and_evaluates_on_the_trainers_device(encode_data, tmp_path: Path, monkeypatch) -> None:
    import dataigm.detectors.train as train_mod
    from dataigm.detectors.config import load_train_config

    _, ds = encode_data
    seen: dict[str, str] = {}
    real_encode, real_evaluate = train_mod.cached_features, train_mod.evaluate

    def encode_spy(*args, **kwargs):  # noqa: ANN002, ANN003
        seen["encode"] = str(args[4])
        return real_encode(*args, **kwargs)

    def evaluate_spy(*args, **kwargs):  # noqa: ANN002, ANN003
        seen["evaluate"] = str(kwargs["device"])
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(train_mod, "cached_features", encode_spy)
    monkeypatch.setattr(train_mod, "evaluate", evaluate_spy)
    cfg = load_train_config("demo", dataset=str(ds), concept="object_square", out=str(tmp_path / "J"),
                            cache_dir=str(tmp_path / "cache"), model={"freeze_backbone": True, "backbone": "test_vit"},
                            optim={"max_epochs": 1}, trainer={"device": "auto", "progress_bar": False})
    result = train_mod.train(cfg)
    expected = "cuda:0" if not NO_CUDA else "cpu"  # auto: the trainer's root device
    assert seen == {"encode": expected, "evaluate": expected} and result.report["test"]["n"] == 10


@pytest.mark.slow
def test_gpu_benchmark_runs_its_code_paths_on_the_cpu(tmp_path: Path) -> None:
    """`python -m benchmarks gpu` has no GPU in CI: its code still runs here with tiny shapes, so
    it cannot rot between GPU sessions (the numbers mean nothing)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from benchmarks.bench_gpu import run

    records = {r["name"]: r for r in run(quick=True, device="cpu", tiny=True)}
    for name in ("gpu/batched_over_per_call@4", "gpu/dataigm_generate_over_raw", "gpu/encode_over_decode_floor",
                 "gpu/reencode_over_cached", "gpu/judge_scoring_gpu_over_cpu"):
        assert records[name]["ratio"] > 0, name
    assert records["gpu/dataigm_generate_over_raw"]["images"] == 8
    assert records["gpu/encode_bfloat16_images_per_s"]["images_per_s"] > 0
