"""The `dataigm` command line.

Each sub-command lives in its own module under dataigm/cli/ and exposes
`register(subparsers) -> None`, which adds its parser and sets `func=handler`.
Handlers import heavy libraries lazily, so `dataigm --help` stays fast and a missing extra
only matters for the command that needs it.

Errors: a DataigmError (bad config, bad input, lock held, missing extra) is printed as one line
and exits with code 2. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import NoReturn, Sequence

from dataigm import __version__
from dataigm.errors import INTERRUPTED, DataigmError, MissingExtraError, one_line

# Order here is the order in `dataigm --help`.
COMMANDS = (
    "taxonomy",
    "plan",
    "generate",
    "ingest",
    "curate",
    "export",
    "build",
    "train",
    "evaluate",
    "judge",
    "prompts",
    "sample",
    "scorecard",
    "labels",
    "publish",
    "demo",
)

# Third-party modules that come from an extra: an ImportError for one of them becomes
# a one-line "install dataigm[extra]" message instead of a traceback.
_EXTRA_OF_MODULE = {
    "torch": "gen",
    "diffusers": "gen",
    "transformers": "gen",
    "accelerate": "gen",
    "pytorch_lightning": "train",
    "lightning": "train",
    "timm": "train",
    "torchmetrics": "train",
    "albumentations": "train",
    "nudenet": "nsfw",
    "lpips": "eval",
}


class _OneLineErrors(argparse.ArgumentParser):
    """Usage mistakes are reported like every other bad input: one line, exit code 2."""

    def error(self, message: str) -> NoReturn:
        where = self.prog.removeprefix("dataigm").strip()
        self.exit(2, f"dataigm: error: {where + ': ' if where else ''}{message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineErrors(
        prog="dataigm",
        description="Build DataIGM unlearning datasets, train concept judges, publish to the Hub.",
    )
    parser.add_argument("--version", action="version", version=f"dataigm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_OneLineErrors)
    sub.required = True
    for name in COMMANDS:
        module = importlib.import_module(f"dataigm.cli.{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:
        # Ctrl-C anywhere (parsing, imports, a step, training: dataigm.detectors.train hands
        # Lightning's interrupt back as a KeyboardInterrupt) ends the same way.
        print(INTERRUPTED, file=sys.stderr)
        return 130


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "quiet", False):
        from dataigm.cli._args import quiet_libraries

        quiet_libraries()
    try:
        result = args.func(args)
    except DataigmError as exc:
        print(f"dataigm: error: {one_line(exc)}", file=sys.stderr)
        return exc.exit_code
    except ImportError as exc:
        top = (exc.name or "").split(".")[0]
        if top in _EXTRA_OF_MODULE:
            err = MissingExtraError(_EXTRA_OF_MODULE[top], top)
            print(f"dataigm: error: {one_line(err)}", file=sys.stderr)
            return err.exit_code
        raise
    except OSError as exc:
        # Disk full, permission denied, read-only or missing folders: the environment, not a bug.
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"dataigm: error: {where}{one_line(exc.strerror or exc)}", file=sys.stderr)
        return 2
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
