"""Generation: prompt sets -> paired images in the store, resumable, one seed per image.

Every prompt of one pair (forget / reference / unrelated) gets the same seeds, so the two images
of a pair differ in the concept and not in the noise. A seed is derived from (preset seed,
concept, pair id, image index) alone, so any image can be regenerated from its manifest row.

Under `accelerate launch` the pending shards are split between processes; each writes its own
shards and the main process rebuilds the manifest at the end.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from pathlib import Path
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from tqdm.auto import tqdm

from dataigm.background import BackgroundWriter
from dataigm.config import load_dataclass, to_dict
from dataigm.errors import ConfigError, InputError
from dataigm.generators.base import GenerationSettings, make_generator
from dataigm.imageio import encode_png
from dataigm.io import atomic_write_parquet
from dataigm.manifest import ManifestRow, library_versions
from dataigm.preset import Preset
from dataigm.prompts import PromptRow, build_prompt_sets, prompts_table, shortfalls
from dataigm.run import Run
from dataigm.store import ShardStore, sha256_bytes
from dataigm.taxonomy import ConceptSpec, load_concept

_SET_ORDER = {"forget": 0, "reference": 1, "unrelated": 2, "neighbour": 3}
# Rough PNG bytes per pixel, for `plan`'s storage estimate (measured on SD v1.4 outputs and on
# toyworld images respectively).
_BYTES_PER_PIXEL = {"toyworld": 0.35}
_DEFAULT_BYTES_PER_PIXEL = 1.6


@dataclass
class WorkItem:
    id: str
    prompt: PromptRow
    image_index: int
    seed: int


@dataclass
class ConceptWork:
    spec: ConceptSpec
    prompts: list[PromptRow]
    items: list[WorkItem]
    shards: dict[str, list[WorkItem]]
    fingerprint: str
    prompt_report: dict[str, Any] = field(default_factory=dict)


@dataclass
class GenerateReport:
    run_dir: str
    images_total: int
    images_generated: int
    shards_skipped: int
    shards_written: int
    per_concept: dict[str, dict[str, int]]
    # Seconds generating and writing, after the generator was loaded (throughput = images /
    # generate_seconds), and the one-off torch.compile time when generation.compile is on.
    generate_seconds: float = 0.0
    compile_seconds: float | None = None


def image_seed(base_seed: int, concept: str, pair_id: str, image_index: int) -> int:
    digest = hashlib.sha256(f"{base_seed}:{concept}:{pair_id}:{image_index}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def plan_concept(preset: Preset, spec: ConceptSpec, limit: int | None = None) -> ConceptWork:
    """Prompts, work items and shard assignment of one concept (no side effects)."""
    counts = preset.counts_for(spec)
    prompts, report = build_prompt_sets(spec, counts, preset.seed)
    short = shortfalls(report)
    if short:
        raise ConfigError(
            f"{spec.source_file}: prompts: not enough distinct combinations of templates, subjects "
            f"and scenes ({'; '.join(short)}); add templates or scenes, or lower the counts"
        )
    settings = preset.generation
    ordered = sorted(prompts, key=lambda p: (p.pair_id, _SET_ORDER[p.prompt_set], p.prompt_id))
    items = [
        WorkItem(id=f"{p.prompt_id}-{k}", prompt=p, image_index=k,
                 seed=image_seed(preset.seed, spec.name, p.pair_id, k))
        for p in ordered for k in range(settings.images_per_prompt)
    ]
    # Shards are cut from the full, unlimited order, so a shard's identity never depends on
    # --limit; a limited run writes fewer items into the same shard names and the id digest in
    # the marker tells a later run to redo them.
    shards: dict[str, list[WorkItem]] = {}
    for i, item in enumerate(items):
        if limit is not None and i >= limit:
            break
        shards.setdefault(f"gen-{spec.name}-{i // settings.shard_size:05d}", []).append(item)
    fingerprint_src = json.dumps(
        {"spec": to_dict(dataclasses.replace(spec, source_file="")), "counts": to_dict(counts),
         "seed": preset.seed, "generation": generation_fingerprint(settings)}, sort_keys=True,
    )
    return ConceptWork(spec=spec, prompts=prompts, items=items, shards=shards,
                       fingerprint=sha256_bytes(fingerprint_src.encode())[:16],
                       prompt_report=report.to_dict())


def generation_fingerprint(settings: GenerationSettings) -> dict[str, Any]:
    """The settings that identify a run's images. Component overrides count only when set, so
    runs recorded before they existed keep their fingerprint."""
    data = to_dict(settings)
    for key in ("unet", "text_encoder"):
        if data.get(key) is None:
            data.pop(key, None)
    return data


def format_plan(preset: Preset, specs: list[ConceptSpec], limit: int | None = None) -> str:
    """The workload of a preset as a table: prompts and images per concept and source."""
    s = preset.generation
    per_image = s.height * s.width * _BYTES_PER_PIXEL.get(s.generator, _DEFAULT_BYTES_PER_PIXEL)
    lines = [
        f"preset {preset.name} ({preset.source_file}): generator {s.generator}"
        + (f" {s.model}" if s.model else "")
        + f", {s.height}x{s.width}, {s.images_per_prompt} image(s) per prompt, seed {preset.seed}",
        f"{'concept':<20} {'path':<28} {'forget':>6} {'named':>7} {'ref':>5} {'unrel':>5} {'neigh':>5} "
        f"{'bench':>5} {'images':>7} {'est. size':>10}",
    ]
    total_images = 0
    for spec in specs:
        work = plan_concept(preset, spec, limit)
        n = sum(len(v) for v in work.shards.values())
        total_images += n
        c = work.prompt_report["counts"]
        bench = sum(p.benchmark for p in work.prompts)
        # "named": forget prompts that name the concept through an alias (all must; others never).
        named = f"{work.prompt_report['forget_naming_concept']}/{work.prompt_report['forget_total']}"
        lines.append(
            f"{spec.name:<20} {spec.taxonomy_path:<28} {c['forget']:>6} {named:>7} {c['reference']:>5} "
            f"{c['unrelated']:>5} {c['neighbour']:>5} {bench:>5} {n:>7} {_size(n * per_image):>10}"
        )
    lines.append(f"{'total (generated)':<49} {'':>37} {total_images:>7} {_size(total_images * per_image):>10}")
    for src in preset.sources:
        lines.append(f"ingest: {src.concept} from {src.source} ({src.source_type}): {', '.join(src.paths)}")
    return "\n".join(lines)


def _size(n_bytes: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n_bytes < 1024 or unit == "TB":
            return f"{n_bytes:.0f} {unit}" if unit == "B" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1024
    return ""


def _accelerate_state() -> Any:
    """accelerate's PartialState when running under `accelerate launch` with >1 process."""
    import os

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    import torch
    from accelerate import PartialState

    # Without a GPU, PartialState only detects a multi-process CPU launch when told cpu=True.
    return PartialState(cpu=not torch.cuda.is_available())


