"""`dataigm plan`: print a preset's workload without generating anything."""

from __future__ import annotations

import argparse
from typing import Any

from dataigm.cli._args import preset_command


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    preset_command(sub, "plan", "print the workload of a preset (prompts, images, storage)", None, print_plan)


def print_plan(args: argparse.Namespace, run: Any, preset: Any, specs: list[Any]) -> int:
    from dataigm.generate import format_plan

    print(format_plan(preset, specs, args.limit))
    return 0
