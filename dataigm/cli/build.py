"""`dataigm build`: generate, ingest, curate and export in one resumable command."""

from __future__ import annotations

import argparse

from dataigm.cli._args import add_preset_args, add_quiet, printed_config


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("build", help="generate + ingest + curate + export a preset into RUN (rerun to resume)")
    add_preset_args(p, "the RUN folder; the dataset goes to RUN/dataset")
    add_quiet(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataigm.pipelines.build import build
    from dataigm.preset import load_preset, select_concepts
    from dataigm.run import Run

    run_folder = Run(args.out)
    preset = load_preset(args.preset, sets=args.sets)
    specs = select_concepts(preset, args.concepts)
    if printed_config(args, preset):
        return 0
    report = build(run_folder, preset, specs, args.limit, progress=not args.quiet)
    print(report.export.summary())
    print(f"dataset: {report.dataset_dir}  (load_dataset('{report.dataset_dir}', '<concept>'))")
    return 0
