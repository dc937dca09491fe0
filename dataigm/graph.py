"""Connected components of an undirected graph given as an edge list (scipy's implementation).

Used wherever rows that are linked must stay together: near-duplicate clusters in curation, and
the leak-free groups (pair, prompt, cluster, bytes) of the splitter.
"""

from __future__ import annotations

import numpy as np


def connected_components(n: int, edges: np.ndarray) -> np.ndarray:
    """One component label (0..k-1) per node, for `n` nodes and an (m, 2) array of edges."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components as components

    if n == 0:
        return np.empty(0, dtype=np.int64)
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    if edges.size == 0:
        return np.arange(n, dtype=np.int64)
    graph = coo_matrix((np.ones(len(edges), dtype=np.int8), (edges[:, 0], edges[:, 1])), shape=(n, n))
    _, labels = components(graph, directed=False)
    return labels.astype(np.int64)
