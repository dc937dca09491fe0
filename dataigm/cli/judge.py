"""`dataigm judge`: not implemented yet."""

from __future__ import annotations

import argparse

from dataigm.errors import DataigmError


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("judge", help="(not implemented yet)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    raise DataigmError("'dataigm judge' is not implemented yet")
