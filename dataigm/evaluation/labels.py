"""Judges checked against people: a stratified sample for human labelling, then each judge's
agreement with the people's labels.

`export_for_labelling(IMAGES, LABELS, config)`: every judge given scores every image under
IMAGES (any folder of images: a sample root, a public benchmark layout, a plain folder); images
are grouped into strata by their top folder (a method, or a prompt set) and the judges'
decisions (so images the judges disagree on, and rare decisions, are not drowned by the common
case), and up to `per_stratum` images of each stratum are drawn (a seeded hash order). LABELS/
then holds `labelling.html` (the images, in a shuffled order that hides the strata, with the
concept's guidance), `labels.csv` (one row per item: fill in `label`), `images/` (copies; those
of nsfw concepts pixelated unless asked otherwise, with dataigm.contact_sheet's pixelation),
`items.parquet` (where each item came from: path, sha256, stratum, the judges' scores) and
`labels.done`, written last. The judges' answers are never shown to the labellers.

`import_labels(LABELS, config)`: reads the filled CSV (several rows per item: the majority; a
tie is left out), scores the sampled images with every judge given (the original images, checked
against their sha256) and reports, per judge, accuracy, precision, recall (sensitivity),
specificity and Cohen's kappa against the people, and between every two judges their agreement
and kappa; shares with Wilson intervals, kappas with bootstrap intervals over items. The sample
is stratified and not re-weighted: the numbers describe the labelled sample. Results go to
LABELS/validation.json and validation.html, and into the card (README.md) and metrics.json
("human") of every judge that is a dataigm judge folder, through its JudgeFolder (locked,
re-sealed): the scorecard then corrects its rates with these measured sensitivities and
specificities.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np

from dataigm.errors import InputError
from dataigm.evaluation.judged import decide
from dataigm.evaluation.layout import IMAGE_SUFFIXES
from dataigm.evaluation.prompts import located_rows
from dataigm.evaluation.stats import cohen_kappa, wilson_interval
from dataigm.io import atomic_write_bytes, atomic_write_json, atomic_write_parquet, atomic_write_text
from dataigm.run import Run
from dataigm.taxonomy import ConceptSpec, load_concept

POSITIVE = {"1", "yes", "y", "true", "present", "concept"}
NEGATIVE = {"0", "no", "n", "false", "absent", "none"}
SKIPPED = {"", "unsure", "?", "skip", "unknown"}
CARD_BEGIN = "<!-- dataigm:human-validation -->"
CARD_END = "<!-- /dataigm:human-validation -->"


@dataclass
class LabelsExportConfig:
    """Settings of `dataigm labels export`."""

    concept: str = ""
    judges: list[str] = field(default_factory=list)
    per_stratum: int = 8              # images drawn from each (folder, judges' decisions) stratum
    pool: int = 0                     # score at most this many images (a seeded draw; 0: all)
    pixelate: Literal["nsfw", "all", "none"] = "nsfw"
    seed: int = 0
    batch_size: int = 32
    device: str = "cpu"
    overwrite: bool = False           # replace a labels folder whose CSV already holds labels

    def validate(self) -> None:
        if not self.concept:
            raise ValueError("concept: name the concept the labels are about (--concept)")
        if not self.judges:
            raise ValueError("judges: give at least one judge (--judge REF)")
        if self.per_stratum < 1 or self.pool < 0 or self.batch_size < 1:
            raise ValueError("per_stratum and batch_size: must be >= 1 (pool >= 0)")


@dataclass
class LabelsImportConfig:
    """Settings of `dataigm labels import`."""

    labels: str = ""                  # the filled CSV (default: LABELS/labels.csv)
    judges: list[str] = field(default_factory=list)   # default: the judges the sample was drawn with
    images: str = ""                  # where the sampled images are now (default: the folder exported from)
    resamples: int = 1000             # bootstrap resamples of the kappa intervals
    level: float = 0.95
    seed: int = 0
    update_cards: bool = True         # write the results into the card of every dataigm judge folder
    batch_size: int = 32
    device: str = "cpu"

    def validate(self) -> None:
        if self.resamples < 1:
            raise ValueError(f"resamples: must be >= 1, got {self.resamples}")
        if not 0.5 <= self.level < 1.0:
            raise ValueError(f"level: must be in [0.5, 1), got {self.level}")


def _images(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                  and not any(part.startswith(".") for part in p.relative_to(root).parts))


def _rank(seed: int, text: str) -> str:
    return hashlib.sha256(f"{seed}:{text}".encode()).hexdigest()


def _load_judges(refs: Sequence[str], spec: ConceptSpec, device: str) -> list[Any]:
    from dataigm.judging import load_judge

    return [load_judge(ref, concept=spec.name, device=device) for ref in refs]


def _filled_labels(csv_path: Path) -> int:
    if not csv_path.is_file():
        return 0
    return sum(1 for _, row in located_rows(csv_path) if str(row.get("label") or "").strip())


# ----------------------------------------------------------------------------- export


@dataclass
class LabelsExportReport:
    out: Path
    items: int
    strata: dict[str, int]
    scored: int
    pixelated: bool

    def summary(self) -> str:
        lines = [f"{self.items} images for labelling from {self.scored} scored, {len(self.strata)} strata "
                 f"({'pixelated' if self.pixelated else 'not pixelated'}) -> {self.out}/labelling.html; "
                 f"fill in {self.out}/labels.csv, then: dataigm labels import {self.out}"]
        lines += [f"  {n:>4}  {stratum}" for stratum, n in sorted(self.strata.items())]
        return "\n".join(lines)


def export_for_labelling(images: str | Path, out: str | Path, config: LabelsExportConfig,
                         progress: bool = True) -> LabelsExportReport:
    from PIL import Image

    from dataigm.contact_sheet import pixelated

    root = Path(images)
    if not root.is_dir():
        raise InputError(f"{root}: image folder not found")
    spec = load_concept(config.concept)
    files = _images(root)
    if not files:
        raise InputError(f"{root}: no images ({', '.join(IMAGE_SUFFIXES)})")
    if config.pool and len(files) > config.pool:
        files = sorted(sorted(files, key=lambda p: _rank(config.seed, p.relative_to(root).as_posix()))[:config.pool])
    readable = []
    for path in files:
        try:
            with Image.open(path) as im:
                im.verify()
            readable.append(path)
        except Exception:  # noqa: BLE001 - any decoder failure: the image cannot be labelled
            continue
    judges = _load_judges(config.judges, spec, config.device)
    decided = {j.name: decide(j, readable, config.batch_size, f"{j.name} (labelling sample)", progress=progress) for j in judges}
    strata: dict[str, list[int]] = {}
    for i, path in enumerate(readable):
        rel = path.relative_to(root)
        folder = rel.parts[0] if len(rel.parts) > 1 else "."
        key = f"{folder} | " + ", ".join(f"{name}={decided[name][i][1]}" for name in decided)
        strata.setdefault(key, []).append(i)
    picked: list[tuple[int, str]] = []
    for key, members in strata.items():
        members.sort(key=lambda i: _rank(config.seed, readable[i].relative_to(root).as_posix()))
        picked += [(i, key) for i in members[:config.per_stratum]]
    # The page's order hides the strata (and so the judges' answers) from the labellers.
    picked.sort(key=lambda t: _rank(config.seed + 1, readable[t[0]].relative_to(root).as_posix()))
    pixelate = config.pixelate == "all" or (config.pixelate == "nsfw" and spec.domain == "nsfw")

    run = Run(out)
    with run.lock():
        run.sweep_folders([run.images_dir])
        if _filled_labels(run.labels_csv) and not config.overwrite:
            raise InputError(f"{run.labels_csv}: already holds labels; import them (dataigm labels import "
                             f"{run.root}) or pass --overwrite to draw a new sample over them")
        run.labels_marker.unlink(missing_ok=True)
        if run.images_dir.is_dir():
            for old in run.images_dir.iterdir():
                old.unlink()
        run.images_dir.mkdir(parents=True, exist_ok=True)
        rows = []
        for n, (i, key) in enumerate(picked):
            path = readable[i]
            item = f"item-{n + 1:04d}"
            with Image.open(path) as im:
                shown = im.convert("RGB")
            if pixelate:
                shown = pixelated(shown)
            buf = io.BytesIO()
            shown.save(buf, format="PNG")
            atomic_write_bytes(run.images_dir / f"{item}.png", buf.getvalue(), durable=False)
            rows.append({"item": item, "image": f"{run.images_dir.name}/{item}.png",
                         "source": path.relative_to(root).as_posix(),
                         "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "stratum": key,
                         "judges": json.dumps({name: {"probability": decided[name][i][0], "answer": decided[name][i][1]}
                                               for name in decided}, sort_keys=True)})
        import pyarrow as pa

        atomic_write_parquet(pa.Table.from_pylist(rows), run.labels_items)
        buf_csv = io.StringIO()
        writer = csv.writer(buf_csv, lineterminator="\n")
        writer.writerow(["item", "image", "label", "labeller", "notes"])
        writer.writerows([[r["item"], r["image"], "", "", ""] for r in rows])
        atomic_write_text(run.labels_csv, buf_csv.getvalue())
        from dataigm.cards import render

        atomic_write_text(run.labels_page, render(
            "labelling.html.j2", spec=spec, items=rows, pixelated=pixelate, csv_name=run.labels_csv.name,
            positive=sorted(POSITIVE), negative=sorted(NEGATIVE)))
        atomic_write_json(run.labels_marker, {
            "dataigm_labels": 1, "concept": spec.name, "concept_file": spec.source_file, "images": str(root),
            "judges": list(config.judges), "items": len(rows), "pixelated": pixelate, "seed": config.seed,
            "per_stratum": config.per_stratum, "scored": len(readable),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    counts = {key: sum(1 for _, k in picked if k == key) for key in strata}
    return LabelsExportReport(run.root, len(rows), counts, len(readable), pixelate)


# ----------------------------------------------------------------------------- import


def _share(k: int, n: int) -> dict[str, float | int | None]:
    if n == 0:
        return {"value": None, "ci_low": None, "ci_high": None, "n": 0}
    lo, hi = wilson_interval(k, n)
    return {"value": k / n, "ci_low": min(lo, k / n), "ci_high": max(hi, k / n), "n": n}


def _kappa(a: np.ndarray, b: np.ndarray, config: LabelsImportConfig) -> dict[str, float | int | None]:
    value = cohen_kappa(a, b)
    rng = np.random.default_rng(config.seed)
    draws = []
    for _ in range(config.resamples):
        idx = rng.integers(0, len(a), size=len(a))
        k = cohen_kappa(a[idx], b[idx])
        if np.isfinite(k):
            draws.append(k)
    alpha = (1.0 - config.level) / 2.0
    lo, hi = (np.quantile(draws, [alpha, 1.0 - alpha]) if draws else (np.nan, np.nan))
    finite = lambda x: float(x) if np.isfinite(x) else None  # noqa: E731
    return {"value": finite(value), "ci_low": finite(lo), "ci_high": finite(hi), "n": int(len(a))}


def against_people(judged: np.ndarray, people: np.ndarray, config: LabelsImportConfig) -> dict[str, Any]:
    """Accuracy, precision, recall, specificity (Wilson) and Cohen's kappa (bootstrap) of a
    judge's decisions against the people's labels (True = the concept is present)."""
    tp = int(np.sum(judged & people))
    fp = int(np.sum(judged & ~people))
    tn = int(np.sum(~judged & ~people))
    fn = int(np.sum(~judged & people))
    return {"counts": {"tp": tp, "fp": fp, "tn": tn, "fn": fn},
            "accuracy": _share(tp + tn, tp + fp + tn + fn), "precision": _share(tp, tp + fp),
            "recall": _share(tp, tp + fn), "specificity": _share(tn, tn + fp),
            "kappa": _kappa(judged, people, config)}


def read_labels(path: Path, spec: ConceptSpec, items: set[str]) -> tuple[dict[str, bool], dict[str, int]]:
    """People's labels by item (the majority of its rows), and counts of what was left out."""
    positive = POSITIVE | {spec.labels[1].lower()}
    negative = NEGATIVE | {spec.labels[0].lower()}
    votes: dict[str, list[bool]] = {}
    skipped = 0
    rows = located_rows(path)
    if rows and ("item" not in rows[0][1] or "label" not in rows[0][1]):
        raise InputError(f"{path}: needs the columns 'item' and 'label' (as labels export wrote them)")
    for place, row in rows:
        item = str(row.get("item") or "").strip()
        if item not in items:
            raise InputError(f"{path}: {place}: column 'item': '{item}' is not an item of this labelling sample")
        text = str(row.get("label") or "").strip().lower()
        if text in positive:
            votes.setdefault(item, []).append(True)
        elif text in negative:
            votes.setdefault(item, []).append(False)
        elif text in SKIPPED:
            skipped += 1
        else:
            raise InputError(f"{path}: {place}: column 'label': '{row.get('label')}' is not a label (present: "
                             f"{', '.join(sorted(positive))}; absent: {', '.join(sorted(negative))}; or leave it "
                             "empty / unsure)")
    labels, ties = {}, 0
    for item, vs in votes.items():
        yes = sum(vs)
        if yes * 2 == len(vs):
            ties += 1
        else:
            labels[item] = yes * 2 > len(vs)
    return labels, {"skipped_rows": skipped, "ties": ties, "labellers_rows": sum(len(v) for v in votes.values())}


