"""`dataigm build`: generate, ingest, curate and export in one resumable command."""

from __future__ import annotations

import argparse

from dataigm.errors import InputError


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("build", help="generate + ingest + curate + export a preset into RUN (rerun to resume)")
    p.add_argument("--preset", default="demo", help="demo, paper, or a preset YAML file")
    p.add_argument("--out", required=True, help="the RUN folder; the dataset goes to RUN/dataset")
    p.add_argument("--concepts", help="comma-separated subset of the preset's concepts")
    p.add_argument("--limit", type=int, help="at most N generated images per concept")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataigm.preset import load_preset
    from pipelines.build import build

    if args.limit is not None and args.limit < 1:
        raise InputError(f"--limit: must be >= 1, got {args.limit}")
    preset = load_preset(args.preset)
    concepts = [c.strip() for c in args.concepts.split(",")] if args.concepts else None
    report = build(preset, args.out, concepts, args.limit, progress=not args.quiet)
    print(report.export.summary() if hasattr(report.export, "summary") else report.export)
    print(f"dataset: {report.dataset_dir}  (load_dataset('{report.dataset_dir}', '<concept>'))")
    return 0
