"""Ingestion of real/web images: odd and broken files, ImageFolder labels, parquet and tar."""

from __future__ import annotations

import hashlib
import io
import json
import sys
import tarfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from curation_fixtures import png_bytes, scene  # noqa: E402
from oddfiles import BAD, GOOD, SKIPPED, build_corpus  # noqa: E402

from dataigm.cli import main  # noqa: E402
from dataigm.errors import InputError  # noqa: E402
from dataigm.ingest import IngestSource  # noqa: E402
from dataigm.ingest import ingest as ingest_step  # noqa: E402
from dataigm.manifest import COLUMNS  # noqa: E402
from dataigm.taxonomy import load_concept  # noqa: E402

CHURCH = load_concept("object_church")
NUDITY = load_concept("nudity")


def ingest(run: Path, spec, paths: list, source: str, progress: bool = False, **settings):
    """The ingest step with one source built like `dataigm ingest` builds it."""
    config = IngestSource(concept=spec.name, source=source, paths=[str(p) for p in paths], **settings)
    return ingest_step(run, config, spec, progress=progress)


def _manifest(run: Path) -> list[dict]:
    return pq.read_table(run / "manifest.parquet").to_pylist()


def _close(a: tuple, b: tuple, tol: int = 8) -> bool:
    return all(abs(int(x) - int(y)) <= tol for x, y in zip(a, b))


def test_odd_and_broken_files(tmp_path: Path) -> None:
    corpus = build_corpus(tmp_path / "crawl")
    run = tmp_path / "run"
    report = ingest(run, CHURCH, [corpus], "crawl", label="other", source_type="web",
                    licence="unknown", progress=False)

    assert report.seen == len(GOOD) + len(BAD) + len(SKIPPED)
    assert report.accepted == len(GOOD) and report.skipped == len(SKIPPED)
    assert report.rejected == len(BAD)
    expected_reasons: dict[str, int] = {}
    for reason in BAD.values():
        expected_reasons[reason] = expected_reasons.get(reason, 0) + 1
    assert report.reasons == expected_reasons

    rejected = pq.read_table(run / "ingest" / "crawl" / "rejected.parquet").to_pylist()
    assert {Path(r["origin"]).name: r["reason"] for r in rejected} == BAD

    rows = _manifest(run)
    assert len(rows) == len(GOOD)
    by_name = {Path(r["origin"]).name: r for r in rows}
    assert set(by_name) == set(GOOD)
    extension = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}
    for name, expect in GOOD.items():
        row = by_name[name]
        stored = run / row["path"]
        source_bytes = (corpus / name).read_bytes()
        fmt, normalised = expect["stored"]  # type: ignore[misc]
        assert row["path"].startswith("images/object_church/ingest-crawl/")
        assert row["path"].endswith(f"{row['source_sha256']}{extension[fmt]}"), name
        assert hashlib.sha256(stored.read_bytes()).hexdigest() == row["sha256"]
        # Identity is the source bytes; clean images are stored byte for byte, the others say why not.
        assert row["source_sha256"] == hashlib.sha256(source_bytes).hexdigest()
        assert row["normalised"] == normalised, name
        assert (stored.read_bytes() == source_bytes) is (normalised is None), name
        assert (row["source"], row["source_name"], row["licence"]) == ("web", "crawl", "unknown")
        assert (row["label"], row["label_id"], row["concept"]) == ("other", 0, "object_church")
        assert row["labelled_by"] == "source" and row["origin"] == f"crawl/{name}"
        assert row["prompt"] is None and row["pair_id"] is None
        with Image.open(stored) as im:
            assert im.format == fmt, name
            assert im.size == expect["size"] == (row["width"], row["height"]), name
            rgb = im.convert("RGB")
            for xy, colour in expect.get("pixels", {}).items():  # type: ignore[union-attr]
                assert _close(rgb.getpixel(xy), colour), (name, xy, rgb.getpixel(xy), colour)
    shard = rows[0]["shard"]
    assert shard == "ingest-object_church-crawl-00000"
    assert (run / "shards" / f"{shard}.parquet").exists() and (run / "shards" / f"{shard}.done").exists()

    # Rerun: idempotent, nothing read, decoded or written, nothing duplicated.
    mtimes = {p: p.stat().st_mtime_ns for p in (run / "images").rglob("*.*")}
    again = ingest(run, CHURCH, [corpus], "crawl", label="other", source_type="web", progress=False)
    assert again.accepted == 0 and again.already_present == len(GOOD) and again.shards == []
    assert again.read == 0 and again.decoded == 0 and again.reasons == expected_reasons
    assert len(_manifest(run)) == len(GOOD)
    assert {p: p.stat().st_mtime_ns for p in (run / "images").rglob("*.*")} == mtimes
    assert len(pq.read_table(run / "ingest" / "crawl" / "rejected.parquet")) == len(BAD)


