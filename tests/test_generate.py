"""Generation into the store: provenance, determinism, resume after kill -9, limits, locks."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from PIL import Image

from dataigm.manifest import GENERATED_REQUIRED, VOLATILE_COLUMNS

IGMU = ["nudity", "style_vangogh", "object_church", "object_parachute"]


def write_preset(path: Path, *, forget: int = 6, images_per_prompt: int = 2, shard_size: int = 8,
                 batch_size: int = 4, seed: int = 0, concepts: list[str] | None = None,
                 generation_extra: str = "") -> Path:
    concepts = concepts or IGMU
    path.write_text(
        f"name: t\nseed: {seed}\nconcepts: [{', '.join(concepts)}]\n"
        f"prompt_counts:\n  '*': {{forget: {forget}, unrelated_per_entity: 2, neighbour_per_entity: 1}}\n"
        f"generation:\n  generator: toyworld\n  height: 64\n  width: 64\n"
        f"  images_per_prompt: {images_per_prompt}\n  batch_size: {batch_size}\n  shard_size: {shard_size}\n"
        + generation_extra
    )
    return path


def fingerprint(run: Path) -> tuple[list[dict], dict[str, str]]:
    """Manifest rows without the volatile columns, and the sha256 of every image file."""
    table = pq.read_table(run / "manifest.parquet")
    rows = [{k: v for k, v in r.items() if k not in VOLATILE_COLUMNS} for r in table.to_pylist()]
    files = {str(p.relative_to(run)): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted((run / "images").rglob("*.png"))}
    return rows, files


def test_generate_writes_both_labels_with_full_provenance(cli, tmp_path):
    preset = write_preset(tmp_path / "p.yaml")
    run = tmp_path / "run"
    code, out, err = cli("generate", "--preset", preset, "--out", run, "--quiet")
    assert code == 0, err
    table = pq.read_table(run / "manifest.parquet")
    rows = table.to_pylist()
    for concept in IGMU:
        labels = {r["label_id"] for r in rows if r["concept"] == concept}
        assert labels == {0, 1}, concept
    for r in rows:
        for col in GENERATED_REQUIRED:
            assert r[col] is not None, (col, r["id"])
        data = (run / r["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == r["sha256"]
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert (r["label_id"] == 1) == (r["prompt_set"] == "forget")
    assert len({r["id"] for r in rows}) == len(rows)
    # Both images of a pair share their seed; different image indexes do not.
    by_pair: dict[tuple, set] = {}
    for r in rows:
        by_pair.setdefault((r["pair_id"], r["image_index"]), set()).add(r["seed"])
    assert all(len(s) == 1 for s in by_pair.values())
    assert (run / "prompts.parquet").exists() and (run / "run.json").exists()
    assert "nudity: nude" in out


def test_rerun_is_noop_and_same_preset_gives_identical_bytes(cli, tmp_path):
    preset = write_preset(tmp_path / "p.yaml", concepts=["object_church", "nudity"])
    a, b = tmp_path / "a", tmp_path / "b"
    assert cli("generate", "--preset", preset, "--out", a, "--quiet")[0] == 0
    first = fingerprint(a)
    code, out, _ = cli("generate", "--preset", preset, "--out", a, "--quiet")
    assert code == 0 and out.startswith("generated 0 of")
    assert fingerprint(a) == first
    assert cli("generate", "--preset", preset, "--out", b, "--quiet")[0] == 0
    assert fingerprint(b) == first


def test_limit_then_full_run_completes_the_same_store(cli, tmp_path):
    preset = write_preset(tmp_path / "p.yaml", concepts=["object_parachute"])
    full, limited = tmp_path / "full", tmp_path / "limited"
    assert cli("generate", "--preset", preset, "--out", full, "--quiet")[0] == 0
    code, _, _ = cli("generate", "--preset", preset, "--out", limited, "--limit", "5", "--quiet")
    assert code == 0
    assert len(pq.read_table(limited / "manifest.parquet")) == 5
    assert cli("generate", "--preset", preset, "--out", limited, "--quiet")[0] == 0
    assert fingerprint(limited) == fingerprint(full)


def test_changed_preset_on_same_run_is_refused(cli, tmp_path):
    run = tmp_path / "run"
    assert cli("generate", "--preset", write_preset(tmp_path / "p.yaml", concepts=["nudity"]),
               "--out", run, "--quiet")[0] == 0
    before = fingerprint(run)
    code, _, err = cli("generate", "--preset", write_preset(tmp_path / "q.yaml", seed=7, concepts=["nudity"]),
                       "--out", run, "--quiet")
    assert code == 2 and "different preset" in err and err.count("\n") == 1
    assert fingerprint(run) == before


def test_second_process_on_same_run_is_refused(cli, tmp_path):
    run = tmp_path / "run"
    preset = write_preset(tmp_path / "p.yaml", concepts=["nudity"])
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom dataigm.io import RunLock\n"
         f"with RunLock({str(run)!r}):\n    print('locked', flush=True)\n    time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        code, _, err = cli("generate", "--preset", preset, "--out", run, "--quiet")
    finally:
        holder.kill()
        holder.wait()
    assert code == 2 and f"in use by pid {holder.pid}" in err
    assert not (run / "manifest.parquet").exists()


def test_a_process_refused_before_the_holder_wrote_its_pid_still_names_the_holder(tmp_path):
    # The race a concurrent test once hit: the refused process read the lock file in the
    # instant between the holder's flock and its pid write, and named "another process".
    # Here the holder takes the lock, leaves a dead pid in the file, and writes its own late.
    from dataigm.errors import RunLockedError
    from dataigm.io import RunLock

    run = tmp_path / "run"
    run.mkdir()
    (run / ".lock").write_text("pid 999999999")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, time\n"
         f"fh = open({str(run / '.lock')!r}, 'a+')\n"
         "fcntl.flock(fh.fileno(), fcntl.LOCK_EX)\nprint('locked', flush=True)\ntime.sleep(0.4)\n"
         "fh.seek(0); fh.truncate(); fh.write(f'pid {os.getpid()}'); fh.flush()\ntime.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunLockedError) as refused:
            with RunLock(run):
                pass
    finally:
        holder.kill()
        holder.wait()
    assert f"in use by pid {holder.pid};" in str(refused.value)


def test_user_concept_file_generates_without_code_changes(cli, tmp_path):
    from tests.test_taxonomy import VALID

    (tmp_path / "lamp.yaml").write_text(VALID)
    preset = write_preset(tmp_path / "p.yaml", concepts=["lamp.yaml"])
    run = tmp_path / "run"
    code, out, err = cli("generate", "--preset", preset, "--out", run, "--quiet")
    assert code == 0, err
    rows = pq.read_table(run / "manifest.parquet").to_pylist()
    assert {r["label"] for r in rows} == {"other", "lamp"}
    assert {r["taxonomy_path"] for r in rows} == {"object/entity/lamp"}
    # The concept file is snapshotted into the run, so later steps do not need the original.
    assert (run / "concepts" / "object_lamp.yaml").read_text() == VALID


def test_regenerate_one_image_from_its_manifest_row(tmp_path, cli):
    from dataigm.generate import regenerate_image

    preset = write_preset(tmp_path / "p.yaml", concepts=["style_vangogh"])
    run = tmp_path / "run"
    assert cli("generate", "--preset", preset, "--out", run, "--quiet")[0] == 0
    rows = pq.read_table(run / "manifest.parquet").to_pylist()
    for row in random.Random(0).sample(rows, 3):
        again = regenerate_image(run, row)
        stored = Image.open(run / row["path"]).convert("RGB")
        assert again.convert("RGB").tobytes() == stored.tobytes()


def _generate_cmd(preset: Path, run: Path) -> list[str]:
    return [sys.executable, "-m", "dataigm", "generate", "--preset", str(preset), "--out", str(run), "--quiet"]


def _markers(run: Path) -> int:
    return len(list((run / "shards").glob("*.done"))) if (run / "shards").is_dir() else 0


def _wait_for_markers(run: Path, proc: subprocess.Popen, count: int) -> None:
    """Until the run holds `count` finished shards (or the process ended)."""
    while proc.poll() is None and _markers(run) < count:
        time.sleep(0.01)


@pytest.mark.slow
def test_kill_9_at_random_moments_then_resume_matches_uninterrupted_run(tmp_path):
    # 90 images in 8 shards of 12 (128 px toyworld images): each kill waits for a random number
    # of finished shards, then a random fraction of a shard's time, so it lands mid-run however
    # fast or loaded the machine is (start-up imports are not the part under test).
    preset = write_preset(tmp_path / "p.yaml", forget=30, images_per_prompt=3, shard_size=12, batch_size=4)
    preset.write_text(preset.read_text().replace("height: 64\n  width: 64", "height: 128\n  width: 128"))
    reference = tmp_path / "reference"
    proc = subprocess.Popen(_generate_cmd(preset, reference), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for_markers(reference, proc, 1)
    start = time.perf_counter()
    _wait_for_markers(reference, proc, 2)
    shard_seconds = time.perf_counter() - start
    assert proc.wait(timeout=300) == 0
    expected = fingerprint(reference)
    shards = _markers(reference)
    assert shards >= 6

    rng = random.Random(1234)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    interrupted = 0
    for trial in range(2):
        run = tmp_path / f"killed{trial}"
        for _ in range(2):
            proc = subprocess.Popen(_generate_cmd(preset, run), stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, env=env)
            _wait_for_markers(run, proc, min(shards - 1, _markers(run) + rng.randint(1, 2)))
            time.sleep(rng.uniform(0.0, 0.9) * shard_seconds)  # somewhere inside the next shard
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                interrupted += 1
            proc.wait(timeout=60)
        # Resume to completion.
        subprocess.run(_generate_cmd(preset, run), check=True, timeout=300, capture_output=True)
        assert fingerprint(run) == expected, f"trial {trial}"
        assert not list(run.rglob("*.tmp"))
    # The kills must really have landed mid-run for the test to mean anything.
    assert interrupted >= 3, interrupted


@pytest.mark.slow
def test_two_processes_split_the_shards_and_match_a_single_process_run(tmp_path):
    """The multi-GPU route (`accelerate launch`) sets RANK/WORLD_SIZE like torchrun does; on CPU
    torchrun starts two processes that split the pending shards through accelerate."""
    preset = write_preset(tmp_path / "p.yaml", forget=8, concepts=["object_church", "nudity"])
    single, multi = tmp_path / "single", tmp_path / "multi"
    subprocess.run(_generate_cmd(preset, single), check=True, timeout=300, capture_output=True)
    torchrun = Path(sys.executable).with_name("torchrun")
    proc = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "dataigm", "generate",
                           "--preset", str(preset), "--out", str(multi), "--quiet"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    counts = [int(line.split()[1]) for line in proc.stdout.splitlines() if line.startswith("generated ")]
    assert len(counts) == 2 and all(c > 0 for c in counts)  # both processes did part of the work
    assert fingerprint(multi) == fingerprint(single)


def test_tiny_diffusion_pipeline_through_the_store_regenerates_exactly(cli, tmp_path):
    """The `tiny` generator goes through from_pretrained on a local folder; an image regenerated
    from its manifest row equals the stored one byte for byte."""
    from dataigm.generate import regenerate_image

    model_dir = tmp_path / "tiny-sd"
    preset = write_preset(
        tmp_path / "p.yaml", forget=2, images_per_prompt=2, batch_size=3, concepts=["object_church"],
        generation_extra=f"  steps: 2\n  model: {model_dir}\n",
    )
    preset.write_text(preset.read_text().replace("generator: toyworld", "generator: tiny"))
    run = tmp_path / "run"
    code, _, err = cli("generate", "--preset", preset, "--out", run, "--quiet")
    assert code == 0, err
    assert (model_dir / "model_index.json").exists()
    rows = pq.read_table(run / "manifest.parquet").to_pylist()
    assert {r["generator"] for r in rows} == {"tiny"} and {r["steps"] for r in rows} == {2}
    assert all(r["model_revision"] and r["scheduler"] for r in rows)
    for row in rows[:4]:
        again = regenerate_image(run, row)
        assert again.tobytes() == Image.open(run / row["path"]).convert("RGB").tobytes()
