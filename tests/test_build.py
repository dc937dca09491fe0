"""`dataigm build`: generate + ingest + curate + export in one resumable command."""

from __future__ import annotations

import numpy as np
from PIL import Image


def _real_images(root, n: int = 12):
    """An ImageFolder tree of distinct 'real' photos: class folder names are the labels."""
    rng = np.random.default_rng(7)
    for label in ("church", "other"):
        (root / "train" / label).mkdir(parents=True)
        for i in range(n // 2):
            base = rng.integers(0, 255, (12, 12, 3), dtype=np.uint8)
            Image.fromarray(base).resize((96, 96), Image.NEAREST).save(root / "train" / label / f"{i}.jpg", quality=95)
    return root


def test_build_generates_ingests_curates_exports_and_resumes(cli, tmp_path):
    from datasets import load_dataset

    real = _real_images(tmp_path / "real")
    preset = tmp_path / "p.yaml"
    preset.write_text(
        "name: t\nseed: 0\nconcepts: [object_church, nudity]\n"
        "prompt_counts: {'*': {forget: 8, unrelated_per_entity: 2, neighbour_per_entity: 1}}\n"
        "generation: {generator: toyworld, height: 64, width: 64, images_per_prompt: 2, shard_size: 16}\n"
        "ingest:\n  - {concept: object_church, source: photos, paths: [real], licence: cc-by-4.0}\n"
        "curation: {judge_agreement: {enabled: false}}\n"
        "export: {split: {seed: 3}}\n"
    )
    run = tmp_path / "run"
    code, out, err = cli("build", "--preset", preset, "--out", run, "--quiet")
    assert code == 0, err
    church = load_dataset(str(run / "dataset"), "object_church")
    rows = [r for split in church.values() for r in split.remove_columns("image")]
    real_rows = [r for r in rows if r["source"] == "real"]
    assert len(real_rows) == 12 and {r["source_name"] for r in real_rows} == {"photos"}
    assert {r["licence"] for r in real_rows} == {"cc-by-4.0"}
    names = church["train"].features["label"].names
    assert sorted(names[r["label"]] for r in real_rows) == ["church"] * 6 + ["other"] * 6
    assert set(load_dataset(str(run / "dataset"), "nudity")) == {"train", "validation", "test"}

    mtimes = {p: p.stat().st_mtime_ns for p in (run / "images").rglob("*.png")}
    code, out, _ = cli("build", "--preset", preset, "--out", run, "--quiet")
    assert code == 0 and "0 new images" in out
    assert {p: p.stat().st_mtime_ns for p in (run / "images").rglob("*.png")} == mtimes

    # Re-curating a RUN keeps the curation settings of the preset it was built with.
    code, out, _ = cli("curate", run)
    assert code == 0 and "judge_agreement: disabled" in out