def _label(spec: ConceptSpec, prompt_set: str) -> tuple[str, int]:
    label_id = 1 if prompt_set == "forget" else 0
    return spec.labels[label_id], label_id


def _record_run(run: Run, preset: Preset, works: list[ConceptWork]) -> None:
    """run.json + concept YAML snapshots + prompts.parquet; refuses a changed recipe."""
    previous = run.read_info()
    concepts = dict(previous.get("concepts", {}))
    for work in works:
        old = concepts.get(work.spec.name)
        if old and old.get("fingerprint") != work.fingerprint:
            raise InputError(
                f"{run.root}: {work.spec.name} was generated with a different preset, concept file "
                "or generation settings; use a new --out folder"
            )
        snapshot = run.record_concept(work.spec)
        concepts[work.spec.name] = {"fingerprint": work.fingerprint,
                                    "taxonomy_path": work.spec.taxonomy_path,
                                    "concept_file": run.relative(snapshot),
                                    "prompt_report": work.prompt_report}
    run.write_info({
        "dataigm_run": 1, "preset": to_dict(preset), "generation": to_dict(preset.generation),
        "seed": preset.seed, "concepts": concepts, "versions": json.loads(library_versions()),
    })
    # prompts.parquet: the union over every concept generated into this RUN.
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = {w.spec.name for w in works}
    keep = []
    if run.prompts_path.exists():
        old_rows = pq.read_table(run.prompts_path).to_pylist()
        keep = [r for r in old_rows if r["concept"] not in names]
    new_rows = keep + [dataclasses.asdict(p) for w in works for p in w.prompts]
    new_rows.sort(key=lambda r: r["prompt_id"])
    atomic_write_parquet(pa.Table.from_pylist(new_rows, schema=prompts_table(works[0].prompts).schema)
                         if new_rows else prompts_table([]), run.prompts_path)


