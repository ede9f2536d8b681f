#!/usr/bin/env bash
# Install toyflow with its test extras into a virtual environment (.venv) and run the whole test
# suite, browser tests included. Debian's chromium is the browser (Playwright cannot download one
# here); it is installed with apt when missing. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_venv.sh
if [ ! -x /usr/bin/chromium ]; then
  toyflow_apt_install chromium
fi
toyflow_venv
python -m pip install -q -e ".[test]"
# Lint, format and types before the tests (config in pyproject.toml); any finding fails the run.
python -m ruff check .
python -m ruff format --check .
python -m mypy
exec python -m pytest "$@"
