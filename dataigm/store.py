"""The image store of a RUN folder: image files written once, in shards, with a parquet
manifest per shard.

The shard is the unit of work (img2dataset habit). A shard is finished only once its marker
`RUN/shards/<name>.done` exists; the marker is written last and records which image ids the
shard holds and the sha256 of its parquet. Rerunning skips finished shards, redoes any other
shard from scratch (its images are rewritten atomically, byte-identical), and rebuilds
RUN/manifest.parquet from the finished shards only, so the manifest never has a duplicate or
a missing row.

Durability costs one sync per shard, not one fsync per image: image files are renamed into
place unsynced, and `ShardWriter.finish` makes them all durable at once (dataigm.io.fsync_files:
one syncfs on Linux), then writes the parquet (synced) and only then the marker. fsync per
image was half of `generate`'s time on the 2-core machine (benchmarks/bench_store.py).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Iterable

import pyarrow as pa
import pyarrow.parquet as pq

from dataigm.errors import InputError
from dataigm.io import atomic_write_bytes, atomic_write_json, fsync_files
from dataigm.manifest import SCHEMA, ManifestRow, rows_to_table, write_manifest
from dataigm.run import Run



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


class ShardStore:
    """The shards, images and manifest of one RUN folder."""

    def __init__(self, run: Run) -> None:
        self.run = run

    # -- shard state -------------------------------------------------------------------
    def read_marker(self, shard: str) -> ShardMarker | None:
        path = self.run.marker_path(shard)
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
        if marker is None or not self.run.shard_parquet(shard).exists():
            return False
        return expected_ids is None or marker.ids_sha256 == ids_digest(expected_ids)

    def finished_shards(self) -> list[str]:
        return [s for s in self.run.marked_shards() if self.run.shard_parquet(s).exists()]

    def shard_column(self, shard: str, column: str) -> list[Any]:
        return pq.read_table(self.run.shard_parquet(shard), columns=[column]).column(0).to_pylist()

    # -- writing -----------------------------------------------------------------------
    def write_image(self, rel_path: str, data: bytes, durable: bool = True) -> None:
        atomic_write_bytes(self.run.file(rel_path), data, durable=durable)

    def writer(self, shard: str) -> "ShardWriter":
        return ShardWriter(self, shard)

    def finish_shard(self, shard: str, rows: list[ManifestRow]) -> None:
        """Write the shard's parquet, then its marker. Images must already be on disk (synced)."""
        for row in rows:
            row.shard = shard
        table = rows_to_table(rows)
        parquet = self.run.shard_parquet(shard)
        write_manifest(table, parquet, durable=True)
        marker = ShardMarker(shard=shard, rows=len(rows), ids_sha256=ids_digest(r.id for r in rows),
                             parquet_sha256=sha256_bytes(parquet.read_bytes()))
        atomic_write_json(self.run.marker_path(shard), marker.__dict__)

    # -- manifest ----------------------------------------------------------------------
    def rebuild_manifest(self) -> pa.Table:
        """Union of all finished shards, sorted by id, written atomically to RUN/manifest.parquet."""
        tables = []
        for shard in self.finished_shards():
            marker = self.read_marker(shard)
            path = self.run.shard_parquet(shard)
            if marker is None or sha256_bytes(path.read_bytes()) != marker.parquet_sha256:
                raise InputError(
                    f"{path}: does not match its marker; delete {self.run.marker_path(shard).name} to redo the shard"
                )
            tables.append(pq.read_table(path).select(SCHEMA.names).cast(SCHEMA))
        table = pa.concat_tables(tables) if tables else SCHEMA.empty_table()
        table = table.sort_by("id")
        ids = table.column("id").to_pylist()
        if len(ids) != len(set(ids)):
            dup = next(i for i in ids if ids.count(i) > 1)
            raise InputError(f"{self.run.root}: image id '{dup}' appears in two shards")
        write_manifest(table, self.run.manifest_path)
        return table


class ShardWriter:
    """One shard, written whole: image files first, then the rows, then the marker (last).

    Generation and ingestion both write through this, so every shard on disk has the same
    guarantees whoever made it.
    """

    def __init__(self, store: ShardStore, shard: str) -> None:
        self.store = store
        self.shard = shard
        self.rows: list[ManifestRow] = []
        self.written: list[str] = []   # image files this shard wrote, synced in finish()

    def add(self, row: ManifestRow, data: bytes | None, written: bool = False) -> None:
        """Store the image bytes at row.path and keep the row for the shard's parquet. With
        data None the file is already there: `written=True` when this shard wrote it (a
        background writer thread, through `write_image(..., durable=False)`), so it is synced
        with the others; False for a file from an earlier run (content-addressed ingest)."""
        if data is not None:
            self.store.write_image(row.path, data, durable=False)
        if data is not None or written:
            self.written.append(row.path)
        row.shard = self.shard
        self.rows.append(row)

    def __len__(self) -> int:
        return len(self.rows)

    def finish(self) -> None:
        """Sync the shard's images (one pass), then write its parquet and, last, its marker."""
        fsync_files(self.store.run.file(rel) for rel in self.written)
        self.store.finish_shard(self.shard, self.rows)
