"""Shared test setup: offline, single-threaded torch, and a CLI runner."""

from __future__ import annotations

import os

# Nothing in the suite may reach the network; the Hub tests start their own 127.0.0.1 server
# and point the clients at it explicitly.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_DISABLE_XET", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_NUM_THREADS", "2")

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
# Tests share fixture builders as `tests.<module>`; the repo root must be importable for that.
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


@pytest.fixture
def cli(capsys):
    """Run `dataigm ARGS` in-process; returns (exit code, stdout, stderr)."""
    from dataigm.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def require_extra(module: str) -> None:
    """Import an optional extra's module for a test. Under the README's test command (which
    installs every extra and sets DATAIGM_REQUIRE_EXTRAS=1) a missing extra fails the test; a
    developer's partial install skips it."""
    import importlib

    if os.environ.get("DATAIGM_REQUIRE_EXTRAS") == "1":
        importlib.import_module(module)
    else:
        pytest.importorskip(module)
