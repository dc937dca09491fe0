"""Near-duplicate search on 64-bit perceptual hashes: all pairs within a Hamming radius.

Exact range search, never quadratic. The large-set method is multi-index hashing done as a
sort-join (Norouzi et al., "Fast exact search in Hamming space with multi-index hashing"):

* split the 64 bits into m blocks; if two codes differ in at most r bits, some block differs in
  at most floor(r / m) bits (pigeonhole);
* two blocks differ in at most 2 bits exactly when flipping at most one bit on each side makes
  them equal, so every code emits its block plus its one-bit variants as keys, the keys are
  sorted, and every run of equal keys yields candidate pairs;
* candidates are verified on the full 64 bits, so the result is exact, not approximate.

This is the same index faiss.IndexBinaryMultiHash builds, but as a self-join over sorted arrays
instead of per-query hash-map probes: on the 2-core development machine faiss's MultiHash took
78 s (radius 8) to 200 s (radius 7) for a million codes, the sort-join a few seconds (see
benchmarks/bench_near_dup.py). Small sets use faiss.IndexBinaryFlat range search (brute force
in C, fastest below a few thousand codes), and "faiss-multihash" stays available.

Curation needs clusters, not pairs, and `near_clusters` finds them without listing every pair:
a cluster of k near-identical images has k^2/2 pairs (and the pair search above meets each of
them once per shared key, about 18 times), which exhausted 22 GB at k = 8,000. Instead:
identical hashes collapse to one node first; then, inside each run of codes sharing a key, a
long run is linked as stars: its first code is linked to every code within the radius (one
edge each), and each remaining code to one member of that star if any is within the radius,
then the same again for the remaining codes. Every pair within the radius shares a key, so it
is either inside one star (connected through its centre) or checked, and the connected
components are exactly those of the full pair graph; memory stays linear in the codes.
"""

from __future__ import annotations

from typing import Iterator, Literal

import numpy as np

from dataigm.graph import connected_components

Method = Literal["auto", "flat", "mih", "faiss-multihash", "pairwise"]

# Below this many codes a brute-force range search in C beats building any index.
FLAT_MAX = 4096
HASH_BITS = 64


