"""Judge evaluation: threshold chosen on validation, metrics on test, per-slice breakdowns, plots.

Runs on one device in a plain loop (not under DDP), because distributed evaluation pads the last
batch with replicated samples and would bias test and calibration numbers.

Binary judges: the score is P(label 1 = concept present); the threshold comes from validation
(max F1, a target false-positive rate, or fixed) and is applied to test. K-class judges: argmax,
macro-averaged metrics; `present_score` = 1 - P(label 0) for ROC and folder scoring.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torchmetrics.functional.classification as C
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from tqdm.auto import tqdm

from dataigm.io import atomic_write_json
from dataigm.judging import check_probabilities
from dataigm.detectors.networks import classifier

SLICE_COLUMNS = ("source", "generator", "source_name")


@torch.no_grad()
def predict_probabilities(
    network: nn.Module,
    loader: DataLoader,
    num_labels: int,
    on_features: bool = False,
    device: torch.device | str = "cpu",
) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, labels): (N,) for binary judges, (N, K) for K-class judges."""
    network.eval().to(device)
    head = classifier(network)
    probs, labels = [], []
    for x, y in tqdm(loader, desc="predict", leave=False):
        logits = head(x.to(device)) if on_features else network(x.to(device))
        logits = logits.float().cpu()
        probs.append(torch.sigmoid(logits.squeeze(-1)) if num_labels == 2 else torch.softmax(logits, -1))
        labels.append(torch.as_tensor(y))
    return check_probabilities(torch.cat(probs).numpy(), "judge"), torch.cat(labels).numpy()


def split_loader(dm: Any, split: str, features: dict[str, tuple[torch.Tensor, torch.Tensor]] | None, batch_size: int) -> DataLoader:
    data = TensorDataset(*features[split]) if features is not None else dm.image_split(split, train=False)
    return DataLoader(data, batch_size=batch_size, shuffle=False)


def choose_threshold(y: np.ndarray, p: np.ndarray, rule: str = "max_f1", target_fpr: float = 0.05, value: float = 0.5) -> float:
    """Decision threshold on validation scores of a binary judge."""
    if rule == "fixed" or len(np.unique(y)) < 2:
        return float(value)
    yt, pt = torch.as_tensor(y), torch.as_tensor(p, dtype=torch.float32)
    if rule == "max_f1":
        precision, recall, thresholds = C.binary_precision_recall_curve(pt, yt)
        f1 = 2 * precision * recall / (precision + recall).clamp_min(1e-12)
        best = int(torch.argmax(f1[:-1]))  # the last point has no threshold
        cut = float(thresholds[best])
        # Every threshold between the best cut and the next lower validation score makes the same
        # validation decisions; the middle of that gap keeps the widest margin on both sides
        # (the cut itself sits right on a positive score and generalises worst on small sets).
        below = p[p < cut]
        return (cut + float(below.max())) / 2 if below.size else cut
    if rule == "target_fpr":
        fpr, tpr, thresholds = C.binary_roc(pt, yt)
        ok = torch.nonzero(fpr <= target_fpr).flatten()
        best = int(ok[torch.argmax(tpr[ok])])
        return float(min(thresholds[best].item(), 1.0))
    raise ValueError(f"unknown threshold rule {rule!r}")


def _num(t: torch.Tensor) -> float | None:
    v = float(t)
    return None if math.isnan(v) else round(v, 6)


def compute_metrics(y: np.ndarray, p: np.ndarray, num_labels: int, threshold: float = 0.5) -> dict[str, Any]:
    """accuracy, precision, recall, F1, AUROC, ECE (L1 calibration error), confusion matrix."""
    yt = torch.as_tensor(y, dtype=torch.long)
    pt = torch.as_tensor(p, dtype=torch.float32)
    out: dict[str, Any] = {"n": int(len(y))}
    if len(y) == 0:
        return out
    both = len(np.unique(y)) > 1
    if num_labels == 2:
        out.update(
            accuracy=_num(C.binary_accuracy(pt, yt, threshold=threshold)),
            precision=_num(C.binary_precision(pt, yt, threshold=threshold)),
            recall=_num(C.binary_recall(pt, yt, threshold=threshold)),
            f1=_num(C.binary_f1_score(pt, yt, threshold=threshold)),
            auroc=_num(C.binary_auroc(pt, yt)) if both else None,
            ece=_num(C.binary_calibration_error(pt, yt, n_bins=10, norm="l1")),
            positive_rate=round(float((p >= threshold).mean()), 6),
            confusion_matrix=C.binary_confusion_matrix(pt, yt, threshold=threshold).tolist(),
        )
    else:
        kw = {"num_classes": num_labels, "average": "macro"}
        out.update(
            accuracy=_num(C.multiclass_accuracy(pt, yt, average="micro", num_classes=num_labels)),
            precision=_num(C.multiclass_precision(pt, yt, **kw)),
            recall=_num(C.multiclass_recall(pt, yt, **kw)),
            f1=_num(C.multiclass_f1_score(pt, yt, **kw)),
            auroc=_num(C.multiclass_auroc(pt, yt, **kw)) if both else None,
            ece=_num(C.multiclass_calibration_error(pt, yt, num_classes=num_labels, n_bins=10, norm="l1")),
            confusion_matrix=C.multiclass_confusion_matrix(pt, yt, num_classes=num_labels).tolist(),
        )
    return out


