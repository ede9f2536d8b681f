"""The Python-API examples in examples/api run end to end on tiny settings."""

from __future__ import annotations

import csv
import importlib.util
import json
import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
API = ROOT / "examples" / "api"


def _run(script: str, *args: str):
    """Run an example's ``main`` in this process (shares compiled code with the other tests)."""
    spec = importlib.util.spec_from_file_location(f"example_{Path(script).stem}", API / script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(["--tiny", *args])


def test_width_seed_sweep_writes_table_and_figure(tmp_path):
    _run("width_seed_sweep.py", "--outdir", str(tmp_path))
    with open(tmp_path / "sweep.csv") as f:
        rows = list(csv.DictReader(f))
    assert {(r["width"], r["seed"]) for r in rows} == {
        ("16", "0"),
        ("16", "1"),
        ("32", "0"),
        ("32", "1"),
    }
    assert all(0.0 <= float(r["memorized"]) <= 1.0 for r in rows)
    assert (tmp_path / "sweep.png").stat().st_size > 10_000
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["models"] == 4 and 0.0 <= summary["baseline_memorized"] <= 1.0


def test_custom_denoisers_compare_with_optimal(tmp_path):
    _run("custom_denoiser.py", "--outdir", str(tmp_path))
    report = json.loads((tmp_path / "custom_denoiser.json").read_text())
    # D* and the nearest-point denoiser land on training points; the Wiener one knows only two
    # moments of the data and memorizes almost nothing.
    assert report["optimal D*"]["memorized"] == 1.0
    assert report["nearest point (NumPy, eager)"]["memorized"] == 1.0
    assert report["Wiener (user code, jit)"]["memorized"] < 0.2
    assert report["optimal D*"]["mean_field_difference_vs_optimal"] == 0.0
    assert report["Wiener (user code, jit)"]["mean_field_difference_vs_optimal"] > 0.1


def test_trajectory_analysis(tmp_path):
    _run("trajectory_analysis.py", "--outdir", str(tmp_path))
    report = json.loads((tmp_path / "trajectory_analysis.json").read_text())
    assert report["peak_gap_sigma"] > 0 and 0.0 <= report["memorized"] <= 1.0
    assert (tmp_path / "trajectory_analysis.png").exists()


def test_walkthrough_builds_the_inline_explorer(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["walkthrough.py", "--tiny"])
    namespace = runpy.run_path(str(API / "walkthrough.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "D* memorized: 1.0" in out
    assert "learned memorized:" in out
    assert namespace["app"] is not None