def hash_to_int(hash_bits: np.ndarray) -> int:
    """An imagehash boolean array (8x8) to an unsigned 64-bit integer (row-major, MSB first)."""
    packed = np.packbits(np.asarray(hash_bits, dtype=bool).ravel())
    if packed.size != 8:
        raise ValueError(f"expected a 64-bit hash, got {packed.size * 8} bits")
    return int.from_bytes(packed.tobytes(), "big")


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise Hamming distance of two uint64 arrays."""
    return np.bitwise_count(np.bitwise_xor(a, b)).astype(np.int64)


def blocks_for_radius(radius: int) -> int:
    """Number of blocks m so that floor(radius / m) <= 2 (one flip per side finds it)."""
    return max(1, radius // 3 + 1)


def near_pairs(codes: np.ndarray, radius: int, method: Method = "auto") -> np.ndarray:
    """All pairs (i, j), i < j, with Hamming(codes[i], codes[j]) <= radius, as an (k, 2) int64
    array sorted by (i, j). `codes` is a uint64 array (one 64-bit hash per item)."""
    codes = np.ascontiguousarray(codes, dtype=np.uint64)
    if radius < 0:
        raise ValueError(f"radius must be >= 0, got {radius}")
    n = codes.shape[0]
    if n < 2:
        return np.empty((0, 2), dtype=np.int64)
    if method == "auto":
        method = "flat" if n <= FLAT_MAX else "mih"
    if method == "flat":
        pairs = _faiss_range(codes, radius, None)
    elif method == "faiss-multihash":
        pairs = _faiss_range(codes, radius, _multihash_params(radius))
    elif method == "mih":
        pairs = _mih_pairs(codes, radius)
    elif method == "pairwise":
        pairs = pairwise_pairs(codes, radius)
    else:
        raise ValueError(f"unknown near-duplicate method '{method}'")
    return _canonical(pairs)


def _canonical(pairs: np.ndarray) -> np.ndarray:
    if pairs.size == 0:
        return np.empty((0, 2), dtype=np.int64)
    pairs = np.sort(pairs.astype(np.int64), axis=1)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    key = np.unique((pairs[:, 0].astype(np.uint64) << np.uint64(32)) | pairs[:, 1].astype(np.uint64))
    return np.stack([(key >> np.uint64(32)).astype(np.int64),
                     (key & np.uint64(0xFFFFFFFF)).astype(np.int64)], axis=1)


def _as_faiss_codes(codes: np.ndarray) -> np.ndarray:
    # faiss binary codes are bytes; byte order does not change a Hamming distance.
    return codes.view(np.uint8).reshape(-1, 8)


def _multihash_params(radius: int) -> tuple[int, int, int]:
    """(nhash, bits per table, nflip) with nhash * (nflip + 1) > radius: exact range search."""
    best = None
    for nhash in range(1, HASH_BITS + 1):
        b = HASH_BITS // nhash
        nflip = radius // nhash
        if nflip > 3 or b > 40 or b < 4:
            continue
        probes = nhash * sum(_comb(b, k) for k in range(nflip + 1))
        cost = probes * (1 + 2 ** 20 / 2 ** b)  # probes and expected candidates at n ~ 1M
        if best is None or cost < best[0]:
            best = (cost, (nhash, b, nflip))
    if best is None:
        raise ValueError(f"radius {radius} too large for multi-hash search")
    return best[1]


def _comb(n: int, k: int) -> int:
    from math import comb

    return comb(n, k)


def _faiss_range(codes: np.ndarray, radius: int, multihash: tuple[int, int, int] | None) -> np.ndarray:
    import faiss

    x = _as_faiss_codes(codes)
    if multihash is None:
        index = faiss.IndexBinaryFlat(HASH_BITS)
    else:
        nhash, b, nflip = multihash
        index = faiss.IndexBinaryMultiHash(HASH_BITS, nhash, b)
        index.nflip = nflip
    index.add(x)
    out = []
    step = 65536
    for start in range(0, x.shape[0], step):
        # faiss returns distances strictly below the radius it is given.
        lims, _, ids = index.range_search(x[start:start + step], radius + 1)
        counts = np.diff(lims).astype(np.int64)
        queries = np.repeat(np.arange(start, start + len(counts)), counts)
        keep = ids > queries  # each pair once, no self-matches
        out.append(np.stack([queries[keep], ids[keep]], axis=1))
    return np.concatenate(out) if out else np.empty((0, 2), dtype=np.int64)


def _block_keys(codes: np.ndarray, radius: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Per block of the code: (sorted keys, item of each key), where each item emits its block
    and the block's one-bit variants, so items that share a key are candidates."""
    n = codes.shape[0]
    if n >= 2**32:
        raise ValueError("at most 2**32 - 1 codes per search")
    m = blocks_for_radius(radius)
    widths = [HASH_BITS // m + (1 if i < HASH_BITS % m else 0) for i in range(m)]
    ids = np.arange(n, dtype=np.uint64)
    offset = 0
    low32 = np.uint64(0xFFFFFFFF)
    for width in widths:
        block = (codes >> np.uint64(offset)) & np.uint64((1 << width) - 1)
        offset += width
        # Keys: the block and its one-bit variants, with the item id in the low 32 bits, so one
        # plain SIMD sort of uint64 values (no argsort) groups equal keys together.
        # (b ^ f) << 32 | id == (b << 32 | id) ^ (f << 32): all variants in one broadcast XOR.
        base = (block << np.uint64(32)) | ids
        flips = np.zeros(width + 1, dtype=np.uint64)
        flips[1:] = np.uint64(1) << (np.arange(width, dtype=np.uint64) + np.uint64(32))
        packed = (base[None, :] ^ flips[:, None]).ravel()
        packed.sort()
        keys = packed >> np.uint64(32)
        members = (packed & low32).view(np.int64)  # ids < 2**32: same bits as int64
        del packed
        yield keys, members


def _mih_pairs(codes: np.ndarray, radius: int) -> np.ndarray:
    found: list[np.ndarray] = []
    for keys, members in _block_keys(codes, radius):
        found.extend(_pairs_in_runs(keys, members, codes, radius))
    return np.concatenate(found) if found else np.empty((0, 2), dtype=np.int64)


def _pairs_in_runs(keys: np.ndarray, members: np.ndarray, codes: np.ndarray,
                   radius: int) -> list[np.ndarray]:
    """Verified pairs among all positions p < q inside the same run of equal keys."""
    out = []
    total = keys.shape[0]
    active = np.flatnonzero(keys[1:] == keys[:-1])  # p such that p and p+1 share a key
    gap = 1
    while active.size:
        a = members[active]
        b = members[active + gap]
        ok = hamming(codes[a], codes[b]) <= radius
        if ok.any():
            out.append(np.stack([a[ok], b[ok]], axis=1))
        gap += 1
        nxt = active + gap
        inside = nxt < total
        active = active[inside]
        active = active[keys[nxt[inside]] == keys[active]]
    return out


def pairwise_pairs(codes: np.ndarray, radius: int, chunk: int = 1024) -> np.ndarray:
    """The quadratic baseline: numpy popcount over all pairs (for tests and the benchmark)."""
    codes = np.ascontiguousarray(codes, dtype=np.uint64)
    out = []
    n = codes.shape[0]
    for start in range(0, n, chunk):
        block = codes[start:start + chunk]
        dist = np.bitwise_count(block[:, None] ^ codes[None, :])
        i, j = np.nonzero(dist <= radius)
        i = i + start
        keep = j > i
        out.append(np.stack([i[keep], j[keep]], axis=1))
    return np.concatenate(out) if out else np.empty((0, 2), dtype=np.int64)


# Runs of equal keys longer than this are linked as stars instead of pair by pair.
DENSE_RUN = 32


def near_clusters(codes: np.ndarray, radius: int, method: Method = "auto") -> tuple[np.ndarray, int]:
    """Connected components of the near-duplicate graph (Hamming distance <= radius) without
    listing every pair: (one label 0..k-1 per code, number of links used). Exact: the labels
    equal `cluster_labels(n, near_pairs(codes, radius))` up to renumbering."""
    codes = np.ascontiguousarray(codes, dtype=np.uint64)
    if radius < 0:
        raise ValueError(f"radius must be >= 0, got {radius}")
    n = codes.shape[0]
    if n < 2:
        return np.arange(n, dtype=np.int64), 0
    # Identical hashes are one node: a cluster of copies costs nothing beyond its distinct codes.
    unique, inverse = np.unique(codes, return_inverse=True)
    if method == "auto":
        method = "flat" if unique.shape[0] <= FLAT_MAX else "mih"
    if method == "mih":
        links = _mih_links(unique, radius)
    else:
        links = near_pairs(unique, radius, method)
    labels = connected_components(unique.shape[0], links)
    # Renumber by first appearance so labels are stable for a given input order.
    _, first, compact = np.unique(labels[inverse.ravel()], return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))
    return order[compact.ravel()].astype(np.int64), int(links.shape[0])