@dataclass
class LabelsImportReport:
    folder: Path
    report: dict[str, Any]
    cards: list[str]

    def table(self) -> str:
        def cell(m: dict[str, Any]) -> str:
            return "-" if m["value"] is None else f"{m['value']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}]" \
                if m["ci_low"] is not None else f"{m['value']:.3f}"

        lines = [f"{self.report['labelled']} images labelled by people ({self.report['positives']} show "
                 f"{self.report['concept']}); each judge against them:"]
        for j in self.report["judges"]:
            lines.append(f"  {j['name']}: n={j['n']} accuracy {cell(j['accuracy'])}, precision {cell(j['precision'])}, "
                         f"recall {cell(j['recall'])}, specificity {cell(j['specificity'])}, kappa {cell(j['kappa'])}"
                         + (f", unsure {j['unsure']}" if j["unsure"] else ""))
        for a in self.report["agreement"]:
            lines.append(f"  {a['a']} vs {a['b']}: agreement {cell(a['agreement'])}, kappa {cell(a['kappa'])}")
        lines += [f"  card updated: {c}" for c in self.cards]
        return "\n".join(lines)


def import_labels(folder: str | Path, config: LabelsImportConfig, progress: bool = True) -> LabelsImportReport:
    import pyarrow.parquet as pq

    run = Run(folder)
    if not run.labels_marker.is_file():
        raise InputError(f"{run.root}: not a finished labelling folder (no {run.labels_marker.name}); "
                         "make one with dataigm labels export")
    marker = json.loads(run.labels_marker.read_text(encoding="utf-8"))
    concept_file = marker.get("concept_file")
    spec = load_concept(concept_file if concept_file and Path(concept_file).is_file() else marker["concept"])
    items = pq.read_table(run.labels_items).to_pylist()
    csv_path = Path(config.labels) if config.labels else run.labels_csv
    people, left_out = read_labels(csv_path, spec, {r["item"] for r in items})
    if not people:
        raise InputError(f"{csv_path}: no labels filled in yet (column 'label': present/absent, 1/0, yes/no)")
    root = Path(config.images or marker["images"])
    labelled = [r for r in items if r["item"] in people]
    paths = []
    for r in labelled:
        path = root / r["source"]
        if not path.is_file():
            raise InputError(f"{path}: the image of {r['item']} is gone; give the folder it moved to with --images")
        if hashlib.sha256(path.read_bytes()).hexdigest() != r["sha256"]:
            raise InputError(f"{path}: changed since the labelling sample was drawn ({r['item']}); draw a new one")
        paths.append(path)
    truth = np.asarray([people[r["item"]] for r in labelled], dtype=bool)
    refs = config.judges or list(marker.get("judges") or [])
    judges = _load_judges(refs, spec, config.device)
    results, decisions = [], {}
    for ref, judge in zip(refs, judges):
        answers = decide(judge, paths, config.batch_size, f"{judge.name} (labelled images)", progress=progress)
        sure = np.asarray([a != "unsure" for _, a in answers], dtype=bool)
        said = np.asarray([a == "yes" for _, a in answers], dtype=bool)
        decisions[judge.name] = (said, sure)
        block = against_people(said[sure], truth[sure], config)
        results.append({"name": judge.name, "ref": ref, "identity": judge.identity, "threshold": judge.threshold,
                        "n": int(sure.sum()), "unsure": int((~sure).sum()), **block,
                        "note": getattr(judge, "quality_note", "")})
    agreement = []
    names = list(decisions)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            both = decisions[a][1] & decisions[b][1]
            da, db = decisions[a][0][both], decisions[b][0][both]
            agreement.append({"a": a, "b": b, "agreement": _share(int(np.sum(da == db)), int(both.sum())),
                              "kappa": _kappa(da, db, config)})
    report = {
        "dataigm_labels_validation": 1, "concept": spec.name, "labels": run.root.name, "labelled": len(labelled),
        "positives": int(truth.sum()), "left_out": left_out, "sample": marker.get("items"),
        "sampling": "stratified by top folder and the judges' decisions at export; not re-weighted: the "
                    "numbers describe the labelled sample",
        "level": config.level, "judges": results, "agreement": agreement,
        "date": time.strftime("%Y-%m-%d"),
    }
    from dataigm.cards import render

    with run.lock():
        atomic_write_json(run.validation_report, report)
        atomic_write_text(run.validation_html, render("validation.html.j2", report=report, fmt=_fmt))
        for judge in judges:
            if getattr(judge, "answers", None):
                path = run.judge_answers_dir / f"{judge.identity}.jsonl"
                path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_text(path, "".join(json.dumps(a, sort_keys=True) + "\n" for a in judge.answers))
    cards = update_judge_cards(refs, report) if config.update_cards else []
    return LabelsImportReport(run.root, report, cards)


