"""Judge networks and configs: IGMU head size, presets validate offline, config errors are one line."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from dataigm.cli import main  # noqa: E402
from dataigm.errors import ConfigError  # noqa: E402
from dataigm.detectors.config import load_train_config  # noqa: E402
from dataigm.detectors.networks import IGMUHead, build_network  # noqa: E402


def test_igmu_head_has_the_published_parameter_count() -> None:
    head = IGMUHead(in_features=512, num_classes=1)
    assert sum(p.numel() for p in head.parameters()) == 428_289
    out = head(torch.randn(4, 512))
    assert out.shape == (4, 1)


def test_igmu_network_outputs_one_logit_for_binary_and_k_for_multiclass() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 3, 32, 32)
    assert build_network("test_resnet", "igmu", 1)(x).shape == (2, 1)
    assert build_network("test_resnet", "igmu", 11)(x).shape == (2, 11)
    assert build_network("test_resnet", "linear", 129)(x).shape == (2, 129)


def test_paper_preset_validates_without_downloading(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # any download attempt would land here
    cfg = load_train_config("paper", dataset="ds", concept="nudity", out="j")
    assert cfg.model.backbone == "vit_base_patch32_clip_quickgelu_224.openai"
    assert cfg.model.head == "igmu" and cfg.model.pretrained and cfg.cached_features
    assert not (tmp_path / "hf").exists()


def test_bad_preset_is_a_one_line_config_error(tmp_path) -> None:
    bad = tmp_path / "judge.yaml"
    bad.write_text("model:\n  head: mlp\n")
    with pytest.raises(ConfigError, match=r"judge.yaml: model.head: must be one of linear, igmu, got 'mlp'"):
        load_train_config(str(bad))
    bad.write_text("model:\n  backbone: no_such_net\n")
    with pytest.raises(ConfigError, match=r"judge.yaml: model.backbone: unknown timm model 'no_such_net'"):
        load_train_config(str(bad))


def test_cli_reports_bad_preset_and_missing_dataset_with_exit_2(tmp_path, capsys) -> None:
    rc = main(["train", "--data", str(tmp_path), "--concept", "x", "--out", str(tmp_path / "j"), "--preset", "nope"])
    err = capsys.readouterr().err
    assert rc == 2 and "unknown judge preset 'nope'" in err and len(err.strip().splitlines()) == 1
    rc = main(["train", "--data", str(tmp_path / "missing"), "--concept", "x", "--out", str(tmp_path / "j")])
    err = capsys.readouterr().err
    assert rc == 2 and "missing" in err and len(err.strip().splitlines()) == 1