def _mih_links(codes: np.ndarray, radius: int) -> np.ndarray:
    """Links (verified pairs) whose connected components are those of all near pairs."""
    found: list[np.ndarray] = []
    for keys, members in _block_keys(codes, radius):
        starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
        lengths = np.diff(np.r_[starts, keys.shape[0]])
        run_len = np.repeat(lengths, lengths)
        short = (run_len > 1) & (run_len <= DENSE_RUN)
        block_links = _pairs_in_runs(keys[short], members[short], codes, radius)
        for start, length in zip(starts[lengths > DENSE_RUN], lengths[lengths > DENSE_RUN]):
            block_links.extend(_star_links(members[start:start + length], codes, radius))
        if block_links:
            found.append(_canonical(np.concatenate(block_links)))  # one copy of each link per block
    return _canonical(np.concatenate(found)) if found else np.empty((0, 2), dtype=np.int64)


def _star_links(run: np.ndarray, codes: np.ndarray, radius: int, chunk: int = 2048) -> list[np.ndarray]:
    """Links that connect every pair within `radius` among the codes of one long run."""
    out = []
    rest = run
    while rest.shape[0] > 1:
        centre = rest[0]
        near = hamming(codes[rest], codes[centre]) <= radius
        star, rest = rest[near], rest[~near]
        out.append(np.stack([np.full(star.shape[0] - 1, centre), star[1:]], axis=1))
        if rest.shape[0] == 0:
            break
        # One link from each remaining code to the star, when any star member is within reach.
        star_codes = codes[star]
        for lo in range(0, rest.shape[0], chunk):
            part = rest[lo:lo + chunk]
            dist = np.bitwise_count(codes[part][:, None] ^ star_codes[None, :])
            hit = dist <= radius
            reach = hit.any(axis=1)
            if reach.any():
                out.append(np.stack([part[reach], star[hit[reach].argmax(axis=1)]], axis=1))
    return out


def cluster_labels(n: int, pairs: np.ndarray) -> np.ndarray:
    """Connected components of the near-duplicate graph: one label per item (0..k-1)."""
    return connected_components(n, pairs)
