"""The image store: PNG files written once, in shards, with a parquet manifest per shard.

The shard is the unit of work (img2dataset habit). A shard is finished only once its marker
`RUN/shards/<name>.done` exists; the marker is written last and records which image ids the
shard holds and the sha256 of its parquet. Rerunning skips finished shards, redoes any other
shard from scratch (its images are rewritten atomically, byte-identical), and rebuilds
RUN/manifest.parquet from the finished shards only, so the manifest never has a duplicate or
a missing row.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import pyarrow as pa
import pyarrow.parquet as pq

from dataigm.errors import InputError
from dataigm.io import atomic_write_bytes, atomic_write_json
from dataigm.manifest import SCHEMA, rows_to_table, write_manifest

SHARDS_DIR = "shards"
IMAGES_DIR = "images"
MANIFEST = "manifest.parquet"


def encode_png(image: Any) -> bytes:
    """PNG bytes of a PIL image, deterministic (no timestamps or text chunks)."""
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def ids_digest(ids: Iterable[str]) -> str:
    return sha256_bytes("\n".join(sorted(ids)).encode())


@dataclass
class ShardMarker:
    shard: str
    rows: int
    ids_sha256: str
    parquet_sha256: str


class ImageStore:
    """Reads and writes the shards, images and manifest of one RUN folder."""

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)

    # -- paths -------------------------------------------------------------------------
    def shard_parquet(self, shard: str) -> Path:
        return self.run_dir / SHARDS_DIR / f"{shard}.parquet"

    def shard_marker(self, shard: str) -> Path:
        return self.run_dir / SHARDS_DIR / f"{shard}.done"

    def image_rel_path(self, concept: str, shard: str, image_id: str) -> str:
        return f"{IMAGES_DIR}/{concept}/{shard}/{image_id}.png"

    @property
    def manifest_path(self) -> Path:
        return self.run_dir / MANIFEST

    # -- shard state -------------------------------------------------------------------
    def read_marker(self, shard: str) -> ShardMarker | None:
        path = self.shard_marker(shard)
        if not path.exists():
            return None
        try:
            return ShardMarker(**json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, TypeError):
            return None  # a damaged marker means "not finished": the shard is redone

    def is_finished(self, shard: str, expected_ids: Iterable[str] | None = None) -> bool:
        """Finished = marker present, parquet present, and (if given) the same image ids.

        Comparing ids means a shard written under a different --limit is redone, not trusted.
        """
        marker = self.read_marker(shard)
        if marker is None or not self.shard_parquet(shard).exists():
            return False
        return expected_ids is None or marker.ids_sha256 == ids_digest(expected_ids)

    def finished_shards(self) -> list[str]:
        folder = self.run_dir / SHARDS_DIR
        if not folder.exists():
            return []
        return sorted(p.stem for p in folder.glob("*.done") if self.shard_parquet(p.stem).exists())

    def sweep_temp_files(self) -> int:
        """Remove temp files a killed process left in RUN/ and RUN/shards/ (kill -9 skips every
        cleanup). Call only while holding the RUN lock, before any writer starts."""
        removed = 0
        for folder in (self.run_dir, self.run_dir / SHARDS_DIR):
            for tmp in folder.glob(".*.tmp") if folder.exists() else []:
                tmp.unlink(missing_ok=True)
                removed += 1
        return removed

    def discard_partial(self, concept: str, shard: str) -> None:
        """Remove temp files an interrupted write of this shard left behind."""
        folder = self.run_dir / IMAGES_DIR / concept / shard
        if folder.exists():
            for tmp in folder.glob(".*.tmp"):
                tmp.unlink(missing_ok=True)
        self.shard_marker(shard).unlink(missing_ok=True)

    # -- writing -----------------------------------------------------------------------
    def write_image(self, rel_path: str, png: bytes) -> None:
        atomic_write_bytes(self.run_dir / rel_path, png)

    def finish_shard(self, shard: str, rows: list[dict[str, Any]]) -> None:
        """Write the shard's parquet, then its marker. Images must already be on disk."""
        table = rows_to_table(rows)
        write_manifest(table, self.shard_parquet(shard))
        digest = sha256_bytes(self.shard_parquet(shard).read_bytes())
        marker = ShardMarker(shard=shard, rows=len(rows), ids_sha256=ids_digest(r["id"] for r in rows),
                             parquet_sha256=digest)
        atomic_write_json(self.shard_marker(shard), marker.__dict__)

    # -- manifest ----------------------------------------------------------------------
    def rebuild_manifest(self) -> pa.Table:
        """Union of all finished shards, sorted by id, written atomically to RUN/manifest.parquet."""
        tables = []
        for shard in self.finished_shards():
            marker = self.read_marker(shard)
            path = self.shard_parquet(shard)
            if marker is None or sha256_bytes(path.read_bytes()) != marker.parquet_sha256:
                raise InputError(
                    f"{path}: does not match its marker; delete {self.shard_marker(shard).name} to redo the shard"
                )
            tables.append(pq.read_table(path).select(SCHEMA.names).cast(SCHEMA))
        table = pa.concat_tables(tables) if tables else SCHEMA.empty_table()
        table = table.sort_by("id")
        ids = table.column("id").to_pylist()
        if len(ids) != len(set(ids)):
            dup = next(i for i in ids if ids.count(i) > 1)
            raise InputError(f"{self.run_dir}: image id '{dup}' appears in two shards")
        write_manifest(table, self.manifest_path)
        return table
