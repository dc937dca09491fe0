"""The manifest: one row per image with full provenance.

SCHEMA is the single source of truth for the column names and types that generation,
ingestion, curation and export exchange (see ARCHITECTURE.md).
"""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any, Iterable, Mapping

import pyarrow as pa
import pyarrow.parquet as pq

from dataigm.errors import InputError
from dataigm.io import atomic_write_parquet

SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("concept", pa.string()),
        ("taxonomy_path", pa.string()),
        ("label", pa.string()),
        ("label_id", pa.int64()),
        ("source", pa.string()),
        ("source_name", pa.string()),
        ("prompt", pa.string()),
        ("prompt_set", pa.string()),
        ("prompt_id", pa.string()),
        ("pair_id", pa.string()),
        ("benchmark", pa.bool_()),
        ("seed", pa.int64()),
        ("image_index", pa.int64()),
        ("generator", pa.string()),
        ("model_id", pa.string()),
        ("model_revision", pa.string()),
        ("scheduler", pa.string()),
        ("steps", pa.int64()),
        ("guidance", pa.float64()),
        ("height", pa.int64()),
        ("width", pa.int64()),
        ("dtype", pa.string()),
        ("versions", pa.string()),
        ("sha256", pa.string()),
        ("path", pa.string()),
        ("created", pa.string()),
        ("licence", pa.string()),
        ("origin", pa.string()),
        ("shard", pa.string()),
    ]
)
COLUMNS = tuple(SCHEMA.names)

# Columns that must be filled for a generated image (the provenance a user needs to
# regenerate it alone).
GENERATED_REQUIRED = (
    "id", "concept", "taxonomy_path", "label", "label_id", "source", "source_name", "prompt",
    "prompt_set", "prompt_id", "pair_id", "benchmark", "seed", "image_index", "generator",
    "model_id", "model_revision", "scheduler", "steps", "guidance", "height", "width", "dtype",
    "versions", "sha256", "path", "created", "shard",
)

# The one column allowed to differ between two otherwise identical runs.
VOLATILE_COLUMNS = ("created",)


def rows_to_table(rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    """Rows (dicts) to a table with exactly SCHEMA's columns; missing keys become null."""
    rows = list(rows)
    unknown = {k for r in rows for k in r} - set(COLUMNS)
    if unknown:
        raise ValueError(f"unknown manifest columns: {sorted(unknown)}")
    data = {name: [r.get(name) for r in rows] for name in COLUMNS}
    return pa.table(data, schema=SCHEMA)


def write_manifest(rows_or_table: Iterable[Mapping[str, Any]] | pa.Table, path: str | Path) -> None:
    table = rows_or_table if isinstance(rows_or_table, pa.Table) else rows_to_table(rows_or_table)
    atomic_write_parquet(table, path)


def read_manifest(path: str | Path) -> pa.Table:
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: manifest not found (run 'dataigm generate' first?)")
    try:
        return pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for a corrupt file
        raise InputError(f"{path}: unreadable parquet: {exc}") from None


def library_versions() -> str:
    """JSON of the versions that affect generated pixels, recorded in every row."""
    import importlib.metadata as md

    versions = {"python": platform.python_version()}
    for pkg in ("dataigm", "torch", "diffusers", "transformers", "numpy", "pillow"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            continue
    return json.dumps(versions, sort_keys=True)
