"""Export to a Hugging Face dataset folder: load_dataset round trip (eager and streaming), the card
and its configs, the prompts config, embedded bytes and shard sizes, atomic replacement, the CLI."""

from __future__ import annotations

import hashlib
import os

# Offline before datasets / huggingface_hub are imported (they read these at import time).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from dataigm.errors import DataigmError, InputError
from dataigm.export import ExportConfig, export_dataset
from dataigm.splits import SplitConfig
from dataigm.taxonomy import load_concept
from runfixtures import build_run

CONCEPTS = ("object_church", "nudity")
USER = ("object_bell",)
SPLITS = ("train", "validation", "test")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return build_run(tmp_path_factory.mktemp("exp") / "run", concepts=CONCEPTS, user_concepts=USER)


@pytest.fixture(scope="module")
def exported(run_dir):
    report = export_dataset(run_dir, run_dir / "dataset", ExportConfig(split=SplitConfig(seed=0), repo_id="org/dataigm-test"))
    return report


@pytest.fixture(scope="module")
def kept(run_dir) -> dict[str, dict]:
    return {r["id"]: r for r in pq.read_table(run_dir / "curation" / "kept.parquet").to_pylist()}


def _load(path, name, tmp_path, **kw):
    import datasets

    return datasets.load_dataset(str(path), name, cache_dir=str(tmp_path / "hf-cache"), **kw)


def _tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_load_dataset_round_trip(run_dir, exported, kept, tmp_path):
    out = run_dir / "dataset"
    assert exported.rows_from == "curation/kept.parquet"
    assert exported.configs == ["nudity", "object_bell", "object_church", "prompts"]
    for name in (*CONCEPTS, *USER):
        spec = load_concept(run_dir / "concepts" / f"{name}.yaml") if name in USER else load_concept(name)
        ds = _load(out, name, tmp_path)
        assert sorted(ds) == sorted(SPLITS)
        assert ds["train"].features["label"].names == spec.labels
        assert ds["train"].features["image"].__class__.__name__ == "Image"
        expected = {i for i, r in kept.items() if r["concept"] == name}
        seen: set[str] = set()
        for split in SPLITS:
            part = ds[split]
            assert set(part["label"]) == {0, 1}, (name, split)
            ids = part["id"]
            assert not seen & set(ids)
            seen |= set(ids)
            assert exported.counts[name][split] == len(part)
            for ex in part:  # every image decodes to exactly the stored PNG pixels
                src = kept[ex["id"]]
                assert ex["label"] == src["label_id"]
                assert part.features["label"].int2str(ex["label"]) == src["label"]
                for col in ("pair_id", "prompt_id", "source", "seed", "sha256", "dup_cluster",
                            "judge_score", "benchmark", "origin", "taxonomy_path"):
                    assert ex[col] == src[col], col
                with Image.open(run_dir / src["path"]) as im:
                    assert np.array_equal(np.asarray(ex["image"].convert("RGB")), np.asarray(im.convert("RGB")))
            if split == "train":
                assert not any(part["benchmark"])
        assert seen == expected


def test_streaming_gives_the_same_rows(run_dir, exported, tmp_path):
    out = run_dir / "dataset"
    eager = _load(out, "object_church", tmp_path)
    for split in SPLITS:
        stream = _load(out, "object_church", tmp_path, split=split, streaming=True)
        rows = list(stream)
        assert [r["id"] for r in rows] == eager[split]["id"]
        assert rows[0]["image"].size == (24, 24)
        assert {r["label"] for r in rows} == {0, 1}


