"""Run the curation chain over RUN/manifest.parquet and write the keep/drop manifests.

Outputs (docs/CONTRACTS.md, "Curation output"):
  RUN/curation/kept.parquet     manifest rows + dup_cluster, judge_score, judge_disagrees, relabelled_from
  RUN/curation/dropped.parquet  the same columns + step, reason
  RUN/curation/report.json      counts per step, reason, concept, label and source
Caches: RUN/curation/hashes.parquet (image facts by sha256) and judge_scores.parquet.
Image files are only read, never copied or rewritten.
"""

from __future__ import annotations

import time
from pathlib import Path
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pyarrow as pa

from dataigm.config import to_dict
from dataigm.curation.config import CURATION_STEPS, CurationConfig
from dataigm.curation.facts import CACHE_NAME as FACTS_CACHE
from dataigm.curation.facts import compute_facts
from dataigm.curation.review import apply_overrides, read_overrides
from dataigm.curation.steps import Context
from dataigm.errors import InputError
from dataigm.io import atomic_write_json, atomic_write_parquet
from dataigm.judging import Judge
from dataigm.manifest import SCHEMA, read_manifest
from dataigm.run import Run
EXTRA_SCHEMA = pa.schema([
    ("dup_cluster", pa.string()),
    ("judge_score", pa.float64()),
    ("judge_disagrees", pa.bool_()),
    ("relabelled_from", pa.string()),
])
KEPT_SCHEMA = pa.schema(list(SCHEMA) + list(EXTRA_SCHEMA))
DROPPED_SCHEMA = pa.schema(list(KEPT_SCHEMA) + [("step", pa.string()), ("reason", pa.string())])


@dataclass
class CurationReport:
    manifest_rows: int
    kept: int
    dropped: int
    steps: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)   # the full report.json content
    kept_path: str = ""
    dropped_path: str = ""
    report_path: str = ""

    def summary(self) -> str:
        lines = [f"curate: {self.manifest_rows} rows -> {self.kept} kept, {self.dropped} dropped"]
        for s in self.steps:
            detail = ", ".join(f"{k}={v}" for k, v in sorted(s["reasons"].items()))
            lines.append(f"  {s['step']}: {s['in']} in, {s['dropped']} dropped" + (f" ({detail})" if detail else ""))
        lines += [f"  note: {n}" for n in self.notes]
        lines.append(f"  wrote {self.kept_path}, {self.dropped_path}, {self.report_path}")
        return "\n".join(lines)


def reason_code(reason: str) -> str:
    return reason.split(":", 1)[0]


def curate(run: Run | str | Path, config: CurationConfig | None = None,
           judges: dict[str, Judge] | None = None, progress: bool = True) -> CurationReport:
    """Curate RUN/manifest.parquet; `judges` (by concept) override the configured ones."""
    run = Run.of(run)
    config = config or CurationConfig()
    timings: dict[str, float] = {}
    run.require_folder()
    with run.lock():
        t0 = time.perf_counter()
        manifest = read_manifest(run.manifest_path)
        table = manifest.to_pandas().sort_values("id", kind="stable")
        if table["id"].duplicated().any():
            dup = table.loc[table["id"].duplicated(), "id"].iloc[0]
            raise InputError(f"{run.manifest_path}: duplicate id '{dup}'")
        table = table.set_index("id", drop=False)
        table.index.name = None
        table["step"] = None
        table["reason"] = None
        table["relabelled_from"] = None
        overrides = read_overrides(config.review.file) if config.review.file else []  # fail early

        facts = compute_facts(run, table, run.curation_cache(FACTS_CACHE), config.validation.max_pixels,
                              config.validation.verify_sha256, progress)
        timings["facts"] = time.perf_counter() - t0
        ctx = Context(run=run, config=config, facts=facts.facts,
                      fact_errors={sha: err for sha, err in facts.errors.items()},
                      judges=dict(judges or {}), progress=progress)
        ctx.info["facts"] = {"computed": facts.computed, "cached": facts.cached}

        steps_report: list[dict[str, Any]] = []
        for step_name in config.steps:
            step = CURATION_STEPS.get(step_name, "curation.steps")()
            if not step.enabled(config):
                ctx.notes.append(f"{step.name}: disabled")
                continue
            t = time.perf_counter()
            alive = table[table["step"].isna()]
            drops = step.run(alive, ctx)
            table.loc[drops.index, "step"] = step.name
            table.loc[drops.index, "reason"] = drops.values
            steps_report.append({"step": step.name, "in": int(len(alive)), "dropped": int(len(drops)),
                                 "reasons": dict(Counter(reason_code(r) for r in drops))})
            timings[step.name] = time.perf_counter() - t

        review_counts = None
        if config.review.file:
            before = table["step"].isna().sum()
            review_counts = apply_overrides(table, overrides, config.review.file, _label_ids(run, table))
            steps_report.append({"step": "review", "in": int(before),
                                 "dropped": int((table["step"] == "review").sum()),
                                 "reasons": {"review": int((table["step"] == "review").sum())} if
                                 (table["step"] == "review").any() else {},
                                 "actions": review_counts})

        _attach_columns(table, ctx)
        kept = table[table["step"].isna()]
        dropped = table[table["step"].notna()]
        kept_path, dropped_path, report_path = run.kept_path, run.dropped_path, run.curation_report_path
        atomic_write_parquet(_to_table(kept, KEPT_SCHEMA), kept_path)
        atomic_write_parquet(_to_table(dropped, DROPPED_SCHEMA), dropped_path)
        timings["total"] = time.perf_counter() - t0

        data = {
            "manifest_rows": int(len(table)),
            "kept": int(len(kept)),
            "dropped": int(len(dropped)),
            "steps": steps_report,
            "dropped_by_reason": dict(Counter(reason_code(r) for r in dropped["reason"])),
            "kept_by": _breakdown(kept),
            "dropped_by": _breakdown(dropped),
            "details": ctx.info,
            "review": review_counts,
            "notes": ctx.notes,
            "seconds": {k: round(v, 3) for k, v in timings.items()},
            "config": to_dict(config),
        }
        atomic_write_json(report_path, data)
    return CurationReport(manifest_rows=len(table), kept=len(kept), dropped=len(dropped),
                          steps=steps_report, notes=list(ctx.notes), data=data,
                          kept_path=str(kept_path), dropped_path=str(dropped_path),
                          report_path=str(report_path))


