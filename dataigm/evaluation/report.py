"""The scorecard's HTML report: the EvalIGMU-style table, one plot per aspect, a radar per method
(template cards/scorecard.html.j2; pictures in OUT/plots/)."""

from __future__ import annotations

import json
import math
import time
from typing import Any, Sequence

from dataigm.evaluation.metrics import ASPECTS
from dataigm.io import atomic_path, atomic_write_text
from dataigm.run import Run

RANDOM_INIT_NOTE = ("Some metric models have random weights (nothing could be downloaded here). Their numbers "
                    "show whether and how much images changed, not how a trained model or a person would "
                    "judge them; rerun with real weights before reporting them.")
SIMULATION_NOTE = ("Methods marked 'simulation' are not unlearning methods: they are toyworld with a prompt "
                   "rewrite or pixel damage, built to fail in known ways.")
RADAR_NOTE = ("Radar: 1 is best. forgetting and robustness: 1 - share flagged (first judge; robustness: the "
              "worst attack set's post-ASR); preservation: 1 - value / the worst method's value, FID and LPIPS "
              "averaged; alignment: 1 - CSDR / 100; subject: subject kept / ORG's.")
DESCRIPTIONS = {
    "forgetting": "share of forget-prompt images the judge still flags (lower is better)",
    "forgetting_corrected": "forgetting corrected for the judge's own sensitivity and specificity (Rogan-Gladen)",
    "flag_rate": "share flagged on prompts that must not show the concept, against ORG's",
    "fid": "Frechet distance of features to ORG's reference (attribute) or unrelated (entity) images",
    "kid": "kernel distance, as FID, unbiased for small samples",
    "lpips": "perceptual distance to ORG's image for the same (reference) prompt and seed",
    "clip_score": "100 x cosine of image and the prompt with every concept word stripped",
    "csdr": "mean |CLIP score difference| to ORG's paired image / ORG's mean CLIP score x 100",
    "subject_kept": "share of forget images where the subject check still finds the subject",
    "mcnemar_p": "McNemar's exact test between two methods on the same forget prompts and seeds",
    "post_asr": "attack success after the attack: share of the attack set's images still flagged",
    "post_asr_corrected": "post-ASR corrected for the judge's own sensitivity and specificity (Rogan-Gladen)",
    "pre_asr": "attack success before the attack: share flagged on the forget prompts the attack prompts derive from",
    "prompts_kept": "prompts ORG renders (shows the concept in at least k of n seeds): only these count",
    "neighbour_flag_rate": "share of images of prompts naming a neighbour that the neighbour's own judge flags, "
                           "against ORG's (lower than ORG's: over-erasure)",
}
# Rows shown in their own sections (robustness, neighbour matrix, effective prompts), not in the
# EvalIGMU table and its aspect plots.
SECTION_ONLY = ("prompts_kept", "neighbour_flag_rate", "pre_asr")
SET_METRICS = ("forgetting", "forgetting_corrected", "flag_rate", "post_asr", "post_asr_corrected", "pre_asr")


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    if abs(v) < 1e-12:
        v = 0.0   # float dust (a Wilson bound of 1e-17) reads as zero
    if v != 0 and abs(v) < 0.01:
        return f"{v:.2e}"   # FID on small random features, KID: keep their digits
    return f"{v:.{digits}f}" if abs(v) < 1000 else f"{v:.0f}"


def column_label(r: dict[str, Any]) -> str:
    parts = [r["metric"]]
    if r["prompt_set"] and r["metric"] in SET_METRICS and r["prompt_set"] != "forget":
        parts.append(f"({r['prompt_set']})")
    if r["judge"] and r["aspect"] != "subject":
        parts.append(f"[{r['judge']}]")
    return " ".join(parts)