def test_card_parses_and_its_configs_match_the_files(run_dir, exported):
    from huggingface_hub import DatasetCard

    out = run_dir / "dataset"
    card = DatasetCard.load(out / "README.md")
    data = card.data.to_dict()
    configs = data["configs"]
    assert [c["config_name"] for c in configs] == ["nudity", "object_bell", "object_church", "prompts"]
    # Exactly one default, and never the gated nudity config when an ungated one exists.
    assert [c["config_name"] for c in configs if c.get("default")] == ["object_bell"]
    on_disk = {str(p.relative_to(out)) for p in out.rglob("*.parquet")}
    matched: list[str] = []
    for c in configs:
        for entry in c["data_files"]:
            files = {str(p.relative_to(out)) for p in out.glob(entry["path"])}
            assert files, entry
            assert all(f.startswith(f"{c['config_name']}/{entry['split']}-") for f in files)
            matched += files
    assert sorted(matched) == sorted(on_disk) == exported.files
    assert data["task_categories"] == ["image-classification"]
    assert data["license"] == "other" and "dataigm" in data["tags"] and data["pretty_name"]
    assert "extra_gated_prompt" in data and "extra_gated_fields" in data  # nudity is gated
    assert "not-for-all-audiences" in data["tags"]
    infos = {i["config_name"]: i for i in data["dataset_info"]}
    label = next(f for f in infos["object_church"]["features"] if f["name"] == "label")
    assert label["dtype"]["class_label"]["names"] == {"0": "other", "1": "church"}
    assert {s["name"]: s["num_examples"] for s in infos["object_church"]["splits"]} == exported.counts["object_church"]

    body = card.text
    # Counts per label and source in the body are the shard counts.
    t = pq.read_table(out / "object_church" / "test-00000-of-00001.parquet", columns=["label", "source"])
    web_church_test = sum(1 for lab, src in zip(t.column("label").to_pylist(), t.column("source").to_pylist())
                          if lab == 1 and src == "web")
    line = next(ln for ln in body.splitlines() if ln.startswith("| 1 `church` | web |"))
    assert line.split("|")[5].strip() == str(web_church_test)
    assert "| exact_dedup | 258 | 6 | exact_duplicate_of: 6 |" in body  # from the real curation report
    assert 'load_dataset("org/dataigm-test", "nudity")' in body and "streaming=True" in body
    assert "Forgotten means" in body and "index 0 = the concept is absent" in body
    assert "| toyworld | toyworld | v1 | none | 1 | 0.0 | 24x24 | 144 |" in body
    assert "benchmark" in body and "connected components" in body
    assert (out / "contact_sheets" / "object_church.png").exists()


def test_prompts_config_loads(run_dir, exported, tmp_path):
    prompts = _load(run_dir / "dataset", "prompts", tmp_path)
    assert list(prompts) == ["train"]
    src = pq.read_table(run_dir / "prompts.parquet").to_pylist()
    got = prompts["train"]
    assert len(got) == len(src) == exported.counts["prompts"]["train"]
    by_id = {r["prompt_id"]: r for r in src}
    for ex in got:
        assert ex == {k: by_id[ex["prompt_id"]][k] for k in ex}
    # Both prompts of a pair share its pair id.
    assert set(Counter(got["pair_id"]).values()) == {2}


def test_shards_embed_bytes_and_respect_the_size_limit(run_dir, kept, tmp_path):
    out = tmp_path / "small-shards"
    report = export_dataset(run_dir, out, ExportConfig(max_shard_mb=0.02, contact_sheets=False))
    train = sorted((out / "object_church").glob("train-*.parquet"))
    assert len(train) > 1
    assert [p.name for p in train] == [f"train-{i:05d}-of-{len(train):05d}.parquet" for i in range(len(train))]
    rows = 0
    for p in train:
        images = pq.read_table(p, columns=["id", "image"]).to_pylist()
        assert sum((run_dir / kept[r["id"]]["path"]).stat().st_size for r in images) <= 20_000 or len(images) == 1
        for r in images:  # self-contained: the bytes themselves, not a path to the RUN folder
            assert r["image"]["bytes"] == (run_dir / kept[r["id"]]["path"]).read_bytes()
            assert "/" not in r["image"]["path"]
        rows += len(images)
    assert rows == report.counts["object_church"]["train"]
    ds = _load(out, "object_church", tmp_path)
    assert ds["train"].num_rows == rows
    assert not (out / "contact_sheets").exists()


