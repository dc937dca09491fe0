"""`dataigm build`: generate -> ingest -> curate -> export, in one resumable command.

Each step is resumable on its own (finished generation shards are skipped, ingestion is
content-addressed, curation caches hashes and judge scores, export swaps a finished folder into
place), so rerunning `build` after an interruption redoes only what is missing. The RUN lock is
held for the whole build so no other dataigm process interleaves with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dataigm.config import load_dataclass
from dataigm.io import RunLock
from dataigm.preset import Preset


@dataclass
class BuildReport:
    run_dir: str
    dataset_dir: str
    generate: Any = None
    ingest: list[Any] = field(default_factory=list)
    curate: Any = None
    export: Any = None


def build(
    preset: Preset,
    run_dir: str | Path,
    concepts: list[str] | None = None,
    limit: int | None = None,
    progress: bool = True,
    log: Any = print,
) -> BuildReport:
    from dataigm.curation import curate
    from dataigm.curation.config import CurationConfig
    from dataigm.export import export_dataset
    from dataigm.ingest import ingest
    from dataigm.splits import SplitConfig
    from dataigm.pipelines.generate import generate

    run_dir = Path(run_dir)
    specs = [preset.spec(c) for c in concepts] if concepts else list(preset.specs)
    names = {s.name for s in specs}
    source = preset.source_file
    curation_cfg = load_dataclass(CurationConfig, preset.curation, source, "curation")
    split_cfg = load_dataclass(SplitConfig, preset.split, source, "split")
    report = BuildReport(run_dir=str(run_dir), dataset_dir=str(run_dir / "dataset"))
    with RunLock(run_dir):
        log(f"[1/4] generate: {', '.join(s.name for s in specs)}")
        report.generate = generate(preset, run_dir, specs, limit, progress=progress)
        log(f"      {report.generate.images_generated} new images, "
            f"{report.generate.shards_skipped} finished shards skipped")
        sources = [s for s in preset.ingest if s.concept in names]
        log(f"[2/4] ingest: {len(sources)} source(s)")
        preset_dir = Path(source).parent
        for src in sources:
            paths = [p if Path(p).is_absolute() else str(preset_dir / p) for p in src.paths]
            report.ingest.append(ingest(run_dir, preset.spec(src.concept), paths, src.source,
                                        label=src.label, source_type=src.source_type,
                                        licence=src.licence, progress=progress))
        log("[3/4] curate")
        report.curate = curate(run_dir, curation_cfg, progress=progress)
        log("[4/4] export")
        report.export = export_dataset(run_dir, run_dir / "dataset", split_cfg, progress=progress)
    return report
