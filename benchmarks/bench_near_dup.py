"""Near-duplicate search: indexed (multi-index hashing) against the quadratic baseline.

Records (JSON-able dicts, each with `name`; comparisons carry `ratio` = baseline / indexed time,
both measured in this run):
  * near_dup_vs_pairwise@N: numpy popcount over all pairs (the baseline) against
    dataigm.curation.near_dup.near_pairs(method="mih") at N hashes, same radius; the pair sets
    must be identical (`same_pairs`);
  * near_dup_faiss_multihash@N: faiss.IndexBinaryMultiHash range search at N for reference;
  * near_dup_scaling: indexed search alone at growing N (synthetic 64-bit hashes, 1% planted
    near-duplicates), with seconds per size and the log-log slope between sizes.
"""

from __future__ import annotations

import math
import time

import numpy as np

from dataigm.curation.near_dup import near_pairs, pairwise_pairs

RADIUS = 8  # the default near_dedup.radius


def synthetic(n: int, radius: int = RADIUS, planted: float = 0.01, seed: int = 0) -> np.ndarray:
    """n uniform 64-bit codes; the last `planted` share are copies of earlier ones with
    0..radius bits flipped (so a known set of true near-duplicates exists)."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 2**64 - 1, size=n, dtype=np.uint64, endpoint=True)
    k = max(1, int(n * planted))
    src = rng.integers(0, n - k, size=k)
    flips = np.zeros(k, dtype=np.uint64)
    nbits = rng.integers(0, radius + 1, size=k)
    for t in range(k):
        for bit in rng.choice(64, int(nbits[t]), replace=False):
            flips[t] |= np.uint64(1) << np.uint64(int(bit))
    codes[n - k:] = codes[src] ^ flips
    return codes


def _timed(fn, *args, repeat: int = 1, **kw):  # type: ignore[no-untyped-def]
    """Result and best-of-`repeat` wall time (the same rule for baseline and indexed)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn(*args, **kw)
        best = min(best, time.perf_counter() - start)
    return out, best


def run(quick: bool = False) -> list[dict]:
    records: list[dict] = []
    compare_n = 4000 if quick else 20000
    codes = synthetic(compare_n)
    base, t_base = _timed(pairwise_pairs, codes, RADIUS, repeat=2)
    base = base[np.lexsort((base[:, 1], base[:, 0]))]
    got, t_idx = _timed(near_pairs, codes, RADIUS, "mih", repeat=5)
    records.append({
        "name": f"near_dup_vs_pairwise@{compare_n}", "n": compare_n, "radius": RADIUS,
        "baseline": "numpy popcount over all pairs", "baseline_s": round(t_base, 4), "timing": "best of 2 (baseline) / 5 (indexed)",
        "indexed_s": round(t_idx, 4), "ratio": round(t_base / max(t_idx, 1e-9), 1),
        "pairs": int(len(got)), "same_pairs": bool(np.array_equal(got, base)), "target_ratio": 100.0,
    })
    if not quick:
        fm, t_fm = _timed(near_pairs, codes, RADIUS, "faiss-multihash", repeat=2)
        records.append({
            "name": f"near_dup_faiss_multihash@{compare_n}", "n": compare_n, "radius": RADIUS,
            "baseline": "faiss.IndexBinaryMultiHash range_search", "baseline_s": round(t_fm, 4),
            "indexed_s": round(t_idx, 4), "ratio": round(t_fm / max(t_idx, 1e-9), 1),
            "same_pairs": bool(np.array_equal(fm, got)),
        })
    sizes = [2000, 20000] if quick else [20000, 100000, 1000000]
    times = []
    for n in sizes:
        codes = synthetic(n)
        pairs, t = _timed(near_pairs, codes, RADIUS, "mih")
        times.append(t)
        planted = max(1, int(n * 0.01))
        records.append({"name": f"near_dup_indexed@{n}", "n": n, "radius": RADIUS, "seconds": round(t, 3),
                        "pairs": int(len(pairs)), "planted": planted,
                        "under_60s": bool(t < 60.0)})
    slopes = [math.log(times[i + 1] / times[i]) / math.log(sizes[i + 1] / sizes[i])
              for i in range(len(sizes) - 1)]
    records.append({"name": "near_dup_scaling", "sizes": sizes, "seconds": [round(t, 3) for t in times],
                    "loglog_slope": [round(s, 2) for s in slopes]})
    return records


if __name__ == "__main__":
    import json
    import sys

    for record in run(quick="--quick" in sys.argv):
        print(json.dumps(record))
