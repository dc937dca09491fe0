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
              "worst attack set); preservation: 1 - value / the worst method's value, FID and LPIPS "
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
}


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
    if r["prompt_set"] and r["metric"] in ("forgetting", "forgetting_corrected", "flag_rate") and \
            r["prompt_set"] != "forget":
        parts.append(f"({r['prompt_set']})")
    if r["judge"] and r["aspect"] != "subject":
        parts.append(f"[{r['judge']}]")
    return " ".join(parts)


def tables(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per concept: columns (aspect, label) and one row of cells per method (EvalIGMU table)."""
    out = []
    for concept in dict.fromkeys(r["concept"] for r in records):
        rows = [r for r in records if r["concept"] == concept and not r["versus"]]
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


def radar_scores(records: Sequence[dict[str, Any]], concept: str, method: str) -> dict[str, float]:
    ok = [r for r in records if r["concept"] == concept and r["status"] == "ok" and not r["versus"]]

    def first(metric: str, who: str, aspect: str | None = None) -> list[dict[str, Any]]:
        return [r for r in ok if r["metric"] == metric and r["method"] == who and (aspect is None or r["aspect"] == aspect)]

    scores: dict[str, float] = {}
    forget = first("forgetting", method, "forgetting")
    if forget:
        scores["forgetting"] = 1.0 - forget[0]["value"]
    attacks = first("forgetting", method, "robustness")
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
            and r["value"] is not None]
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