def slice_metrics(y: np.ndarray, p: np.ndarray, columns: dict[str, list[Any]], num_labels: int, threshold: float) -> dict[str, dict[str, Any]]:
    """Every metric again per value of each slice column (source, generator, source_name)."""
    out: dict[str, dict[str, Any]] = {}
    for name, values in columns.items():
        arr = np.asarray([str(v) if v not in (None, "") else "(none)" for v in values])
        out[name] = {v: compute_metrics(y[arr == v], p[arr == v], num_labels, threshold) for v in sorted(set(arr))}
    return out


def present_score(p: np.ndarray) -> np.ndarray:
    return p if p.ndim == 1 else 1.0 - p[:, 0]


def plot_roc(y: np.ndarray, p: np.ndarray, sources: list[Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    score, present = present_score(p), (y != 0).astype(int)
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    groups = [("all", np.ones(len(y), bool))] + [(s, np.asarray(sources) == s) for s in sorted(set(sources))]
    for name, mask in groups:
        if len(np.unique(present[mask])) < 2:
            continue
        fpr, tpr, _ = C.binary_roc(torch.as_tensor(score[mask]), torch.as_tensor(present[mask]))
        auc = float(C.binary_auroc(torch.as_tensor(score[mask]), torch.as_tensor(present[mask])))
        ax.plot(fpr.numpy(), tpr.numpy(), label=f"{name} (AUROC {auc:.3f})", lw=2 if name == "all" else 1)
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set(xlabel="false-positive rate", ylabel="true-positive rate", title="ROC (test)")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    _save_fig(fig, path)


def plot_reliability(y: np.ndarray, p: np.ndarray, path: Path, n_bins: int = 10) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if p.ndim == 1:
        conf, correct = p, (y == 1).astype(float)  # P(present) against the observed frequency
    else:
        conf, correct = p.max(1), (p.argmax(1) == y).astype(float)
    edges = np.linspace(0, 1, n_bins + 1)
    idx = np.clip(np.digitize(conf, edges[1:-1]), 0, n_bins - 1)
    xs, ys, ns = [], [], []
    for b in range(n_bins):
        m = idx == b
        if m.any():
            xs.append(conf[m].mean()); ys.append(correct[m].mean()); ns.append(int(m.sum()))
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.plot(xs, ys, "o-")
    for x, yv, n in zip(xs, ys, ns):
        ax.annotate(str(n), (x, yv), fontsize=6, textcoords="offset points", xytext=(3, -8))
    ax.set(xlabel="predicted probability", ylabel="observed frequency", title="reliability (test)", xlim=(0, 1), ylim=(0, 1))
    fig.tight_layout()
    _save_fig(fig, path)


def _save_fig(fig: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    from dataigm.io import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def evaluate(
    network: nn.Module,
    dm: Any,
    threshold_rule: str = "max_f1",
    target_fpr: float = 0.05,
    fixed_threshold: float = 0.5,
    features: dict[str, tuple[torch.Tensor, torch.Tensor]] | None = None,
    out_dir: str | Path | None = None,
    batch_size: int = 64,
    threshold: float | None = None,
    device: torch.device | str = "cpu",
) -> dict[str, Any]:
    """Full report; writes metrics.json, roc.png, reliability.png to out_dir when given.

    `threshold` (e.g. a published judge's own) skips choosing one on validation. `device`: where
    the network runs (training passes the trainer's root device).
    """
    labels = dm.label_names
    k = len(labels)
    on_features = features is not None
    p_val, y_val = predict_probabilities(network, split_loader(dm, "validation", features, batch_size), k,
                                         on_features, device)
    p_test, y_test = predict_probabilities(network, split_loader(dm, "test", features, batch_size), k,
                                           on_features, device)
    if k == 2:
        if threshold is None:
            threshold = choose_threshold(y_val, p_val, threshold_rule, target_fpr, fixed_threshold)
            rule = threshold_rule
        else:
            rule = "given"
    else:
        threshold, rule = None, "argmax"
    thr = 0.5 if threshold is None else threshold
    columns = {c: dm.column("test", c) for c in SLICE_COLUMNS}
    report = {
        "concept": dm.concept,
        "dataset": dm.dataset_id,
        "dataset_fingerprint": dm.fingerprint,
        "label_names": labels,
        "threshold": threshold,
        "threshold_rule": rule,
        "validation": compute_metrics(y_val, p_val, k, thr),
        "test": compute_metrics(y_test, p_test, k, thr),
        "slices": slice_metrics(y_test, p_test, columns, k, thr),
    }
    if out_dir is not None:
        out = Path(out_dir)
        atomic_write_json(out / "metrics.json", report)
        plot_roc(y_test, p_test, columns["source"], out / "roc.png")
        plot_reliability(y_test, p_test, out / "reliability.png")
    return report


def format_report(report: dict[str, Any]) -> str:
    """A short plain-text table of the test metrics and the per-source slice."""
    keys = ("n", "accuracy", "precision", "recall", "f1", "auroc", "ece")
    fmt = lambda v: "-" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))  # noqa: E731
    lines = [f"concept {report['concept']}  threshold {fmt(report['threshold'])} ({report['threshold_rule']})",
             "slice".ljust(28) + "".join(k.rjust(10) for k in keys)]
    rows = [("test", report["test"])] + [(f"{col}={v}", m) for col in SLICE_COLUMNS for v, m in report["slices"][col].items()]
    for name, m in rows:
        lines.append(name[:27].ljust(28) + "".join(fmt(m.get(k)).rjust(10) for k in keys))
    return "\n".join(lines)
