"""The same training code runs under Trainer(devices=N, strategy="ddp"): two CPU processes (gloo)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from judgefixtures import build_dataset


@pytest.mark.slow
def test_train_under_ddp_on_two_cpu_processes(tmp_path: Path) -> None:
    data = build_dataset(tmp_path / "ds", n_per_split={"train": 80, "validation": 24, "test": 24})
    out = tmp_path / "judge"
    proc = subprocess.run([sys.executable, "-m", "dataigm", "train", "--data", str(data), "--concept",
                           "object_square", "--out", str(out), "--preset", "demo", "--devices", "2",
                           "--strategy", "ddp", "--max-epochs", "8"],
                          capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Starting with 2 processes" in proc.stdout + proc.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    # Final metrics are computed once, on one device, over every test image (no DDP padding).
    assert metrics["test"]["n"] == 24 and metrics["test"]["accuracy"] >= 0.9
    assert (out / "model.safetensors").exists() and (out / "README.md").exists()
