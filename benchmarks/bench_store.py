"""Durability per shard against durability per image, in `dataigm generate`.

The same toyworld preset is generated twice into fresh RUN folders: as the store does it now
(images renamed into place unsynced, one fsync pass per shard before its parquet and marker) and
as it did before (every image fsynced as it is written), restored for the baseline by patching
the store in this process. Records `generate/fsync_per_shard_vs_per_image`: images/s of each and
their ratio. toyworld renders in about a millisecond, so the store's cost is most of the time,
as it is on a GPU that generates in large batches.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

PRESET = """name: bench
seed: 0
concepts: [object_church, nudity]
prompt_counts: {'*': {forget: FORGET, unrelated_per_entity: 4, neighbour_per_entity: 2}}
generation: {generator: toyworld, height: 64, width: 64, images_per_prompt: 4, batch_size: 32, shard_size: 200}
"""


def _generate(preset: Path, out: Path) -> tuple[int, float]:
    from dataigm.generate import generate
    from dataigm.preset import load_preset

    loaded = load_preset(str(preset))
    start = time.perf_counter()
    report = generate(out, loaded, progress=False)
    return report.images_generated, time.perf_counter() - start


def run(quick: bool = False) -> list[dict]:
    import dataigm.store as store

    with tempfile.TemporaryDirectory() as tmp:
        preset = Path(tmp) / "bench.yaml"
        preset.write_text(PRESET.replace("FORGET", "20" if quick else "120"))
        _generate(preset, Path(tmp) / "warm-up")  # imports, fonts, caches
        results = {}
        rounds = 2 if quick else 4
        for mode in [f"{m}_{r}" for r in range(rounds) for m in ("per_image", "per_shard")]:
            saved = store.fsync_files, store.ShardStore.write_image
            if mode.startswith("per_image"):
                # The store before: fsync in every image write, none for the shard's files.
                store.fsync_files = lambda paths: None
                store.ShardStore.write_image = (lambda self, rel, data, durable=True:
                                                saved[1](self, rel, data, durable=True))
            try:
                images, seconds = _generate(preset, Path(tmp) / mode)
            finally:
                store.fsync_files, store.ShardStore.write_image = saved
            results[mode] = (images, seconds)
    per_image = min(t for m, (_, t) in results.items() if m.startswith("per_image"))
    per_shard = min(t for m, (_, t) in results.items() if m.startswith("per_shard"))
    images = results["per_shard_0"][0]
    return [{"name": "generate/fsync_per_shard_vs_per_image", "images": images,
             "per_shard_images_per_s": round(images / per_shard, 1),
             "per_image_images_per_s": round(images / per_image, 1),
             "ratio": round(per_image / per_shard, 2), "timing": f"best of {rounds} each, alternated",
             "baseline": "fsync of every image as it is written (the store before)"}]


if __name__ == "__main__":
    import json
    import sys

    for record in run(quick="--quick" in sys.argv):
        print(json.dumps(record))
