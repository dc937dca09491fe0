"""`dataigm taxonomy`: not implemented yet."""

from __future__ import annotations

import argparse

from dataigm.errors import DataigmError


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("taxonomy", help="(not implemented yet)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    raise DataigmError("'dataigm taxonomy' is not implemented yet")
