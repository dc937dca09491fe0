"""The dataset card (README.md) of an export: its YAML header and its body, from the rows written.

Everything the card states is counted from what the export holds, so it cannot drift from the
data: configs and splits (from the shards), sources with their counts, licences and links (from
the rows' `source_name`, `licence`, `licence_url` and `origin_url`), the judge's disagreement
with the labels per source and label (from the curation report), whether contact sheets are
pixelated, and whether a `prompts` config exists at all.

Licences: one licence the Hub knows becomes `license: <id>`; anything else (several licences,
or one the Hub does not list) becomes `license: other` with `license_name` and `license_link`
pointing at the card's per-source table, which lists every licence with its link.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from typing import Any, Mapping, Sequence

import pyarrow.parquet as pq
import yaml

from dataigm.curation.config import DEFAULT_STEPS
from dataigm.errors import InputError
from dataigm.run import Run
from dataigm.splits import GROUP_KEYS, SPLITS, SplitConfig
from dataigm.taxonomy import ConceptSpec

PROMPTS_CONFIG = "prompts"
EXPORT_TAG = "dataigm"
SOURCES_ANCHOR = "sources-and-licences"  # the card's "## Sources and licences" heading

# Provenance columns of a concept config, after `image` and `label`, with their datasets types.
# Every column is nullable (web and real images have no prompt, seed or scheduler).
PROVENANCE: tuple[tuple[str, str, str], ...] = (
    ("id", "string", "stable row id (unique across the dataset)"),
    ("concept", "string", "dataset config name"),
    ("taxonomy_path", "string", "CatIGMU path domain/kind/concept"),
    ("source", "string", "generated, web or real"),
    ("source_name", "string", "the source: generator model, or the name an ingested source was given"),
    ("generator", "string", "what made a generated image (toyworld, tiny, diffusers, or as declared at ingest)"),
    ("model_id", "string", "text-to-image model id"),
    ("model_revision", "string", "model revision (commit)"),
    ("scheduler", "string", "diffusion scheduler class"),
    ("steps", "int64", "inference steps"),
    ("guidance", "float64", "classifier-free guidance scale"),
    ("prompt", "string", "text prompt"),
    ("prompt_set", "string", "forget, reference, unrelated or neighbour"),
    ("prompt_id", "string", "prompt id"),
    ("pair_id", "string", "pair id: the same prompt with and without the concept (same seed), or a pair the source declared"),
    ("benchmark", "bool", "prompt reserved for benchmarking; never in train"),
    ("seed", "int64", "generator seed of this image"),
    ("image_index", "int64", "index of the image among those of its prompt"),
    ("height", "int64", "image height in pixels"),
    ("width", "int64", "image width in pixels"),
    ("sha256", "string", "sha256 of the image bytes in this dataset"),
    ("source_sha256", "string", "sha256 of the image bytes as ingested (equal to sha256 unless normalised)"),
    ("normalised", "string", "why an ingested image was re-encoded (cmyk, exif_orientation, alpha, ...); empty: the source bytes"),
    ("labelled_by", "string", "who set the label: source (the data set's own label, set by people) or prompt (the prompt dataigm generated the image for)"),
    ("licence", "string", "licence of the image"),
    ("licence_url", "string", "link to the licence text"),
    ("origin", "string", "where an ingested image came from: its path inside the source, or its own URL"),
    ("origin_url", "string", "the upstream data set or page of the source"),
    ("dup_cluster", "string", "near-duplicate cluster id (singletons have their own)"),
    ("judge_score", "float64", "curation judge score, when judge agreement ran"),
    ("judge_disagrees", "bool", "the curation judge disagrees with the label (flagged, kept unless configured to drop)"),
)

# Licence ids the Hub accepts in `license:` (a subset; anything else is `other` + name + link).
HUB_LICENCES = frozenset({
    "apache-2.0", "mit", "bsd-3-clause", "gpl-3.0", "agpl-3.0", "cc0-1.0", "cc-by-2.0", "cc-by-2.5",
    "cc-by-3.0", "cc-by-4.0", "cc-by-sa-3.0", "cc-by-sa-4.0", "cc-by-nc-2.0", "cc-by-nc-3.0",
    "cc-by-nc-4.0", "cc-by-nd-4.0", "cc-by-nc-nd-4.0", "cc-by-nc-sa-4.0", "creativeml-openrail-m",
    "openrail", "openrail++", "bigscience-openrail-m", "odc-by", "odbl", "pddl", "unknown",
})


def size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                        (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")):
        if n < limit:
            return name
    return "10M<n<100M"


def curation_report(run: Run) -> dict[str, Any] | None:
    path = run.curation_report_path
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: unreadable JSON: {exc}") from None


def curation_steps(report: Any) -> list[dict[str, Any]] | None:
    """The steps table when the report has the expected shape, else None (the card shows JSON)."""
    steps = report.get("steps") if isinstance(report, dict) else None
    if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
        return None
    table = []
    for s in steps:
        reasons = s.get("reasons") if isinstance(s.get("reasons"), dict) else {}
        kept = s.get("kept")
        if kept is None and isinstance(s.get("in"), int) and isinstance(s.get("dropped"), int):
            kept = s["in"] - s["dropped"]  # curation reports rows in and dropped per step
        table.append({"step": str(s.get("step", "?")), "kept": "" if kept is None else kept,
                      "dropped": s.get("dropped", ""),
                      "reasons": ", ".join(f"{k}: {v}" for k, v in sorted(reasons.items())) or "-"})
    return table


def drops_from_parquet(run: Run, concepts: Sequence[str], kept_rows: int) -> list[dict[str, Any]] | None:
    """Drops per (step, reason) counted from RUN/curation/dropped.parquet for the exported
    concepts, with the rows left after each step (steps in curation's order; review last)."""
    path = run.dropped_path
    if not path.exists():
        return None
    try:
        cols = [c for c in ("concept", "step", "reason") if c in pq.read_schema(path).names]
        t = pq.read_table(path, columns=cols).to_pylist()
    except Exception as exc:  # pyarrow raises several types for a corrupt file
        raise InputError(f"{path}: unreadable parquet: {exc}") from None
    # Reasons are "code" or "code:detail" (which file, which duplicate): the table counts codes.
    counts: Counter[tuple[str, str]] = Counter(
        (str(r.get("step")), str(r.get("reason")).split(":", 1)[0]) for r in t
        if r.get("concept", concepts[0]) in concepts
    )
    by_step: dict[str, Counter[str]] = defaultdict(Counter)
    for (step, reason), n in counts.items():
        by_step[step][reason] += n
    order = {name: i for i, name in enumerate(DEFAULT_STEPS)}
    steps = sorted(by_step, key=lambda s: (s == "review", order.get(s, len(order)), s))
    left = kept_rows + sum(sum(r.values()) for r in by_step.values())
    table = []
    for step in steps:
        left -= sum(by_step[step].values())
        table.append({"step": step, "kept": left, "dropped": sum(by_step[step].values()),
                      "reasons": ", ".join(f"{k}: {v}" for k, v in sorted(by_step[step].items()))})
    return table


def generator_settings(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    combos: Counter[tuple[Any, ...]] = Counter()
    for r in rows:
        if r.get("source") != "generated":
            continue
        combos[(r.get("generator"), r.get("model_id"), r.get("model_revision"), r.get("scheduler"),
                r.get("steps"), r.get("guidance"), f"{r.get('width')}x{r.get('height')}")] += 1
    keys = ("generator", "model_id", "model_revision", "scheduler", "steps", "guidance", "size")
    return [dict(zip(keys, ("" if v is None else v for v in combo)), images=n)
            for combo, n in sorted(combos.items(), key=lambda kv: (-kv[1], str(kv[0])))]


def row_licence(row: Mapping[str, Any], spec: ConceptSpec) -> str:
    """A row's licence; rows that carry none fall back to their concept's licence."""
    return str(row.get("licence") or spec.licence)


def source_table(rows: Sequence[Mapping[str, Any]], specs: Mapping[str, ConceptSpec]) -> list[dict[str, Any]]:
    """Rows per (config, source name, type, generator, licence, links), largest first."""
    counts: Counter[tuple[str, ...]] = Counter()
    for r in rows:
        spec = specs[str(r["concept"])]
        counts[(str(r["concept"]), str(r.get("source_name") or r.get("source")), str(r.get("source")),
                " ".join(str(v) for v in (r.get("generator"), r.get("model_id")) if v),
                row_licence(r, spec), str(r.get("licence_url") or ""), str(r.get("origin_url") or ""))] += 1
    keys = ("config", "source_name", "source", "made_by", "licence", "licence_url", "origin_url")
    return [dict(zip(keys, key), images=n)
            for key, n in sorted(counts.items(), key=lambda kv: (kv[0][0], -kv[1], kv[0]))]


def licence_header(sources: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """`license` (+ `license_name` and `license_link`) for the card's YAML header."""
    licences = sorted({s["licence"] for s in sources})
    urls = sorted({s["licence_url"] for s in sources if s["licence_url"]})
    if len(licences) == 1 and licences[0].lower() in HUB_LICENCES:
        return {"license": licences[0].lower(), **({"license_link": urls[0]} if len(urls) == 1 else {})}
    if len(licences) == 1:
        link = urls[0] if len(urls) == 1 else f"README.md#{SOURCES_ANCHOR}"
        slug = re.sub(r"[^a-z0-9.]+", "-", licences[0].lower()).strip("-")
        if slug in ("", "other"):  # no licence named at all: the table says what is known
            return {"license": "other", "license_link": link}
        return {"license": "other", "license_name": slug, "license_link": link}
    return {"license": "other", "license_name": "per-source", "license_link": f"README.md#{SOURCES_ANCHOR}"}


def judge_table(report: Any, concepts: Sequence[str]) -> list[dict[str, Any]]:
    """Per concept, source and label: rows the curation judge saw, disagreed with and dropped."""
    details = report.get("details", {}).get("judge_agreement", {}) if isinstance(report, dict) else {}
    out = []
    for concept in concepts:
        info = details.get(concept) if isinstance(details, dict) else None
        if not isinstance(info, dict) or not info.get("judge"):
            continue
        for key, c in sorted((info.get("by_source_label") or {}).items()):
            source, _, label = key.rpartition("/")
            judged = int(c.get("judged", 0))
            out.append({"config": concept, "judge": info["judge"], "threshold": info.get("threshold"),
                        "action": info.get("action"), "prompt_label_action": info.get("prompt_label_action"),
                        "source_name": source, "label": label, "judged": judged,
                        "disagree": int(c.get("disagree", 0)), "dropped": int(c.get("dropped", 0)),
                        "rate": f"{c.get('disagree', 0) / judged:.1%}" if judged else "-"})
    return out


def card_data(specs: Sequence[ConceptSpec], written: Mapping[str, Mapping[str, Any]],
              features: Mapping[str, Any], pretty_name: str, total_rows: int,
              licences: Mapping[str, Any]) -> Any:
    from datasets import DatasetInfo, SplitDict, SplitInfo
    from datasets.info import DatasetInfosDict
    from huggingface_hub import DatasetCardData

    configs = []
    # The default config is what `load_dataset(repo)` opens without a name: never a gated one
    # when an ungated concept exists.
    gated = {s.name for s in specs if s.is_gated}
    names = list(features)
    default = next((n for n in names if n not in gated and n != PROMPTS_CONFIG), names[0] if names else None)
    for name in names:
        entry: dict[str, Any] = {"config_name": name}
        if name == default:
            entry["default"] = True
        entry["data_files"] = [{"split": s, "path": f"{name}/{s}-*"} for s in SPLITS if s in written.get(name, {})]
        configs.append(entry)
    data = DatasetCardData(
        task_categories=["image-classification"],
        size_categories=[size_category(total_rows)],
        pretty_name=pretty_name,
        tags=[EXPORT_TAG, "machine-unlearning", "text-to-image", "concept-detection"]
        + sorted({f"{s.domain}" for s in specs}),
        configs=configs,
        **licences,
    )
    gated_names = [s.name for s in specs if s.is_gated]
    if gated_names:
        data["tags"] = [*data["tags"], "not-for-all-audiences"]  # the Hub's flag for sensitive content
        data["extra_gated_prompt"] = (
            f"This dataset contains sensitive content ({', '.join(gated_names)}). It is meant for research "
            "on concept unlearning and safety classifiers only. By requesting access you agree not "
            "to redistribute the images and not to use them to generate or promote such content."
        )
        data["extra_gated_fields"] = {
            "Name": "text", "Affiliation": "text",
            "Intended use": "text",
            "I agree to use this dataset for research on unlearning and safety only": "checkbox",
        }
    infos = DatasetInfosDict()
    for name, feats in features.items():
        splits = SplitDict()
        for s in SPLITS:
            if s in written.get(name, {}):
                w = written[name][s]
                splits.add(SplitInfo(name=s, num_bytes=w["bytes"], num_examples=w["rows"]))
        size = sum(w["bytes"] for w in written.get(name, {}).values())
        infos[name] = DatasetInfo(features=feats, splits=splits, download_size=size, dataset_size=size)
    infos.to_dataset_card_data(data)
    if isinstance(data.get("dataset_info"), list):  # keep the config order of `configs`
        order = {name: i for i, name in enumerate(features)}
        data["dataset_info"] = sorted(data["dataset_info"], key=lambda d: order.get(d["config_name"], 99))
    return data


def dataset_card_text(*, run: Run, specs: Sequence[ConceptSpec], rows: Sequence[Mapping[str, Any]],
                      written: Mapping[str, Mapping[str, Any]], features: Mapping[str, Any],
                      split_cfg: SplitConfig, rows_from: str, repo_id: str | None, load_ref: str,
                      contact_sheets: Mapping[str, Mapping[str, Any]], split_warnings: Sequence[str] = (),
                      fingerprint: str = "", prompt_sets: Sequence[Mapping[str, Any]] = ()) -> str:
    """README.md text: YAML header + body from cards/dataset_card.md.j2. `contact_sheets` maps
    a concept to {"path": file in the dataset folder, "pixelated": bool}."""
    from dataigm import cards
    from huggingface_hub import DatasetCard

    by_name = {s.name: s for s in specs}
    total = sum(w["rows"] for name, per in written.items() if name != PROMPTS_CONFIG for w in per.values())
    pretty = f"DataIGM: {', '.join(s.name for s in specs)}"
    sources = source_table(rows, by_name)
    data = card_data(specs, written, features, pretty, total, licence_header(sources))
    if fingerprint:
        data["dataigm_fingerprint"] = fingerprint

    generation = run.read_info().get("generation")
    report = curation_report(run)
    # The report's steps table when it has the expected shape; else drops counted from
    # dropped.parquet; the full report is shown as JSON either way.
    steps = curation_steps(report) if report is not None else None
    steps_from = run.relative(run.curation_report_path)
    if steps is None:
        steps = drops_from_parquet(run, [s.name for s in specs], len(rows))
        steps_from = run.relative(run.dropped_path)

    concept_ctx = []
    for spec in specs:
        per = written.get(spec.name, {})
        cells = sorted({c for w in per.values() for c in w["cells"]})
        table = [{"label_id": lab, "label": spec.labels[lab], "source": src,
                  "counts": [per[s]["cells"].get((lab, src), 0) if s in per else 0 for s in SPLITS]}
                 for lab, src in cells]
        concept_ctx.append({
            "name": spec.name, "taxonomy_path": spec.taxonomy_path, "labels": list(spec.labels),
            "guidance": " ".join(spec.guidance.split()),
            "forgotten_means": " ".join(spec.forgotten_means.split()),
            "gated": spec.is_gated,
            "licences": sorted({s["licence"] for s in sources if s["config"] == spec.name}),
            "split_rows": [per[s]["rows"] if s in per else 0 for s in SPLITS],
            "splits": [s for s in SPLITS if s in per],
            "table": table,
            "contact_sheet": contact_sheets.get(spec.name, {}),
        })
    prompts_rows = sum(w["rows"] for w in written.get(PROMPTS_CONFIG, {}).values())
    declared = Counter(str(r["declared_split"]) for r in rows if r.get("declared_split")) \
        if split_cfg.declared == "keep" else Counter()
    provenance = [{"name": n, "dtype": d,
                   "doc": doc + (" (see the prompts config)" if n == "prompt_id" and prompts_rows else "")}
                  for n, d, doc in PROVENANCE]
    body = cards.render(
        "dataset_card.md.j2",
        pretty_name=pretty,
        repo=load_ref,
        repo_id=repo_id or "",
        concepts=concept_ctx,
        splits=list(SPLITS),
        total_rows=total,
        prompts_rows=prompts_rows,
        rows_from=rows_from,
        sources=sources,
        sources_anchor=SOURCES_ANCHOR,
        judge_table=judge_table(report, [s.name for s in specs]),
        curation_steps=steps,
        curation_steps_from=steps_from,
        curation_json=json.dumps(report, indent=2, sort_keys=True, default=str) if report is not None else "",
        generation_yaml=yaml.safe_dump(generation, sort_keys=True).strip() if isinstance(generation, dict) else "",
        generator_settings=generator_settings(rows),
        fractions=split_cfg.fractions,
        split_seed=split_cfg.seed,
        declared_splits={s: declared[s] for s in SPLITS if declared[s]},
        declared_pairs=len({r["pair_id"] for r in rows if r.get("pair_id") and r.get("labelled_by") == "source"}),
        split_warnings=list(split_warnings),
        max_deviation=split_cfg.max_deviation,
        group_keys=list(GROUP_KEYS),
        provenance=provenance,
        gated=[s.name for s in specs if s.is_gated],
        prompt_sets=list(prompt_sets),
        evaluation_sets=[p for p in prompt_sets if p["source"] or p["measured"]],
    )
    card = DatasetCard(f"---\n{data.to_yaml()}\n---\n\n{body}")
    return str(card)
