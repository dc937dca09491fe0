"""`dataigm build`: generate -> ingest -> curate -> export, in one resumable command.

Each step is `step(run, config) -> report` and resumable on its own (finished generation shards
are skipped, ingestion is content-addressed, curation caches hashes and judge scores, export swaps
a finished folder into place), so rerunning `build` after an interruption redoes only what is
missing. This module only puts the steps in sequence, each with its section of the preset. The
run's lock is held for the whole build so no other dataigm process interleaves with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from dataigm.curation import curate
from dataigm.export import export_dataset
from dataigm.generate import generate
from dataigm.ingest import ingest
from dataigm.preset import Preset
from dataigm.run import Run
from dataigm.taxonomy import ConceptSpec


@dataclass
class BuildReport:
    run_dir: str
    dataset_dir: str
    generate: Any = None
    ingest: list[Any] = field(default_factory=list)
    curate: Any = None
    export: Any = None


def build(
    run: Run,
    preset: Preset,
    specs: list[ConceptSpec] | None = None,
    limit: int | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> BuildReport:
    specs = specs if specs is not None else list(preset.specs)
    names = {s.name for s in specs}
    report = BuildReport(run_dir=str(run.root), dataset_dir=str(run.dataset_dir))
    with run.lock():
        log(f"[1/4] generate: {', '.join(s.name for s in specs)}")
        report.generate = generate(run, preset, specs, limit, progress=progress)
        log(f"      {report.generate.images_generated} new images, "
            f"{report.generate.shards_skipped} finished shards skipped")
        sources = [s for s in preset.sources if s.concept in names]
        log(f"[2/4] ingest: {len(sources)} source(s)")
        for source in sources:
            report.ingest.append(ingest(run, source, preset.spec(source.concept), progress=progress))
        log("[3/4] curate")
        report.curate = curate(run, preset.curation, progress=progress)
        log("[4/4] export")
        report.export = export_dataset(run, run.dataset_dir, preset.export, progress=progress)
    return report
