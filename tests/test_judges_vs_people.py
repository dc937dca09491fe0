"""Judges checked against people: `dataigm labels export` draws a stratified sample of a folder of
images (a page to look at and a CSV to fill in, nsfw pixelated), `dataigm labels import` reads
the people's labels and reports every judge's accuracy, precision, recall and Cohen's kappa with
intervals, the agreement between judges, and writes them into a trained judge's card through its
JudgeFolder (locked, re-sealed); the scorecard then corrects with the measured rates. One of the
judges is a VLM behind a fake OpenAI-compatible endpoint on 127.0.0.1."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml
from PIL import Image

from judgefixtures import demo_judge, write_image_folder
from runfixtures import user_concept_yaml
from vlmfixtures import FakeVlm, pixels_digest, red_rule

POSITIVES = {"ORG": 12, "erased": 4}     # per folder: the first n images show the concept (red shape)


def _unsure_sometimes(arr: np.ndarray, with_reference: bool) -> bool:
    return pixels_digest(arr) % 6 == 0


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("people")
    images = write_image_folder(root / "images", {"ORG": (12, 12), "erased": (4, 20)})
    concept = root / "object_square.yaml"
    data = user_concept_yaml("object_square", "square")
    concept.write_text(yaml.safe_dump(data))
    judge = root / "judge"
    shutil.copytree(demo_judge(), judge)          # its card is rewritten: a copy of the shared fixture
    server = FakeVlm(red_rule, _unsure_sometimes).__enter__()
    yield {"root": root, "images": images, "concept": concept, "judge": judge, "vlm": server}
    server.__exit__(None, None, None)


def _truth(source: str) -> bool:
    folder, _, name = source.split("/")
    return int(Path(name).stem) < POSITIVES[folder]


@pytest.fixture(scope="module")
def exported(world: dict) -> Path:
    from dataigm.cli import main

    out = world["root"] / "labels"
    assert main(["labels", "export", str(world["images"]), "--concept", str(world["concept"]), "--judge",
                 str(world["judge"]), "--judge", world["vlm"].judge_ref(), "--per-stratum", "6", "--out", str(out),
                 "--quiet"]) == 0
    return out


def test_export_draws_a_stratified_sample_that_hides_the_judges(exported: Path, world: dict) -> None:
    items = pq.read_table(exported / "items.parquet").to_pylist()
    strata = {r["stratum"] for r in items}
    assert {s.split(" | ")[0] for s in strata} == {"ORG", "erased"}   # the broken file is left out
    assert all(sum(r["stratum"] == s for r in items) <= 6 for s in strata)
    assert len(items) == len({r["source"] for r in items}) == len(list((exported / "images").iterdir()))
    with open(exported / "labels.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["item"] for r in rows] == [r["item"] for r in items] and all(r["label"] == "" for r in rows)
    page = (exported / "labelling.html").read_text()
    assert all(f'src="images/{r["item"]}.png"' in page for r in items)
    assert "vlm:" not in page and "judge:" not in page and "probability" not in page   # no judge's answer shown
    assert "pixelated" not in page.split("<body>")[1].split("<div")[0] or "object" in page
    assert (exported / "labels.done").is_file()


def test_nsfw_images_are_pixelated_unless_asked_otherwise(world: dict, tmp_path: Path, cli) -> None:
    from dataigm.contact_sheet import PIXELATE_CELLS

    code, out, err = cli("labels", "export", world["images"], "--concept", "nudity", "--judge", world["vlm"].judge_ref(),
                         "--per-stratum", "2", "--out", tmp_path / "nsfw", "--quiet")
    assert code == 0, err
    for path in (tmp_path / "nsfw" / "images").iterdir():
        colours = np.unique(np.asarray(Image.open(path)).reshape(-1, 3), axis=0)
        assert len(colours) <= PIXELATE_CELLS * PIXELATE_CELLS
    assert "pixelated" in (tmp_path / "nsfw" / "labelling.html").read_text()
    code, out, err = cli("labels", "export", world["images"], "--concept", "nudity", "--judge", world["vlm"].judge_ref(),
                         "--per-stratum", "2", "--pixelate", "none", "--out", tmp_path / "plain", "--quiet")
    assert code == 0, err
    assert any(len(np.unique(np.asarray(Image.open(p)).reshape(-1, 3), axis=0)) > 100
               for p in (tmp_path / "plain" / "images").iterdir())


def _fill(exported: Path, labels: dict[str, str], extra: list[list[str]] = ()) -> None:
    with open(exported / "labels.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    with open(exported / "labels.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["item", "image", "label", "labeller", "notes"])
        for r in rows:
            writer.writerow([r["item"], r["image"], labels.get(r["item"], ""), "ann", ""])
        writer.writerows(extra)


def test_labels_give_each_judge_kappa_precision_recall_in_its_card(exported: Path, world: dict, cli) -> None:
    from dataigm.detectors import Judge
    from dataigm.evaluation.scorecard import judge_error_rates, read_human_labels
    from dataigm.judge_folder import JudgeFolder

    items = pq.read_table(exported / "items.parquet").to_pylist()
    truth = {r["item"]: _truth(r["source"]) for r in items}
    labels = {item: ("present" if yes else "absent") for item, yes in truth.items()}
    first = items[0]["item"]
    labels[items[1]["item"]] = "unsure"                                     # a person may skip an image
    _fill(exported, labels, [[first, "", "1" if truth[first] else "0", "second person", ""]])
    code, out, err = cli("labels", "export", world["images"], "--concept", world["concept"], "--judge", world["judge"],
                         "--out", exported, "--quiet")
    assert code == 2 and "already holds labels" in err                     # nothing of theirs is overwritten
    bad = exported / "bad.csv"
    bad.write_text(f"item,label\n{first},maybe\n")
    code, out, err = cli("labels", "import", exported, "--labels", bad, "--quiet")
    assert code == 2 and err.count("\n") == 1 and "bad.csv: line 2: column 'label': 'maybe' is not a label" in err

    code, out, err = cli("labels", "import", exported, "--quiet")
    assert code == 0, err
    assert "kappa" in out and "card updated" in out
    report = json.loads((exported / "validation.json").read_text())
    assert report["labelled"] == len(items) - 1 and report["left_out"]["skipped_rows"] == 1
    labelled = [r for r in items if r["item"] != items[1]["item"]]
    people = np.asarray([truth[r["item"]] for r in labelled])
    by_name = {j["name"]: j for j in report["judges"]}
    vlm = by_name["vlm:fake-vlm"]
    # Recomputed from the server's own rule on the original images: the VLM's counts are exact.
    said = [red_rule(np.asarray(Image.open(world["images"] / r["source"]).convert("RGB")), False) == "Yes."
            for r in labelled]
    sure = [not _unsure_sometimes(np.asarray(Image.open(world["images"] / r["source"]).convert("RGB")), False)
            for r in labelled]
    tp = sum(s and p and u for s, p, u in zip(said, people, sure))
    fn = sum(not s and p and u for s, p, u in zip(said, people, sure))
    assert vlm["counts"]["tp"] == tp and vlm["counts"]["fn"] == fn and vlm["unsure"] == len(sure) - sum(sure)
    assert vlm["recall"]["value"] == pytest.approx(tp / (tp + fn)) and "cannot be checked offline" in vlm["note"]
    for j in report["judges"]:
        for metric in ("accuracy", "precision", "recall", "specificity", "kappa"):
            m = j[metric]
            assert m["ci_low"] <= m["value"] <= m["ci_high"], (j["name"], metric, m)
    assert len(report["agreement"]) == 1 and report["agreement"][0]["kappa"]["n"] > 0
    html = (exported / "validation.html").read_text()
    assert "Cohen's kappa" in html and '<section id="agreement">' in html

    # The trained judge's card and metrics.json, updated through its JudgeFolder and re-sealed.
    folder = JudgeFolder(world["judge"])
    folder.require_finished()
    card = (world["judge"] / "README.md").read_text()
    trained = by_name["judge:object_square"]
    assert "## Checked against people" in card and f"{trained['kappa']['value']:.3f}" in card
    assert f"{trained['precision']['value']:.3f}" in card and f"{trained['recall']['value']:.3f}" in card
    assert card.index("Checked against people") < card.index("## Intended use")
    human = json.loads(folder.metrics_path.read_text())["human"]
    assert human["counts"] == trained["counts"]
    judge = Judge.from_pretrained(str(world["judge"]), device="cpu")
    rates = judge_error_rates(judge, {})
    c = trained["counts"]
    assert rates.source == "judge card (labels from people)"
    assert rates.sensitivity == pytest.approx(c["tp"] / (c["tp"] + c["fn"]))
    assert rates.specificity == pytest.approx(c["tn"] / (c["tn"] + c["fp"]))
    # Importing again replaces the section, never stacks a second one.
    assert cli("labels", "import", exported, "--quiet")[0] == 0
    assert (world["judge"] / "README.md").read_text().count("## Checked against people") == 1
    # A judge that is not a folder (the VLM) gets its measured rates from the labels folder.
    measured = read_human_labels([str(exported)])
    assert measured["vlm:fake-vlm"].sensitivity == pytest.approx(tp / (tp + fn))
    assert (exported / "answers").is_dir()


def test_a_judge_folder_update_is_written_whole_and_resealed(world: dict, tmp_path: Path) -> None:
    from dataigm.errors import InputError
    from dataigm.judge_folder import JudgeFolder

    copy = tmp_path / "j"
    shutil.copytree(world["judge"], copy)
    (copy / "training").mkdir(exist_ok=True)
    (copy / "training" / "notes.txt").write_text("mine")
    folder = JudgeFolder(copy)
    with folder.lock():
        folder.update({"README.md": b"# new card\n"})
    folder.require_finished()
    assert (copy / "README.md").read_text() == "# new card\n" and (copy / "training" / "notes.txt").read_text() == "mine"
    with pytest.raises(InputError, match="only README.md"):
        with folder.lock():
            folder.update({"model.safetensors": b"x"})
