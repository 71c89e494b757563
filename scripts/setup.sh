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
# Stoplight Prism (pinned in tools/prism/package-lock.json): the independent peer of the User Permissions
# suite (tests/test_prism_peer.py, skipped without it).
if command -v npm >/dev/null 2>&1; then
  if [ ! -x tools/prism/node_modules/.bin/prism ]; then
    npm ci --prefix tools/prism --no-audit --no-fund --loglevel=error \
      || echo "setup: could not install Prism; the Prism peer tests will be skipped" >&2
  fi
else
  echo "setup: npm not found (install Node.js to run the Prism peer tests)" >&2
fi
echo "setup: done (.venv ready)"