def generate(
    run: Run | str | Path,
    preset: Preset,
    specs: list[ConceptSpec] | None = None,
    limit: int | None = None,
    progress: bool = True,
) -> GenerateReport:
    """Generate (or resume generating) the images of `specs` into the run. Idempotent."""
    run = Run.of(run)
    specs = specs if specs is not None else preset.specs
    works = [plan_concept(preset, spec, limit) for spec in specs]
    by_concept = {w.spec.name: w.spec for w in works}
    versions = library_versions()

    def make_row(shard: str, item: WorkItem, image: Any, params: dict[str, Any], sha256: str,
                 created: str) -> ManifestRow:
        spec = by_concept[item.prompt.concept]
        return _generated_row(spec, item, image, params, preset.generation.generator, versions, sha256,
                              run.generated_image(spec.name, shard, item.id), created)

    shards = [(shard, items) for work in works for shard, items in work.shards.items()]
    done = write_shards(run, preset.generation, specs, shards, make_row,
                        prepare=lambda: _record_run(run, preset, works),
                        discard=lambda shard: run.discard_partial_shard(_shard_concept(works, shard), shard),
                        progress=progress)
    per_concept: dict[str, dict[str, int]] = {}
    if done.manifest is not None:
        for row in done.manifest.select(["concept", "label"]).to_pylist():
            per_concept.setdefault(row["concept"], {}).setdefault(row["label"], 0)
            per_concept[row["concept"]][row["label"]] += 1
    return GenerateReport(
        run_dir=str(run.root), images_total=done.images_total, images_generated=done.images_generated,
        shards_skipped=done.shards_skipped, shards_written=done.shards_written, per_concept=per_concept,
        generate_seconds=done.generate_seconds, compile_seconds=done.compile_seconds,
    )


def _shard_concept(works: list[ConceptWork], shard: str) -> str:
    return next(w.spec.name for w in works if shard in w.shards)


# Builds the manifest row of one generated image: (shard, item, image, generator params, sha256
# of the PNG bytes, creation time) -> row; the row's `path` says where the image is stored.
RowMaker = Callable[[str, WorkItem, Any, dict[str, Any], str, str], ManifestRow]


@dataclass
class ShardsDone:
    images_total: int
    images_generated: int
    shards_skipped: int
    shards_written: int
    manifest: Any = None   # the rebuilt manifest table (main process only)
    generate_seconds: float = 0.0
    compile_seconds: float | None = None


def write_shards(
    run: Run,
    settings: GenerationSettings,
    specs: list[ConceptSpec],
    shards: list[tuple[str, list[WorkItem]]],
    make_row: RowMaker,
    *,
    prepare: Callable[[], None] | None = None,
    discard: Callable[[str], None] | None = None,
    finish: Callable[[Any], None] | None = None,
    progress: bool = True,
) -> ShardsDone:
    """The shard machinery `generate` and `sample` share: under the run's lock, sweep leftovers
    and `prepare` (main process), skip finished shards, split the pending ones between
    processes under `accelerate launch`, generate and write each shard whole (images, rows,
    marker last), then rebuild the manifest from the finished shards and `finish` with it (main
    process, still under the lock)."""
    state = _accelerate_state()
    is_main = state is None or state.is_main_process
    lock = run.lock() if is_main else None
    if lock:
        lock.__enter__()
    try:
        store = ShardStore(run)
        if is_main:
            run.sweep_temp_files()
            if prepare is not None:
                prepare()
        if state is not None:
            state.wait_for_everyone()  # no process writes before the sweep is done
        pending: list[tuple[str, list[WorkItem]]] = []
        skipped = 0
        for shard, items in shards:
            if store.is_finished(shard, [it.id for it in items]):
                skipped += 1
            else:
                pending.append((shard, items))
        mine = pending
        if state is not None:
            with state.split_between_processes(pending) as part:
                mine = list(part)
        generated, timing = _generate_shards(store, settings, specs, mine, make_row, discard, progress and is_main)
        if state is not None:
            state.wait_for_everyone()
        table = store.rebuild_manifest() if is_main else None
        if table is not None and finish is not None:
            finish(table)
        return ShardsDone(images_total=sum(len(items) for _, items in shards), images_generated=generated,
                          shards_skipped=skipped, shards_written=len(mine), manifest=table, **timing)
    finally:
        if lock:
            lock.__exit__(None, None, None)


