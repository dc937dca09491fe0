"""The shard store: durability paid once per shard, the marker still last."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow.parquet as pq

import dataigm.store as store
from tests.test_generate import write_preset


def test_shard_images_are_synced_once_per_shard_and_the_marker_comes_last(cli, tmp_path, monkeypatch):
    preset = write_preset(tmp_path / "p.yaml", forget=6, concepts=["object_church"], shard_size=8)
    run = tmp_path / "run"
    events: list[tuple[str, object]] = []
    real_fsync, real_sync = os.fsync, store.fsync_files

    def recording_fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def recording_sync(paths) -> None:  # type: ignore[no-untyped-def]
        paths = [str(Path(p).resolve()) for p in paths]
        events.append(("shard sync", paths))
        real_sync(paths)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    monkeypatch.setattr(store, "fsync_files", recording_sync)
    code, _, err = cli("generate", "--preset", preset, "--out", run, "--quiet")
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert code == 0, err
    rows = pq.read_table(run / "manifest.parquet").to_pylist()
    shards = sorted({r["shard"] for r in rows})
    assert len(shards) > 1
    syncs = [i for i, (kind, _) in enumerate(events) if kind == "shard sync"]
    assert len(syncs) == len(shards)  # one durability pass per shard
    for shard in shards:
        images = sorted(str((run / r["path"]).resolve()) for r in rows if r["shard"] == shard)
        at = next(i for i in syncs if sorted(events[i][1]) == images)  # type: ignore[arg-type]
        # No image is synced on its own as it is written (at most once, by the shard's pass).
        assert all(sum(1 for kind, p in events if kind == "fsync" and p == img) <= 1 for img in images)
        parquet = next(i for i, (k, p) in enumerate(events) if k == "fsync" and Path(str(p)).name.startswith(f".{shard}.parquet."))
        marker = next(i for i, (k, p) in enumerate(events) if k == "fsync" and Path(str(p)).name.startswith(f".{shard}.done."))
        assert at < parquet < marker
