#!/usr/bin/env bash
# Set up, then run the full suite against the built-in reference GP system (the demo assurance run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/gpc-assure run "$@"