def _imagefolder(root: Path, layout: dict[str, int]) -> None:
    seed = 0
    for folder, count in layout.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            seed += 1
            scene(seed, 48).save(root / folder / f"img{i}.jpg", quality=90)


def test_imagefolder_labels_and_unknown_class(tmp_path: Path) -> None:
    data = tmp_path / "photos"
    _imagefolder(data, {"train/church": 3, "train/other": 2, "val/Church": 1})
    run = tmp_path / "run"
    report = ingest(run, CHURCH, [data], "imagenet", progress=False)
    assert report.labels == {"church": 4, "other": 2}
    rows = _manifest(run)
    for row in rows:
        folder = Path(row["origin"]).parent.name.lower()
        assert row["label"] == folder and row["label_id"] == CHURCH.labels.index(folder)
        assert row["source"] == "real" and row["licence"] is None

    bad = tmp_path / "bad"
    _imagefolder(bad, {"church": 1, "dogs": 1})
    with pytest.raises(InputError, match=r"folder name 'dogs' is not a label of concept 'object_church'"):
        ingest(tmp_path / "run2", CHURCH, [bad], "x", progress=False)
    assert not (tmp_path / "run2" / "manifest.parquet").exists()
    # --label overrides folder names.
    forced = ingest(tmp_path / "run3", CHURCH, [bad], "x", label="other", progress=False)
    assert forced.labels == {"other": 2}


def test_parquet_with_datasets_image_column(tmp_path: Path) -> None:
    import datasets

    images = [png_bytes(scene(i, 40)) for i in range(4)]
    images[3] = b"<html>gone</html>"
    # A datasets ClassLabel whose order differs from the concept's: ints must map through names.
    features = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=["nude", "safe"]),
                                  "url": datasets.Value("string"), "license": datasets.Value("string")})
    ds = datasets.Dataset.from_dict(
        {"image": [{"bytes": b, "path": f"{i}.png"} for i, b in enumerate(images)], "label": [0, 1, 1, 0],
         "url": [f"https://example.org/{i}.png" for i in range(4)], "license": ["cc0", "cc-by", None, "cc0"]},
        features=features)
    path = tmp_path / "nsfw.parquet"
    ds.to_parquet(str(path))
    run = tmp_path / "run"
    report = ingest(run, NUDITY, [path], "nsfw-set", licence="fallback", progress=False)
    assert report.accepted == 3 and report.reasons == {"not_an_image": 1}
    rows = {r["origin"]: r for r in _manifest(run)}
    assert rows["https://example.org/0.png"]["label"] == "nude"
    assert rows["https://example.org/0.png"]["label_id"] == 1
    assert rows["https://example.org/1.png"]["label"] == "safe"
    assert rows["https://example.org/1.png"]["licence"] == "cc-by"
    assert rows["https://example.org/2.png"]["licence"] == "fallback"

    # Raw bytes column with string labels; an unknown label value is an error naming it.
    raw = tmp_path / "raw.parquet"
    pq.write_table(pa.table({"jpg": [images[0], images[1]], "label": ["safe", "explicit"]}), raw)
    with pytest.raises(InputError, match=r"raw.parquet: label 'explicit' is not a label of concept 'nudity'"):
        ingest(tmp_path / "run2", NUDITY, [raw], "raw", progress=False)
    pq.write_table(pa.table({"caption": ["no images here"]}), raw)
    with pytest.raises(InputError, match="no image column"):
        ingest(tmp_path / "run2", NUDITY, [raw], "raw", progress=False)


def _tar(path: Path, samples: list[tuple[str, dict[str, bytes]]], mode: str = "w") -> None:
    with tarfile.open(path, mode) as tf:
        for key, files in samples:
            for ext, data in files.items():
                info = tarfile.TarInfo(f"{key}.{ext}")
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))


