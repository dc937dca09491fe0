"""`dataigm generate`: paired images with provenance into a resumable store."""

from __future__ import annotations

import argparse
from typing import Any

from dataigm.cli._args import preset_command


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    preset_command(sub, "generate", "generate the images of a preset into RUN (rerun to resume)",
                   "the RUN folder", generate_images)


def generate_images(args: argparse.Namespace, run: Any, preset: Any, specs: list[Any]) -> int:
    from dataigm.generate import generate

    report = generate(run, preset, specs, args.limit, progress=not args.quiet)
    print(f"generated {report.images_generated} of {report.images_total} images "
          f"({report.shards_skipped} finished shards skipped) into {report.run_dir}")
    for concept, labels in sorted(report.per_concept.items()):
        print(f"  {concept}: " + ", ".join(f"{k} {v}" for k, v in sorted(labels.items())))
    print(f"manifest: {run.manifest_path}")
    return 0
