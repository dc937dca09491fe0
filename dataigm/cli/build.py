"""`dataigm build`: generate, ingest, curate and export in one resumable command."""

from __future__ import annotations

import argparse

from dataigm.cli._preset_args import add_preset_args


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("build", help="generate + ingest + curate + export a preset into RUN (rerun to resume)")
    add_preset_args(p, "the RUN folder; the dataset goes to RUN/dataset")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataigm.preset import load_preset, select_concepts
    from dataigm.pipelines.build import build

    preset = load_preset(args.preset)
    concepts = [s.name for s in select_concepts(preset, args.concepts)]
    report = build(preset, args.out, concepts, args.limit, progress=not args.quiet)
    print(report.export.summary())
    print(f"dataset: {report.dataset_dir}  (load_dataset('{report.dataset_dir}', '<concept>'))")
    return 0
