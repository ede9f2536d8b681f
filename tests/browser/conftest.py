"""Browser tests: Playwright drives Debian's chromium against a served explorer.

The app is served with ``panel serve`` in a subprocess on a free port. Chromium is launched from
``/usr/bin/chromium`` with flags that keep it off the (closed) network.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("TOYFLOW_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not Path(CHROMIUM).exists():
        # The browser tests are part of the suite: a missing browser is a failure, not a skip
        # (scripts/test.sh installs Debian's chromium).
        pytest.fail(
            f"no chromium at {CHROMIUM}: install Debian's chromium (apt-get install chromium) "
            "or point TOYFLOW_CHROMIUM at one"
        )
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1600, "height": 1000}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(tmp_dir: Path, *extra: str, env_extra: dict | None = None, timeout: float = 120.0):
    """Start ``panel serve app/explorer.py`` on a free port; returns (process, url)."""
    if shutil.which("panel") is None and not (Path(sys.executable).parent / "panel").exists():
        pytest.fail("the `panel` command is not installed (pip install -e .)")
    port = free_port()
    env = dict(
        os.environ, TOYFLOW_CACHE=str(tmp_dir / "cache"), TOYFLOW_WARMUP="0", PYTHONUNBUFFERED="1"
    )
    # Compiled programs may persist between test runs (the folder is git-ignored).
    env.setdefault("TOYFLOW_JAX_CACHE", str(ROOT / ".toyflow_cache" / "jax"))
    env.update(env_extra or {})
    panel = str(Path(sys.executable).parent / "panel")
    cmd = [
        panel if Path(panel).exists() else "panel",
        "serve",
        "app/explorer.py",
        "--port",
        str(port),
        "--address",
        "127.0.0.1",
        "--allow-websocket-origin",
        f"127.0.0.1:{port}",
        *extra,
    ]
    log = open(tmp_dir / f"serve-{port}.log", "w")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/explorer"
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"panel serve exited: {(tmp_dir / f'serve-{port}.log').read_text()[-2000:]}"
            )
        try:  # a static file: asking for the app itself would open a session
            with urllib.request.urlopen(
                f"http://127.0.0.1:{port}/static/js/bokeh.min.js", timeout=5
            ):
                break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        raise RuntimeError("panel serve did not start")
    return proc, url


def stop(proc) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def served_app(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("served")
    proc, url = serve(tmp)
    yield url
    stop(proc)