def test_failed_export_leaves_the_previous_export_intact(run_dir, tmp_path, monkeypatch):
    import dataigm.export as export_mod

    out = tmp_path / "dataset"
    export_dataset(run_dir, out, ExportConfig(contact_sheets=False))
    before = _tree_digest(out)
    real_write = export_mod._write_shard
    calls = {"n": 0}

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk fell off mid-export")
        return real_write(*args, **kwargs)

    monkeypatch.setattr(export_mod, "_write_shard", failing)
    with pytest.raises(RuntimeError, match="disk fell off"):
        export_dataset(run_dir, out, ExportConfig(split=SplitConfig(seed=5)))
    assert calls["n"] == 3
    assert _tree_digest(out) == before
    # no temp folder left behind (the target's lock file stays next to it, as RUN/.lock does)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".dataset.lock", "dataset"]

    # A later good export replaces it completely (another seed moves some rows).
    monkeypatch.setattr(export_mod, "_write_shard", real_write)
    export_dataset(run_dir, out, ExportConfig(split=SplitConfig(seed=5)))
    assert _tree_digest(out) != before
    assert sorted(p.name for p in tmp_path.iterdir()) == [".dataset.lock", "dataset"]


def test_export_without_curation_uses_the_manifest(tmp_path):
    run = build_run(tmp_path / "run", concepts=("style_vangogh",), n_pairs=10, n_web=6, n_real=6,
                    with_curation=False)
    report = export_dataset(run, run / "dataset")
    assert report.rows_from == "manifest.parquet"
    t = pq.read_table(run / "dataset" / "style_vangogh" / "train-00000-of-00001.parquet",
                      columns=["id", "dup_cluster", "judge_score"]).to_pylist()
    assert all(r["dup_cluster"] == f"self:{r['id']}" and r["judge_score"] is None for r in t)
    total = sum(report.counts["style_vangogh"].values())
    assert total == pq.read_metadata(run / "manifest.parquet").num_rows
    assert "No curation report" in (run / "dataset" / "README.md").read_text()
    card = (run / "dataset" / "README.md").read_text()
    assert "extra_gated_prompt" not in card and "not-for-all-audiences" not in card


def test_bad_inputs_fail_with_one_line_errors(run_dir, tmp_path):
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    with pytest.raises(InputError, match="not a dataigm export"):
        export_dataset(run_dir, foreign)
    assert (foreign / "thesis.tex").read_text() == "precious"

    run = build_run(tmp_path / "run", concepts=("object_church",), n_pairs=5, n_web=2, n_real=2,
                    with_curation=False)
    t = pq.read_table(run / "manifest.parquet").to_pylist()
    t[0]["label"] = "chapel"
    from dataigm.manifest import write_manifest

    write_manifest(t, run / "manifest.parquet")
    with pytest.raises(InputError, match=f"row '{t[0]['id']}': label 'chapel'"):
        export_dataset(run, run / "dataset")
    t[0]["label"] = "church" if t[0]["label_id"] == 1 else "other"
    write_manifest(t, run / "manifest.parquet")
    (run / t[1]["path"]).write_bytes(b"\x89PNG tampered")
    with pytest.raises(InputError, match="sha256 differs from the manifest"):
        export_dataset(run, run / "dataset")
    assert not (run / "dataset").exists()


def test_leaking_assignment_stops_the_export(run_dir, tmp_path, monkeypatch):
    import dataigm.export as export_mod
    from dataigm.splits import assign_splits

    def leaky(rows, cfg=None, warnings=None):
        out = assign_splits(rows, cfg, warnings)
        victim = next(r for r in out if r.get("pair_id") and r["split"] == "validation")
        victim["split"] = "train"
        return out

    monkeypatch.setattr(export_mod, "assign_splits", leaky)
    with pytest.raises(DataigmError, match="split leak: pair_id"):
        export_dataset(run_dir, tmp_path / "dataset")
    assert not (tmp_path / "dataset").exists()


