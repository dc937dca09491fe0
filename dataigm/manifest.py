"""The manifest: one row per image with full provenance.

`ManifestRow` is the single source of truth for the columns and types that generation,
ingestion, curation and export exchange (see docs/CONTRACTS.md); `SCHEMA` is derived from it.
"""

from __future__ import annotations

import json
import platform
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Iterable, Mapping

import pyarrow as pa
import pyarrow.parquet as pq

from dataigm.errors import InputError
from dataigm.io import atomic_write_parquet



@dataclass
class ManifestRow:
    """One image with its provenance. Generation and ingestion both build these, and the shard
    writer stores them; the parquet SCHEMA below is derived from this class."""

    id: str                          # unique and stable
    concept: str                     # dataset config name (ConceptSpec.name)
    taxonomy_path: str               # domain/kind/concept
    label: str                       # label name
    label_id: int                    # 0 = concept absent, 1 = present
    source: str                      # generated | web | real
    source_name: str                 # generator model name or ingest source name
    sha256: str                      # of the stored file's bytes
    path: str                        # relative to the RUN folder
    created: str                     # ISO time; the only column allowed to differ between runs
    shard: str = ""
    prompt: str | None = None
    prompt_set: str | None = None    # forget | reference | unrelated | neighbour
    prompt_id: str | None = None
    pair_id: str | None = None
    benchmark: bool = False
    seed: int | None = None
    image_index: int | None = None
    generator: str | None = None     # the generator backend (toyworld, tiny, diffusers, ...)
    model_id: str | None = None
    model_revision: str | None = None
    scheduler: str | None = None
    steps: int | None = None
    guidance: float | None = None
    height: int | None = None
    width: int | None = None
    dtype: str | None = None
    compiled: bool | None = None     # the UNet and VAE decode ran under torch.compile
    versions: str | None = None      # JSON of the library versions that made or decoded it
    licence: str | None = None       # licence id or name of the image
    licence_url: str | None = None   # link to the licence text
    origin: str | None = None        # ingested: path relative to the ingested folder, or the row's own URL
    origin_url: str | None = None    # the upstream data set or page the source came from
    # Who set the label: "prompt" (dataigm generated the image for a prompt: a machine label) or
    # "source" (the ingested data set's class folder, label column or --label: a human label).
    labelled_by: str | None = None
    source_sha256: str | None = None  # ingested: sha256 of the bytes as received (the image's identity)
    normalised: str | None = None    # ingested: why the stored file was re-encoded; null = source bytes kept
    declared_split: str | None = None  # a split the source declared (train | validation | test)


_ARROW_TYPES = {"str": pa.string(), "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_()}


def _arrow_type(annotation: str) -> pa.DataType:
    return _ARROW_TYPES[annotation.split("|")[0].strip()]


# Column order: the manifest's historical order, which every tool and test reads by name anyway.
_ORDER = ("id", "concept", "taxonomy_path", "label", "label_id", "source", "source_name", "prompt",
          "prompt_set", "prompt_id", "pair_id", "benchmark", "seed", "image_index", "generator",
          "model_id", "model_revision", "scheduler", "steps", "guidance", "height", "width", "dtype",
          "compiled", "versions", "sha256", "path", "created", "licence", "origin", "shard", "licence_url",
          "origin_url", "labelled_by", "source_sha256", "normalised", "declared_split")
_ANNOTATIONS = {f.name: str(f.type) for f in fields(ManifestRow)}
SCHEMA = pa.schema([(name, _arrow_type(_ANNOTATIONS[name])) for name in _ORDER])
assert set(_ORDER) == set(_ANNOTATIONS), "ManifestRow and the column order disagree"
COLUMNS = tuple(SCHEMA.names)

# Columns that must be filled for a generated image (the provenance a user needs to
# regenerate it alone).
GENERATED_REQUIRED = (
    "id", "concept", "taxonomy_path", "label", "label_id", "source", "source_name", "prompt",
    "prompt_set", "prompt_id", "pair_id", "benchmark", "seed", "image_index", "generator",
    "model_id", "model_revision", "scheduler", "steps", "guidance", "height", "width", "dtype",
    "versions", "sha256", "path", "created", "shard",
)

LABELLED_BY = ("prompt", "source")


def labelled_by(row: Mapping[str, Any]) -> str:
    """Who set a row's label; rows written before the column existed: generated rows were
    labelled by their prompt, ingested rows by their source."""
    value = row.get("labelled_by")
    if value in LABELLED_BY:
        return str(value)
    return "prompt" if row.get("source") == "generated" else "source"


# The one column allowed to differ between two otherwise identical runs.
VOLATILE_COLUMNS = ("created",)


def rows_to_table(rows: Iterable[Mapping[str, Any] | ManifestRow]) -> pa.Table:
    """Rows (ManifestRow or dicts) to a table with exactly SCHEMA's columns; missing keys become null."""
    rows = [asdict(r) if isinstance(r, ManifestRow) else r for r in rows]
    unknown = {k for r in rows for k in r} - set(COLUMNS)
    if unknown:
        raise ValueError(f"unknown manifest columns: {sorted(unknown)}")
    data = {name: [r.get(name) for r in rows] for name in COLUMNS}
    return pa.table(data, schema=SCHEMA)


def write_manifest(rows_or_table: Iterable[Mapping[str, Any]] | pa.Table, path: str | Path,
                   durable: bool = False) -> None:
    table = rows_or_table if isinstance(rows_or_table, pa.Table) else rows_to_table(rows_or_table)
    atomic_write_parquet(table, path, durable=durable)


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
