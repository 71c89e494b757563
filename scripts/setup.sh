#!/usr/bin/env bash
# Set-up for a fresh machine: a virtual environment with gpc-assure and its dependencies,
# plus the external tools the self-tests use. Safe to run again (it only adds what is missing).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"

# Headless Chromium renders report.html for the browser test (Debian package; needs root).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "setup: could not install chromium; the browser test will be skipped" >&2
  else
    echo "setup: chromium not found (install Debian's 'chromium' to run the browser test)" >&2
  fi
fi
echo "setup: done (.venv ready)"
