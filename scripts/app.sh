#!/usr/bin/env bash
# Install toyflow into a virtual environment (.venv) and open the explorer.
# Extra arguments go to `panel serve`, e.g. `bash scripts/app.sh --port 5007`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_venv.sh
toyflow_venv
python -m pip install -q -e .
port=5006
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[$i]}" in
    --port) port="${args[$((i + 1))]:-$port}" ;;
    --port=*) port="${args[$i]#--port=}" ;;
  esac
done
echo "toyflow explorer: open http://localhost:${port}/explorer in a browser (Ctrl+C stops the server)."
show=()
# --show opens a browser only where there is a display to open it on.
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] || [ "$(uname)" = "Darwin" ]; then show=(--show); fi
exec panel serve app/explorer.py "${show[@]}" "$@"
