"""Split fractions at scale: the worst deviation from the configured fractions, per config and
label, at 50k images laid out like a build (generated pairs with several images per prompt and
benchmark pairs, web and real singletons, near-duplicate clusters with a heavy tail and one large
web cluster per concept: a stock photo or watermark reposted many times).

Records `split_deviation@N`: the worst |share - fraction| in points over every (concept, label)
and split, with dataigm.splits.assign_splits as it is, against the same call with large groups
placed like any other group (LARGE_GROUP_SHARE = inf, the placement before large groups were
placed first), both measured in this run on the same rows.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict

import numpy as np

import dataigm.splits as splits
from dataigm.splits import SPLITS, SplitConfig, assign_splits, check_no_leaks

CONCEPTS = ("nudity", "style_vangogh", "object_church", "object_parachute")


def toyworld_like_rows(n: int, seed: int = 0) -> list[dict]:
    """About n rows: per concept 60% generated pairs (3 images per prompt, every 40th pair a
    benchmark), 40% ingested web and real singletons; near-duplicate clusters of 2-3 images on
    3% of the generated rows, a heavy tail of small clusters among ingested rows, and in each
    concept one large web cluster (a watermark or stock photo reposted: 8% of the concept)."""
    rng = np.random.default_rng(seed)
    rows: list[dict] = []
    per_concept = n // len(CONCEPTS)
    for concept in CONCEPTS:
        start = len(rows)
        for p in range(int(per_concept * 0.6) // 6):
            for label, pset in ((1, "forget"), (0, "reference")):
                for k in range(3):
                    rid = f"{concept}-{p:06d}-{pset}-{k}"
                    rows.append({"id": rid, "concept": concept, "label_id": label, "source": "generated",
                                 "pair_id": f"{concept}-pair{p}", "prompt_id": f"{concept}-{pset}-{p}",
                                 "dup_cluster": rid, "sha256": rid, "benchmark": p % 40 == 0})
        generated = np.arange(start, len(rows))
        for source, share in (("web", 0.25), ("real", 0.15)):
            for label in (0, 1):
                for i in range(int(per_concept * share / 2)):
                    rid = f"{concept}-{source}-{label}-{i:06d}"
                    rows.append({"id": rid, "concept": concept, "label_id": label, "source": source,
                                 "pair_id": None, "prompt_id": None, "dup_cluster": rid, "sha256": rid,
                                 "benchmark": False})
        ingested = np.arange(generated[-1] + 1, len(rows))
        web_positive = [i for i in ingested if rows[i]["source"] == "web" and rows[i]["label_id"] == 1]

        def cluster(members: np.ndarray, name: str) -> None:
            for j in members:
                rows[j]["dup_cluster"] = f"{concept}-{name}"

        cluster(rng.choice(web_positive, int(0.08 * per_concept), replace=False), "stock-photo")
        picks = rng.permutation(generated)[: int(0.03 * len(generated))]
        for k in range(0, len(picks) - 2, 3):
            cluster(picks[k:k + int(rng.integers(2, 4))], f"gen{k}")
        rest = rng.permutation([i for i in ingested if rows[i]["dup_cluster"] == rows[i]["id"]])
        at = 0
        for k, size in enumerate(np.minimum(rng.zipf(2.5, size=len(rest) // 10), 50)):
            if size > 1 and at + size <= len(rest):
                cluster(rest[at:at + size], f"ing{k}")
            at += size
    return rows


def worst_deviation(rows: list[dict], fractions: dict[str, float]) -> tuple[float, str]:
    counts: dict[tuple, Counter] = defaultdict(Counter)
    for r in rows:
        counts[(r["concept"], r["label_id"])][r["split"]] += 1
    worst, where = 0.0, ""
    for key, per in counts.items():
        total = sum(per.values())
        for s in SPLITS:
            dev = abs(per[s] / total - fractions[s])
            if dev > worst:
                worst, where = dev, f"{key[0]}/label {key[1]}: {s} {per[s] / total:.1%}"
    return worst, where


def run(quick: bool = False) -> list[dict]:
    n = 5_000 if quick else 50_000
    rows = toyworld_like_rows(n)
    cfg = SplitConfig()
    start = time.perf_counter()
    warnings: list[str] = []
    out = assign_splits(rows, cfg, warnings)
    seconds = time.perf_counter() - start
    check_no_leaks(out)
    worst, where = worst_deviation(out, cfg.fractions)
    saved = splits.LARGE_GROUP_SHARE
    splits.LARGE_GROUP_SHARE = float("inf")
    try:
        base = assign_splits(rows, cfg)
    finally:
        splits.LARGE_GROUP_SHARE = saved
    base_worst, base_where = worst_deviation(base, cfg.fractions)
    return [{"name": f"splits/worst_deviation@{len(rows)}", "worst_points": round(100 * worst, 2),
             "where": where, "target": "<= 2 points, else a warning naming the group",
             "warnings": warnings, "seconds": round(seconds, 2),
             "baseline": "large groups placed like any other group",
             "baseline_worst_points": round(100 * base_worst, 2), "baseline_where": base_where}]


if __name__ == "__main__":
    import json
    import sys

    for record in run(quick="--quick" in sys.argv):
        print(json.dumps(record))
