#!/usr/bin/env bash
# Create .venv and install dataigm with every extra. Idempotent: reinstalls only when
# pyproject.toml changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-}
if [ -z "$python" ]; then
  for candidate in python3.11 python3.12 python3.10 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
      python=$candidate
      break
    fi
  done
fi
if [ -z "$python" ]; then
  echo "setup: needs Python 3.10 or newer (set PYTHON=/path/to/python)" >&2
  exit 2
fi

[ -x .venv/bin/python ] || "$python" -m venv .venv
stamp=.venv/.dataigm-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing dataigm[all,dev] into .venv (first run takes a few minutes)"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[all,dev]"
  echo "$want" > "$stamp"
fi
