"""`sample`: one method's benchmark images, `OUT/<method>/<prompt_set>/<prompt_id>_<k>.png`.

A method is any generator the registry knows, usually a diffusers pipeline (hub id or folder)
with optional `unet` / `text_encoder` overrides (dataigm.generators.components), or a simulated
method on toyworld (the demo). Every method gets the same seeds: image k of a prompt uses
seed(sample seed, concept, base prompt id, k), so a forget prompt and its reference prompt, or an
attack prompt and the prompt it attacks, are drawn from the same noise in every method folder;
the same file name in two method folders is the same prompt and seed.

Each method folder is a Run of its own and is written by the same shard machinery as `generate`
(`dataigm.generate.write_shards`): locked, finished shards skipped, pending shards split between
processes under `accelerate launch`, each shard written whole (images, rows, marker last), the
manifest rebuilt from finished shards, and `sample.done` written last. Sampling again with more
prompt sets (a new prompt file) adds them; a different model under the same method name is
refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dataigm.config import to_dict
from dataigm.errors import InputError
from dataigm.evaluation.prompts import EvalPrompt, check_set_name, load_prompts
from dataigm.generate import WorkItem, image_seed, write_shards
from dataigm.generators.base import GenerationSettings
from dataigm.io import atomic_write_json, atomic_write_parquet
from dataigm.manifest import ManifestRow, library_versions
from dataigm.run import Run, is_safe_name
from dataigm.store import sha256_bytes
from dataigm.taxonomy import ConceptSpec, load_concept

# Sampled images carry no label: whether the concept is still there is what judges decide.
UNLABELLED = ("unlabelled", -1)


@dataclass
class SampleConfig:
    """Settings of `dataigm sample` (a preset's `generation:` section gives the model settings)."""

    method: str = ""                   # the method's folder name; ORG for the original model
    prompts: list[str] = field(default_factory=list)   # dataset folders / hub ids / prompt files
    concepts: list[str] = field(default_factory=list)  # built-in names or concept YAML paths
    # From a dataset's prompts config: these sets, and only the benchmark subset by default
    # (prompts that never went into training).
    prompt_sets: list[str] = field(default_factory=lambda: ["forget", "reference", "unrelated"])
    benchmark_only: bool = True
    prompt_set: str = "forget"         # the set of a prompt file's rows that name none
    # A dataset whose prompts config marks prompts ORG does not render (`effective: false`,
    # from `dataigm prompts filter`): leave them out (false: sample them all).
    effective_only: bool = True
    # The concepts this model was made to forget (names or YAMLs), recorded for the scorecard's
    # neighbour matrix: a multi-concept model's other targets are not over-erasure.
    erased: list[str] = field(default_factory=list)
    seed: int = 0                      # the same for every method, or the seeds differ
    shard_size: int = 64
    generation: GenerationSettings = field(default_factory=GenerationSettings)

    def validate(self) -> None:
        if not self.method:
            raise ValueError("method: required (the method's folder name, e.g. ORG or esd)")
        if not is_safe_name(self.method):
            raise ValueError(f"method: '{self.method}' must be letters, digits, '_', '.', '-' (it names a folder)")
        if not self.prompts:
            raise ValueError("prompts: give a dataset (folder or hub id) or a prompt file")
        if not self.concepts:
            raise ValueError("concepts: name at least one concept")
        if self.shard_size < 1:
            raise ValueError(f"shard_size: must be >= 1, got {self.shard_size}")


@dataclass
class SampleReport:
    method_dir: Path
    images_total: int
    images_generated: int
    shards_skipped: int
    per_set: dict[str, int]

    def summary(self) -> str:
        sets = ", ".join(f"{k} {v}" for k, v in sorted(self.per_set.items()))
        return (f"sampled {self.images_generated} of {self.images_total} images "
                f"({self.shards_skipped} finished shards skipped) into {self.method_dir}: {sets}")


def collect_prompts(config: SampleConfig, specs: dict[str, ConceptSpec]) -> list[EvalPrompt]:
    for name in config.prompt_sets:
        check_set_name(name, "prompt_sets")
    prompts: dict[str, EvalPrompt] = {}
    for source in config.prompts:
        for p in load_prompts(source, specs, prompt_sets=config.prompt_sets, benchmark_only=config.benchmark_only,
                              default_set=config.prompt_set, effective_only=config.effective_only):
            if p.prompt_id in prompts and prompts[p.prompt_id] != p:
                raise InputError(f"{source}: prompt_id '{p.prompt_id}' is also in another source with "
                                 "a different prompt")
            prompts[p.prompt_id] = p
    if not prompts:
        raise InputError(f"{', '.join(config.prompts)}: no prompts for concept(s) {', '.join(specs)} "
                         f"(dataset sets: {', '.join(config.prompt_sets)}"
                         f"{', benchmark subset' if config.benchmark_only else ''})")
    return sorted(prompts.values(), key=lambda p: (p.concept, p.prompt_set, p.prompt_id))


def seed_for(config: SampleConfig, prompt: EvalPrompt, k: int) -> int:
    if prompt.seed is not None:
        return prompt.seed + k
    return image_seed(config.seed, prompt.concept, prompt.base_id, k)


def plan_shards(config: SampleConfig, prompts: list[EvalPrompt]) -> list[tuple[str, list[WorkItem]]]:
    """Shards per (concept, prompt set), so adding a set later never reshuffles another."""
    groups: dict[tuple[str, str], list[WorkItem]] = {}
    n = config.generation.images_per_prompt
    for p in prompts:
        groups.setdefault((p.concept, p.prompt_set), []).extend(
            WorkItem(id=f"{p.prompt_id}_{k}", prompt=p, image_index=k, seed=seed_for(config, p, k)) for k in range(n))
    shards = []
    for (concept, prompt_set), items in sorted(groups.items()):
        for start in range(0, len(items), config.shard_size):
            shards.append((f"sample-{concept}-{prompt_set}-{start // config.shard_size:05d}",
                           items[start:start + config.shard_size]))
    return shards


def _recipe(config: SampleConfig) -> dict[str, Any]:
    """What makes a method's images what they are: the model settings and the seed. Prompts are
    not part of it: sampling again with more prompt sets adds to the method folder."""
    settings = to_dict(config.generation)
    for key in ("batch_size", "shard_size", "device"):
        settings.pop(key, None)   # how the work is cut, not what is drawn
    for key in ("unet", "text_encoder"):
        if settings.get(key):
            from dataigm.generators.components import override_identity

            settings[key] = override_identity(settings[key])
    return {"generation": settings, "seed": config.seed}


def _record(run: Run, config: SampleConfig, specs: dict[str, ConceptSpec], prompts: list[EvalPrompt]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    run.sample_marker.unlink(missing_ok=True)
    run.sweep_folders([run.sampled_images_dir(s) for s in {p.prompt_set for p in prompts}])
    recipe = _recipe(config)
    info = run.read_info()
    if info and info.get("recipe") != recipe:
        raise InputError(f"{run.root}: method '{config.method}' was sampled with other model settings or "
                         "another seed; sample this model under another --method name or into another --out")
    for spec in specs.values():
        run.record_concept(spec)
    erased = dict(info.get("erased") or {})
    if config.erased:
        names = sorted(load_concept(ref).name for ref in config.erased)
        erased.update({name: names for name in specs})
    run.write_info({"dataigm_sample": 1, "method": config.method, "recipe": recipe,
                    "concepts": sorted(set(info.get("concepts", [])) | set(specs)),
                    **({"erased": erased} if erased else {}),
                    "versions": json.loads(library_versions())})
    rows = {p.prompt_id: p.to_row() for p in prompts}
    if run.prompts_path.exists():
        for old in pq.read_table(run.prompts_path).to_pylist():
            rows.setdefault(old["prompt_id"], old)
    table = pa.Table.from_pylist([rows[k] for k in sorted(rows)])
    atomic_write_parquet(table, run.prompts_path)


def sample(out: str | Path, config: SampleConfig, progress: bool = True) -> SampleReport:
    """Sample (or resume sampling) one method into OUT/<method>/. Idempotent."""
    specs = {}
    for ref in config.concepts:
        spec = load_concept(ref)
        specs[spec.name] = spec
    prompts = collect_prompts(config, specs)
    method_run = Run(Run(Path(out)).method_dir(config.method))
    shards = plan_shards(config, prompts)
    versions = library_versions()
    settings = config.generation

    def make_row(shard: str, item: WorkItem, image: Any, params: dict[str, Any], sha256: str,
                 created: str) -> ManifestRow:
        p: EvalPrompt = item.prompt
        spec = specs[p.concept]
        return ManifestRow(
            id=item.id, concept=spec.name, taxonomy_path=spec.taxonomy_path, label=UNLABELLED[0],
            label_id=UNLABELLED[1], source="generated", source_name=str(params.get("model_id")),
            prompt=p.prompt, prompt_set=p.prompt_set, prompt_id=p.prompt_id, pair_id=p.base_id,
            benchmark=bool(p.provenance.get("config") == "prompts"), seed=item.seed, image_index=item.image_index,
            generator=settings.generator, model_id=params.get("model_id"), model_revision=params.get("model_revision"),
            scheduler=params.get("scheduler"), steps=params.get("steps"), guidance=params.get("guidance"),
            height=image.height, width=image.width, dtype=params.get("dtype"), versions=versions,
            sha256=sha256, path=method_run.sampled_image(p.prompt_set, p.prompt_id, item.image_index),
            created=created, licence=p.provenance.get("licence"),
        )

    def finish(manifest: Any) -> None:   # the completion marker, last
        atomic_write_json(method_run.sample_marker, {
            "method": config.method, "images": manifest.num_rows,
            "manifest_sha256": sha256_bytes(method_run.manifest_path.read_bytes())})

    done = write_shards(method_run, settings, list(specs.values()), shards, make_row,
                        prepare=lambda: _record(method_run, config, specs, prompts), finish=finish,
                        progress=progress)
    per_set: dict[str, int] = {}
    if done.manifest is not None:
        for name in done.manifest.column("prompt_set").to_pylist():
            per_set[name] = per_set.get(name, 0) + 1
    return SampleReport(method_dir=method_run.root, images_total=done.images_total,
                        images_generated=done.images_generated, shards_skipped=done.shards_skipped,
                        per_set=per_set)
