"""`dataigm plan`: print a preset's workload without generating anything."""

from __future__ import annotations

import argparse


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("plan", help="print the workload of a preset (prompts, images, storage)")
    p.add_argument("--preset", default="demo", help="demo, paper, or a preset YAML file")
    p.add_argument("--concepts", help="comma-separated subset of the preset's concepts")
    p.add_argument("--limit", type=int, help="at most N images per concept")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataigm.preset import load_preset, select_concepts
    from dataigm.pipelines.generate import format_plan

    preset = load_preset(args.preset)
    print(format_plan(preset, select_concepts(preset, args.concepts), args.limit))
    return 0
