"""`dataigm build`: generate, ingest, curate and export in one resumable command."""

from __future__ import annotations

import argparse
from typing import Any

from dataigm.cli._args import preset_command


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    preset_command(sub, "build", "generate + ingest + curate + export a preset into RUN (rerun to resume)",
                   "the RUN folder; the dataset goes to RUN/dataset", build_dataset)


def build_dataset(args: argparse.Namespace, run: Any, preset: Any, specs: list[Any]) -> int:
    from dataigm.pipelines.build import build

    report = build(run, preset, specs, args.limit, progress=not args.quiet)
    print(report.export.summary())
    print(f"dataset: {report.dataset_dir}  (load_dataset('{report.dataset_dir}', '<concept>'))")
    return 0
