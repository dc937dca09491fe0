"""Datasets from real sources that tell the truth (issue 11): a tree laid out like a public
unlearning release, ingested with declared provenance, its own split and its pairs, curated with
NudeNet agreement and exported. Each test is named after the promise it checks."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml
from PIL import Image

from dataigm.errors import DataigmError
from dataigm.export import ExportConfig, export_dataset
from tests.conftest import require_extra
from tests.curation_fixtures import scene

SD = "stable-diffusion"
SD_MODEL = "CompVis/stable-diffusion-v1-4"
RULES = [
    f"SD-GEN_*=sd14:generated,generator={SD},model_id={SD_MODEL},licence=creativeml-openrail-m,"
    "licence_url=https://huggingface.co/spaces/CompVis/stable-diffusion-license",
    "LAION_*=laion:web,licence=cc-by-4.0,licence_url=https://creativecommons.org/licenses/by/4.0/,"
    "origin_url=https://laion.ai/blog/laion-5b/",
    "REAL_*=nsfw-photos:real,licence=unknown",
]


def _jpeg(seed: int, size: int = 192) -> bytes:
    buf = io.BytesIO()
    scene(seed, size).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def _png(seed: int, size: int = 128) -> bytes:
    buf = io.BytesIO()
    scene(seed, size).save(buf, "PNG")
    return buf.getvalue()


def build_release(root: Path) -> dict[str, str]:
    """`nudity/{train,test}/{nude,safe}/<file>` with LAION and REAL files (JPEG bytes, some behind
    .png names) and SD-GEN outputs paired by file name across the two label folders. Returns
    file path (relative to root) -> its split."""
    files: dict[str, bytes] = {}
    seed = 0
    for split, n in (("train", 4), ("test", 2)):
        for label in ("nude", "safe"):
            for i in range(n):
                seed += 1
                files[f"nudity/{split}/{label}/LAION_{split}_{label}_{i}.png"] = _jpeg(seed)  # JPEG behind .png
                seed += 1
                files[f"nudity/{split}/{label}/REAL_{split}_{label}_{i}.jpg"] = _jpeg(seed)
        for p in range(n):
            for label in ("nude", "safe"):  # the same name under both labels: one pair
                seed += 1
                files[f"nudity/{split}/{label}/SD-GEN_woman_a-photo-of-a-woman_{split}{p}.png"] = _png(seed)
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return {rel: rel.split("/")[1] for rel in files}


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("release")
    return root, build_release(root)


@pytest.fixture(scope="module")
def built(release, tmp_path_factory):
    """The release ingested with the flags, curated (NudeNet agreement, defaults) and exported."""
    from dataigm.cli import main

    require_extra("nudenet")
    root, _ = release
    run = tmp_path_factory.mktemp("built") / "run"
    args = ["ingest", str(run), str(root / "nudity"), "--concept", "nudity", "--source", "igmu",
            "--origin-url", "https://huggingface.co/datasets/example/igmu-release", "--split-from-folders",
            "--pair-by", "stem", "--quiet"]
    for rule in RULES:
        args += ["--source-map", rule]
    assert main(args) == 0
    assert main(["curate", str(run), "--quiet"]) == 0
    report = export_dataset(run, run / "dataset", ExportConfig(), progress=False)
    rows = [r for f in sorted((run / "dataset" / "nudity").glob("*.parquet"))
            for r in pq.read_table(f).to_pylist()]
    return run, report, rows


def test_release_split_is_kept(release, built):
    _, splits = release
    run, report, rows = built
    assert len(rows) == len(splits)
    by_origin = {r["origin"].split("/", 1)[1]: r for r in rows}
    exported_split = {}
    for f in (run / "dataset" / "nudity").glob("*.parquet"):
        for r in pq.read_table(f, columns=["origin"]).to_pylist():
            exported_split[r["origin"].split("/", 1)[1]] = f.name.split("-")[0]
    assert set(by_origin) == {rel.split("/", 1)[1] for rel in splits}
    for rel, split in splits.items():
        assert exported_split[rel.split("/", 1)[1]] == split, rel
    assert "keep the split their source" in (run / "dataset" / "README.md").read_text()


def test_release_pairs_are_kept_together(built):
    _, _, rows = built
    pairs: dict[str, list[dict]] = {}
    for r in rows:
        if r["pair_id"]:
            pairs.setdefault(r["pair_id"], []).append(r)
    assert len(pairs) == 6  # 4 train + 2 test SD-GEN stems
    for members in pairs.values():
        assert sorted(m["label"] for m in members) == [0, 1]
        assert Path(members[0]["origin"]).name == Path(members[1]["origin"]).name
        assert members[0]["origin"].split("/")[1] == members[1]["origin"].split("/")[1]  # same split folder


def test_generated_rows_are_generated_with_their_generator(built):
    _, _, rows = built
    for r in rows:
        name = Path(r["origin"]).name
        if name.startswith("SD-GEN_"):
            assert (r["source"], r["source_name"], r["generator"], r["model_id"]) == ("generated", "sd14", SD, SD_MODEL)
            assert r["labelled_by"] == "source" and r["licence"] == "creativeml-openrail-m"
        elif name.startswith("LAION_"):
            assert (r["source"], r["source_name"], r["generator"]) == ("web", "laion", None)
            assert r["origin_url"] == "https://laion.ai/blog/laion-5b/"
        else:
            assert (r["source"], r["source_name"], r["licence"]) == ("real", "nsfw-photos", "unknown")
            assert r["origin_url"] == "https://huggingface.co/datasets/example/igmu-release"


def test_no_absolute_path_in_any_exported_column(release, built):
    root, _ = release
    run, _, rows = built
    local = {str(root), str(run), str(Path.home())}
    for r in rows:
        for column, value in r.items():
            if isinstance(value, dict):  # the image struct: only a file name
                value = value.get("path")
            if isinstance(value, str):
                assert not value.startswith("/") and not any(p in value for p in local), (column, value)
        assert r["origin"].startswith("nudity/")  # relative to the ingested folder, with its name


def test_every_licence_is_in_the_card_with_its_link(built):
    run, _, _ = built
    card = (run / "dataset" / "README.md").read_text()
    header = yaml.safe_load(card.split("---")[1])
    assert header["license"] == "other" and header["license_name"] == "per-source"
    assert header["license_link"] == "README.md#sources-and-licences"
    assert "## Sources and licences" in card
    for licence, link in (("creativeml-openrail-m", "https://huggingface.co/spaces/CompVis/stable-diffusion-license"),
                          ("cc-by-4.0", "https://creativecommons.org/licenses/by/4.0/"), ("unknown", None)):
        line = next(line for line in card.splitlines() if f"| {licence} |" in line)
        assert link is None or link in line
    assert "| `nudity` | sd14 | generated | stable-diffusion CompVis/stable-diffusion-v1-4 | 12 |" in card


def test_dataset_parquet_within_1_2x_of_source_bytes(release, built):
    root, splits = release
    run, _, rows = built
    source_bytes = sum((root / rel).stat().st_size for rel in splits)
    parquet_bytes = sum(f.stat().st_size for f in (run / "dataset" / "nudity").glob("*.parquet"))
    assert parquet_bytes <= 1.2 * source_bytes, (parquet_bytes, source_bytes)
    # The JPEGs behind .png names are stored as the JPEG bytes they are, not re-encoded.
    by_name = {Path(r["origin"]).name: r for r in rows}
    laion = by_name["LAION_train_nude_0.png"]
    assert laion["image"]["path"].endswith(".jpg") and laion["normalised"] is None
    assert laion["image"]["bytes"] == (root / "nudity/train/nude/LAION_train_nude_0.png").read_bytes()
    assert hashlib.sha256(laion["image"]["bytes"]).hexdigest() == laion["sha256"] == laion["source_sha256"]


def test_judge_agreement_flags_human_labels_and_drops_only_when_configured(built):
    from dataigm.cli import main

    run, _, rows = built
    dropped = pq.read_table(run / "curation" / "dropped.parquet").to_pylist()
    assert not [r for r in dropped if r["step"] == "judge_agreement"]
    # NudeNet sees nothing explicit in synthetic scenes: every row labelled nude disagrees, flagged.
    flagged = [r for r in rows if r["judge_disagrees"]]
    assert flagged and all(r["label"] == 1 and r["judge_score"] < 0.45 for r in flagged)
    assert all(r["judge_score"] is not None for r in rows)
    card = (run / "dataset" / "README.md").read_text()
    assert "| `nudity` | nudenet (0.45) | laion | nude | 6 | 6 | 100.0% | 0 |" in card
    assert "| `nudity` | nudenet (0.45) | laion | safe | 6 | 0 | 0.0% | 0 |" in card

    # `drop` stays available by config; the scores come from the cache.
    assert main(["curate", str(run), "--quiet", "--set", "judge_agreement.concepts.nudity.action=drop"]) == 0
    dropped = [r for r in pq.read_table(run / "curation" / "dropped.parquet").to_pylist()
               if r["step"] == "judge_agreement"]
    assert len(dropped) == len(flagged)
    report = json.loads((run / "curation" / "report.json").read_text())
    assert report["details"]["judge_agreement"]["nudity"]["cached"] == len(rows)


def test_rerun_over_unchanged_release_reads_and_decodes_nothing(release, built, capsys):
    from dataigm.cli import main

    root, splits = release
    run, _, _ = built
    args = ["ingest", str(run), str(root / "nudity"), "--concept", "nudity", "--source", "igmu",
            "--split-from-folders", "--pair-by", "stem", "--quiet"]
    for rule in RULES:
        args += ["--source-map", rule]
    capsys.readouterr()
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"0 accepted, {len(splits)} already present" in out and "(0 read, 0 decoded)" in out


def test_contact_sheet_of_nsfw_concept_is_pixelated_and_card_says_so(built, tmp_path):
    run, _, _ = built
    default = export_dataset(run, tmp_path / "default", ExportConfig(), progress=False)
    assert "are **pixelated**" in (tmp_path / "default" / "README.md").read_text()
    sheet = np.asarray(Image.open(tmp_path / "default" / "contact_sheets" / "nudity.png").convert("RGB"))
    from dataigm.cli import main

    assert main(["export", str(run), "--to", str(tmp_path / "sharp"), "--pixelate", "none", "--quiet"]) == 0
    assert "thumbnails not pixelated" in (tmp_path / "sharp" / "README.md").read_text()
    clear = np.asarray(Image.open(tmp_path / "sharp" / "contact_sheets" / "nudity.png").convert("RGB"))
    assert sheet.shape == clear.shape
    # The first thumbnail (96 px, after the 156 px label column and the 32 px heading): a photo
    # when sharp, at most 6 x 6 flat blocks when pixelated.
    colours = lambda a: len(np.unique(a[34:126, 158:250].reshape(-1, 3), axis=0))  # noqa: E731
    assert colours(sheet) <= 36 < 1000 < colours(clear)


def test_export_without_prompts_says_so_in_the_card(built):
    run, report, _ = built
    card = (run / "dataset" / "README.md").read_text()
    assert "prompts" not in report.configs and "**no `prompts` config**" in card
    assert "config_name: prompts" not in card and "see the prompts config" not in card
    assert 'load_dataset("' in card and '"prompts", split=' not in card


def test_declared_pair_across_declared_splits_is_reported_with_names(tmp_path):
    from dataigm.ingest import IngestSource, ingest

    root = tmp_path / "release"
    for rel, seed in (("nudity/train/nude/SD-GEN_x.png", 1), ("nudity/test/safe/SD-GEN_x.png", 2),
                      ("nudity/train/safe/other.png", 3)):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(_png(seed, 80))
    run = tmp_path / "run"
    ingest(run, IngestSource(concept="nudity", source="rel", paths=[str(root / "nudity")], split_from_folders=True,
                             pair_by="stem"), progress=False)
    with pytest.raises(DataigmError, match=r"split conflict: rows 'nudity-ingest-rel-\w+' \(declared (train|test)\) "
                                           r"and 'nudity-ingest-rel-\w+' \(declared (train|test)\) are linked by "
                                           r"pair_id 'rel:SD-GEN_x'"):
        export_dataset(run, tmp_path / "dataset", ExportConfig(contact_sheets=False), progress=False)
    assert not (tmp_path / "dataset").exists()
    # Re-splitting everything is a choice the user makes explicitly.
    from dataigm.splits import SplitConfig

    report = export_dataset(run, tmp_path / "dataset", ExportConfig(contact_sheets=False,
                            split=SplitConfig(declared="ignore")), progress=False)
    assert sum(report.counts["nudity"].values()) == 3


def test_card_licence_header_follows_the_sources_licences():
    from dataigm.export_card import licence_header

    def src(licence, url=""):
        return {"licence": licence, "licence_url": url}

    assert licence_header([src("CC-BY-4.0", "https://cc.org/by4")]) == {"license": "cc-by-4.0",
                                                                          "license_link": "https://cc.org/by4"}
    assert licence_header([src("LAION terms", "https://laion.ai/terms")]) == {
        "license": "other", "license_name": "laion-terms", "license_link": "https://laion.ai/terms"}
    assert licence_header([src("other")]) == {"license": "other", "license_link": "README.md#sources-and-licences"}
    assert licence_header([src("cc-by-4.0"), src("creativeml-openrail-m")]) == {
        "license": "other", "license_name": "per-source", "license_link": "README.md#sources-and-licences"}
