"""`dataigm generate`: paired images with provenance into a resumable store."""

from __future__ import annotations

import argparse

from dataigm.cli._args import add_preset_args, add_quiet, printed_config


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("generate", help="generate the images of a preset into RUN (rerun to resume)")
    add_preset_args(p, "the RUN folder")
    add_quiet(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataigm.generate import generate
    from dataigm.preset import load_preset, select_concepts
    from dataigm.run import Run

    run_folder = Run(args.out)
    preset = load_preset(args.preset, sets=args.sets)
    specs = select_concepts(preset, args.concepts)
    if printed_config(args, preset):
        return 0
    report = generate(run_folder, preset, specs, args.limit, progress=not args.quiet)
    print(f"generated {report.images_generated} of {report.images_total} images "
          f"({report.shards_skipped} finished shards skipped) into {report.run_dir}")
    for concept, labels in sorted(report.per_concept.items()):
        print(f"  {concept}: " + ", ".join(f"{k} {v}" for k, v in sorted(labels.items())))
    print(f"manifest: {run_folder.manifest_path}")
    return 0
