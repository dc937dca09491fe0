"""Errors a user can act on.

Every error that comes from bad input (a config, a file, a flag) is a DataigmError. The CLI
prints it as one line and exits with code 2; it never shows a traceback for these.
"""

from __future__ import annotations


# What the CLI prints on Ctrl-C (exit code 130): every step resumes, so rerunning is the advice.
INTERRUPTED = "dataigm: interrupted; rerun the same command to resume"


class DataigmError(Exception):
    """Base class: a problem with the user's input or environment, reported in one line."""

    exit_code = 2


class ConfigError(DataigmError):
    """A YAML config or concept file is unreadable or does not validate."""


class InputError(DataigmError):
    """A command-line value, input file or folder is missing or unusable."""


class RunLockedError(DataigmError):
    """Another dataigm process holds the lock on the same RUN folder."""


class MissingExtraError(DataigmError):
    """An optional dependency group (pip extra) is needed but not installed."""

    def __init__(self, extra: str, package: str) -> None:
        super().__init__(
            f"this command needs the '{extra}' extra ({package} is not installed): "
            f"pip install 'dataigm[{extra}]'"
        )


def one_line(exc: BaseException) -> str:
    """Collapse an exception message to a single line for CLI output."""
    text = str(exc).strip() or exc.__class__.__name__
    return " ".join(text.split())