def _label_ids(run: Run, table: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Label name -> label_id per concept: from the run's concept definition when it can be
    found, plus every (label, label_id) the manifest holds."""
    from dataigm.errors import DataigmError

    out: dict[str, dict[str, int]] = {}
    for concept, group in table.groupby("concept"):
        names = {str(l): int(i) for l, i in zip(group["label"], group["label_id"]) if l is not None}
        try:
            spec = run.load_spec(str(concept))
            names.update({name: i for i, name in enumerate(spec.labels)})
        except DataigmError:
            pass  # a user concept file we cannot locate: the manifest's labels are the list
        out[str(concept)] = names
    return out


def _attach_columns(table: pd.DataFrame, ctx: Context) -> None:
    cluster = ctx.columns.get("dup_cluster")
    table["dup_cluster"] = cluster.reindex(table.index) if cluster is not None else None
    table["dup_cluster"] = table["dup_cluster"].astype(object).where(table["dup_cluster"].notna(), None)
    # Exact duplicates never reached the near-duplicate step: they join their original's
    # cluster. Everything else without a cluster (dropped earlier, or near dedup off) is its own.
    missing = table["dup_cluster"].isna()
    reasons = table.loc[missing, "reason"].astype(object)
    exact = reasons.where(reasons.str.startswith("exact_duplicate_of:", na=False)).dropna()
    target = exact.str.split(":", n=1).str[1]
    table.loc[exact.index, "dup_cluster"] = target.map(table["dup_cluster"]).to_numpy()
    still = table["dup_cluster"].isna()
    table.loc[still, "dup_cluster"] = table.index[still.to_numpy()]
    score = ctx.columns.get("judge_score")
    table["judge_score"] = score.reindex(table.index) if score is not None else float("nan")
    flags = ctx.columns.get("judge_disagrees")
    table["judge_disagrees"] = flags.reindex(table.index) if flags is not None else pd.NA


def _to_table(frame: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    data = {}
    for f in schema:
        col = frame[f.name] if f.name in frame else pd.Series([None] * len(frame), dtype=object)
        values = col.astype(object).where(col.notna(), None).tolist()
        data[f.name] = pa.array(values, type=f.type)
    return pa.table(data, schema=schema)


def _breakdown(frame: pd.DataFrame) -> dict[str, dict[str, int]]:
    def count(keys: pd.Series) -> dict[str, int]:
        return {str(k): int(v) for k, v in keys.value_counts(dropna=False).sort_index().items()}

    return {
        "concept": count(frame["concept"]),
        "label": count(frame["concept"].astype(str) + "/" + frame["label"].astype(str)),
        "source": count(frame["source"]),
        "concept_label_source": count(frame["concept"].astype(str) + "/" + frame["label"].astype(str)
                                      + "/" + frame["source"].astype(str)),
    }
