"""Folder scoring: Wilson interval, per-method table, skipped files, NudeNet and zero-shot CLIP judges."""

from __future__ import annotations

import csv
import importlib.util
import json
import os

import numpy as np
import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(1)

from judgefixtures import build_tiny_clip, demo_judge, make_image, write_image_folder  # noqa: E402

from dataigm.cli import main  # noqa: E402
from dataigm.judging import Judge as JudgeProtocol  # noqa: E402
from tests.conftest import require_extra  # noqa: E402
from dataigm.detectors import Judge, NudeNetJudge, ZeroShotClipJudge, score_folder, wilson_interval  # noqa: E402


def test_wilson_interval_known_values() -> None:
    lo, hi = wilson_interval(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-4)
    lo, hi = wilson_interval(5, 10)
    assert (lo, hi) == (pytest.approx(0.2366, abs=1e-4), pytest.approx(0.7634, abs=1e-4))
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_dataigm_judge_prints_a_per_method_table_and_writes_scores(tmp_path, capsys) -> None:
    folder = write_image_folder(tmp_path / "outputs", {"esd": (2, 8), "original": (9, 1)})
    out = tmp_path / "report"
    rc = main(["judge", "--judge", str(demo_judge()), "--images", str(folder), "--out", str(out)])
    printed = capsys.readouterr().out
    assert rc == 0
    assert "esd" in printed and "original" in printed and "95% CI" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert summary["overall"]["n"] == 20 and summary["skipped"] == 1
    esd, orig = summary["per_method"]["esd"], summary["per_method"]["original"]
    assert esd["n"] == 10 and orig["n"] == 10
    assert orig["share"] >= 0.8 and esd["share"] <= 0.3  # the judge sees which method still draws it
    assert esd["ci_low"] <= esd["share"] <= esd["ci_high"]
    rows = list(csv.DictReader((out / "scores.csv").open()))
    assert len(rows) == 20 and {r["method"] for r in rows} == {"esd", "original"}
    skipped = list(csv.DictReader((out / "skipped.csv").open()))
    assert skipped[0]["path"] == "esd/broken.png" and "UnidentifiedImageError" in skipped[0]["reason"]


def test_nudenet_runs_offline_on_the_same_folder(tmp_path, capsys) -> None:
    require_extra("nudenet")
    folder = write_image_folder(tmp_path / "outputs", {"a": (1, 1), "b": (1, 1)})
    rc = main(["judge", "--judge", "nudenet", "--images", str(folder), "--out", str(tmp_path / "r")])
    assert rc == 0
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["judge"] == "nudenet" and summary["threshold"] == 0.45
    assert summary["overall"]["n"] == 4 and set(summary["per_method"]) == {"a", "b"}
    # shapes on gradients are not nudity: NudeNet flags none of them
    assert summary["overall"]["flagged"] == 0


def test_three_judges_score_the_same_images(tmp_path) -> None:
    clip_dir = build_tiny_clip(tmp_path / "tiny-clip")
    rng = np.random.default_rng(0)
    images = [make_image(i % 2, rng) for i in range(6)]
    trained = Judge.from_pretrained(str(demo_judge()))
    zero_shot = Judge.from_pretrained(f"clip:{clip_dir}", present=["a red square", "a red disc"],
                                      absent=["an empty background"])
    assert isinstance(zero_shot, ZeroShotClipJudge) and zero_shot.name == f"clip:{clip_dir}"
    judges = [trained, zero_shot]
    if importlib.util.find_spec("nudenet") is not None or os.environ.get("DATAIGM_REQUIRE_EXTRAS") == "1":
        judges.append(NudeNetJudge(threshold=0.45))  # the optional `nsfw` extra
    for judge in judges:
        assert isinstance(judge, JudgeProtocol)
        pred = judge.predict(images)
        assert pred.probabilities.shape == (6,) and ((0 <= pred.probabilities) & (pred.probabilities <= 1)).all()
        assert len(pred.labels) == 6
    # zero-shot probabilities are the softmax mass of the "present" texts: recompute by hand
    inputs = zero_shot.processor(text=zero_shot.present + zero_shot.absent, images=[np.array(im) for im in images],
                                 return_tensors="pt", padding=True)
    with torch.no_grad():
        img = zero_shot.model.get_image_features(pixel_values=inputs["pixel_values"])
        txt = zero_shot.model.get_text_features(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
    img = getattr(img, "pooler_output", img)
    txt = getattr(txt, "pooler_output", txt)
    logits = zero_shot.model.logit_scale.exp() * torch.nn.functional.normalize(img, dim=-1) @ torch.nn.functional.normalize(txt, dim=-1).T
    expected = logits.detach().softmax(-1)[:, :2].sum(-1).numpy()
    np.testing.assert_allclose(zero_shot.predict(images).probabilities, expected, rtol=1e-4, atol=1e-5)


def test_zero_shot_judge_reads_label_texts_from_the_concept_yaml(tmp_path) -> None:
    clip_dir = build_tiny_clip(tmp_path / "tiny-clip")
    judge = Judge.from_pretrained(f"clip:{clip_dir}", concept="object_church")
    assert judge.label_names == ["other", "church"] and judge.present and judge.absent
    result = score_folder(judge, write_image_folder(tmp_path / "imgs", {"m": (1, 1)}))
    assert len(result.scores) == 2 and set(result.scores["label"]) <= {"other", "church"}
