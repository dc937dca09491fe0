"""End to end on the real demo run: `dataigm demo` in a real process, then everything a user
checks: the dataset configs load, nothing leaks across splits, the card tells the truth, the
judges meet their targets and round-trip, the forgetting table reads right, the report renders
in Chromium, and the dataset and a judge survive a trip through a (local) Hub."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hubfixtures import loopback_only  # noqa: F401 - fixture: online to 127.0.0.1 only

IGMU = ["nudity", "style_vangogh", "object_church", "object_parachute"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("demo") / "run"
    proc = subprocess.run([sys.executable, "-m", "dataigm", "demo", "--out", str(run), "--quiet"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"report:   {run / 'report.html'}" in proc.stdout
    return run


def test_dataset_has_four_igmu_configs_and_prompts_that_load(demo: Path) -> None:
    from datasets import load_dataset

    from dataigm.splits import check_no_leaks

    for name in IGMU:
        dd = load_dataset(str(demo / "dataset"), name)
        assert set(dd) == {"train", "validation", "test"}
        rows = []
        for split, ds in dd.items():
            assert set(ds["label"]) == {0, 1}, (name, split)
            rows += [dict(r, split=split) for r in ds.remove_columns("image")]
        check_no_leaks(rows)  # no pair, prompt or near-duplicate cluster crosses splits
        assert not [r for r in rows if r["benchmark"] and r["split"] == "train"]
        assert dd["train"].features["label"].names[0] in ("safe", "non_vangogh", "other")
    prompts = load_dataset(str(demo / "dataset"), "prompts", split="train")
    assert set(prompts["concept"]) == set(IGMU)


def test_card_counts_are_the_real_counts(demo: Path) -> None:
    import pyarrow.parquet as pq
    from huggingface_hub import DatasetCard

    card = DatasetCard.load(demo / "dataset" / "README.md")
    infos = {i["config_name"]: i for i in card.data.to_dict()["dataset_info"]}
    for name in IGMU:
        for split in infos[name]["splits"]:
            files = sorted((demo / "dataset" / name).glob(f"{split['name']}-*.parquet"))
            assert split["num_examples"] == sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    assert card.data.to_dict().get("extra_gated_prompt")  # nudity makes the dataset gated


def test_judges_meet_targets_and_report_calibration(demo: Path) -> None:
    for name in IGMU:
        metrics = json.loads((demo / "judges" / name / "metrics.json").read_text())
        test = metrics["test"]
        assert test["accuracy"] >= 0.95 and test["auroc"] >= 0.98, (name, test)
        assert test["ece"] is not None
        config = json.loads((demo / "judges" / name / "config.json").read_text())
        assert config["dataigm"]["concept"] == name and 0 < config["dataigm"]["threshold"] < 1
        assert not list((demo / "judges" / name).rglob("*.ckpt"))


def test_forgetting_table_reads_right(demo: Path) -> None:
    rows = json.loads((demo / "forgetting.json").read_text())
    ours = {(r["concept"], r["method"]): r for r in rows if r["judge"] == "dataigm"}
    for name in IGMU:
        assert ours[(name, "original")]["share"] >= 0.9
        assert ours[(name, "erased")]["share"] <= 0.1
        half = ours[(name, "half_erased")]
        assert half["ci_low"] <= 0.5 <= half["ci_high"]
    assert {r["method"] for r in rows if r["judge"] == "nudenet"} == {"original", "half_erased", "erased"}


def test_judge_round_trips_through_timm_local_dir(demo: Path) -> None:
    import numpy as np
    import timm
    import torch
    from PIL import Image

    from dataigm.detectors.export import load_network
    from dataigm.detectors.judge import Judge

    folder = demo / "judges" / "object_church"
    ours, _ = load_network(folder)
    theirs = timm.create_model(f"local-dir:{folder}", pretrained=True).eval()
    x = torch.randn(4, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(ours.eval()(x), theirs(x))
    judge = Judge.from_pretrained(str(folder))
    kept = sorted((demo / "unlearned" / "object_church" / "original").glob("*.png"))[:6]
    erased = sorted((demo / "unlearned" / "object_church" / "erased").glob("*.png"))[:6]
    pred = judge.predict([Image.open(p).convert("RGB") for p in kept + erased])
    assert pred.decisions.tolist() == [True] * len(kept) + [False] * len(erased)
    assert np.array_equal(pred.decisions, pred.probabilities >= judge.threshold)


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def _render(page: Path, tmp_path: Path, size: str) -> tuple[str, Path]:
    """The page's DOM and a screenshot, from headless Chromium."""
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing on CI: scripts/test.sh installs it")
        pytest.skip("chromium is not installed (scripts/test.sh installs it)")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]
    shot = tmp_path / f"{page.stem}.png"
    subprocess.run([browser, *flags, f"--window-size={size}", f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, timeout=120, check=True)
    dom = subprocess.run([browser, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    return dom, shot


def test_report_renders_in_headless_chromium(demo: Path, tmp_path: Path) -> None:
    dom, shot = _render(demo / "report.html", tmp_path, "1200,2400")
    for section in ("taxonomy", "dataset", "judges", "forgetting"):
        assert f'<section id="{section}">' in dom
    for heading in ("Taxonomy", "Dataset", "Contact sheets", "Judges", "Forgetting"):
        assert f">{heading}<" in dom
    sources = re.findall(r'<img[^>]+src="([^"]+)"', dom)
    assert len(sources) == 4 * 3  # a contact sheet, a ROC curve and a reliability diagram per concept
    assert all((demo / s).is_file() for s in sources)
    from PIL import Image, ImageStat

    image = Image.open(shot).convert("L")
    assert image.size == (1200, 2400) and ImageStat.Stat(image).stddev[0] > 10  # not a blank page


def test_demo_dataset_and_judge_round_trip_through_a_hub(demo: Path, tmp_path: Path, monkeypatch,
                                                        loopback_only: list[str]) -> None:
    import hubfixtures as hf
    from dataigm.publish import RetryPolicy, publish_dataset, publish_judge
    from dataigm.testing.hub_server import LocalHubServer, TokenInfo

    token = "hf_demo_token_0123456789abcdef"
    monkeypatch.setenv("HF_TOKEN", token)
    with LocalHubServer(root=tmp_path / "hub", tokens={token: TokenInfo("alice")}) as hub:
        quick = RetryPolicy(attempts=3, base_delay=0.01)
        publish_dataset(demo / "dataset", "org/dataigm", endpoint=hub.url, retry=quick)
        publish_judge(demo / "judges" / "object_church", "org/church-judge", endpoint=hub.url, retry=quick)
        env = {**hub.client_env(tmp_path / "hf_home"), "HF_TOKEN": token}
        got = hf.run_client(f'''
            from datasets import load_dataset
            from PIL import Image
            import glob
            import dataigm.detectors
            from dataigm.detectors.judge import Judge
            dd = load_dataset("org/dataigm", "object_church")
            RESULT["ids"] = {{s: sorted(d["id"]) for s, d in dd.items()}}
            RESULT["labels"] = {{s: sorted(d["label"]) for s, d in dd.items()}}
            stream = load_dataset("org/dataigm", "object_church", split="test", streaming=True)
            RESULT["stream_ids"] = sorted(r["id"] for r in stream)
            files = sorted(glob.glob("{demo}/unlearned/object_church/*/*.png"))[:12]
            images = [Image.open(f).convert("RGB") for f in files]
            RESULT["hub_probs"] = [float(p) for p in Judge.from_pretrained("org/church-judge").predict(images).probabilities]
            RESULT["local_probs"] = [float(p) for p in Judge.from_pretrained("{demo}/judges/object_church").predict(images).probabilities]
        ''', env)
        assert hub.seen("POST", r"/commit/")
    from datasets import load_dataset

    local = load_dataset(str(demo / "dataset"), "object_church")
    assert got["ids"] == {s: sorted(d["id"]) for s, d in local.items()}
    assert got["labels"] == {s: sorted(d["label"]) for s, d in local.items()}
    assert got["stream_ids"] == sorted(local["test"]["id"])
    assert got["hub_probs"] == got["local_probs"]
    assert [b for b in got["_blocked"] if "datasets-server" not in b] == []


def test_curation_with_a_trained_judge_folder(demo: Path, cli) -> None:
    """A trained dataigm judge plugs into curation's judge agreement like NudeNet does (runs last:
    it rewrites the demo run's curation outputs)."""
    import pyarrow.parquet as pq

    judge = demo / "judges" / "object_church"
    code, out, err = cli("curate", demo, "--set", "judge_agreement.enabled=true",
                         "--set", f"judge_agreement.concepts={{object_church: {{judge: '{judge}', threshold: 0.5}}}}")
    assert code == 0, err
    kept = pq.read_table(demo / "curation" / "kept.parquet").to_pylist()
    church = [r for r in kept if r["concept"] == "object_church"]
    assert church and all(r["judge_score"] is not None for r in church)
    # An accurate judge agrees with nearly every label, so it drops almost nothing.
    dropped = [r for r in pq.read_table(demo / "curation" / "dropped.parquet").to_pylist()
               if r["step"] == "judge_agreement"]
    assert len(dropped) <= 0.05 * len(church)
    assert all(r["judge_score"] is None for r in kept if r["concept"] != "object_church")


def _scorecard_row(rows: list[dict], concept: str, method: str, metric: str, prompt_set: str) -> dict:
    """The row of the concept's trained demo judge (or of no judge, for model metrics)."""
    return next(r for r in rows if r["concept"] == concept and r["method"] == method and r["metric"] == metric
                and r["prompt_set"] == prompt_set and r["judge"] in ("", f"judge:{concept}") and not r["versus"])


def test_scorecard_catches_each_simulated_failure_with_its_own_metric(demo: Path) -> None:
    card = json.loads((demo / "scorecard" / "scorecard.json").read_text())
    rows = card["rows"]
    assert all(info["simulation"] for m, info in card["methods"]["nudity"].items() if m != "ORG")
    for name in IGMU:
        preserved = "forget" if name in ("nudity", "style_vangogh") else "unrelated"
        org = _scorecard_row(rows, name, "ORG", "forgetting", "forget")
        clean = _scorecard_row(rows, name, "erase_clean", "forgetting", "forget")
        assert clean["ci_high"] < org["ci_low"], name                                   # it forgets
        for method, metric, prompt_set in (("over_erase", "lpips", preserved), ("degrade", "fid", preserved)):
            mine = _scorecard_row(rows, name, method, metric, prompt_set)
            base = _scorecard_row(rows, name, "erase_clean", metric, prompt_set)
            assert mine["ci_low"] > base["ci_high"], (name, method, metric)
            assert mine["random_init"]                                                 # and says so
        # Van Gogh's forget prompts use every alias: no synonym set; misspellings and German for all.
        attacks = ("misspelling", "lang-de") + (("synonym",) if name != "style_vangogh" else ())
        for attack in attacks:
            hidden = _scorecard_row(rows, name, "word_hide", "post_asr", attack)
            base = _scorecard_row(rows, name, "erase_clean", "post_asr", attack)
            assert hidden["aspect"] == "robustness" and hidden["ci_low"] > base["ci_high"], (name, attack)
            # before the attack (the same base prompts) word_hide forgets like the clean eraser
            assert _scorecard_row(rows, name, "word_hide", "pre_asr", attack)["ci_high"] < org["ci_low"], (name, attack)
            assert hidden["language"] == ("de" if attack == "lang-de" else "")
        assert _scorecard_row(rows, name, "word_hide", "forgetting", "forget")["ci_high"] < org["ci_low"]
        kept = _scorecard_row(rows, name, "ORG", "prompts_kept", "forget")
        assert json.loads(kept["details"])["kept"] <= kept["n"] and kept["judge"] == f"judge:{name}"
    # The neighbour matrix: each object concept's model is scored on prompts naming the other object,
    # by that object's own judge; over_erase falls wholly below ORG, the clean eraser does not.
    for name, neighbour in (("object_church", "object_parachute"), ("object_parachute", "object_church")):
        cells = {r["method"]: r for r in rows if r["concept"] == name and r["metric"] == "neighbour_flag_rate"}
        assert cells["ORG"]["judge"] == f"judge:{neighbour}" and cells["ORG"]["neighbour"] == neighbour
        over = {m for m, r in cells.items() if json.loads(r["details"])["over_erased"]}
        assert "over_erase" in over and not over & {"ORG", "erase_clean", "word_hide"}, (name, over)
        assert cells["over_erase"]["value"] == min(r["value"] for r in cells.values())


def test_scorecard_report_renders_in_headless_chromium(demo: Path, tmp_path: Path) -> None:
    report = demo / "scorecard" / "scorecard.html"
    dom, shot = _render(report, tmp_path, "1300,2600")
    for section in ("methods", "table", "aspects", "radars", "robustness", "neighbours", "effective", "comparisons",
                    "unavailable"):
        assert f'<section id="{section}">' in dom
    assert dom.count(">over-erased<") >= 2 and "pre-ASR" in dom and "lang-de" in dom
    assert "These methods are SIMULATIONS" in dom and "random weights" in dom
    assert dom.count('class="sim">simulation') == 4
    sources = re.findall(r'<img[^>]+src="([^"]+)"', dom)
    assert sum(s.startswith("plots/aspect_") for s in sources) == 5             # one plot per aspect
    assert sum(s.startswith("plots/radar_") for s in sources) == 5              # one radar per method
    assert all((report.parent / s).is_file() for s in sources)
    from PIL import Image, ImageStat

    assert ImageStat.Stat(Image.open(shot).convert("L")).stddev[0] > 10
    main = (demo / "report.html").read_text()
    assert '<section id="scorecard">' in main and 'href="scorecard/scorecard.html"' in main
    assert "SIMULATIONS" in main and main.count(">caught<") >= 11 and '<table id="kept">' in main


def test_a_multi_concept_model_is_scored_in_one_pass(demo: Path, tmp_path: Path) -> None:
    """One model that erased church and parachute together, sampled in one call (--erased both),
    beside one model per concept: one scorecard call scores both concepts, and the neighbour
    matrix calls the multi-concept model's loss of the other object its target, not over-erasure."""
    from dataigm.evaluation.metrics import MetricsConfig
    from dataigm.evaluation.sample import SampleConfig, sample
    from dataigm.evaluation.scorecard import NeighbourConfig, ScorecardConfig, scorecard
    from dataigm.generators.base import GenerationSettings

    objects = ["object_church", "object_parachute"]
    prompts = [str(demo / "dataset"), str(demo / "attack_prompts" / "neighbours.jsonl")]

    def settings(method: str | None) -> GenerationSettings:
        return GenerationSettings(generator="toyworld" if method is None else "toyworld-unlearned", model=method,
                                  height=64, width=64, images_per_prompt=2, batch_size=32)

    root = tmp_path / "sampled"
    for concept in objects:
        for method, simulated in (("ORG", None), ("erase_clean", "erase_clean")):
            sample(root, SampleConfig(method=method, prompts=prompts, concepts=[concept], prompt_sets=["forget"],
                                      generation=settings(simulated)), progress=False)
    sample(root, SampleConfig(method="multi", prompts=prompts, concepts=objects, erased=objects, prompt_sets=["forget"],
                              generation=settings("erase_clean")), progress=False)
    report = scorecard(root, tmp_path / "card", ScorecardConfig(
        concepts=objects, judges=[f"{c}={demo / 'judges' / c}" for c in objects],
        metrics=MetricsConfig(run=["forgetting", "neighbour_matrix"]),
        neighbours=NeighbourConfig(zero_shot=False)), progress=False)
    rows = report.rows
    for concept, neighbour in zip(objects, reversed(objects)):
        forget = {r["method"]: r for r in rows if r["concept"] == concept and r["metric"] == "forgetting"
                  and r["status"] == "ok"}
        assert forget["multi"]["ci_high"] < forget["ORG"]["ci_low"]               # both concepts forgotten
        cells = {r["method"]: json.loads(r["details"]) | {"value": r["value"]} for r in rows
                 if r["concept"] == concept and r["metric"] == "neighbour_flag_rate"}
        assert cells["multi"]["target"] and not cells["multi"]["over_erased"] and cells["multi"]["value"] < 0.3
        assert not cells["erase_clean"]["target"] and not cells["erase_clean"]["over_erased"]