def test_webdataset_and_img2dataset_tars(tmp_path: Path) -> None:
    jpeg = io.BytesIO()
    scene(7, 64).save(jpeg, "JPEG", quality=85)
    meta = lambda i, lic: json.dumps({"url": f"https://laion.example/{i}.jpg", "caption": "a church",  # noqa: E731
                                      "key": f"{i:09d}", "status": "success", "LICENSE": lic}).encode()
    shards = tmp_path / "laion"
    shards.mkdir()
    _tar(shards / "00000.tar", [
        ("000000000", {"jpg": jpeg.getvalue(), "json": meta(0, "cc-by-sa"), "cls": b"1"}),
        ("000000001", {"png": png_bytes(scene(8, 64)), "json": meta(1, "?"), "cls": b"other"}),
        ("000000002", {"jpg": jpeg.getvalue()[: len(jpeg.getvalue()) // 2], "json": meta(2, "cc0"), "cls": b"1"}),  # truncated
        ("000000003", {"json": json.dumps({"status": "failed_to_download"}).encode()}),      # no image
    ])
    # img2dataset's metadata parquet next to the tar has no images: not mistaken for an image table.
    pq.write_table(pa.table({"url": ["a"], "caption": ["b"]}), shards / "00000.parquet")
    (shards / "00000_stats.json").write_text("{}")
    _tar(shards / "00001.tar.gz", [("a/x", {"webp": _webp(), "cls": b"church"})], mode="w:gz")
    run = tmp_path / "run"
    report = ingest(run, CHURCH, [shards], "laion", source_type="web", progress=False)
    assert report.accepted == 3 and report.reasons == {"truncated": 1}
    rows = {r["origin"]: r for r in _manifest(run)}
    first = rows["https://laion.example/0.jpg"]
    assert (first["label"], first["licence"], first["source"]) == ("church", "cc-by-sa", "web")
    assert rows["https://laion.example/1.jpg"]["label"] == "other"
    assert rows["laion/00001.tar.gz#a/x"]["label"] == "church"  # relative to the ingested folder
    rejected = pq.read_table(run / "ingest" / "laion" / "rejected.parquet").to_pylist()
    assert [(r["origin"], r["reason"]) for r in rejected] == [("https://laion.example/2.jpg", "truncated")]

    # Labels are checked before anything is written.
    _tar(tmp_path / "bad.tar", [("k", {"jpg": jpeg.getvalue(), "cls": b"7"})])
    with pytest.raises(InputError, match=r"bad.tar: sample 'k' has label '7'"):
        ingest(tmp_path / "run2", CHURCH, [tmp_path / "bad.tar"], "bad", progress=False)


def _webp() -> bytes:
    buf = io.BytesIO()
    scene(9, 64).save(buf, "WEBP", quality=80)
    return buf.getvalue()


def test_cli_ingest_and_manifest_merge(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "photos"
    _imagefolder(data, {"church": 2, "other": 1})
    run = tmp_path / "run"
    assert main(["ingest", str(run), "--concept", "object_church", "--source", "wiki",
                 "--licence", "cc-by-sa-4.0", str(data)]) == 0
    assert "3 accepted" in capsys.readouterr().out
    _imagefolder(tmp_path / "more", {"other": 2})
    assert main(["ingest", str(run), "--concept", "object_church", "--source", "web2", "--source-type", "web",
                 str(tmp_path / "more")]) == 0
    table = pq.read_table(run / "manifest.parquet")
    assert table.column_names == list(COLUMNS) and table.num_rows == 5
    assert table.column("id").to_pylist() == sorted(table.column("id").to_pylist())
    assert sorted(set(table.column("source_name").to_pylist())) == ["web2", "wiki"]
    capsys.readouterr()
    assert main(["ingest", str(run), "--concept", "object_church", "--source", "bad name", str(data)]) == 2
    err = capsys.readouterr().err
    assert "source: 'bad name'" in err and err.count("\n") == 1
    assert main(["ingest", str(run), "--concept", "object_church", "--source", "s",
                 str(tmp_path / "missing")]) == 2


def test_source_map_and_provenance_flags(tmp_path: Path, cli) -> None:
    data = tmp_path / "tree"
    for rel, seed in (("church/LAION_a.jpg", 1), ("church/SD-GEN_x_0.png", 2), ("other/plain.jpg", 3)):
        (data / rel).parent.mkdir(parents=True, exist_ok=True)
        scene(seed, 48).save(data / rel)
    run = tmp_path / "run"
    code, out, err = cli("ingest", run, data, "--concept", "object_church", "--source", "mixed", "--licence", "cc0-1.0",
                         "--source-map", "LAION_*=laion:web,licence=cc-by-4.0,origin_url=https://laion.ai",
                         "--source-map", "*/SD-GEN_*=sd14:generated,generator=stable-diffusion,model_id=CompVis/sd",
                         "--quiet")
    assert code == 0, err
    assert "sources: laion=1, mixed=1, sd14=1" in out
    rows = {Path(r["origin"]).name: r for r in _manifest(run)}
    assert (rows["LAION_a.jpg"]["source"], rows["LAION_a.jpg"]["licence"], rows["LAION_a.jpg"]["origin_url"]) == \
        ("web", "cc-by-4.0", "https://laion.ai")
    sd = rows["SD-GEN_x_0.png"]
    assert (sd["source"], sd["source_name"], sd["generator"], sd["model_id"], sd["licence"]) == \
        ("generated", "sd14", "stable-diffusion", "CompVis/sd", "cc0-1.0")
    plain = rows["plain.jpg"]
    assert (plain["source"], plain["source_name"], plain["generator"], plain["origin"]) == \
        ("real", "mixed", None, "tree/other/plain.jpg")
    for args, message in (
        (["--source-map", "SD-GEN_*"], "--source-map: expected PATTERN=NAME[:TYPE][,key=value...], got 'SD-GEN_*'"),
        (["--source-map", "SD-GEN_*=sd:generated,colour=red"], "'colour=red' is not key=value with a key of"),
        (["--source-map", "SD-GEN_*=sd:generated"], "source_map[0].generator: generated images need --generator"),
        (["--source-map", "SD-GEN_*=bad name"], "source_map[0].source: 'bad name'"),
        (["--source-type", "generated"], "generator: generated images need --generator or --model-id"),
    ):
        code, _, err = cli("ingest", tmp_path / "run2", data, "--concept", "object_church", "--source", "s", *args)
        assert code == 2 and err.count("\n") == 1 and message in err, (args, err)
    assert not (tmp_path / "run2").exists()


def test_parquet_split_and_pair_columns_are_kept(tmp_path: Path) -> None:
    images = [png_bytes(scene(i, 40)) for i in range(4)]
    path = tmp_path / "release.parquet"
    pq.write_table(pa.table({"image": images, "label": ["nude", "safe", "nude", "safe"],
                             "split": ["train", "train", "val", "test"], "pair_id": ["p1", "p1", None, None]}), path)
    run = tmp_path / "run"
    report = ingest(run, NUDITY, [path], "rel", split_from_folders=True)
    assert report.declared_splits == {"train": 2, "validation": 1, "test": 1} and report.pairs == 2
    # A file given directly is named below its own folder.
    rows = {r["origin"].split("/", 1)[1]: r for r in _manifest(run)}
    assert {r["origin"].split("/")[0] for r in rows.values()} == {tmp_path.name}
    assert rows["release.parquet#row=2"]["declared_split"] == "validation"
    assert rows["release.parquet#row=0"]["pair_id"] == rows["release.parquet#row=1"]["pair_id"] == "rel:p1"
    # Without the flag the split column is not honoured; pair ids always are.
    again = ingest(tmp_path / "run2", NUDITY, [path], "rel")
    assert again.declared_splits == {} and again.pairs == 2
    pq.write_table(pa.table({"image": images[:1], "label": ["nude"], "split": ["holdout"]}), path)
    with pytest.raises(InputError, match=r"release.parquet: column split: split 'holdout' is not one of"):
        ingest(tmp_path / "run3", NUDITY, [path], "rel", split_from_folders=True)


def test_preset_sources_section_has_the_ingest_fields(tmp_path: Path) -> None:
    from dataigm.preset import load_preset

    (tmp_path / "data").mkdir()
    preset = tmp_path / "p.yaml"
    preset.write_text(
        "name: p\nconcepts: [nudity]\nsources:\n"
        "  - concept: nudity\n    source: igmu\n    paths: [data]\n    split_from_folders: true\n    pair_by: stem\n"
        "    origin_url: https://example.org/igmu\n    licence: unknown\n"
        "    source_map:\n      - {pattern: 'SD-GEN_*', source: sd14, source_type: generated, generator: sd,"
        " licence: creativeml-openrail-m}\n")
    loaded = load_preset(str(preset))
    src = loaded.sources[0]
    assert src.split_from_folders and src.pair_by == "stem" and src.paths == [str(tmp_path / "data")]
    rule = src.rule_for(("train/nude/SD-GEN_a_b_0.png", "SD-GEN_a_b_0.png"))
    assert rule is not None and src.provenance(rule).generator == "sd"
    assert src.provenance(None).generator is None and src.provenance(None).licence == "unknown"
    # `ingest:` is the older name of the section.
    preset.write_text(preset.read_text().replace("sources:", "ingest:"))
    assert load_preset(str(preset)).sources[0].source == "igmu"
