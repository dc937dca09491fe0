"""Per-image facts (decodability, size, perceptual hashes, flatness), cached by sha256.

Every curation step works on these facts, never on pixels, so an image is decoded once in the
life of a RUN folder: `RUN/curation/hashes.parquet` keeps one row per sha256 (the stored files
are written once and never rewritten, so the sha256 of a file is a valid cache key). Re-curating
with other thresholds reads this table and touches no image.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import imagehash
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from dataigm.curation.near_dup import hash_to_int
from dataigm.imageio import ImageRejected, decode_image
from dataigm.io import atomic_write_parquet
from dataigm.run import Run

CACHE_NAME = "hashes.parquet"
# Bump when the way a fact is computed changes: old cache rows are then recomputed.
FACTS_VERSION = 1

FACTS_SCHEMA = pa.schema([
    ("sha256", pa.string()),
    ("facts_version", pa.int64()),
    ("width", pa.int64()),
    ("height", pa.int64()),
    ("mode", pa.string()),
    ("format", pa.string()),
    ("phash", pa.uint64()),
    ("dhash", pa.uint64()),
    ("grey_std", pa.float64()),
    ("entropy", pa.float64()),
])


@dataclass
class FactsResult:
    facts: pd.DataFrame               # indexed by sha256: decodable images only
    errors: dict[str, tuple[str, str]]  # sha256 -> (reason code, detail)
    computed: int
    cached: int


def image_facts(image: "object", source_mode: str, source_format: str | None) -> dict[str, object]:
    """Facts of one decoded RGB PIL image."""
    grey = np.asarray(image.convert("L"), dtype=np.float64)  # type: ignore[attr-defined]
    hist = np.bincount(grey.astype(np.uint8).ravel(), minlength=256).astype(np.float64)
    p = hist[hist > 0] / hist.sum()
    return {
        "width": image.size[0],  # type: ignore[attr-defined]
        "height": image.size[1],  # type: ignore[attr-defined]
        "mode": source_mode,
        "format": source_format,
        "phash": hash_to_int(imagehash.phash(image).hash),
        "dhash": hash_to_int(imagehash.dhash(image).hash),
        "grey_std": float(grey.std()),
        "entropy": float(-(p * np.log2(p)).sum()),
    }


def load_cache(path: Path) -> pd.DataFrame:
    if not path.exists():
        return pd.DataFrame(columns=FACTS_SCHEMA.names).set_index("sha256")
    try:
        table = pq.read_table(path)
    except Exception:  # a damaged cache is recomputed, never trusted
        return pd.DataFrame(columns=FACTS_SCHEMA.names).set_index("sha256")
    df = table.to_pandas()
    df = df[df["facts_version"] == FACTS_VERSION]
    return df.drop_duplicates("sha256").set_index("sha256")


def compute_facts(run: Run, rows: pd.DataFrame, cache_path: Path, max_pixels: int,
                  verify_sha256: bool = True, progress: bool = True) -> FactsResult:
    """Facts for every distinct sha256 in `rows` (columns sha256, path), from cache or files."""
    cache = load_cache(cache_path)
    wanted = rows.drop_duplicates("sha256")[["sha256", "path"]]
    todo = wanted[~wanted["sha256"].isin(cache.index)]
    new: list[dict[str, object]] = []
    errors: dict[str, tuple[str, str]] = {}
    for sha, rel in tqdm(list(zip(todo["sha256"], todo["path"])), desc="curate: image facts",
                         unit="img", disable=not progress or todo.empty):
        path = run.file(str(rel))
        try:
            data = path.read_bytes()
        except OSError as exc:
            errors[sha] = ("missing_file", exc.strerror or str(exc))
            continue
        if verify_sha256 and hashlib.sha256(data).hexdigest() != sha:
            errors[sha] = ("sha256_mismatch", "file bytes differ from the manifest's sha256")
            continue
        try:
            decoded = decode_image(data, max_pixels=max_pixels)
        except ImageRejected as exc:
            # Failures are not cached: they are rare and a later fix of the file must count.
            errors[sha] = ("undecodable", exc.reason)
            continue
        facts = image_facts(decoded.image, decoded.source_mode, decoded.source_format)
        facts.update(sha256=sha, facts_version=FACTS_VERSION)
        new.append(facts)
    if new:
        fresh = pd.DataFrame(new).set_index("sha256")
        cache = pd.concat([cache, fresh]) if len(cache) else fresh
        table = pa.Table.from_pandas(cache.reset_index()[FACTS_SCHEMA.names], schema=FACTS_SCHEMA,
                                     preserve_index=False)
        atomic_write_parquet(table, cache_path)
    facts = cache.loc[cache.index.intersection(wanted["sha256"])]
    return FactsResult(facts=facts, errors=errors, computed=len(new), cached=len(wanted) - len(todo))
