"""Near-duplicate search: indexed (multi-index hashing) against the quadratic baseline.

Records (JSON-able dicts, each with `name`; comparisons carry `ratio` = baseline / indexed time,
both measured in this run):
  * near_dup_vs_pairwise@N: numpy popcount over all pairs (the baseline) against
    dataigm.curation.near_dup.near_pairs(method="mih") at N hashes, same radius; the pair sets
    must be identical (`same_pairs`);
  * near_dup_faiss_multihash@N: faiss.IndexBinaryMultiHash range search at N for reference;
  * near_dup_scaling: indexed search alone at growing N (synthetic 64-bit hashes, 1% planted
    near-duplicates), with seconds per size and the log-log slope between sizes;
  * near_dup_cluster_memory@N/k: peak memory of finding the near-duplicate clusters of N codes
    that hold one near-identical cluster of k (the k codes within 3 bits of one centre, as a
    reposted stock photo or watermark gives), each measured in its own process: curation's
    `near_clusters` at k = 10,000 in 100,000, against the pair search it replaced
    (`near_pairs` + components) at a k that one still fits in memory.
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
    records.append(cluster_memory(10_000 if quick else 100_000, 1_000 if quick else 10_000,
                                  baseline_k=500 if quick else 2_000))
    return records


_CLUSTER_CHILD = """
import json, sys, time
import numpy as np
from dataigm.curation.near_dup import cluster_labels, near_clusters, near_pairs
n, k, how = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rng = np.random.default_rng(0)
codes = rng.integers(0, 2**64 - 1, size=n, dtype=np.uint64, endpoint=True)
flips = rng.integers(0, 4, size=k)
for i in range(1, k):
    c = int(codes[0])
    for b in rng.choice(64, int(flips[i]), replace=False):
        c ^= 1 << int(b)
    codes[i] = np.uint64(c)
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])  # kB
    raise KeyError(key)
with open("/proc/self/clear_refs", "w") as fh:
    fh.write("5")  # reset the peak (VmHWM) to the current resident size: count only what follows
before = status("VmRSS")
start = time.perf_counter()
if how == "clusters":
    labels, links = near_clusters(codes, 8)
else:
    pairs = near_pairs(codes, 8)
    labels, links = cluster_labels(n, pairs), len(pairs)
seconds = time.perf_counter() - start
peak = status("VmHWM")
print(json.dumps({"peak_mb": round((peak - before) / 1024, 1), "seconds": round(seconds, 2),
                  "largest": int(np.bincount(labels).max()), "links": int(links)}))
"""


def _cluster_run(n: int, k: int, how: str) -> dict:
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _CLUSTER_CHILD, str(n), str(k), how], capture_output=True,
                         text=True, check=True, timeout=3600)
    return json.loads(out.stdout.strip().splitlines()[-1])


def cluster_memory(n: int, k: int, baseline_k: int) -> dict:
    """Peak memory (above the codes themselves) of clustering a near-identical cluster of k."""
    new = _cluster_run(n, k, "clusters")
    new_small = _cluster_run(n, baseline_k, "clusters")
    old_small = _cluster_run(n, baseline_k, "pairs")
    return {"name": f"near_dup_cluster_memory@{n}/{k}", "n": n, "k": k, "radius": RADIUS,
            "peak_mb": new["peak_mb"], "seconds": new["seconds"], "largest_cluster": new["largest"],
            "links": new["links"], "baseline": f"pair search + components at k={baseline_k}",
            "baseline_peak_mb": old_small["peak_mb"], "baseline_seconds": old_small["seconds"],
            "baseline_pairs": old_small["links"], f"clusters_peak_mb_at_k={baseline_k}": new_small["peak_mb"],
            "ratio": round(old_small["peak_mb"] / max(new_small["peak_mb"], 0.1), 1)}


if __name__ == "__main__":
    import json
    import sys

    for record in run(quick="--quick" in sys.argv):
        print(json.dumps(record))
