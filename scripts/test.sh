#!/usr/bin/env bash
# The test command: set up .venv (and Debian's chromium for the report test), then run the
# whole suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test: installing Debian's chromium for the report screenshot test"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "test: chromium not found and cannot install it here; the report test will be skipped" >&2
  fi
fi
# Every extra is installed above: a test needing one must run, never skip (tests/conftest.py).
export DATAIGM_REQUIRE_EXTRAS=1
exec .venv/bin/python -m pytest "$@"
