"""Exported judge folders round-trip: our loader, timm's local-dir loader and the Judge API agree."""

from __future__ import annotations

import os

import numpy as np
import pytest
import timm
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(1)

from judgefixtures import demo_judge, igmu_judge, make_image  # noqa: E402

import dataigm.detectors  # noqa: E402,F401  (registers dataigm_igmu with timm)
from dataigm.errors import InputError  # noqa: E402
from dataigm.detectors import Judge  # noqa: E402
from dataigm.detectors.export import load_network  # noqa: E402


@pytest.mark.parametrize("which", ["linear", "igmu"])
def test_timm_local_dir_and_our_loader_give_identical_logits(which: str) -> None:
    folder = demo_judge() if which == "linear" else igmu_judge()[0]
    ours, cfg = load_network(folder)
    theirs = timm.create_model(f"local-dir:{folder}", pretrained=True).eval()
    x = torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(ours(x), theirs(x))
    data_cfg = timm.data.resolve_model_data_config(theirs)
    assert data_cfg["input_size"] == (3, 64, 64) and data_cfg["crop_pct"] == 1.0
    assert cfg["dataigm"]["head"] == which


def test_judge_api_matches_the_exported_threshold_and_the_network() -> None:
    folder = demo_judge()
    judge = Judge.from_pretrained(str(folder))
    rng = np.random.default_rng(42)
    labels = [i % 2 for i in range(20)]
    images = [make_image(y, rng) for y in labels]
    pred = judge.predict(images, batch_size=7)
    assert pred.probabilities.shape == (20,) and pred.decisions.dtype == bool
    assert np.array_equal(pred.decisions, pred.probabilities >= judge.threshold)
    assert set(pred.labels) <= {"other", "square"}
    assert (pred.decisions == np.array(labels, bool)).mean() >= 0.9


def test_unknown_judge_name_is_an_input_error(tmp_path) -> None:
    with pytest.raises(InputError, match="not a judge folder"):
        Judge.from_pretrained(str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="not a finished dataigm judge"):
        Judge.from_pretrained(str(tmp_path / "empty"))