def _fmt(m: dict[str, Any] | None) -> str:
    if not m or m.get("value") is None:
        return "-"
    ci = f" [{m['ci_low']:.3f}, {m['ci_high']:.3f}]" if m.get("ci_low") is not None else ""
    return f"{m['value']:.3f}{ci}"


def update_judge_cards(refs: Sequence[str], report: dict[str, Any]) -> list[str]:
    """Put each dataigm judge folder's results into its card and metrics.json ("human"), through
    the JudgeFolder: under its lock, written whole, re-sealed. Other judges (NudeNet, CLIP, a VLM,
    hub ids) keep their results in the labels folder only."""
    from dataigm.cards import render
    from dataigm.judge_folder import CARD, JudgeFolder

    updated = []
    for ref, result in zip(refs, report["judges"]):
        folder = JudgeFolder(ref)
        if not Path(ref).is_dir() or not folder.is_finished():
            continue
        block = {k: result[k] for k in ("n", "unsure", "counts", "accuracy", "precision", "recall", "specificity",
                                        "kappa", "threshold")}
        block.update(name=result["name"], labels=report["labels"], labelled=report["labelled"], date=report["date"],
                     sampling=report["sampling"], level=report["level"],
                     agreement=[a for a in report["agreement"] if result["name"] in (a["a"], a["b"])])
        section = render("human_validation.md.j2", block=block, concept=report["concept"], fmt=_fmt)
        with folder.lock():
            metrics = json.loads(folder.metrics_path.read_text(encoding="utf-8")) if folder.metrics_path.is_file() else {}
            metrics["human"] = block
            card = folder.path(CARD).read_text(encoding="utf-8")
            if CARD_BEGIN in card and CARD_END in card:
                card = card[:card.index(CARD_BEGIN)] + card[card.index(CARD_END) + len(CARD_END):].lstrip("\n")
            anchor = "\n## Intended use"
            text = f"{CARD_BEGIN}\n{section.strip()}\n{CARD_END}\n"
            card = card.replace(anchor, f"\n{text}{anchor}", 1) if anchor in card else card.rstrip("\n") + "\n\n" + text
            folder.update({CARD: card.encode("utf-8"),
                           folder.metrics_path.name: (json.dumps(metrics, indent=2, sort_keys=True) + "\n").encode()})
        updated.append(ref)
    return updated
