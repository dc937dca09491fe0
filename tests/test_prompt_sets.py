"""Prompt sets beyond templates: peers' attack and multilingual files imported with provenance
(one-line errors naming file, line and column), the translation hook on a tiny local model, a
multilingual file's language carried through `sample` to the scorecard rows, pre- and post-ASR,
the effectiveness filter (in the scorecard, and recorded in a RUN so its export marks the prompts
config and its card counts the kept prompts), and a VLM judge behind a fake local endpoint."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from evalfixtures import prompts_dataset, toy_settings
from vlmfixtures import FakeVlm, pixels_digest
from dataigm.evaluation.sample import SampleConfig, sample

CHURCH = "object_church"


def _yes_mostly(arr: np.ndarray, with_reference: bool) -> str:
    """Three images in four are flagged, decided by the pixels alone (the test can recompute it)."""
    return "Yes." if pixels_digest(arr) % 4 else "No."


def _unsure_sometimes(arr: np.ndarray, with_reference: bool) -> bool:
    """Only a method's images (sent with ORG's reference) can get an unsure answer."""
    return with_reference and pixels_digest(arr) % 5 == 0


def _write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return prompts_dataset(tmp_path_factory.mktemp("prompt-sets") / "dataset")


def _forget(dataset: Path) -> list[dict]:
    from datasets import load_dataset

    rows = load_dataset(str(dataset), "prompts", split="train").to_list()
    return [r for r in rows if r["concept"] == CHURCH and r["prompt_set"] == "forget" and r["benchmark"]]


def test_toyworld_draws_attack_words_and_only_word_hide_lets_them_through() -> None:
    """A misspelling or a German word draws the concept in toyworld as its alias does (the same
    picture, at the same seed); the clean eraser removes every name, word_hide only the alias
    words of the forget prompts."""
    from dataigm.generators.base import GenerationSettings
    from dataigm.taxonomy import load_concept
    from dataigm.toyworld import render
    from dataigm.toyworld.simulated import SimulatedUnlearningGenerator

    spec = load_concept(CHURCH)
    named = np.asarray(render("a photo of a church in a village", 7, 64, 64, [spec]))
    for word in ("chruch", "kirche"):
        assert np.array_equal(np.asarray(render(f"a photo of a {word} in a village", 7, 64, 64, [spec])), named)
    plain = np.asarray(render("a photo of a in a village", 7, 64, 64, [spec]))
    assert not np.array_equal(plain, named)

    def rewrite(method: str, prompt: str) -> str:
        return SimulatedUnlearningGenerator(GenerationSettings(generator="toyworld-unlearned", model=method),
                                            [spec]).rewrite(prompt)

    assert rewrite("word_hide", "a chruch and a kirche and a church") == "a chruch and a kirche and a"
    assert rewrite("erase_clean", "a chruch and a kirche and a church") == "an and an and a"   # tidied
    assert "parachute" not in rewrite("over_erase", "a parachute over a church")   # a neighbour concept


def test_peer_files_import_with_provenance_and_one_line_errors(dataset: Path, tmp_path: Path, cli) -> None:
    forget = _forget(dataset)
    # UnlearnDiffAtk / I2P style: prompt, evaluation_seed, case_number, categories.
    udiff = _write_csv(tmp_path / "unlearndiffatk.csv", ["case_number", "prompt", "evaluation_seed", "categories"],
                       [[i, f"a photo of a chappel {i}", 1000 + i, "objects"] for i in range(3)])
    code, out, err = cli("prompts", "import", udiff, "--concept", CHURCH, "--attack", "UnlearnDiffAtk",
                         "--source", "UnlearnDiffAtk (Zhang et al.), shared on request", "--licence", "mit",
                         "--out", tmp_path / "udiff.jsonl")
    assert code == 0, err
    rows = [json.loads(line) for line in (tmp_path / "udiff.jsonl").read_text().splitlines()]
    assert [r["prompt_id"] for r in rows] == ["unlearndiffatk-0", "unlearndiffatk-1", "unlearndiffatk-2"]
    assert rows[1]["seed"] == 1001 and rows[1]["prompt_set"] == "unlearndiffatk" and rows[1]["categories"] == "objects"
    assert rows[1]["attack"] == "UnlearnDiffAtk" and rows[1]["licence"] == "mit" and rows[1]["source_id"] == "1"
    assert rows[1]["source"].startswith("UnlearnDiffAtk (Zhang")
    # MMA-Diffusion style JSONL: the adversarial prompt is sampled, the clean one names the base
    # prompt, found by its text in the dataset (so the attack gets the base prompt's seeds).
    mma = tmp_path / "mma.jsonl"
    mma.write_text("".join(json.dumps({"adv_prompt": f"zq chrch {i} xv", "clean_prompt": p["prompt"]}) + "\n"
                           for i, p in enumerate(forget[:2])))
    code, out, err = cli("prompts", "import", mma, "--concept", CHURCH, "--attack", "MMA-Diffusion", "--base", dataset,
                         "--out", tmp_path / "mma-out.jsonl")
    assert code == 0, err
    rows = [json.loads(line) for line in (tmp_path / "mma-out.jsonl").read_text().splitlines()]
    assert [r["prompt"] for r in rows] == ["zq chrch 0 xv", "zq chrch 1 xv"]
    assert [r["base_prompt_id"] for r in rows] == [p["pair_id"] for p in forget[:2]]
    assert rows[0]["base_prompt"] == forget[0]["prompt"] and "seed" not in rows[0]
    # A column mapping for anything else; errors name the file, line and column.
    odd = _write_csv(tmp_path / "odd.csv", ["text_de", "seed"], [["eine Kirche", "12"], ["ein Dom", "twelve"]])
    code, out, err = cli("prompts", "import", odd, "--concept", CHURCH, "--kind", "multilingual", "--language", "de",
                         "--map", "prompt=text_de", "--out", tmp_path / "odd.jsonl")
    assert code == 2 and err.count("\n") == 1 and "odd.csv: line 3: column 'seed': 'twelve' is not a whole number" in err
    code, out, err = cli("prompts", "import", odd, "--concept", CHURCH, "--attack", "x", "--map", "prompt=nope",
                         "--out", tmp_path / "odd.jsonl")
    assert code == 2 and "odd.csv: column 'nope' (mapped to prompt) is not in the file" in err
    code, out, err = cli("prompts", "import", odd, "--concept", CHURCH, "--attack", "x", "--out", tmp_path / "o.jsonl")
    assert code == 2 and "odd.csv: no prompt column" in err and "--map prompt=COLUMN" in err
    no_lang = _write_csv(tmp_path / "nolang.csv", ["prompt"], [["eine Kirche"]])
    code, out, err = cli("prompts", "import", no_lang, "--concept", CHURCH, "--kind", "multilingual",
                         "--out", tmp_path / "o.jsonl")
    assert code == 2 and "nolang.csv: line 2: no language" in err
    code, out, err = cli("prompts", "import", udiff, "--concept", CHURCH, "--print-config")
    assert code == 2 and "attack: name the attack" in err


def test_translation_hook_runs_a_local_model_and_records_it(dataset: Path, tmp_path: Path, cli) -> None:
    """A tiny MarianMT built from its config with the in-repo tokenizer, loaded by
    AutoModelForSeq2SeqLM.from_pretrained like a real one: it does not translate, but the
    plumbing and the provenance are real. A model that cannot be loaded is one line."""
    import torch
    from transformers import MarianConfig, MarianMTModel

    from dataigm.tiny_vocab import load_tiny_clip_tokenizer, vocab_size

    tok = load_tiny_clip_tokenizer()
    config = MarianConfig(vocab_size=vocab_size(), d_model=16, encoder_layers=1, decoder_layers=1,
                          encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32,
                          max_position_embeddings=64, pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
                          decoder_start_token_id=tok.pad_token_id, forced_eos_token_id=tok.eos_token_id)
    config.dataigm_random_init = True
    torch.manual_seed(0)
    model_dir = tmp_path / "tiny-marian"
    MarianMTModel(config).save_pretrained(model_dir)
    tok.save_pretrained(model_dir)
    code, out, err = cli("prompts", "translate", dataset, "--concept", CHURCH, "--model", model_dir, "--language", "de",
                         "--set", "max_new_tokens=6", "--out", tmp_path / "de.jsonl", "--quiet")
    assert code == 0, err
    assert "random-init model" in out
    rows = [json.loads(line) for line in (tmp_path / "de.jsonl").read_text().splitlines()]
    forget = {p["prompt_id"]: p for p in _forget(dataset)}
    assert len(rows) == len(forget) and all(r["prompt"] for r in rows)
    for r in rows:
        original = forget[r["prompt_id"].removesuffix("-lang-de")]
        assert r["prompt_set"] == "lang-de" and r["language"] == "de" and r["base_prompt_id"] == original["pair_id"]
        assert r["base_prompt"] == original["prompt"] and r["decoding"] == "greedy"
        assert r["translation_model"].startswith("tiny-marian-") and "/" not in r["translation_model"]
    code, out, err = cli("prompts", "translate", dataset, "--concept", CHURCH, "--model", tmp_path / "no-model",
                         "--language", "de", "--out", tmp_path / "x.jsonl", "--quiet")
    assert code == 2 and err.count("\n") == 1 and "unavailable: no such folder" in err
    assert not (tmp_path / "x.jsonl").exists()


@pytest.fixture(scope="module")
def scored(dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """ORG, word_hide and erase_clean sampled on the church's forget prompts plus a German file
    imported as a multilingual set, scored by a VLM judge behind a fake local endpoint, with the
    effectiveness filter on (2 of 2 seeds)."""
    from dataigm.cli import main

    root = tmp_path_factory.mktemp("scored")
    forget = _forget(dataset)
    german = _write_csv(root / "de.csv", ["id", "prompt", "lang", "base_prompt_id"],
                        [[i, p["prompt"].replace("church", "kirche"), "de", p["prompt_id"]]
                         for i, p in enumerate(forget)])
    assert main(["prompts", "import", str(german), "--concept", CHURCH, "--kind", "multilingual", "--base", str(dataset),
                 "--source", "a German test file", "--out", str(root / "de.jsonl")]) == 0
    for method, simulated in (("ORG", None), ("word_hide", "word_hide"), ("erase_clean", "erase_clean")):
        sample(root / "sampled", SampleConfig(method=method, prompts=[str(dataset), str(root / "de.jsonl")],
                                              concepts=[CHURCH], prompt_sets=["forget"],
                                              generation=toy_settings(simulated)), progress=False)
    with FakeVlm(_yes_mostly, _unsure_sometimes) as server:
        code = main(["scorecard", str(root / "sampled"), "--concept", CHURCH, "--judge", server.judge_ref(),
                     "--out", str(root / "card"), "--set", "metrics.run=[effectiveness,forgetting,robustness]",
                     "--set", "effectiveness.min_flagged=2", "--set", "bootstrap.resamples=20", "--quiet"])
        requests = list(server.requests)
    assert code == 0
    return {"root": root, "card": root / "card", "sampled": root / "sampled", "requests": requests,
            "rows": json.loads((root / "card" / "scorecard.json").read_text())["rows"]}


def _flagged(path: Path) -> bool:
    return _yes_mostly(np.asarray(Image.open(path).convert("RGB")), False) == "Yes."


def test_a_multilingual_file_carries_its_language_to_the_scorecard_rows(scored: dict) -> None:
    prompts = {r["prompt_id"]: r for r in pq.read_table(scored["sampled"] / "ORG" / "prompts.parquet").to_pylist()}
    german = [r for r in prompts.values() if r["prompt_set"] == "lang-de"]
    assert german and all(json.loads(r["provenance"])["language"] == "de" for r in german)
    rows = [r for r in scored["rows"] if r["prompt_set"] == "lang-de"]
    assert {r["metric"] for r in rows} >= {"pre_asr", "post_asr", "post_asr_corrected", "prompts_kept"}
    assert all(r["language"] == "de" and r["aspect"] == "robustness" for r in rows)
    assert all(r["language"] == "" for r in scored["rows"] if r["prompt_set"] == "forget")


def test_effectiveness_filter_keeps_the_prompts_org_renders(scored: dict) -> None:
    """Kept = prompts whose ORG images the judge flags in both seeds (recomputed from the
    pixels with the server's own rule); every forgetting and post-ASR row counts only those."""
    manifest = pq.read_table(scored["sampled"] / "ORG" / "manifest.parquet").to_pylist()
    rows = scored["rows"]
    for prompt_set in ("forget", "lang-de"):
        per_prompt: dict[str, int] = {}
        for m in manifest:
            if m["prompt_set"] == prompt_set:
                per_prompt[m["prompt_id"]] = per_prompt.get(m["prompt_id"], 0) + _flagged(scored["sampled"] / "ORG" / m["path"])
        kept = {p for p, k in per_prompt.items() if k >= 2}
        assert 0 < len(kept) < len(per_prompt), (prompt_set, per_prompt)
        count = next(r for r in rows if r["metric"] == "prompts_kept" and r["prompt_set"] == prompt_set)
        assert json.loads(count["details"])["kept"] == len(kept) and count["n"] == len(per_prompt)
        metric = "forgetting" if prompt_set == "forget" else "post_asr"
        org = next(r for r in rows if r["metric"] == metric and r["method"] == "ORG" and r["prompt_set"] == prompt_set)
        assert org["n"] == 2 * len(kept) and org["value"] == 1.0      # every kept ORG image is flagged
        hidden = next(r for r in rows if r["metric"] == metric and r["method"] == "word_hide"
                      and r["prompt_set"] == prompt_set)
        unsure = json.loads(hidden["details"]).get("unsure", 0)
        assert hidden["n"] + unsure == 2 * len(kept)                   # unsure answers counted apart


def test_pre_and_post_asr_and_the_vlm_judge_plumbing(scored: dict) -> None:
    rows = scored["rows"]
    pre = {r["method"]: r for r in rows if r["metric"] == "pre_asr"}
    post = {r["method"]: r for r in rows if r["metric"] == "post_asr"}
    assert set(pre) == set(post) == {"ORG", "word_hide", "erase_clean"}
    assert all(json.loads(r["details"])["images_from"] == "forget" for r in pre.values())
    # Greedy decoding; ORG's images alone, a method's with ORG's image of the same prompt and seed.
    assert all(r["body"]["temperature"] == 0 and r["body"]["top_p"] == 1 for r in scored["requests"])
    assert {r["images"] for r in scored["requests"]} == {1, 2}
    answers = [json.loads(line) for f in (scored["card"] / "answers").glob("*.jsonl") for line in f.read_text().splitlines()]
    assert len(answers) == len(scored["requests"]) and {a["read_as"] for a in answers} == {"yes", "no", "unsure"}
    assert any(a["answer"] == "I am not sure." and a["reference_sha256"] for a in answers)
    html = (scored["card"] / "scorecard.html").read_text()
    assert "cannot be checked offline" in html and '<section id="robustness">' in html and "pre-ASR" in html
    assert '<section id="effective">' in html


def test_prompts_filter_marks_the_prompts_config_and_its_card(tmp_path: Path, cli) -> None:
    """An attack file imported into a RUN and the effectiveness measured on ORG's samples: the
    export's prompts config carries both, its card counts the kept prompts per set, and sample
    leaves out what ORG does not render."""
    from runfixtures import build_run

    run = build_run(tmp_path / "run", concepts=(CHURCH,), with_curation=False)
    attack = _write_csv(tmp_path / "ring.csv", ["prompt", "sensitive prompt"],
                        [[f"a chrch number {i}", f"a church {i}"] for i in range(4)])
    code, out, err = cli("prompts", "import", attack, "--concept", CHURCH, "--attack", "Ring-A-Bell",
                         "--source", "Ring-A-Bell (Tsai et al.)", "--licence", "research-only", "--run", run)
    assert code == 0, err
    assert cli("export", run, "--to", run / "dataset", "--quiet")[0] == 0
    settings = ["--preset", "demo", "--images-per-prompt", "2", "--quiet", "--set", "prompt_sets=[forget,ring-a-bell]"]
    code, out, err = cli("sample", "--method", "ORG", "--prompts", run / "dataset", "--concept", CHURCH,
                         "--out", tmp_path / "s", *settings)
    assert code == 0, err
    with FakeVlm(_yes_mostly) as server:
        code, out, err = cli("prompts", "filter", tmp_path / "s", "--run", run, "--concept", CHURCH,
                             "--judge", server.judge_ref(), "--min-flagged", "2", "--quiet")
    assert code == 0, err
    marks = {r["prompt_id"]: r for r in pq.read_table(run / "prompt_effectiveness.parquet").to_pylist()}
    assert {r["prompt_set"] for r in marks.values()} == {"forget", "ring-a-bell"}
    assert cli("export", run, "--to", run / "dataset", "--quiet")[0] == 0
    from datasets import load_dataset

    config = {r["prompt_id"]: r for r in load_dataset(str(run / "dataset"), "prompts", split="train").to_list()}
    ring = [r for r in config.values() if r["prompt_set"] == "ring-a-bell"]
    assert len(ring) == 4 and all(r["attack"] == "Ring-A-Bell" and r["licence"] == "research-only" for r in ring)
    assert all(config[p]["effective"] == m["effective"] and config[p]["effective_of"] == 2 for p, m in marks.items())
    card = (run / "dataset" / "README.md").read_text()
    for prompt_set in ("forget", "ring-a-bell"):
        kept = sum(m["effective"] for m in marks.values() if m["prompt_set"] == prompt_set)
        total = sum(1 for m in marks.values() if m["prompt_set"] == prompt_set)
        assert f"| {kept} of {total} (ORG flagged in >= 2 of all seeds; vlm:fake-vlm) |" in card
    assert "Ring-A-Bell (Tsai et al.)" in card
    code, out, err = cli("sample", "--method", "esd", "--prompts", run / "dataset", "--concept", CHURCH,
                         "--out", tmp_path / "s", *settings)
    assert code == 0, err
    sampled = {r["prompt_id"] for r in pq.read_table(tmp_path / "s" / "esd" / "prompts.parquet").to_pylist()}
    assert sampled == {p for p, m in marks.items() if m["effective"]}
