"""A small RUN folder for curation tests: generated-like pairs and ingested photos with
re-encoded, resized and cropped copies, blank, tiny, corrupt and missing files."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from dataigm.manifest import write_manifest


def scene(seed: int, size: int = 160) -> Image.Image:
    """A distinct 'photo': two-colour gradient, noise and a few coloured shapes."""
    r = np.random.default_rng(seed)
    a, b = r.integers(0, 255, 3), r.integers(0, 255, 3)
    t = np.linspace(0, 1, size)[None, :, None]
    if r.random() < 0.5:
        t = t.transpose(1, 0, 2)
    img = (a * (1 - t) + b * t) * np.ones((size, size, 1)) + r.normal(0, 8, (size, size, 3))
    im = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(im)
    for _ in range(8):
        x, y = (int(v) for v in r.integers(0, size, 2))
        s = int(r.integers(size // 16, size // 2))
        colour = tuple(int(v) for v in r.integers(0, 255, 3))
        (draw.ellipse if r.random() < 0.5 else draw.rectangle)([x, y, x + s, y + s], fill=colour)
    return im


def jpeg(im: Image.Image, quality: int = 70) -> Image.Image:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def resize(im: Image.Image, factor: float) -> Image.Image:
    return im.resize((round(im.width * factor), round(im.height * factor)), Image.Resampling.BICUBIC)


def crop(im: Image.Image, fraction: float) -> Image.Image:
    """Cut `fraction` of the width and height, split between the two sides."""
    dx, dy = round(im.width * fraction / 2), round(im.height * fraction / 2)
    return im.crop((dx, dy, im.width - dx, im.height - dy))


def png_bytes(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG", compress_level=6)
    return buf.getvalue()


def _row(run: Path, rid: str, concept: str, label: str, label_id: int, data: bytes, source: str,
         size: tuple[int, int], **extra: Any) -> dict[str, Any]:
    rel = f"images/{concept}/fixture/{rid}.png"
    (run / rel).parent.mkdir(parents=True, exist_ok=True)
    (run / rel).write_bytes(data)
    row = {"id": rid, "concept": concept, "taxonomy_path": f"x/y/{concept}", "label": label,
           "label_id": label_id, "source": source, "source_name": "fixture" if source != "generated" else "toyworld",
           "sha256": hashlib.sha256(data).hexdigest(), "path": rel, "width": size[0], "height": size[1],
           "benchmark": False, "shard": "fixture"}
    row.update(extra)
    return row


# What build_run must yield with the default config (judge agreement off): id -> reason code.
EXPECTED_DROPS = {
    "real-x1-jpeg70": "near_duplicate_of",
    "real-x1-half": "near_duplicate_of",
    "real-x1-1p5": "near_duplicate_of",
    "real-x1-crop3": "near_duplicate_of",
    "real-x2-crop2": "near_duplicate_of",
    "real-x2-crop4": "near_duplicate_of",
    "web-x3-copy": "exact_duplicate_of",
    "real-blank": "flat_image",
    "real-tiny": "too_small",
    "real-corrupt": "undecodable",
    "real-missing": "missing_file",
    "real-small": "low_resolution",
}


def build_run(run: Path) -> list[dict[str, Any]]:
    """Write images + RUN/manifest.parquet; return the rows."""
    rows: list[dict[str, Any]] = []
    gen = dict(prompt_set="forget", generator="toyworld", model_id="toyworld", seed=1, image_index=0)
    # Generated pairs: forget (nude) and reference (safe) share seed and layout, so they are near
    # duplicates of each other by design and must both be kept.
    for k in range(3):
        base = scene(100 + k)
        partner = base.copy()
        ImageDraw.Draw(partner).rectangle([70, 70, 78, 78], fill=(200, 160, 140))
        pair = f"pair-{k}"
        rows.append(_row(run, f"gen-{k}-forget", "nudity", "nude", 1, png_bytes(base), "generated",
                         base.size, pair_id=pair, prompt_id=f"p{k}f", prompt=f"a nude person {k}", **gen))
        rows.append(_row(run, f"gen-{k}-reference", "nudity", "safe", 0, png_bytes(partner), "generated",
                         partner.size, pair_id=pair, prompt_id=f"p{k}r", prompt=f"a person {k}",
                         **{**gen, "prompt_set": "reference"}))
    # Same-label images of one pair (e.g. two neighbour images made from one seed): kept.
    twin = scene(150)
    twin2 = twin.copy()
    ImageDraw.Draw(twin2).ellipse([20, 20, 26, 26], fill=(10, 10, 10))
    rows.append(_row(run, "gen-n-a", "nudity", "safe", 0, png_bytes(twin), "generated", twin.size,
                     pair_id="pair-n", prompt_id="pna", prompt_set="neighbour"))
    rows.append(_row(run, "gen-n-b", "nudity", "safe", 0, png_bytes(twin2), "generated", twin2.size,
                     pair_id="pair-n", prompt_id="pnb", prompt_set="neighbour"))
    # Ingested photos (concept object_church): originals and their edited copies.
    x1, x2, x3 = scene(1, 240), scene(2, 240), scene(3, 240)
    real = dict(source_name="photos", licence="cc-by-4.0")
    for rid, im in [("real-x1", x1), ("real-x2", x2), ("real-x1-jpeg70", jpeg(x1)), ("real-x1-half", resize(x1, 0.5)),
                    ("real-x1-1p5", resize(x1, 1.5)), ("real-x1-crop3", crop(x1, 0.03)),
                    ("real-x2-crop2", crop(x2, 0.02)), ("real-x2-crop4", crop(x2, 0.04))]:
        rows.append(_row(run, rid, "object_church", "church", 1, png_bytes(im), "real", im.size,
                         origin=f"/photos/{rid}.jpg", **real))
    for i in range(4, 10):
        im = scene(i, 200)
        rows.append(_row(run, f"real-d{i}", "object_church", "other", 0, png_bytes(im), "real", im.size, **real))
    x3b = png_bytes(x3)
    rows.append(_row(run, "web-x3", "object_church", "other", 0, x3b, "web", x3.size, source_name="laion"))
    rows.append(_row(run, "web-x3-copy", "object_church", "other", 0, x3b, "web", x3.size, source_name="laion"))
    blank = Image.new("RGB", (128, 128), (128, 128, 128))
    rows.append(_row(run, "real-blank", "object_church", "other", 0, png_bytes(blank), "real", blank.size))
    tiny = scene(20, 4)
    rows.append(_row(run, "real-tiny", "object_church", "other", 0, png_bytes(tiny), "real", tiny.size))
    small = scene(21, 48)
    rows.append(_row(run, "real-small", "object_church", "other", 0, png_bytes(small), "real", small.size))
    corrupt = png_bytes(scene(22))[:300]
    rows.append(_row(run, "real-corrupt", "object_church", "other", 0, corrupt, "real", (160, 160)))
    missing = _row(run, "real-missing", "object_church", "other", 0, png_bytes(scene(23)), "real", (160, 160))
    (run / missing["path"]).unlink()
    rows.append(missing)
    write_manifest(rows, run / "manifest.parquet")
    return rows
