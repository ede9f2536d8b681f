#!/usr/bin/env bash
# Install toyflow with its test extras and run the whole test suite, browser tests included.
# Debian's chromium is the browser (Playwright cannot download one here); it is installed with
# apt when missing. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
if [ ! -x /usr/bin/chromium ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q chromium
fi
"$PY" -m pip install -q -e ".[test]"
exec "$PY" -m pytest "$@"
