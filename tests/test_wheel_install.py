"""The explorer ships in the wheel: built, installed into a fresh virtual environment and run from
another folder, ``toyflow.explore()`` renders its page without a server and without a checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

RUN = textwrap.dedent(
    """
    import os, sys
    import toyflow
    assert "panel" not in sys.modules and "bokeh" not in sys.modules, "import toyflow loaded Panel"
    app = toyflow.explore(
        kind="error-prone", delta=1.2, show_curves=False, n_samples=20, sample_steps=6,
        resolution=8,
    )
    from bokeh.document import Document
    root = app.__panel__().get_root(Document())
    import toyflow.app
    assert os.path.exists(toyflow.app.APP_FILE)
    assert app.state.error == "", app.state.error
    assert app.stacks.view.stack.model.shape == (6, 8, 8, 2)  # the σ views: 6 frames, 8 × 8 arrows
    print("TOYFLOW", toyflow.__file__)
    print("APP", toyflow.app.APP_FILE)
    print("ROOT", type(root).__name__)
    """
)


@pytest.mark.slow
def test_wheel_installed_explore_runs_from_another_folder(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    # Build from a copy: an in-tree build would leave build/ and *.egg-info in the checkout.
    shutil.copytree(ROOT / "toyflow", src / "toyflow", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(src)],
        check=True,
        timeout=300,
    )
    (wheel,) = wheels.glob("toyflow-*.whl")
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
        check=True,
        timeout=120,
    )
    py = venv / "bin" / "python"
    site = subprocess.run(
        [py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # The dependencies come from this environment's site-packages, added as a plain path: its
    # .pth files (among them this checkout's editable install) are not run.
    Path(site, "toyflow-test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(py),
            "install",
            "--no-deps",
            "-q",
            str(wheel),
        ],
        check=True,
        timeout=300,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(TOYFLOW_CACHE=str(tmp_path / "cache"), TOYFLOW_WARMUP="0")
    run = subprocess.run(
        [py, "-c", RUN], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    lines = dict(line.split(" ", 1) for line in out.splitlines() if " " in line)
    installed = Path(lines["TOYFLOW"]).resolve()
    assert Path(site).resolve() in installed.parents, installed  # the wheel, not the checkout
    assert ROOT not in installed.parents
    assert Path(lines["APP"]).resolve().parent == installed.parent / "app"
