"""Ingest speed against the JPEG decode floor, and an unchanged rerun against the first run.

A folder of N photo-like 256 px JPEGs (two label folders) is ingested into a fresh RUN; then
the same command runs again over the unchanged folder. Records:
  * ingest/images_per_s_vs_decode_floor: ingest's images/s over the floor (reading and fully
    decoding every JPEG with Pillow, nothing else), measured on the same files in this run;
    ingest stores the JPEG bytes as they are, so it should run close to the floor. The work
    the previous ingest did per image (decode, then re-encode as PNG) is timed on the same
    files for reference;
  * ingest/unchanged_rerun_over_first_run: the rerun's time over the first run's (target well
    under 10%: a rerun reads and decodes nothing).
"""

from __future__ import annotations

import io
import tempfile
import time
from pathlib import Path

from PIL import Image


def _photo(seed: int, size: int = 256) -> bytes:
    """A photo-like JPEG (gradient, noise, shapes), as the curation tests draw them."""
    from tests.curation_fixtures import scene

    buf = io.BytesIO()
    scene(seed, size).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def run(quick: bool = False) -> list[dict]:
    from dataigm.imageio import decode_image, encode_png
    from dataigm.ingest import IngestSource, ingest

    n = 60 if quick else 600
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        for i in range(n):
            label = ("church", "other")[i % 2]
            (folder / label).mkdir(parents=True, exist_ok=True)
            (folder / label / f"{i:05d}.jpg").write_bytes(_photo(i))
        files = sorted(folder.rglob("*.jpg"))
        source = IngestSource(concept="object_church", source="photos", paths=[str(folder)])
        ingest(Path(tmp) / "warm-up", IngestSource(concept="object_church", source="photos",
                                                     paths=[str(files[0])], label="church"), progress=False)
        start = time.perf_counter()
        for f in files:
            with Image.open(io.BytesIO(f.read_bytes())) as im:
                im.load()
        floor = time.perf_counter() - start
        start = time.perf_counter()
        for f in files:
            encode_png(decode_image(f.read_bytes()).image)
        previous = time.perf_counter() - start
        run_dir = Path(tmp) / "run"
        start = time.perf_counter()
        first = ingest(run_dir, source, progress=False)
        first_s = time.perf_counter() - start
        start = time.perf_counter()
        again = ingest(run_dir, source, progress=False)
        rerun_s = time.perf_counter() - start
        source_bytes = sum(f.stat().st_size for f in files)
        stored_bytes = sum(p.stat().st_size for p in (run_dir / "images").rglob("*") if p.is_file())
    return [
        {"name": "ingest/images_per_s_vs_decode_floor", "images": n, "accepted": first.accepted,
         "ingest_images_per_s": round(n / first_s, 1), "decode_floor_images_per_s": round(n / floor, 1),
         "ratio": round(floor / first_s, 2), "target": "close to 1 (the floor)",
         "previous_decode_and_png_images_per_s": round(n / previous, 1),
         "stored_over_source_bytes": round(stored_bytes / source_bytes, 3)},
        {"name": "ingest/unchanged_rerun_over_first_run", "first_s": round(first_s, 3), "rerun_s": round(rerun_s, 3),
         "ratio": round(rerun_s / first_s, 3), "target": "well under 0.10", "rerun_read": again.read,
         "rerun_decoded": again.decoded, "rerun_already_present": again.already_present},
    ]


if __name__ == "__main__":
    import json
    import sys

    for record in run(quick="--quick" in sys.argv):
        print(json.dumps(record))
