"""Judge folder export: timm's `save_for_hf` (safetensors + config.json) + a "dataigm" block + card.

JUDGE/model.safetensors, JUDGE/config.json (architecture, num_classes, label_names, model_args,
pretrained_cfg, and "dataigm": concept, positive_label, threshold, head, dataset id and
fingerprint, metrics), JUDGE/README.md. `timm.create_model("local-dir:JUDGE", pretrained=True)`
loads it (after `import dataigm.detectors` for IGMU-head judges); `load_network` is our own loader,
which checks every field and tensor and reports a damaged folder in one line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import timm
import torch
from torch import nn

from dataigm.errors import ConfigError, InputError
from dataigm.io import atomic_write_text, share_file
from dataigm.judge_folder import CARD, CONFIG, WEIGHTS, JudgeFolder, bad_field
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
    """Write the judge files into `out`, a staging folder: `train` seals it and swaps it in whole
    (dataigm.judge_folder). Weights that are not finite (a diverged training) are refused."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    require_finite_weights(network)
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
    timm.models.save_for_hf(
        network.eval(),
        out,
        model_config={"label_names": list(label_names), "dataigm": block},
        model_args=export_model_args(network, head, backbone),
        safe_serialization=True,
        data_config=data_cfg,
    )
    share_file(out / WEIGHTS)  # safetensors writes 0600; a judge folder is meant to be shared
    card = judge_card_text(block, report, backbone_pretrained=backbone_pretrained, data_config=data_cfg, license=license)
    atomic_write_text(out / CARD, card)
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


def require_finite_weights(network: nn.Module) -> None:
    """Refuse to evaluate or export a network whose weights hold NaN or inf (a diverged training)."""
    bad = non_finite_tensor(network.state_dict())
    if bad is not None:
        raise ConfigError(f"training diverged: weight '{bad}' holds NaN or infinite values; nothing was "
                          "exported (lower optim.lr or check the data)")


def non_finite_tensor(state: dict[str, torch.Tensor]) -> str | None:
    """The name of the first floating-point tensor holding NaN or inf, or None."""
    for key, value in state.items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            return key
    return None


def _build(cfg: dict[str, Any], where: str) -> nn.Module:
    arch = cfg["architecture"]
    args = dict(cfg.get("model_args", {}))
    args.setdefault("num_classes", cfg["num_classes"])
    if arch != IGMU_ARCH and not timm.is_model(arch):
        raise bad_field(where, "architecture", "not a timm model (nor dataigm_igmu)", arch)
    try:
        if arch == IGMU_ARCH:
            model: nn.Module = IGMUClassifier(**args)
            model.pretrained_cfg = dict(cfg.get("pretrained_cfg", {}), architecture=IGMU_ARCH)
        else:
            model = timm.create_model(arch, pretrained=False, **args)
            model.pretrained_cfg = dict(model.pretrained_cfg, **cfg.get("pretrained_cfg", {}))
    except Exception as exc:  # noqa: BLE001 - any constructor failure means bad model_args
        raise InputError(f"{where}: cannot build {arch!r} from model_args {json.dumps(args)[:120]}: "
                         f"{type(exc).__name__}: {str(exc)[:120]}") from None
    return model


def _read_weights(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    if not path.is_file():
        raise InputError(f"{path}: judge weights missing")
    try:
        return load_file(str(path))
    except Exception as exc:  # noqa: BLE001 - truncated, empty or foreign bytes: all one reason
        raise InputError(f"{path}: not a readable safetensors file ({type(exc).__name__}: "
                         f"{' '.join(str(exc).split())[:120]})") from None


def _check_fit(model: nn.Module, state: dict[str, torch.Tensor], path: Path, arch: str) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    wrong = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing (e.g. '{missing[0]}')")
    if extra:
        problems.append(f"{len(extra)} unexpected (e.g. '{extra[0]}')")
    if wrong:
        k = wrong[0]
        problems.append(f"{len(wrong)} of the wrong shape (e.g. '{k}': {list(state[k].shape)}, "
                        f"expected {list(expected[k].shape)})")
    if problems:
        raise InputError(f"{path}: tensors do not fit architecture {arch!r}: {', '.join(problems)}")
    bad = non_finite_tensor(state)
    if bad is not None:
        raise InputError(f"{path}: tensor '{bad}' holds NaN or infinite values; the judge is damaged")


def load_network(folder: str | Path, require_marker: bool = True) -> tuple[nn.Module, dict[str, Any]]:
    """Our loader: rebuild the architecture from config.json, load model.safetensors strictly.

    A local judge must be finished (its marker present, config and weights as recorded);
    `require_marker=False` is for hub snapshots, whose commit is atomic (a marker there is
    still checked). Every defect is a one-line InputError, never a traceback."""
    jf = JudgeFolder(folder)
    if require_marker or jf.is_finished():
        jf.require_finished((CONFIG, WEIGHTS))
    cfg = jf.read_config()
    model = _build(cfg, str(jf.config_path))
    state = _read_weights(jf.weights_path)
    _check_fit(model, state, jf.weights_path, cfg["architecture"])
    model.load_state_dict(state, strict=True)
    _check_outputs(model.eval(), cfg, jf.weights_path)
    return model, cfg


def _check_outputs(model: nn.Module, cfg: dict[str, Any], path: Path) -> None:
    """One forward pass on a fixed test image: finite weights can still give NaN scores (e.g. a
    negative running variance), and such a judge must be refused before it scores anything."""
    size = cfg.get("pretrained_cfg", {}).get("input_size", [3, 224, 224])
    x = torch.rand((2, *size), generator=torch.Generator().manual_seed(0))
    try:
        with torch.no_grad():
            out = model(x)
    except Exception as exc:  # noqa: BLE001 - a network that cannot run is a damaged judge
        raise InputError(f"{path}: the judge network fails on a {size[1]}x{size[2]} test image: "
                         f"{type(exc).__name__}: {' '.join(str(exc).split())[:120]}") from None
    if not bool(torch.isfinite(out).all()):
        raise InputError(f"{path}: the judge network outputs NaN or infinite scores on a test image; "
                         "the judge is damaged")
