# Sourced by app.sh and test.sh: make and enter the project's virtual environment.
#
# Debian and Ubuntu mark their system Python as externally managed (PEP 668), so toyflow always
# installs into a virtual environment: $TOYFLOW_VENV, by default .venv in the repository. Where
# the venv module is missing (Debian's python3-venv package), it is installed with apt first.
# Afterwards python, pip and the toyflow/panel commands of that environment are on PATH.

_toyflow_sudo() {
  if [ "$(id -u)" -ne 0 ]; then sudo "$@"; else "$@"; fi
}

toyflow_apt_install() {
  # toyflow_apt_install PACKAGE...: install Debian packages, updating the package lists once.
  if [ -z "${_TOYFLOW_APT_UPDATED:-}" ]; then
    _toyflow_sudo apt-get update -q
    _TOYFLOW_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive _toyflow_sudo apt-get install -y -q "$@"
}

toyflow_venv() {
  local base="${TOYFLOW_PYTHON:-python3}"
  local venv="${TOYFLOW_VENV:-.venv}"
  if ! command -v "$base" >/dev/null 2>&1; then
    echo "toyflow needs Python 3.11 or newer: install it (sudo apt-get install python3) and run this again." >&2
    return 1
  fi
  if ! "$base" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "toyflow needs Python 3.11 or newer; $base is $("$base" --version 2>&1)." >&2
    return 1
  fi
  if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
    if ! "$base" -c 'import ensurepip, venv' >/dev/null 2>&1; then
      echo "Installing Debian's python3-venv (PEP 668: toyflow installs into a virtual environment)..."
      toyflow_apt_install python3-venv
    fi
    rm -rf "$venv"
    "$base" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --upgrade pip
  fi
  # shellcheck disable=SC1091
  . "$venv/bin/activate"
}
