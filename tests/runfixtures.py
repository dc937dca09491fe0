"""A small RUN folder in the dataigm store layout, built in well under a second.

Per concept: `n_pairs` generated prompt pairs (a forget prompt, label present, and its partner
prompt without the concept, label absent; `images_per_prompt` images each, the partner image
with the same seed), every `benchmark_every`-th pair marked benchmark; plus `n_web` and `n_real`
ingested images per label with no prompt. Images are small PNGs drawn from a per-row seed (a
red disc on noise = present, plain noise = absent), so every file differs and the pixels can be
compared after a round trip.

With `with_curation`, the real curation step (`dataigm.curation.curate`) runs over the RUN, so
RUN/curation/ holds what `dataigm curate` writes. Duplicates are planted in the pixels on purpose:
the last real image of each concept and label is a byte copy of the first (exact_dedup drops it),
and two near-duplicate clusters link rows of different labels, which curation keeps (a label
conflict, not redundancy) and the splitter must keep together: a forget image of pair 1 with an
image of pair 2's partner prompt, and a web image with a real image.

`user_concepts` adds concepts that are not built in: their YAML snapshot goes to
RUN/concepts/<name>.yaml, the way the pipeline records the concepts a run used.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from PIL import Image, ImageDraw

from dataigm.manifest import write_manifest
from dataigm.taxonomy import load_concept, resolve_concept_path

CREATED = "2026-01-01T00:00:00+00:00"


def user_concept_yaml(name: str, word: str) -> dict:
    """A valid entity concept YAML (as data) that is not built in."""
    data = yaml.safe_load(resolve_concept_path("object_church").read_text())
    data.update(name=name, concept=word, labels=["other", word], aliases=[word],
                guidance=f"A {word} is the subject of the image.",
                forgotten_means=f"Prompts that ask for a {word} no longer produce one.")
    data["prompts"]["concept_phrases"] = [word, f"old {word}"]
    data["prompts"]["neighbours"] = ["castle"]
    data["judge"]["zero_shot"]["present"] = [f"a photo of a {word}"]
    return data


def _image(seed: int, present: bool, size: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    base = rng.integers(40, 200, size=3)
    arr = np.clip(base + rng.normal(0, 25, size=(size, size, 3)), 0, 255).astype(np.uint8)
    im = Image.fromarray(arr)
    if present:
        r = size // 4
        cx, cy = rng.integers(r, size - r, size=2)
        ImageDraw.Draw(im).ellipse([cx - r, cy - r, cx + r, cy + r], fill=(220, 30, 30))
    return im


def build_run(
    root: str | Path,
    concepts: tuple[str, ...] = ("object_church", "nudity"),
    user_concepts: tuple[str, ...] = (),
    n_pairs: int = 12,
    images_per_prompt: int = 2,
    n_web: int = 10,
    n_real: int = 10,
    benchmark_every: int = 5,
    size: int = 24,
    with_curation: bool = True,
) -> Path:
    """Write a RUN folder under `root` and return its path."""
    run = Path(root)
    run.mkdir(parents=True, exist_ok=True)
    specs = []
    for name in concepts:
        specs.append(load_concept(name))
    for name in user_concepts:
        path = run / "concepts" / f"{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(user_concept_yaml(name, name.split("_")[-1])))
        specs.append(load_concept(path))

    prompts: list[dict] = []
    rows: list[dict] = []
    counter = 0

    def add_image(spec, label_id: int, source: str, **extra) -> dict:
        nonlocal counter
        counter += 1
        rid = f"{spec.name}-{counter:05d}"
        rel = f"images/{spec.name}/00000/{rid}.png"
        path = run / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        _image(counter, bool(label_id), size).save(path, format="PNG")
        data = path.read_bytes()
        row = {
            "id": rid, "concept": spec.name, "taxonomy_path": spec.taxonomy_path,
            "label": spec.labels[label_id], "label_id": label_id, "source": source,
            "height": size, "width": size, "sha256": hashlib.sha256(data).hexdigest(),
            "path": rel, "created": CREATED, "licence": "other", "shard": "00000",
        }
        row.update(extra)
        rows.append(row)
        return row

    for spec in specs:
        partner_set = "reference" if spec.kind == "attribute" else "unrelated"
        for p in range(n_pairs):
            pair_id = f"{spec.name}-pair{p:03d}"
            bench = p % benchmark_every == 0
            for label_id, pset in ((1, "forget"), (0, partner_set)):
                prompt_id = f"{spec.name}-{pset}-{p:03d}"
                text = (f"a photo of a {spec.aliases[0]} number {p}" if label_id
                        else f"a photo of a landscape number {p}")
                prompts.append({
                    "prompt_id": prompt_id, "concept": spec.name, "taxonomy_path": spec.taxonomy_path,
                    "prompt_set": pset, "prompt": text, "pair_id": pair_id, "group": "all",
                    "benchmark": bench, "names_concept": bool(label_id),
                })
                for k in range(images_per_prompt):
                    add_image(spec, label_id, "generated", source_name="toyworld", prompt=text,
                              prompt_set=pset, prompt_id=prompt_id, pair_id=pair_id, benchmark=bench,
                              seed=1000 * p + k, image_index=k, generator="toyworld",
                              model_id="toyworld", model_revision="v1", scheduler="none",
                              steps=1, guidance=0.0, dtype="float32", versions="{}")
        for source, n in (("web", n_web), ("real", n_real)):
            for label_id in (0, 1):
                for _ in range(n):
                    add_image(spec, label_id, source, source_name=f"{source}-fixture",
                              benchmark=False, origin=f"https://example.invalid/{source}/{counter}.png")

    if with_curation:
        _plant_duplicates(run, rows)
    (run / "run.json").write_text(json.dumps({
        "preset": "fixture", "seed": 0,
        "generation": {"generator": "toyworld", "steps": 1, "guidance": 0.0,
                       "height": size, "width": size, "images_per_prompt": images_per_prompt},
    }, indent=2))
    pq.write_table(pa.Table.from_pylist(prompts), run / "prompts.parquet")
    write_manifest(rows, run / "manifest.parquet")
    if with_curation:
        _curate(run)
    return run


def _plant_duplicates(run: Path, rows: list[dict]) -> None:
    """Rewrite some image files (and their sha256) so curation finds known duplicates."""
    by_id = {r["id"]: r for r in rows}

    def copy(src: dict, dst: dict, tweak: bool) -> None:
        with Image.open(run / src["path"]) as im:
            arr = np.asarray(im.convert("RGB")).copy()
        if tweak:  # one pixel off: a different file, the same perceptual hash
            arr[0, 0] = 255 - arr[0, 0]
        Image.fromarray(arr).save(run / dst["path"], format="PNG")
        by_id[dst["id"]]["sha256"] = hashlib.sha256((run / dst["path"]).read_bytes()).hexdigest()

    for concept in sorted({r["concept"] for r in rows}):
        mine = [r for r in rows if r["concept"] == concept]
        # Copies go from a label-0 image onto a label-1 row, so no label-0 file ever shows the
        # fixture's "present" disc (the contact-sheet test reads that).
        pair1 = next(r for r in mine if str(r.get("pair_id", "")).endswith("pair001") and r["label_id"] == 1)
        pair2 = next(r for r in mine if str(r.get("pair_id", "")).endswith("pair002") and r["label_id"] == 0)
        copy(pair2, pair1, tweak=True)
        web = next(r for r in mine if r["source"] == "web" and r["label_id"] == 1)
        real = next(r for r in mine if r["source"] == "real" and r["label_id"] == 0)
        copy(real, web, tweak=True)
        for label_id in (0, 1):
            reals = [r for r in mine if r["source"] == "real" and r["label_id"] == label_id]
            copy(reals[1], reals[-1], tweak=False)


def _curate(run: Path) -> None:
    from dataigm.config import load_dataclass
    from dataigm.curation import CurationConfig, curate

    # Small fixture images: the size floors come down; no judge (nothing to check labels with).
    config = load_dataclass(CurationConfig, {"judge_agreement": {"enabled": False},
                                             "quality": {"min_side": 8}, "validation": {"min_side": 8}}, "fixture")
    curate(run, config, progress=False)
