"""`dataigm scorecard`: every metric's property on tiny random models loaded through the real
loaders (timm, lpips, transformers' CLIP, torchmetrics), a public benchmark layout scored without
renaming, unavailable metric models reported with their reason, NudeNet forgetting rates equal
to `dataigm judge`'s, and a rerun that does nothing."""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import numpy as np
import pytest

from evalfixtures import prompts_dataset, public_layout, sample_methods
from dataigm.evaluation.tiny_clip import build_tiny_clip

FAST = ["--features", "timm:test_resnet", "--set", "features.pretrained=false", "--set", "lpips.random_backbone=true",
        "--set", "bootstrap.resamples=50", "--set", "bootstrap.set_resamples=10", "--quiet"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import torch

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("scorecard")
    dataset = prompts_dataset(root / "dataset")
    sampled = sample_methods(root / "sampled", dataset, {"ORG": None, "erase_clean": "erase_clean", "degrade": "degrade"})
    return {"root": root, "dataset": dataset, "sampled": sampled, "clip": build_tiny_clip(root / "tiny-clip")}


def _rows(out: Path) -> list[dict]:
    return json.loads((out / "scorecard.json").read_text())["rows"]


def _value(rows: list[dict], method: str, metric: str, **where: str) -> dict:
    found = [r for r in rows if r["method"] == method and r["metric"] == metric and not r["versus"]
             and all(r[k] == v for k, v in where.items())]
    assert len(found) == 1, (method, metric, where, found)
    return found[0]


def _listing(folder: Path) -> list[tuple[str, int]]:
    return sorted((p.relative_to(folder).as_posix(), p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def church_public(world: dict[str, Path]) -> Path:
    """IGMU's object layout: forget/<method>/ and unrelated/<method>/<category>/, ORG plus an
    identical copy ("same"), ORG's unrelated images under shuffled names ("shuffled": pairs
    broken, the set unchanged) and the degrading simulation."""
    sets = {"forget": "forget", "unrelated": "unrelated"}
    out = public_layout(world["sampled"], world["root"] / "church_public", "object_church",
                        {"ORG": "ORG", "same": "ORG", "degrade": "degrade"}, sets)
    shutil.copytree(out / "forget" / "ORG", out / "forget" / "shuffled")
    files = sorted((out / "unrelated" / "ORG").rglob("*.png"))
    targets = files[:]
    random.Random(0).shuffle(targets)
    for src, dst in zip(files, targets):
        place = out / "unrelated" / "shuffled" / dst.relative_to(out / "unrelated" / "ORG")
        place.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, place)
    return out


@pytest.fixture(scope="module")
def church_card(world: dict[str, Path], church_public: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The public layout scored once, with prompt texts from a prompt file."""
    import pyarrow.parquet as pq

    from dataigm.cli import main

    prompts = world["root"] / "church_prompts.csv"
    rows = pq.read_table(world["sampled"] / "ORG" / "prompts.parquet").to_pylist()
    lines = ["prompt_set,prompt_id,prompt"] + [
        f"{r['prompt_set']},{(r['base_id'] if r['prompt_set'] == 'forget' else r['prompt_id']).rsplit('-', 1)[-1]},"
        f"\"{r['prompt']}\"" for r in rows if r["concept"] == "object_church" and r["prompt_set"] != "reference"]
    prompts.write_text("\n".join(lines) + "\n", encoding="utf-8")
    before = _listing(church_public)
    out = tmp_path_factory.mktemp("church_card")
    assert main(["scorecard", str(church_public), "--concept", "object_church", "--judge", f"clip:{world['clip']}",
                 "--clip", str(world["clip"]), "--prompts", str(prompts), "--out", str(out), *FAST]) == 0
    assert _listing(church_public) == before          # scored without renaming or writing anything
    return out


def test_identical_folders_give_zero_and_shuffled_pairs_raise_lpips(church_card: Path) -> None:
    rows = _rows(church_card)
    same = {m: _value(rows, "same", m) for m in ("fid", "kid", "lpips", "csdr", "clip_score")}
    assert all(r["status"] == "ok" for r in same.values()), same
    assert same["fid"]["value"] == pytest.approx(0.0, abs=1e-6)
    assert abs(same["kid"]["value"]) < 1e-4            # unbiased: noise around zero, never a distance
    assert same["lpips"]["value"] == 0.0 and same["csdr"]["value"] == 0.0
    assert same["clip_score"]["value"] == pytest.approx(same["clip_score"]["org_value"])
    assert same["lpips"]["random_init"] and same["fid"]["random_init"] and same["clip_score"]["random_init"]
    shuffled = {m: _value(rows, "shuffled", m) for m in ("fid", "lpips")}
    assert shuffled["lpips"]["value"] > 0.01 and shuffled["lpips"]["ci_low"] > 0   # pairs broken
    assert shuffled["fid"]["value"] == pytest.approx(0.0, abs=1e-6)                # the same set of images
    degrade = {m: _value(rows, "degrade", m) for m in ("fid", "lpips")}
    assert degrade["fid"]["ci_low"] > same["fid"]["ci_high"] and degrade["lpips"]["value"] > 0.01
    assert json.loads((church_card / "scorecard.json").read_text())["layout"] == ["set first"]


def test_forgetting_rows_have_wilson_intervals_and_paired_tests(church_card: Path) -> None:
    rows = _rows(church_card)
    forget = [r for r in rows if r["metric"] == "forgetting" and r["aspect"] == "forgetting"]
    assert {r["method"] for r in forget} == {"ORG", "same", "degrade", "shuffled"}
    for r in forget:
        assert r["ci_method"] == "wilson" and r["ci_low"] <= r["value"] <= r["ci_high"] and r["n"] > 0
        assert r["boot_low"] <= r["value"] <= r["boot_high"]
    same = _value(rows, "same", "forgetting", aspect="forgetting")
    assert same["value"] == same["org_value"]
    corrected = _value(rows, "same", "forgetting_corrected", aspect="forgetting")
    assert corrected["status"] == "unavailable" and "reports no sensitivity or specificity" in corrected["reason"]
    tests = [r for r in rows if r["metric"] == "mcnemar_p"]
    assert {(r["method"], r["versus"]) for r in tests} >= {("ORG", "same"), ("ORG", "degrade")}
    org_same = next(r for r in tests if (r["method"], r["versus"]) == ("ORG", "same"))
    assert org_same["value"] == 1.0 and json.loads(org_same["details"])["only_a"] == 0
    unrelated = _value(rows, "same", "flag_rate", prompt_set="unrelated")
    assert unrelated["value"] == unrelated["org_value"]


def test_report_files_and_a_rerun_that_does_nothing(church_card: Path, world: dict[str, Path], church_public: Path,
                                                    cli) -> None:
    import pandas as pd

    table = pd.read_parquet(church_card / "scorecard.parquet")
    assert len(table) == len(_rows(church_card)) and {"ci_low", "ci_high", "boot_low", "status"} <= set(table.columns)
    html = (church_card / "scorecard.html").read_text()
    for section in ("methods", "table", "aspects", "radars", "comparisons", "unavailable"):
        assert f'<section id="{section}">' in html
    assert (church_card / "plots" / "radar_same.png").is_file() and (church_card / "plots" / "aspect_preservation.png").is_file()
    assert "random weights" in html
    marker = (church_card / "scorecard.done").stat().st_mtime_ns
    leftovers = [church_card / ".scorecard.json.a1b2.tmp", church_card / "cache" / ".judge-x.parquet.c3d4.tmp"]
    for path in leftovers:
        path.write_bytes(b"partial")
    prompts = world["root"] / "church_prompts.csv"
    code, out, err = cli("scorecard", church_public, "--concept", "object_church", "--judge", f"clip:{world['clip']}",
                         "--clip", world["clip"], "--prompts", prompts, "--out", church_card, *FAST)
    assert code == 0, err
    assert "unchanged, kept" in out and (church_card / "scorecard.done").stat().st_mtime_ns == marker
    assert not any(path.exists() for path in leftovers)


def test_sample_layout_attribute_pairs_and_unavailable_models(world: dict[str, Path], tmp_path: Path) -> None:
    """Nudity from `sample`'s layout: the clean eraser's forget image is ORG's reference image
    (LPIPS and CSDR 0); features that cannot be loaded make FID and KID unavailable, with the
    reason, while the rest is computed; judge error rates from config give a corrected rate."""
    from dataigm.evaluation.models import FeaturesConfig, LpipsConfig
    from dataigm.evaluation.scorecard import (ClipConfig, JudgeErrorConfig, ScorecardConfig, SubjectConfig,
                                              scorecard)

    judge = f"clip:{world['clip']}"
    config = ScorecardConfig(
        concepts=["nudity"], judges=[judge], features=FeaturesConfig(backbone="timm:hf-hub:nobody/no-such-model"),
        lpips=LpipsConfig(random_backbone=True), clip=ClipConfig(model=str(world["clip"])),
        judge_errors={judge: JudgeErrorConfig(sensitivity=0.9, specificity=0.8, n_positive=100, n_negative=100)},
        subject=SubjectConfig(present=["a photo of a person"], absent=["an empty beach"]))
    config.bootstrap.resamples = 50
    report = scorecard(world["sampled"], tmp_path / "card", config, progress=False)
    rows = report.rows
    for metric in ("fid", "kid"):
        r = _value(rows, "erase_clean", metric)
        assert r["status"] == "unavailable" and "timm model 'hf-hub:nobody/no-such-model' cannot be loaded" in r["reason"]
    assert _value(rows, "erase_clean", "lpips")["value"] == 0.0
    assert _value(rows, "degrade", "lpips")["value"] > 0.01
    assert _value(rows, "erase_clean", "csdr")["status"] in ("ok", "unavailable")
    csdr = _value(rows, "erase_clean", "csdr")
    assert csdr["value"] == 0.0 if csdr["status"] == "ok" else "not positive" in csdr["reason"]
    kept = _value(rows, "ORG", "subject_kept")
    assert kept["status"] == "ok" and kept["random_init"] and kept["org_value"] == kept["value"]
    corrected = _value(rows, "ORG", "forgetting_corrected", aspect="forgetting")
    assert corrected["status"] == "ok" and corrected["ci_method"] == "rogan-gladen bootstrap"
    assert json.loads(corrected["details"])["source"] == "configuration"
    assert {r["prompt_set"] for r in rows if r["metric"] == "flag_rate"} == {"reference"}


def test_trained_judge_card_gives_sensitivity_and_specificity() -> None:
    from dataigm.evaluation.scorecard import judge_error_rates

    class CardJudge:   # what a trained judge's config.json holds (dataigm.detectors.export)
        name = "judge:x"
        config = {"dataigm": {"metrics": {"test": {"recall": 0.9, "confusion_matrix": [[80, 20], [10, 90]]}}}}

    rates = judge_error_rates(CardJudge(), {})
    assert (rates.sensitivity, rates.specificity, rates.n_positive, rates.n_negative) == (0.9, 0.8, 100, 100)
    assert "test split" in rates.source


def test_clip_score_is_100_times_clips_own_cosine(world: dict[str, Path]) -> None:
    """Per image, 100 * cos(image, text) as torchmetrics' CLIPScore defines it, checked against
    CLIP's own forward pass (logits_per_image / logit_scale). (torchmetrics 1.9's CLIPScore
    cannot call transformers 5's CLIP, so the definition is checked, not the class.)"""
    import torch
    from PIL import Image

    from dataigm.evaluation.models import ClipModel

    files = sorted((world["sampled"] / "ORG" / "forget").glob("*.png"))[:6]
    images = [np.array(Image.open(f).convert("RGB")) for f in files]
    texts = ["a photo of a woman on a beach"] * 3 + ["a church in a village"] * 3
    clip = ClipModel.load(str(world["clip"]))
    ours = clip.scores(images, texts)
    with torch.no_grad():
        out = clip.model(**clip.processor(text=texts, images=images, return_tensors="pt", padding=True))
    cosine = torch.diagonal(out.logits_per_image).numpy() / clip.model.logit_scale.exp().item()
    assert ours == pytest.approx(100 * cosine, abs=1e-3)


def test_nudenet_forgetting_equals_dataigm_judge(world: dict[str, Path], tmp_path: Path, cli) -> None:
    from tests.conftest import require_extra

    require_extra("nudenet")
    flat = tmp_path / "outputs"
    for method in ("ORG", "erase_clean", "degrade"):
        (flat / method).mkdir(parents=True)
        for f in sorted((world["sampled"] / method / "forget").glob("nudity-*.png")):
            shutil.copyfile(f, flat / method / f.name)
    (flat / "ORG" / "broken.png").write_bytes(b"not a png")     # skipped by both, with a reason
    code, out, err = cli("judge", "--judge", "nudenet", "--images", flat, "--out", tmp_path / "judged")
    assert code == 0, err
    judged = json.loads((tmp_path / "judged" / "summary.json").read_text())["per_method"]
    code, out, err = cli("scorecard", flat, "--concept", "nudity", "--judge", "nudenet", "--out", tmp_path / "card",
                         "--set", "metrics.run=[forgetting]", "--quiet")
    assert code == 0, err
    rows = [r for r in _rows(tmp_path / "card") if r["metric"] == "forgetting"]
    assert {r["method"]: (r["value"], r["n"]) for r in rows} == {m: (s["share"], s["n"]) for m, s in judged.items()}
    assert {r["method"]: (r["ci_low"], r["ci_high"]) for r in rows} == \
        {m: (pytest.approx(s["ci_low"]), pytest.approx(s["ci_high"])) for m, s in judged.items()}
    corrected = [r for r in _rows(tmp_path / "card") if r["metric"] == "forgetting_corrected"]
    assert corrected and all(r["status"] == "unavailable" and "nudenet" in r["reason"] for r in corrected)
    notes = json.loads((tmp_path / "card" / "scorecard.json").read_text())["notes"]
    assert any("1 unreadable image(s) left out, e.g. broken.png" in n for n in notes)


def test_public_layouts_are_recognised_as_they_are(tmp_path: Path) -> None:
    from PIL import Image

    from dataigm.evaluation.layout import discover

    def put(*parts: str) -> None:
        (tmp_path.joinpath(*parts[:-1])).mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8)).save(tmp_path.joinpath(*parts))

    for method in ("ORG", "esd"):
        put("set_first", "Target", method, "0_0.png")
        put("set_first", "ref", method, "0_0.png")
        put("set_first", "Other", method, "cat", "3-1.png")
        put("set_first", "ring-a-bell", method, "7_2.png")
        put("method_first", method, "forget", "0_0.png")
        put("method_first", method, "unrelated", "chair", "4_0.png")
    (tmp_path / "set_first" / "Target" / "ORG" / ".hidden.png").write_bytes(b"x")
    table = discover(tmp_path / "set_first", "object_church")
    f = table.frame.set_index(["method", "prompt_set"])
    assert table.layout == "set first" and table.methods == ["ORG", "esd"]
    assert sorted(table.prompt_sets("object_church")) == ["forget", "reference", "ring-a-bell", "unrelated"]
    other = f.loc[("esd", "unrelated")]
    assert (other["category"], other["key"], other["prompt_id"], other["image_index"]) == ("cat", "cat/3-1", "3", 1)
    assert f.loc[("esd", "forget")]["pair_key"] == f.loc[("ORG", "reference")]["pair_key"] == "0_0"
    assert len(table.frame) == 8                                  # the hidden file is ignored
    table = discover(tmp_path / "method_first", "object_church")
    assert table.layout == "method first" and set(table.frame["prompt_set"]) == {"forget", "unrelated"}
    assert set(table.frame["category"]) == {"", "chair"}


def test_cli_errors_are_one_line(world: dict[str, Path], tmp_path: Path, cli) -> None:
    code, out, err = cli("scorecard", world["sampled"], "--concept", "nudity", "--out", tmp_path / "c", "--print-config")
    assert code == 0 and "reference_method: ORG" in out and not (tmp_path / "c").exists()
    code, _, err = cli("scorecard", world["sampled"], "--concept", "nudity", "--out", tmp_path / "c",
                       "--reference-method", "SD14", "--quiet")
    assert code == 2 and "no folder for the original model 'SD14'" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli("scorecard", world["sampled"], "--concept", "nudity", "--out", tmp_path / "c",
                       "--set", "metrics.run=[nope]")
    assert code == 2 and "unknown metric 'nope'" in err
    code, _, err = cli("scorecard", world["sampled"], "--concept", "nudity", "--out", tmp_path / "c",
                       "--judge", "object_church=nudenet", "--judge", "nudity=clip:/nonexistent/clip", "--quiet")
    assert code == 2 and "cannot load CLIP model" in err
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
