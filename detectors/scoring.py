"""Score a folder of an unlearned model's outputs: share still showing the concept + Wilson 95% CI.

Every file under the folder (nested folders allowed) is tried as an image; unreadable files are
skipped with their reason. When the folder holds one subfolder per method, shares are also
reported per method (the first path component).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from PIL import Image
from tqdm.auto import tqdm

from dataigm.errors import InputError
from dataigm.io import atomic_path, atomic_write_json
from dataigm.judging import check_probabilities


def wilson_interval(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval for a binomial share k/n (95% by default); (0, 1) when n = 0."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class FolderScore:
    folder: Path
    judge: str
    threshold: float
    scores: pd.DataFrame  # path, method, probability, decision, label
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def summary(self, df: pd.DataFrame | None = None) -> dict[str, Any]:
        df = self.scores if df is None else df
        n, k = len(df), int(df["decision"].sum()) if len(df) else 0
        lo, hi = wilson_interval(k, n)
        return {"n": n, "flagged": k, "share": (k / n) if n else None, "ci_low": lo, "ci_high": hi,
                "mean_probability": float(df["probability"].mean()) if n else None}

    @property
    def per_method(self) -> dict[str, dict[str, Any]] | None:
        if self.scores.empty or (self.scores["method"] == "").any():
            return None
        return {m: self.summary(g) for m, g in self.scores.groupby("method", sort=True)}

    def table(self) -> str:
        rows = [("all", self.summary())] + list((self.per_method or {}).items())
        lines = [f"judge {self.judge}  threshold {self.threshold:.4f}  folder {self.folder}",
                 f"{'method':<24}{'n':>6}{'flagged':>9}{'share':>8}   95% CI (Wilson)"]
        for name, s in rows:
            share = "-" if s["share"] is None else f"{s['share']:.3f}"
            lines.append(f"{name[:23]:<24}{s['n']:>6}{s['flagged']:>9}{share:>8}   [{s['ci_low']:.3f}, {s['ci_high']:.3f}]")
        if self.skipped:
            lines.append(f"skipped {len(self.skipped)} unreadable file(s); see skipped.csv")
        return "\n".join(lines)


def list_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def _load(path: Path) -> tuple[Image.Image | None, str | None]:
    try:
        with Image.open(path) as im:
            im.load()
            return im.convert("RGB"), None
    except Exception as exc:  # noqa: BLE001 - any decoder failure is a skip reason, not a crash
        return None, f"{type(exc).__name__}: {' '.join(str(exc).split())[:120]}"


def score_folder(judge: Any, folder: str | Path, batch_size: int = 32) -> FolderScore:
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: image folder not found")
    files = list_files(folder)
    # One subfolder per method: no files at the top level, every file under a subfolder.
    by_method = bool(files) and all(len(p.relative_to(folder).parts) > 1 for p in files)
    rows: list[dict[str, Any]] = []
    skipped: list[tuple[str, str]] = []
    batch: list[tuple[Path, Image.Image]] = []

    def flush() -> None:
        if not batch:
            return
        pred = judge.predict([im for _, im in batch], batch_size=batch_size)
        # Any judge, a plug-in's too: a NaN score must stop the run, never count as "not flagged".
        check_probabilities(pred.probabilities, getattr(judge, "name", "judge"))
        if len(pred.probabilities) != len(batch):
            raise InputError(f"{getattr(judge, 'name', 'judge')}: returned {len(pred.probabilities)} scores "
                             f"for {len(batch)} images")
        for (p, _), prob, dec, lab in zip(batch, pred.probabilities, pred.decisions, pred.labels):
            rel = p.relative_to(folder)
            rows.append({"path": rel.as_posix(), "method": rel.parts[0] if by_method else "",
                         "probability": float(prob), "decision": bool(dec), "label": lab})
        batch.clear()

    for path in tqdm(files, desc=f"score {folder.name}", leave=False):
        image, reason = _load(path)
        if image is None:
            skipped.append((path.relative_to(folder).as_posix(), reason or "unreadable"))
            continue
        batch.append((path, image))
        if len(batch) >= batch_size:
            flush()
    flush()
    if not rows:
        raise InputError(f"{folder}: no readable images ({len(skipped)} file(s) skipped)")
    df = pd.DataFrame(rows, columns=["path", "method", "probability", "decision", "label"])
    return FolderScore(folder, getattr(judge, "name", "judge"), float(judge.threshold), df, skipped)


def write_report(result: FolderScore, out: str | Path) -> Path:
    """scores.csv (per image), skipped.csv, summary.json (overall + per method)."""
    out = Path(out)
    with atomic_path(out / "scores.csv") as tmp:
        result.scores.to_csv(tmp, index=False)
    with atomic_path(out / "skipped.csv") as tmp:
        pd.DataFrame(result.skipped, columns=["path", "reason"]).to_csv(tmp, index=False)
    atomic_write_json(out / "summary.json", {
        "folder": str(result.folder), "judge": result.judge, "threshold": result.threshold,
        "overall": result.summary(), "per_method": result.per_method, "skipped": len(result.skipped),
    })
    return out