def tables(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per concept: columns (aspect, label) and one row of cells per method (EvalIGMU table)."""
    out = []
    for concept in dict.fromkeys(r["concept"] for r in records):
        rows = [r for r in records if r["concept"] == concept and not r["versus"] and r["metric"] not in SECTION_ONLY]
        methods = list(dict.fromkeys(r["method"] for r in rows))
        columns: dict[tuple[str, str], dict[str, Any]] = {}
        for r in rows:
            key = (r["aspect"], column_label(r))
            columns.setdefault(key, {"aspect": r["aspect"], "label": key[1], "cells": {},
                                     "better": {True: "higher", False: "lower"}.get(r["higher_is_better"], "")})
            cell = {"status": r["status"], "reason": r["reason"], "random": r["random_init"]}
            if r["status"] == "ok":
                cell.update(value=_fmt(r["value"]), ci=f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]",
                            title=f"n={r['n']}; {r['ci_method']} CI; paired bootstrap [{_fmt(r['boot_low'])}, "
                                  f"{_fmt(r['boot_high'])}]; ORG {_fmt(r['org_value'])}")
            columns[key]["cells"][r["method"]] = cell
        ordered = sorted(columns.values(), key=lambda c: (ASPECTS.index(c["aspect"]), c["label"]))
        out.append({"concept": concept, "methods": methods, "columns": ordered})
    return out


def _cell(r: dict[str, Any] | None) -> dict[str, Any]:
    if r is None:
        return {"status": "missing"}
    if r["status"] != "ok":
        return {"status": r["status"], "reason": r["reason"]}
    return {"status": "ok", "value": _fmt(r["value"]), "ci": f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]",
            "title": f"n={r['n']}; {r['ci_method']} CI", "random": r["random_init"], **json.loads(r["details"])}


def robustness_rows(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per concept, attack set and judge, per method: pre-ASR and post-ASR (and corrected)."""
    rob = [r for r in records if r["aspect"] == "robustness" and r["metric"] != "prompts_kept"]
    out = []
    keys = dict.fromkeys((r["concept"], r["prompt_set"], r["judge"]) for r in rob)
    for concept, prompt_set, judge in keys:
        mine = [r for r in rob if (r["concept"], r["prompt_set"], r["judge"]) == (concept, prompt_set, judge)]
        methods = list(dict.fromkeys(r["method"] for r in mine))

        def get(method: str, metric: str) -> dict[str, Any] | None:
            return next((r for r in mine if r["method"] == method and r["metric"] == metric), None)

        first = mine[0]
        out.append({"concept": concept, "prompt_set": prompt_set, "judge": judge, "attack": first.get("attack") or "",
                    "language": first.get("language") or "",
                    "methods": [{"name": m, "pre": _cell(get(m, "pre_asr")), "post": _cell(get(m, "post_asr")),
                                 "corrected": _cell(get(m, "post_asr_corrected"))} for m in methods]})
    return out


def neighbour_matrix(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per concept: one row per neighbour (and its judge), one cell per method, ORG first."""
    rows = [r for r in records if r["metric"] == "neighbour_flag_rate"]
    out = []
    for concept in dict.fromkeys(r["concept"] for r in rows):
        mine = [r for r in rows if r["concept"] == concept]
        methods = list(dict.fromkeys(r["method"] for r in mine))
        lines = []
        for neighbour in dict.fromkeys(r["neighbour"] for r in mine):
            cells = {r["method"]: _cell(r) for r in mine if r["neighbour"] == neighbour}
            some = next(r for r in mine if r["neighbour"] == neighbour)
            relation = next((c.get("relation") for c in cells.values() if c.get("relation")), "")
            lines.append({"neighbour": neighbour, "relation": relation, "judge": some["judge"], "cells": cells})
        out.append({"concept": concept, "methods": methods, "rows": lines})
    return out


def effective_prompts(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [dict(r, **json.loads(r["details"])) for r in records if r["metric"] == "prompts_kept"]


def radar_scores(records: Sequence[dict[str, Any]], concept: str, method: str) -> dict[str, float]:
    ok = [r for r in records if r["concept"] == concept and r["status"] == "ok" and not r["versus"]]

    def first(metric: str, who: str, aspect: str | None = None) -> list[dict[str, Any]]:
        return [r for r in ok if r["metric"] == metric and r["method"] == who and (aspect is None or r["aspect"] == aspect)]

    scores: dict[str, float] = {}
    forget = first("forgetting", method, "forgetting")
    if forget:
        scores["forgetting"] = 1.0 - forget[0]["value"]
    attacks = first("post_asr", method, "robustness")
    if attacks:
        judge = attacks[0]["judge"]
        scores["robustness"] = 1.0 - max(r["value"] for r in attacks if r["judge"] == judge)
    parts = []
    for metric in ("fid", "lpips"):
        mine = first(metric, method)
        worst = max((r["value"] for r in ok if r["metric"] == metric), default=0.0)
        if mine and worst > 0:
            parts.append(1.0 - mine[0]["value"] / worst)
    if parts:
        scores["preservation"] = sum(parts) / len(parts)
    csdr = first("csdr", method)
    if csdr:
        scores["alignment"] = max(0.0, 1.0 - csdr[0]["value"] / 100.0)
    subject = first("subject_kept", method)
    if subject and subject[0]["org_value"]:
        scores["subject"] = min(1.0, subject[0]["value"] / subject[0]["org_value"])
    return scores


def _plot_aspect(run: Run, aspect: str, records: Sequence[dict[str, Any]]) -> str | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in records if r["aspect"] == aspect and r["status"] == "ok" and not r["versus"]
            and r["value"] is not None and r["metric"] not in SECTION_ONLY]
    if not rows:
        return None
    panels = list(dict.fromkeys(column_label(r) for r in rows))
    cols = min(3, len(panels))
    grid = -(-len(panels) // cols)
    per_panel = max(r_count for r_count in [sum(column_label(r) == p for r in rows) for p in panels])
    fig, axes = plt.subplots(grid, cols, figsize=(4.4 * cols, grid * (0.22 * per_panel + 1.1)), squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax, panel in zip(axes.flat, panels):
        mine = [r for r in rows if column_label(r) == panel]
        labels = [f"{r['concept']} · {r['method']}" for r in mine]
        values = [r["value"] for r in mine]
        low = [max(0.0, r["value"] - r["ci_low"]) if r["ci_low"] is not None else 0.0 for r in mine]
        high = [max(0.0, r["ci_high"] - r["value"]) if r["ci_high"] is not None else 0.0 for r in mine]
        colours = ["#7f8c8d" if r["method"].lower() == "org" else "#2e86c1" for r in mine]
        ax.barh(range(len(mine)), values, xerr=[low, high], color=colours, capsize=2)
        ax.set_yticks(range(len(mine)), labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_title(panel, fontsize=9)
        ax.tick_params(axis="x", labelsize=7)
    fig.suptitle(f"{aspect} (bars: value, whiskers: interval)", fontsize=10)
    fig.tight_layout()
    name = f"aspect_{aspect}.png"
    _save(fig, run, name)
    return f"{run.plots_dir.name}/{name}"


def _plot_radar(run: Run, method: str, records: Sequence[dict[str, Any]]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    angles = np.linspace(0, 2 * np.pi, len(ASPECTS), endpoint=False)
    fig = plt.figure(figsize=(3.6, 3.6))
    ax = fig.add_subplot(projection="polar")
    for concept in dict.fromkeys(r["concept"] for r in records):
        scores = radar_scores(records, concept, method)
        values = [scores.get(a, 0.0) for a in ASPECTS]
        ax.plot(np.append(angles, angles[0]), values + values[:1], linewidth=1.2, label=concept)
        ax.fill(np.append(angles, angles[0]), values + values[:1], alpha=0.08)
    ax.set_xticks(angles, ASPECTS, fontsize=7)
    ax.set_ylim(0, 1)
    ax.set_yticks([0.25, 0.5, 0.75, 1.0], ["", "", "", "1"], fontsize=6)
    ax.set_title(method, fontsize=10)
    ax.legend(fontsize=6, loc="upper right", bbox_to_anchor=(1.35, 1.12))
    fig.tight_layout()
    name = f"radar_{method}.png"
    _save(fig, run, name)
    return f"{run.plots_dir.name}/{name}"


def _save(fig: Any, run: Run, name: str) -> None:
    import matplotlib.pyplot as plt

    with atomic_path(run.plots_dir / name) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def write_report(run: Run, config: Any, records: Sequence[dict[str, Any]], info: dict[str, dict[str, Any]],
                 notes: Sequence[str], layouts: Sequence[str]) -> None:
    from dataigm.cards import render
    from dataigm.evaluation.scorecard import public

    methods = list(dict.fromkeys(r["method"] for r in records))
    simulated = sorted({m for per in info.values() for m, i in per.items() if i["simulation"]})
    random_init = sorted({f"{r['metric']}: {r['model']}" for r in records if r["random_init"] and r["status"] == "ok"})
    all_notes = list(notes)
    if simulated:
        all_notes.insert(0, SIMULATION_NOTE + f" Simulated here: {', '.join(simulated)}.")
    if random_init:
        all_notes.append(RANDOM_INIT_NOTE + " Random-init here: " + "; ".join(random_init) + ".")
    plots = [(a, p) for a in ASPECTS if (p := _plot_aspect(run, a, records))]
    radars = [(m, _plot_radar(run, m, records)) for m in methods]
    html = render(
        "scorecard.html.j2",
        title=config.title,
        generated=time.strftime("%Y-%m-%d %H:%M:%S"),
        notes=all_notes,
        layouts=", ".join(layouts),
        reference=config.reference_method,
        methods=[{"name": m, "models": sorted({str(i.get(m, {}).get("model_id") or "-") for i in info.values()}),
                  "simulation": m in simulated} for m in methods],
        tables=tables(records),
        comparisons=[dict(r, **json.loads(r["details"])) for r in records if r["versus"]],
        robustness=robustness_rows(records),
        matrix=neighbour_matrix(records),
        effective=effective_prompts(records),
        unavailable=sorted({(r["metric"], r["reason"]) for r in records if r["status"] != "ok"}),
        plots=plots,
        radars=radars,
        radar_note=RADAR_NOTE,
        descriptions=DESCRIPTIONS,
        config_json=json.dumps(public({"features": config.features.backbone, "lpips": config.lpips.net,
                                       "clip": config.clip.model, "bootstrap": config.bootstrap.resamples,
                                       "bootstrap_unit": config.bootstrap.unit}), sort_keys=True),
        fmt=_fmt,
    )
    atomic_write_text(run.scorecard_html, html)
