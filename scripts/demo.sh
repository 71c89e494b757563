#!/usr/bin/env bash
# Set up, then run the full suite against the built-in reference GP system (the demo assurance run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The example declarations file shows the Supplier declarations section; pass --declarations to use yours.
exec .venv/bin/gpc-assure run --declarations fixtures/declarations/reference.toml "$@"
