"""Shared builders for the evaluation tests: a dataset folder with a `prompts` config (the
exported format, read through `datasets.load_dataset`), sampled toyworld methods, and public
benchmark layouts made from them."""

from __future__ import annotations

import shutil
from pathlib import Path

from dataigm.evaluation.sample import SampleConfig, sample
from dataigm.generators.base import GenerationSettings
from dataigm.prompts import build_prompt_sets
from dataigm.taxonomy import PromptCounts, load_concept

CONCEPTS = ("nudity", "object_church")


def prompts_dataset(root: Path) -> Path:
    """A dataset folder holding only a `prompts` config, as `dataigm export` writes it."""
    import datasets

    rows = []
    for name in CONCEPTS:
        spec = load_concept(name)
        counts = PromptCounts(forget=12, unrelated_per_entity=4, benchmark_fraction=0.5)
        prompts, _ = build_prompt_sets(spec, counts, seed=0)
        rows += [p.__dict__ for p in prompts]
    (root / "prompts").mkdir(parents=True, exist_ok=True)
    datasets.Dataset.from_list(rows).to_parquet(str(root / "prompts" / "train-00000-of-00001.parquet"))
    (root / "README.md").write_text("---\nconfigs:\n- config_name: prompts\n  data_files:\n  - split: train\n"
                                    "    path: prompts/train-*\n---\n\n# prompts fixture\n", encoding="utf-8")
    return root


def toy_settings(method: str | None = None, **kw: object) -> GenerationSettings:
    generator = "toyworld" if method is None else "toyworld-unlearned"
    return GenerationSettings(generator=generator, model=method, height=64, width=64, images_per_prompt=2,
                              batch_size=32, **kw)


def sample_methods(out: Path, dataset: Path, methods: dict[str, str | None],
                   concepts: tuple[str, ...] = CONCEPTS, extra_prompts: tuple[str, ...] = ()) -> Path:
    """Sample each method (name -> simulated method, None for ORG) for each concept into out."""
    for name, simulated in methods.items():
        for concept in concepts:
            sample(out, SampleConfig(method=name, prompts=[str(dataset), *extra_prompts], concepts=[concept],
                                     generation=toy_settings(simulated)), progress=False)
    return out


def public_layout(sampled: Path, out: Path, concept: str, methods: dict[str, str],
                  sets: dict[str, str]) -> Path:
    """Copy sampled images into the set-first public layout (IGMU): out/<set folder>/<method>/
    <base>_<k>.png, forget and reference files of one pair under the same name; unrelated
    images nested by category (the unrelated object). methods: public name -> sampled folder."""
    import json

    import pyarrow.parquet as pq

    for public, folder in methods.items():
        groups = {r["prompt_id"]: json.loads(r["provenance"]).get("group")
                  for r in pq.read_table(sampled / folder / "prompts.parquet").to_pylist()}
        for row in pq.read_table(sampled / folder / "manifest.parquet").to_pylist():
            if row["concept"] != concept or row["prompt_set"] not in sets:
                continue
            target = out / sets[row["prompt_set"]] / public
            name = f"{row['pair_id'].rsplit('-', 1)[-1]}_{row['image_index']}.png"
            if row["prompt_set"] == "unrelated":        # nested: one folder per unrelated object
                target = target / groups[row["prompt_id"]]
                name = f"{row['prompt_id'].rsplit('-', 1)[-1]}_{row['image_index']}.png"
            target.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(sampled / folder / row["path"], target / name)
    return out
