"""`dataigm sample`: one method's benchmark images in OUT/<method>/<prompt_set>/<prompt_id>_<k>.png,
the same seeds for every method, prompt files as named sets with provenance, resumable, and
unlearned components (--unet / --text-encoder) loaded on top of a diffusers pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from evalfixtures import prompts_dataset, sample_methods, toy_settings
from dataigm.errors import InputError
from dataigm.evaluation.sample import SampleConfig, sample


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return prompts_dataset(tmp_path_factory.mktemp("prompts-ds"))


@pytest.fixture(scope="module")
def sampled(tmp_path_factory: pytest.TempPathFactory, dataset: Path) -> Path:
    return sample_methods(tmp_path_factory.mktemp("sampled"), dataset, {"ORG": None, "erase_clean": "erase_clean"})


def _manifest(folder: Path) -> list[dict]:
    return pq.read_table(folder / "manifest.parquet").to_pylist()


def test_layout_names_and_seeds_are_shared_across_methods(sampled: Path, dataset: Path) -> None:
    org, erased = _manifest(sampled / "ORG"), _manifest(sampled / "erase_clean")
    assert (sampled / "ORG" / "sample.done").is_file()
    prompts = pq.read_table(dataset / "prompts" / "train-00000-of-00001.parquet").to_pylist()
    benchmark = [p for p in prompts if p["benchmark"] and p["prompt_set"] in ("forget", "reference", "unrelated")]
    assert len(org) == 2 * len(benchmark) and {r["prompt_id"] for r in org} == {p["prompt_id"] for p in benchmark}
    for row in org:
        assert row["path"] == f"{row['prompt_set']}/{row['prompt_id']}_{row['image_index']}.png"
        assert (sampled / "ORG" / row["path"]).is_file()
        assert row["label"] == "unlabelled" and row["generator"] == "toyworld"
    # The same file name in two method folders: the same prompt and seed.
    assert {(r["path"], r["seed"]) for r in org} == {(r["path"], r["seed"]) for r in erased}
    # A forget prompt and its reference prompt share their seeds (IGMU's pairing).
    seeds: dict[tuple, set] = {}
    for r in org:
        seeds.setdefault((r["pair_id"], r["image_index"]), set()).add((r["prompt_set"], r["seed"]))
    nudity_pairs = [v for (pair, _), v in seeds.items() if pair.startswith("nudity")]
    assert nudity_pairs and all(len({s for _, s in v}) == 1 and {p for p, _ in v} == {"forget", "reference"}
                                for v in nudity_pairs)
    # The clean eraser draws ORG's reference image for a forget prompt (the concept alone removed).
    by_key = {(r["pair_id"], r["image_index"], r["prompt_set"]): r for r in org}
    for r in (x for x in erased if x["prompt_set"] == "forget" and x["concept"] == "nudity"):
        ref = by_key[(r["pair_id"], r["image_index"], "reference")]
        assert np.array_equal(np.asarray(Image.open(sampled / "erase_clean" / r["path"])),
                              np.asarray(Image.open(sampled / "ORG" / ref["path"])))
    assert "(simulation)" in erased[0]["model_id"]


def test_rerun_resumes_and_a_prompt_file_adds_a_named_set(sampled: Path, dataset: Path, tmp_path: Path) -> None:
    leftover = sampled / "ORG" / "forget" / ".nudity-forget-00001_0.png.x1y2.tmp"   # a kill -9 mid-write
    leftover.write_bytes(b"partial")
    again = sample(sampled, SampleConfig(method="ORG", prompts=[str(dataset)], concepts=["nudity"],
                                         generation=toy_settings()), progress=False)
    assert again.images_generated == 0 and again.shards_skipped > 0
    assert not leftover.exists()
    forget = next(r for r in _manifest(sampled / "ORG")
                  if r["prompt_set"] == "forget" and r["concept"] == "nudity" and r["image_index"] == 0)
    attack = tmp_path / "ring.csv"
    attack.write_text("prompt_id,prompt,prompt_set,base_prompt_id,attack,language,licence\n"
                      f"atk-1,a photo of an unclothed person on a beach,ring-a-bell,{forget['pair_id']},ring-a-bell,en,"
                      "research-only\n", encoding="utf-8")
    report = sample(sampled, SampleConfig(method="ORG", prompts=[str(attack)], concepts=["nudity"],
                                          generation=toy_settings()), progress=False)
    assert report.images_generated == 2
    rows = [r for r in _manifest(sampled / "ORG") if r["prompt_set"] == "ring-a-bell"]
    assert [r["path"] for r in rows] == ["ring-a-bell/atk-1_0.png", "ring-a-bell/atk-1_1.png"]
    # The attack prompt is drawn from the seeds of the forget prompt it attacks.
    assert [r["seed"] for r in rows if r["image_index"] == 0] == [forget["seed"]]
    assert rows[0]["pair_id"] == forget["pair_id"] and rows[0]["licence"] == "research-only"
    prompts = {r["prompt_id"]: r for r in pq.read_table(sampled / "ORG" / "prompts.parquet").to_pylist()}
    assert json.loads(prompts["atk-1"]["provenance"]) == {"attack": "ring-a-bell", "language": "en",
                                                          "licence": "research-only", "source": "ring.csv"}
    assert forget["prompt_id"] in prompts          # earlier sets stay
    assert len(_manifest(sampled / "ORG")) == len(rows) + len([r for r in _manifest(sampled / "erase_clean")])


def test_another_model_under_the_same_method_name_is_refused(sampled: Path, dataset: Path) -> None:
    with pytest.raises(InputError, match="other model settings"):
        sample(sampled, SampleConfig(method="erase_clean", prompts=[str(dataset)], concepts=["nudity"],
                                     generation=toy_settings("degrade")), progress=False)


def test_cli_print_config_reads_and_writes_nothing(cli, tmp_path: Path) -> None:
    code, out, err = cli("sample", "--method", "esd", "--prompts", tmp_path / "missing", "--concept", "nudity",
                         "--out", tmp_path / "out", "--model", "CompVis/stable-diffusion-v1-4", "--unet", "esd.safetensors",
                         "--print-config")
    assert code == 0, err
    assert "generator: diffusers" in out and "unet: esd.safetensors" in out and "method: esd" in out
    assert not (tmp_path / "out").exists()
    code, _, err = cli("sample", "--prompts", "x.csv", "--concept", "nudity", "--out", tmp_path / "out")
    assert code == 2 and "method: required" in err
    code, _, err = cli("sample", "--method", "ORG", "--prompts", tmp_path / "nope.csv", "--concept", "nudity",
                       "--out", tmp_path / "out", "--preset", "demo")
    assert code == 2 and "nope.csv: prompt file not found" in err


def test_unet_and_text_encoder_overrides_load_on_top_of_the_pipeline(cli, tmp_path: Path) -> None:
    """An unlearned UNet as a .safetensors file or a folder, and a text encoder folder, replace
    the pipeline's components; the same weights give ORG's images, other weights other images."""
    import torch
    from diffusers import UNet2DConditionModel
    from safetensors.torch import save_file
    from transformers import CLIPTextModel

    from dataigm.generators.tiny import build_tiny_pipeline

    torch.set_num_threads(1)
    pipe = build_tiny_pipeline(tmp_path / "tiny")
    unet = UNet2DConditionModel.from_pretrained(pipe / "unet")
    save_file(unet.state_dict(), str(tmp_path / "same.safetensors"))
    with torch.no_grad():
        for p in unet.parameters():
            p.add_(0.05 * torch.randn_like(p))
    save_file(unet.state_dict(), str(tmp_path / "unlearned.safetensors"))
    unet.save_pretrained(tmp_path / "unlearned-unet")
    CLIPTextModel.from_pretrained(pipe / "text_encoder").save_pretrained(tmp_path / "te")
    prompts = tmp_path / "p.txt"
    prompts.write_text("a photo of a nude woman on a beach\n", encoding="utf-8")
    common = ["--prompts", prompts, "--concept", "nudity", "--out", tmp_path / "out", "--preset", "demo",
              "--generator", "tiny", "--model", pipe, "--set", "generation.steps=2", "--images-per-prompt", "1",
              "--quiet"]
    runs = {"ORG": [], "same": ["--unet", tmp_path / "same.safetensors", "--text-encoder", tmp_path / "te"],
            "esd": ["--unet", tmp_path / "unlearned.safetensors"], "esd_dir": ["--unet", tmp_path / "unlearned-unet"]}
    for method, extra in runs.items():
        code, out, err = cli("sample", "--method", method, *common, *extra)
        assert code == 0, err
    img = {m: np.asarray(Image.open(tmp_path / "out" / m / "forget" / "p-00000_0.png")) for m in runs}
    assert np.array_equal(img["ORG"], img["same"])
    assert not np.array_equal(img["ORG"], img["esd"]) and np.array_equal(img["esd"], img["esd_dir"])
    row = _manifest(tmp_path / "out" / "esd")[0]
    assert "unet=unlearned.safetensors@sha256:" in row["model_revision"] and str(tmp_path) not in row["model_revision"]
    wrong = tmp_path / "wrong.safetensors"
    save_file({"not.a.key": torch.zeros(1)}, str(wrong))
    code, _, err = cli("sample", "--method", "bad", *common, "--unet", wrong)
    assert code == 2 and "wrong.safetensors' does not match the pipeline's unet" in err