def _generate_shards(
    store: ShardStore,
    settings: GenerationSettings,
    specs: list[ConceptSpec],
    shards: list[tuple[str, list[WorkItem]]],
    make_row: RowMaker,
    discard: Callable[[str], None] | None,
    progress: bool,
) -> tuple[int, dict[str, Any]]:
    if not shards:
        return 0, {}
    generator = make_generator(settings, specs)
    started = time.perf_counter()
    total = sum(len(items) for _, items in shards)
    done = 0
    with tqdm(total=total, desc="generate", unit="img", disable=not progress) as bar, \
            BackgroundWriter(settings.writer_threads, limit=2 * settings.batch_size) as background:
        for shard, items in shards:
            if discard is not None:
                discard(shard)
            pending = []
            for start in range(0, len(items), settings.batch_size):
                batch = items[start:start + settings.batch_size]
                out = generator.generate([it.prompt.prompt for it in batch], [it.seed for it in batch])
                if len(out.images) != len(batch):
                    raise RuntimeError(f"generator returned {len(out.images)} images for {len(batch)} prompts")
                created = datetime.now(timezone.utc).isoformat(timespec="seconds")
                for item, image in zip(batch, out.images):
                    # Encoding and writing overlap the generator's next batch.
                    pending.append(background.submit(_store_image, store, make_row, shard, item, image,
                                                     out.params, created))
                done += len(batch)
                bar.update(len(batch))
            writer = store.writer(shard)
            for future in pending:  # in generation order, whatever order the threads finished in
                writer.add(future.result(), None, written=True)
            writer.finish()
    return done, {"generate_seconds": time.perf_counter() - started, "compile_seconds": generator.compile_seconds}


def _store_image(store: ShardStore, make_row: RowMaker, shard: str, item: WorkItem, image: Any,
                 params: dict[str, Any], created: str) -> ManifestRow:
    """Encode one generated image, write it, and return its manifest row (a writer thread)."""
    png = encode_png(image)
    row = make_row(shard, item, image, params, sha256_bytes(png), created)
    store.write_image(row.path, png, durable=False)  # synced once per shard by the writer
    return row


def _generated_row(spec: ConceptSpec, item: WorkItem, image: Any, params: dict[str, Any], generator: str,
                   versions: str, sha256: str, path: str, created: str) -> ManifestRow:
    label, label_id = _label(spec, item.prompt.prompt_set)
    p = item.prompt
    return ManifestRow(
        id=item.id, concept=spec.name, taxonomy_path=spec.taxonomy_path, label=label, label_id=label_id,
        source="generated", source_name=str(params.get("model_id")), prompt=p.prompt,
        prompt_set=p.prompt_set, prompt_id=p.prompt_id, pair_id=p.pair_id, benchmark=p.benchmark,
        seed=item.seed, image_index=item.image_index, generator=generator,
        model_id=params.get("model_id"), model_revision=params.get("model_revision"),
        scheduler=params.get("scheduler"), steps=params.get("steps"), guidance=params.get("guidance"),
        height=image.height, width=image.width, dtype=params.get("dtype"), compiled=params.get("compiled"),
        versions=versions, sha256=sha256, path=path, created=created, labelled_by="prompt",
    )


def load_run_settings(run: Run | str | Path) -> tuple[GenerationSettings, dict[str, ConceptSpec]]:
    """The generation settings and concept specs a RUN was generated with."""
    run = Run.of(run)
    info = run.require_info()
    settings = load_dataclass(GenerationSettings, info["generation"], str(run.info_path), "generation")
    specs = {name: load_concept(run.file(meta["concept_file"])) for name, meta in info["concepts"].items()}
    return settings, specs


def _work_order(row: dict[str, Any]) -> tuple:
    """The order generation walks a shard in (pairs together, forget first)."""
    return (row["pair_id"], _SET_ORDER[row["prompt_set"]], row["prompt_id"], row["image_index"])


def regenerate_image(run: Run | str | Path, row: dict[str, Any], alone: bool = False) -> Any:
    """Regenerate one image from its manifest row (its prompt and seed).

    By default the batch the image was made in is replayed, which reproduces it exactly: on CPU
    a matrix product over a different number of rows may sum in another order, so a diffusion
    image made alone can differ from its batched original by one level in a few pixels.
    `alone=True` generates just this prompt and seed (exact for toyworld, and what a user does
    to look at one image).
    """
    import pyarrow.parquet as pq

    run = Run.of(run)
    settings, specs = load_run_settings(run)
    generator = make_generator(settings, list(specs.values()))
    if alone:
        return generator.generate([row["prompt"]], [int(row["seed"])]).images[0]
    shard_rows = [r for r in pq.read_table(run.manifest_path).to_pylist() if r["shard"] == row["shard"]]
    shard_rows.sort(key=_work_order)
    position = next(i for i, r in enumerate(shard_rows) if r["id"] == row["id"])
    start = position - position % settings.batch_size
    batch = shard_rows[start:start + settings.batch_size]
    out = generator.generate([r["prompt"] for r in batch], [int(r["seed"]) for r in batch])
    return out.images[position - start]
