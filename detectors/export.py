"""Judge folder export: timm's `save_for_hf` (safetensors + config.json) + a "dataigm" block + card.

JUDGE/model.safetensors, JUDGE/config.json (architecture, num_classes, label_names, model_args,
pretrained_cfg, and "dataigm": concept, positive_label, threshold, head, dataset id and
fingerprint, metrics), JUDGE/README.md. `timm.create_model("local-dir:JUDGE", pretrained=True)`
loads it (after `import dataigm.detectors` for IGMU-head judges); `load_network` is our own loader.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import timm
from safetensors.torch import load_file
from torch import nn

from dataigm.errors import InputError
from dataigm.io import atomic_path, atomic_write_text
from dataigm.detectors.networks import IGMU_ARCH, IGMUClassifier, export_model_args


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def export_judge(
    network: nn.Module,
    out: str | Path,
    *,
    head: str,
    backbone: str,
    backbone_pretrained: bool,
    frozen: bool,
    label_names: list[str],
    data_config: dict[str, Any],
    report: dict[str, Any],
    license: str = "apache-2.0",
) -> Path:
    """Write the judge folder; each file lands atomically."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    block = {
        "concept": report["concept"],
        "label_names": list(label_names),
        "positive_label": label_names[1] if len(label_names) == 2 else None,
        "threshold": report["threshold"],
        "threshold_rule": report["threshold_rule"],
        "head": head,
        "backbone": backbone,
        "frozen_backbone": frozen,
        "output": "sigmoid" if len(label_names) == 2 else "softmax",
        "dataset_id": report["dataset"],
        "dataset_fingerprint": report["dataset_fingerprint"],
        "metrics": {"test": report["test"], "validation": report["validation"]},
    }
    data_cfg = {k: data_config[k] for k in ("input_size", "mean", "std", "crop_pct", "interpolation") if k in data_config}
    with tempfile.TemporaryDirectory(dir=out, prefix=".export-") as tmp:
        timm.models.save_for_hf(
            network.eval(),
            tmp,
            model_config={"label_names": list(label_names), "dataigm": block},
            model_args=export_model_args(network, head, backbone),
            safe_serialization=True,
            data_config=data_cfg,
        )
        for name in ("model.safetensors", "config.json"):
            with atomic_path(out / name) as dst:
                shutil.copyfile(os.path.join(tmp, name), dst)
    card = judge_card_text(block, report, backbone_pretrained=backbone_pretrained, data_config=data_cfg, license=license)
    atomic_write_text(out / "README.md", card)
    return out


def judge_card_text(block: dict[str, Any], report: dict[str, Any], *, backbone_pretrained: bool, data_config: dict[str, Any], license: str) -> str:
    from dataigm.cards import render

    return render(
        "judge_card.md.j2",
        concept=block["concept"],
        dataset_id=block["dataset_id"],
        dataset_fingerprint=block["dataset_fingerprint"],
        label_names=block["label_names"],
        positive_label=block["positive_label"] or "(any non-zero label)",
        backbone=block["backbone"],
        backbone_pretrained=backbone_pretrained,
        frozen=block["frozen_backbone"],
        head=block["head"],
        binary=len(block["label_names"]) == 2,
        threshold=block["threshold"],
        threshold_rule=block["threshold_rule"],
        input_size=list(data_config["input_size"]),
        mean=[round(v, 4) for v in data_config["mean"]],
        std=[round(v, 4) for v in data_config["std"]],
        interpolation=data_config.get("interpolation", "bilinear"),
        test=report["test"],
        slices=report["slices"],
        license=license,
        fmt=_fmt,
    )


def read_judge_config(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / "config.json"
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: not a judge folder (config.json missing)") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: unreadable judge config: {exc}") from None
    if "architecture" not in cfg:
        raise InputError(f"{path}: field 'architecture' missing (not a timm config)")
    return cfg


def load_network(folder: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """Our loader: rebuild the architecture from config.json, load model.safetensors strictly."""
    folder = Path(folder)
    cfg = read_judge_config(folder)
    weights = folder / "model.safetensors"
    if not weights.is_file():
        raise InputError(f"{weights}: judge weights missing")
    args = dict(cfg.get("model_args", {}))
    args.setdefault("num_classes", cfg["num_classes"])
    if cfg["architecture"] == IGMU_ARCH:
        model: nn.Module = IGMUClassifier(**args)
        model.pretrained_cfg = dict(cfg.get("pretrained_cfg", {}), architecture=IGMU_ARCH)
    else:
        model = timm.create_model(cfg["architecture"], pretrained=False, **args)
        model.pretrained_cfg = dict(model.pretrained_cfg, **cfg.get("pretrained_cfg", {}))
    model.load_state_dict(load_file(str(weights)), strict=True)
    return model.eval(), cfg
