"""Reliability: full disk, read-only output, concurrent runs, malformed presets.

The kill -9 resume test lives in test_generate.py; the malformed concept files in
test_taxonomy.py; odd and broken image files in test_ingest.py.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.test_generate import fingerprint, write_preset


def assert_finished_shards_are_whole(run: Path) -> int:
    """Every shard with a marker has its parquet and every image it lists, with matching bytes."""
    finished = 0
    for marker in (run / "shards").glob("*.done") if (run / "shards").exists() else []:
        table = pq.read_table(marker.with_suffix(".parquet"))
        for row in table.to_pylist():
            data = (run / row["path"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == row["sha256"], row["path"]
        finished += 1
    return finished


@contextlib.contextmanager
def tmpfs(mnt: Path, options: str):
    """A real tmpfs mounted at `mnt` (needs root and mount rights; skips the test otherwise)."""
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mnt)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.strip()}); injected ENOSPC test covers it")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.fixture
def small_tmpfs(tmp_path):
    """A real 192 KiB file system, so the disk really fills up."""
    with tmpfs(tmp_path / "small", "size=192k") as mnt:
        yield mnt


def test_really_full_disk_gives_one_line_and_no_broken_finished_shard(cli, tmp_path, small_tmpfs):
    preset = write_preset(tmp_path / "p.yaml", forget=30, images_per_prompt=3, shard_size=12)
    run = small_tmpfs / "run"
    code, _, err = cli("generate", "--preset", preset, "--out", run, "--quiet")
    assert code == 2, err
    assert err.count("\n") == 1 and "no space left on device" in err
    assert assert_finished_shards_are_whole(run) >= 1
    assert not list(run.rglob("*.tmp"))


def test_injected_enospc_then_resume_completes_identically(cli, tmp_path, monkeypatch):
    preset = write_preset(tmp_path / "p.yaml", forget=10, concepts=["object_church", "nudity"])
    reference = tmp_path / "reference"
    assert cli("generate", "--preset", preset, "--out", reference, "--quiet")[0] == 0

    run = tmp_path / "run"
    real_fsync = os.fsync
    calls = {"n": 0}

    def failing_fsync(fd: int) -> None:
        calls["n"] += 1
        if calls["n"] > 25:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    code, _, err = cli("generate", "--preset", preset, "--out", run, "--quiet")
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert code == 2 and err.count("\n") == 1 and "no space left on device" in err
    assert_finished_shards_are_whole(run)
    assert not list(run.rglob("*.tmp"))
    assert cli("generate", "--preset", preset, "--out", run, "--quiet")[0] == 0
    assert fingerprint(run) == fingerprint(reference)


def test_read_only_output_gives_one_line(cli, tmp_path):
    preset = write_preset(tmp_path / "p.yaml", concepts=["nudity"])
    with tmpfs(tmp_path / "ro", "ro,size=64k") as mnt:
        code, _, err = cli("generate", "--preset", preset, "--out", mnt / "run", "--quiet")
    assert code == 2 and err.count("\n") == 1 and "read-only file system" in err.lower()


def test_output_under_a_file_gives_one_line(cli, tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    preset = write_preset(tmp_path / "p.yaml", concepts=["nudity"])
    code, _, err = cli("generate", "--preset", preset, "--out", blocker / "run", "--quiet")
    assert code == 2 and err.count("\n") == 1 and "not_a_folder" in err
    assert blocker.read_text() == "x"


def test_two_processes_on_one_run_second_is_refused(cli, tmp_path):
    preset = write_preset(tmp_path / "p.yaml", forget=40, images_per_prompt=4, shard_size=16, batch_size=2)
    reference, run = tmp_path / "reference", tmp_path / "run"
    cmd = [sys.executable, "-m", "dataigm", "generate", "--preset", str(preset), "--quiet", "--out"]
    assert cli("generate", "--preset", preset, "--quiet", "--out", reference)[0] == 0
    first = subprocess.Popen(cmd + [str(run)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while not (run / ".lock").exists() or "pid" not in (run / ".lock").read_text():
            assert time.time() < deadline and first.poll() is None
            time.sleep(0.05)
        # Freeze the first run while it holds the lock, so the second one surely meets it
        # (a fast machine could otherwise finish the first run before the second starts).
        os.kill(first.pid, signal.SIGSTOP)
        assert first.poll() is None, "first run ended before it could be paused; make the workload bigger"
        second = subprocess.run(cmd + [str(run)], capture_output=True, text=True, timeout=120)
        assert second.returncode == 2
        assert second.stderr.count("\n") == 1 and f"in use by pid {first.pid}" in second.stderr
    finally:
        os.kill(first.pid, signal.SIGCONT)
        out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert fingerprint(run) == fingerprint(reference)


PRESET_OK = "name: x\nconcepts: [nudity]\ngeneration: {generator: toyworld, height: 64, width: 64}\n"
MALFORMED_PRESETS = {
    "unknown_top_key": (PRESET_OK + "colour: red\n", "colour: unknown key"),
    "unknown_generation_key": (PRESET_OK.replace("height: 64", "heigth: 64"), "generation.heigth: unknown key"),
    "bad_generator": (PRESET_OK.replace("toyworld", "dalle"), "generation.generator: unknown generator 'dalle'"),
    "size_not_multiple_of_8": (PRESET_OK.replace("height: 64", "height: 60"), "generation.height"),
    "diffusers_without_model": (PRESET_OK.replace("toyworld", "diffusers"), "generation.model: required"),
    "no_concepts": ("name: x\nconcepts: []\n", "concepts: must name at least one"),
    "unknown_concept": (PRESET_OK.replace("[nudity]", "[nudity, unicorns]"), "unknown concept 'unicorns'"),
    "missing_concept_file": (PRESET_OK.replace("[nudity]", "[./missing.yaml]"), "missing.yaml: file not found"),
    "counts_for_other_concept": (PRESET_OK + "prompt_counts: {object_church: {forget: 3}}\n",
                                 "prompt_counts.object_church: not a concept"),
    "negative_count": (PRESET_OK + "prompt_counts: {'*': {forget: -2}}\n", "prompt_counts.nudity.forget"),
    "ingest_other_concept": (PRESET_OK + "sources: [{concept: object_church, source: web, paths: [x]}]\n",
                             "sources[0].concept"),
    "ingest_older_section_name": (PRESET_OK + "ingest: [{concept: object_church, source: web, paths: [x]}]\n",
                                  "sources[0].concept"),
    "ingest_generated_without_generator": (
        PRESET_OK + "sources: [{concept: nudity, source: sd, paths: [x], source_type: generated}]\n",
        "sources[0].generator: generated images need --generator or --model-id"),
    "batch_size_string": (PRESET_OK.replace("width: 64", "width: 64, batch_size: eight"),
                          "generation.batch_size: expected an integer"),
    "split_fractions": (PRESET_OK + "export: {split: {fractions: {train: 0.9, validation: 0.3, test: 0.1}}}\n",
                        "export.split"),
    "curation_unknown_key": (PRESET_OK + "curation: {no_such_step: 1}\n", "curation.no_such_step"),
    "yaml_syntax": ("name: x\nconcepts: [nudity\n", "invalid YAML"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED_PRESETS))
def test_malformed_preset_gives_one_line_and_writes_nothing(cli, tmp_path, case):
    content, expected = MALFORMED_PRESETS[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(content)
    run = tmp_path / f"run-{uuid.uuid4().hex[:6]}"
    for command in (("plan", "--preset", path), ("generate", "--preset", path, "--out", run)):
        code, out, err = cli(*command)
        assert code == 2, (command, out, err)
        assert err.count("\n") == 1 and err.startswith("dataigm: error: ") and expected in err, err
    assert not run.exists()