def test_odd_curation_report_is_shown_as_is(tmp_path):
    import json

    run = build_run(tmp_path / "run", concepts=("object_parachute",), n_pairs=6, n_web=3, n_real=3)
    odd = {"near_dedup": {"clusters": 4}, "note": "written by a newer curation step"}
    (run / "curation" / "report.json").write_text(json.dumps(odd))
    export_dataset(run, run / "dataset", ExportConfig(contact_sheets=False))
    body = (run / "dataset" / "README.md").read_text()
    assert '"note": "written by a newer curation step"' in body
    # The drops table then comes from dropped.parquet (one dropped real image per label), with
    # the rows left after the step (the 34 exported).
    assert "| exact_dedup | 34 | 2 | exact_duplicate_of: 2 |" in body and "curation/dropped.parquet" in body


def test_cli_export(run_dir, tmp_path, cli):
    out = tmp_path / "cli-dataset"
    code, printed, _ = cli("export", run_dir, "--to", out, "--seed", "2", "--fractions", "0.7,0.15,0.15",
                           "--no-contact-sheets")
    assert code == 0
    assert "object_church: train" in printed and (out / "README.md").exists()
    assert "Fractions: train 0.7, validation 0.15, test 0.15; seed 2" in (out / "README.md").read_text()
    code, _, err = cli("export", run_dir, "--to", out, "--fractions", "0.7,0.7,0.1")
    assert code == 2 and "must sum to 1" in err and len(err.strip().splitlines()) == 1


def test_contact_sheet_shows_each_label_and_source_line(run_dir, exported, kept):
    from dataigm.contact_sheet import make_contact_sheet

    sheet = np.asarray(Image.open(run_dir / "dataset" / "contact_sheets" / "object_church.png").convert("RGB"))
    thumbs = sheet[:, 160:].astype(int)  # right of the text column
    inked = (thumbs < 250).any(axis=2).any(axis=1)
    bands, start = [], None
    for y, on in enumerate([*inked, False]):
        if on and start is None:
            start = y
        elif not on and start is not None:
            if y - start >= 48:  # thumbnail rows, not caption text
                bands.append((start, y))
            start = None
    # One line per (label, source): 2 labels x 3 sources, sorted label 0 first.
    assert len(bands) == 6
    red = [((thumbs[a:b, :, 0] == 220) & (thumbs[a:b, :, 1] == 30) & (thumbs[a:b, :, 2] == 30)).mean()
           for a, b in bands]  # the disc colour, exact: ImageOps.contain keeps flat areas flat
    assert max(red[:3]) == 0.0 and min(red[3:]) > 0.05  # the fixture draws a red disc only when present

    with pytest.raises(InputError, match="cannot read image for the contact sheet"):
        row = dict(next(iter(kept.values())), path="images/missing.png")
        make_contact_sheet([row], run_dir, run_dir / "sheet.png")


def test_read_back_catches_shards_without_image_bytes(tmp_path):
    import datasets

    from dataigm.export import _null_image_bytes

    feats = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=["a", "b"])})
    rows = {"image": [{"bytes": b"\x89PNG", "path": "a.png"}, {"bytes": None, "path": "/abs/b.png"}],
            "label": [0, 1]}
    import pyarrow as pa

    # A path-only image, as a plain to_parquet of file-backed images can leave it.
    pq.write_table(pa.Table.from_pydict(feats.encode_batch(rows), schema=feats.arrow_schema), tmp_path / "x.parquet")
    assert _null_image_bytes(pq.ParquetFile(tmp_path / "x.parquet")) == 1
