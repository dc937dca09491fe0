"""Arguments shared by the commands that work through a preset (generate, build)."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def add_preset_args(p: argparse.ArgumentParser, out_help: str) -> None:
    p.add_argument("--preset", default="demo", help="demo, paper, or a preset YAML file")
    p.add_argument("--out", required=True, help=out_help)
    p.add_argument("--concepts", help="comma-separated subset of the preset's concepts")
    p.add_argument("--limit", type=positive_int, help="at most N generated images per concept")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
