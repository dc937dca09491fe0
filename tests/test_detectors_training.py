"""Judge training on the synthetic fixture dataset: targets, exported files, slices, cache."""

from __future__ import annotations

import json
import os

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(1)

from judgefixtures import build_dataset, demo_judge, fixture_dataset, igmu_judge  # noqa: E402

from dataigm.detectors.config import load_train_config  # noqa: E402
from dataigm.detectors.train import train  # noqa: E402


def test_demo_judge_reaches_targets_and_writes_a_complete_folder() -> None:
    judge = demo_judge()
    metrics = json.loads((judge / "metrics.json").read_text())
    test = metrics["test"]
    assert test["accuracy"] >= 0.95 and test["auroc"] >= 0.98
    assert 0.0 <= test["ece"] <= 0.2
    assert sum(map(sum, test["confusion_matrix"])) == test["n"] == 60
    # threshold chosen on validation and applied to test; every metric per slice
    assert 0.0 < metrics["threshold"] < 1.0 and metrics["threshold_rule"] == "max_f1"
    assert set(metrics["slices"]["source"]) == {"generated", "web", "real"}
    assert set(metrics["slices"]["generator"]) == {"toyworld", "(none)"}
    assert sum(m["n"] for m in metrics["slices"]["source"].values()) == 60
    for name in ("model.safetensors", "config.json", "README.md", "roc.png", "reliability.png"):
        assert (judge / name).stat().st_size > 0, name
    assert (judge / "roc.png").read_bytes()[:4] == b"\x89PNG"
    cfg = json.loads((judge / "config.json").read_text())
    assert cfg["architecture"] == "test_resnet" and cfg["num_classes"] == 1
    assert cfg["label_names"] == ["other", "square"]
    block = cfg["dataigm"]
    assert block["concept"] == "object_square" and block["positive_label"] == "square"
    assert block["threshold"] == metrics["threshold"] and block["head"] == "linear"
    assert block["dataset_fingerprint"] == metrics["dataset_fingerprint"]
    card = (judge / "README.md").read_text()
    assert "library_name: timm" in card and "source = `web`" in card and f"{test['accuracy']:.3f}" in card
    assert not list(judge.rglob("*.ckpt")) and not list(judge.rglob("*.pt")) and not list(judge.rglob("*.bin"))
    assert list((judge / "training" / "logs").rglob("metrics.csv"))


def test_frozen_igmu_judge_trains_on_cached_features_and_reuses_the_cache() -> None:
    out, result = igmu_judge()
    assert result.timings["encode_s"] > 0 and result.report["test"]["auroc"] >= 0.8
    assert json.loads((out / "config.json").read_text())["architecture"] == "dataigm_igmu"
    # Same dataset, backbone weights and transform: the second run reads the cache.
    cfg = load_train_config("demo", dataset=str(fixture_dataset()), concept="object_square",
                            out=str(out.parent / "judge-igmu-2"), cache_dir=str(out.parent / "cache"),
                            model={"head": "igmu", "freeze_backbone": True, "image_size": 64},
                            optim={"lr": 0.001, "max_epochs": 1, "monitor": "val_auroc"},
                            trainer={"device": "cpu", "progress_bar": False})
    again = train(cfg)
    assert result.cache_hit is False and again.cache_hit is True
    cache_files = list((out.parent / "cache").glob("*.safetensors"))
    assert len(cache_files) == 1


def test_multiclass_judge_trains_like_binary(tmp_path) -> None:
    ds = build_dataset(tmp_path / "mc", concept="object_multi", label_names=("other", "disc", "square"),
                       n_per_split={"train": 90, "validation": 30, "test": 30}, seed=3)
    cfg = load_train_config("demo", dataset=str(ds), concept="object_multi", out=str(tmp_path / "j"),
                            optim={"lr": 0.003, "max_epochs": 15, "patience": 6, "monitor": "val_loss"},
                            model={"freeze_backbone": False, "image_size": 64},
                            trainer={"device": "cpu", "progress_bar": False})
    result = train(cfg)
    test = result.report["test"]
    assert test["accuracy"] >= 0.9 and len(test["confusion_matrix"]) == 3
    assert result.report["threshold"] is None and result.report["threshold_rule"] == "argmax"
    cfg_json = json.loads((tmp_path / "j" / "config.json").read_text())
    assert cfg_json["num_classes"] == 3 and cfg_json["label_names"] == ["other", "disc", "square"]


def test_sampler_balancing_and_target_fpr_threshold(tmp_path) -> None:
    ds = build_dataset(tmp_path / "skew", positive_share=0.2, n_per_split={"train": 80, "validation": 40, "test": 40},
                       seed=5)
    cfg = load_train_config("demo", dataset=str(ds), concept="object_square", out=str(tmp_path / "j"),
                            loader={"balance": "sampler", "batch_size": 16},
                            optim={"lr": 0.003, "max_epochs": 6, "patience": 6, "monitor": "val_loss"},
                            threshold={"rule": "target_fpr", "target_fpr": 0.1},
                            trainer={"device": "cpu", "progress_bar": False})
    report = train(cfg).report
    assert report["threshold_rule"] == "target_fpr"
    # the chosen threshold keeps the validation false-positive rate at or under the target
    (tn, fp), _ = report["validation"]["confusion_matrix"]
    assert fp / (tn + fp) <= 0.1


def test_dataigm_evaluate_reproduces_the_exported_metrics(tmp_path, capsys) -> None:
    from dataigm.cli import main

    judge = demo_judge()
    rc = main(["evaluate", "--judge", str(judge), "--data", str(fixture_dataset()), "--out", str(tmp_path)])
    assert rc == 0 and "source=web" in capsys.readouterr().out
    again = json.loads((tmp_path / "metrics.json").read_text())
    saved = json.loads((judge / "config.json").read_text())["dataigm"]
    assert again["threshold"] == saved["threshold"] and again["threshold_rule"] == "given"
    assert again["test"]["accuracy"] == saved["metrics"]["test"]["accuracy"]
    assert again["test"]["auroc"] == saved["metrics"]["test"]["auroc"]
    assert (tmp_path / "roc.png").exists() and (tmp_path / "reliability.png").exists()
