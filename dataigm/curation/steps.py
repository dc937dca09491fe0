"""Curation steps. Each gets the rows still kept and returns the ones it drops, with a reason.

datatrove habit: a step does one thing; its verdict per row is keep, or drop with a reason
string `code` or `code:detail` (the code is what reports count, the detail says which file or
which duplicate). Steps work on cached per-image facts (facts.py), never on pixels.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dataigm.curation.config import CurationConfig
from dataigm.curation.judges import CACHE_NAME as JUDGE_CACHE
from dataigm.curation.judges import cached_scores, nudenet_available, resolve_judge
from dataigm.curation.near_dup import near_clusters
from dataigm.judging import Judge
from dataigm.manifest import labelled_by
from dataigm.run import Run


@dataclass
class Context:
    run: Run
    config: CurationConfig
    facts: pd.DataFrame                        # by sha256
    fact_errors: dict[str, tuple[str, str]]    # sha256 -> (code, detail)
    judges: dict[str, Judge] = field(default_factory=dict)   # per concept, overriding the config
    progress: bool = True
    notes: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)     # per-step report sections
    columns: dict[str, pd.Series] = field(default_factory=dict)  # extra output columns by id


class Step:
    """A curation step; registered by name in dataigm.curation.config.CURATION_STEPS."""

    name = "step"

    def enabled(self, config: CurationConfig) -> bool:
        return True

    def run(self, rows: pd.DataFrame, ctx: Context) -> pd.Series:
        """`rows` is indexed by id; return reasons (str) indexed by the ids to drop."""
        raise NotImplementedError


def _drops(ids: list[str], reasons: list[str]) -> pd.Series:
    return pd.Series(reasons, index=pd.Index(ids, name="id"), dtype=object)


class Validation(Step):
    name = "validation"

    def enabled(self, config: CurationConfig) -> bool:
        return config.validation.enabled

    def run(self, rows: pd.DataFrame, ctx: Context) -> pd.Series:
        cfg = ctx.config.validation
        ids, reasons = [], []
        known = rows["sha256"].isin(ctx.facts.index).to_numpy()
        f = ctx.facts.reindex(rows["sha256"])
        w = f["width"].fillna(0).to_numpy(np.int64)
        h = f["height"].fillna(0).to_numpy(np.int64)
        non_rgb = int(((f["mode"] != "RGB") & known).sum())
        for i, (rid, sha, rel) in enumerate(zip(rows.index, rows["sha256"], rows["path"])):
            small, large = min(w[i], h[i]), max(w[i], h[i])
            if rel is None or not ctx.run.file(str(rel)).is_file():
                reason = f"missing_file:{rel}"
            elif not known[i]:
                code, detail = ctx.fact_errors.get(sha, ("undecodable", "no facts"))
                reason = f"{code}:{detail}"
            elif small < cfg.min_side:
                reason = f"too_small:{w[i]}x{h[i]}"
            elif large > cfg.max_side:
                reason = f"too_large:{w[i]}x{h[i]}"
            elif large / small > cfg.max_aspect:
                reason = f"aspect_ratio:{large / small:.2f}"
            else:
                continue  # non-RGB files stay (loaders convert to RGB); counted for the report
            ids.append(rid)
            reasons.append(reason)
        ctx.info["validation"] = {"non_rgb_kept": int(non_rgb)}
        return _drops(ids, reasons)


def _resolve_clusters(rows: pd.DataFrame, cluster: np.ndarray, prefix: str) -> tuple[list[str], list[str]]:
    """Who is dropped inside clusters, in O(rows): `rows` in keep-priority order, `cluster` one
    label per row. Per cluster and label the first row is kept, and so are later rows of its
    pair (forget/reference images of one pair are meant to look alike); every other row of that
    label is dropped as a duplicate of the first. Rows of other labels are a label conflict, not
    redundancy, and stay."""
    frame = pd.DataFrame({"cluster": cluster, "label": rows["label"].to_numpy(),
                          "pair": rows["pair_id"].to_numpy(), "id": rows.index.to_numpy()})
    first_rows = frame.groupby(["cluster", "label"], sort=False).cumcount().to_numpy() == 0
    firsts = frame[first_rows].rename(columns={"pair": "first_pair", "id": "first_id"})
    merged = frame.merge(firsts[["cluster", "label", "first_pair", "first_id"]], on=["cluster", "label"],
                         how="left", sort=False)
    same_pair = merged["pair"].notna().to_numpy() & (merged["pair"] == merged["first_pair"]).to_numpy()
    drop = ~first_rows & ~same_pair
    return (merged.loc[drop, "id"].tolist(), [f"{prefix}:{f}" for f in merged.loc[drop, "first_id"]])


def _priority(rows: pd.DataFrame, facts: pd.DataFrame, prefer: str = "id") -> pd.DataFrame:
    """Deterministic keep order: by id, or most pixels first then id."""
    if prefer == "id":
        return rows.sort_index(kind="stable")
    px = facts.loc[rows["sha256"], "width"].to_numpy(np.int64) * facts.loc[rows["sha256"], "height"].to_numpy(np.int64)
    out = rows.assign(_pixels=px, _id=rows.index)
    return out.sort_values(["_pixels", "_id"], ascending=[False, True])


def _scopes(rows: pd.DataFrame, scope: str) -> list[pd.DataFrame]:
    if scope == "all":
        return [rows]
    return [g for _, g in rows.groupby("concept", sort=True, dropna=False)]


class ExactDedup(Step):
    name = "exact_dedup"

    def enabled(self, config: CurationConfig) -> bool:
        return config.exact_dedup.enabled

    def run(self, rows: pd.DataFrame, ctx: Context) -> pd.Series:
        ids: list[str] = []
        reasons: list[str] = []
        ordered = _priority(rows, ctx.facts, ctx.config.near_dedup.prefer)
        for group in _scopes(ordered, ctx.config.near_dedup.scope):
            dup = group[group.duplicated("sha256", keep=False)]
            if dup.empty:
                continue
            i, r = _resolve_clusters(dup, pd.factorize(dup["sha256"])[0], "exact_duplicate_of")
            ids += i
            reasons += r
        return _drops(ids, reasons)


class NearDedup(Step):
    name = "near_dedup"

    def enabled(self, config: CurationConfig) -> bool:
        return config.near_dedup.enabled

    def run(self, rows: pd.DataFrame, ctx: Context) -> pd.Series:
        cfg = ctx.config.near_dedup
        ids: list[str] = []
        reasons: list[str] = []
        clusters = pd.Series(rows.index.to_numpy(), index=rows.index, dtype=object)
        n_links = 0
        sizes: list[int] = []
        start = time.perf_counter()
        ordered = _priority(rows, ctx.facts, ctx.config.near_dedup.prefer)
        for group in _scopes(ordered, cfg.scope):
            codes = ctx.facts.loc[group["sha256"], cfg.hash].to_numpy(np.uint64)
            # Clusters, not pairs: a large near-identical cluster costs memory linear in its size.
            labels, links = near_clusters(codes, cfg.radius, cfg.method)
            n_links += links
            counts = np.bincount(labels)
            member_rows = np.flatnonzero(counts[labels] > 1)
            if member_rows.size == 0:
                continue
            members = group.iloc[member_rows]
            member_labels = labels[member_rows]
            # Rows are in priority order, so a cluster's first row is its representative.
            _, first = np.unique(member_labels, return_index=True)
            rep = pd.Series(members.index[first], index=np.unique(member_labels))
            clusters.loc[members.index] = rep.loc[member_labels].to_numpy()
            sizes += counts[counts > 1].tolist()
            i, r = _resolve_clusters(members, member_labels, "near_duplicate_of")
            ids += i
            reasons += r
        ctx.columns["dup_cluster"] = clusters
        ctx.info["near_dedup"] = {
            "hash": cfg.hash, "radius": cfg.radius, "method": cfg.method, "links": int(n_links),
            "clusters_with_duplicates": len(sizes), "largest_cluster": max(sizes, default=1),
            "seconds": round(time.perf_counter() - start, 3),
        }
        return _drops(ids, reasons)


class Quality(Step):
    name = "quality"

    def enabled(self, config: CurationConfig) -> bool:
        return config.quality.enabled

    def run(self, rows: pd.DataFrame, ctx: Context) -> pd.Series:
        cfg = ctx.config.quality
        f = ctx.facts.loc[rows["sha256"]]
        side = np.minimum(f["width"].to_numpy(np.int64), f["height"].to_numpy(np.int64))
        std = f["grey_std"].to_numpy(np.float64)
        ent = f["entropy"].to_numpy(np.float64)
        ids, reasons = [], []
        for rid, s, sd, e in zip(rows.index, side, std, ent):
            if s < cfg.min_side:
                reasons.append(f"low_resolution:{s}px")
            elif sd < cfg.min_std:
                reasons.append(f"flat_image:std={sd:.2f}")
            elif e < cfg.min_entropy:
                reasons.append(f"low_entropy:{e:.2f}bits")
            else:
                continue
            ids.append(rid)
        return _drops(ids, reasons)


class JudgeAgreement(Step):
    name = "judge_agreement"

    def enabled(self, config: CurationConfig) -> bool:
        return config.judge_agreement.enabled

    def run(self, rows: pd.DataFrame, ctx: Context) -> pd.Series:
        ids, reasons = [], []
        scores_col = pd.Series(np.nan, index=rows.index, dtype=float)
        flags = pd.Series(pd.NA, index=rows.index, dtype="boolean")
        info: dict[str, Any] = {}
        cache = ctx.run.curation_cache(JUDGE_CACHE)
        for concept, cfg in sorted(ctx.config.judge_agreement.concepts.items()):
            sub = rows[rows["concept"] == concept]
            if sub.empty:
                continue
            judge = ctx.judges.get(concept) or resolve_judge(cfg, concept)
            if judge is None:
                why = ("nudenet is not installed (pip install 'dataigm[nsfw]')"
                       if cfg.judge == "auto" and not nudenet_available() else f"judge is '{cfg.judge}'")
                ctx.notes.append(f"judge_agreement: {concept}: skipped, {why}")
                info[concept] = {"judge": None, "skipped": why}
                continue
            scores, computed, cached = cached_scores(judge, sub, ctx.run, cache, cfg.batch_size,
                                                     ctx.progress)
            s = sub["sha256"].map(scores).astype(float)
            scores_col.loc[sub.index] = s
            present = sub["label_id"].to_numpy() == 1
            disagree = np.where(present, s < cfg.threshold - cfg.margin, s >= cfg.threshold + cfg.margin)
            flags.loc[sub.index] = disagree
            # Human labels are flagged unless the config says drop; prompt labels follow their own action.
            by = np.array([labelled_by(r) for r in sub[["labelled_by", "source"]].to_dict("records")])
            action = np.where(by == "prompt", cfg.prompt_label_action, cfg.action)
            dropping = disagree & (action == "drop")
            ids += list(sub.index[dropping])
            reasons += [f"judge_disagrees:{judge.name}={v:.3f}" for v in s[dropping]]
            names = sub["source_name"].fillna(sub["source"]).astype(str)
            per = pd.DataFrame({"key": names.to_numpy() + "/" + sub["label"].astype(str).to_numpy(),
                                "disagree": disagree, "dropped": dropping})
            counts = per.groupby("key").agg(judged=("disagree", "size"), disagree=("disagree", "sum"),
                                            dropped=("dropped", "sum"))
            info[concept] = {"judge": judge.name, "identity": judge.identity, "action": cfg.action,
                             "prompt_label_action": cfg.prompt_label_action, "threshold": cfg.threshold,
                             "margin": cfg.margin, "scored": computed, "cached": cached,
                             "disagree": int(disagree.sum()), "dropped": int(dropping.sum()),
                             "flagged": int((disagree & ~dropping).sum()),
                             "by_source_label": {k: {c: int(v) for c, v in row.items()}
                                                 for k, row in counts.to_dict("index").items()}}
        ctx.columns["judge_score"] = scores_col
        ctx.columns["judge_disagrees"] = flags
        ctx.info["judge_agreement"] = info
        return _drops(ids, reasons)
