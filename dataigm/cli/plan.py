"""`dataigm plan`: print a preset's workload without generating anything."""

from __future__ import annotations

import argparse

from dataigm.cli._args import add_preset_args, printed_config


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("plan", help="print the workload of a preset (prompts, images, storage)")
    add_preset_args(p, out_help=None)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataigm.generate import format_plan
    from dataigm.preset import load_preset, select_concepts

    preset = load_preset(args.preset, sets=args.sets)
    specs = select_concepts(preset, args.concepts)
    if printed_config(args, preset):
        return 0
    print(format_plan(preset, specs, args.limit))
    return 0
