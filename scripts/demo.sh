#!/usr/bin/env bash
# The main job on the built-in default: set up .venv, then run the demo into runs/demo.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/dataigm demo --out "${1:-runs/demo}"
