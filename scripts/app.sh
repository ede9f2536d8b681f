#!/usr/bin/env bash
# Install toyflow into a virtual environment (.venv) and open the explorer.
# Extra arguments go to `panel serve`, e.g. `bash scripts/app.sh --port 5007`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_venv.sh
toyflow_venv
python -m pip install -q -e .
port=5006
display=0
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] || [ "$(uname)" = "Darwin" ]; then display=1; fi
args=()
asked_show=0
for ((i = 1; i <= $#; i++)); do
  arg="${!i}"
  case "$arg" in
    --port) j=$((i + 1)); port="${!j:-$port}" ;;
    --port=*) port="${arg#--port=}" ;;
  esac
  if [ "$arg" = "--show" ]; then asked_show=1; continue; fi  # added below where it can work
  args+=("$arg")
done
echo "toyflow explorer: open http://localhost:${port}/explorer in a browser (Ctrl+C stops the server)."
show=()
# --show opens a browser only where there is a display to open it on.
if [ "$display" = 1 ]; then
  show=(--show)
else
  echo "No browser opened: this machine has no display (DISPLAY and WAYLAND_DISPLAY are unset)."
  if [ "$asked_show" = 1 ]; then echo "(--show was ignored.)"; fi
fi
exec panel serve app/explorer.py "${show[@]}" "${args[@]}"
