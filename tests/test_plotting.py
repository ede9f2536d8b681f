"""Figures: every plotting function returns a matplotlib Figure; saving is atomic; the core does
not import matplotlib (or Panel)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import toyflow
from toyflow import plotting
from toyflow.fields import compare_fields, flow_field


@pytest.fixture(scope="module")
def data():
    return toyflow.make_dataset("circle", 10)


@pytest.fixture(scope="module")
def fields(data):
    opt = toyflow.OptimalDenoiser(data.train_x)
    model = toyflow.ErrorProneDenoiser(opt, 1.6)
    return compare_fields(model, opt, 2.8, resolution=12)


def _is_figure(fig):
    from matplotlib.figure import Figure

    return isinstance(fig, Figure)


def test_field_comparison_with_trajectories_and_samples(data, fields, tmp_path):
    model = toyflow.ErrorProneDenoiser(data.train_x, 1.6)
    samples, traj, _ = toyflow.sample(model, 30, steps=8, return_trajectory=True)
    mem = toyflow.metrics.memorized_mask(samples, data.train_x)
    fig = plotting.plot_field_comparison(
        fields.model,
        fields.reference,
        train_x=data.train_x,
        val_x=data.val_x,
        trajectories=np.asarray(traj),
        samples=np.asarray(samples),
        memorized=mem,
    )
    assert _is_figure(fig) and len(fig.axes) >= 4
    path = plotting.save_figure(fig, tmp_path / "field.png")
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_field_alone_and_grid(data, fields):
    assert _is_figure(plotting.plot_field_comparison(fields.model))
    fig = plotting.plot_field_grid(
        [[fields.model, fields.model], [fields.reference, fields.reference]],
        row_labels=["δ", "D*"],
        col_labels=["a", "b"],
        train_x=data.train_x,
        difference_row=[(fields.model, fields.reference)] * 2,
        title="t",
    )
    assert _is_figure(fig)


def test_gap_and_loss_curves():
    sigmas = np.geomspace(0.01, 80, 20)
    gaps = np.stack([np.exp(-(np.log(sigmas) ** 2)) * k for k in (0.1, 0.5)])
    fig = plotting.plot_gap_curves(
        sigmas, gaps, ["a", "b"], title="gap", summary=([1, 2], [0.1, 0.5], "x", "y")
    )
    assert _is_figure(fig)
    assert fig.axes[0].get_xscale() == "log"
    assert _is_figure(
        plotting.plot_loss_curves(
            np.abs(np.random.default_rng(0).normal(size=(2, 500))) + 0.1, ["m1", "m2"]
        )
    )
    assert _is_figure(plotting.plot_loss_curves(np.linspace(2, 1, 50)))


def test_ablation_grid_fields_and_samples(data, fields):
    rng = np.random.default_rng(0)
    cells = [
        [fields.model, rng.normal(size=(40, 2)) * 8],
        [rng.normal(size=(40, 2)), fields.reference],
    ]
    mem = [[None, rng.random(40) < 0.3], [rng.random(40) < 0.5, None]]
    fig = plotting.plot_ablation_grid(
        cells,
        row_labels=["w 16", "w 64"],
        col_labels=["step 10", "step 100"],
        train_x=data.train_x,
        memorized=mem,
        title="grid",
    )
    assert _is_figure(fig) and len(fig.axes) == 4


def test_samples_and_lines(data):
    rng = np.random.default_rng(1)
    s = rng.normal(size=(50, 2)) * 8
    assert _is_figure(plotting.plot_samples(s, data.train_x, data.val_x, rng.random(50) < 0.2))
    assert _is_figure(plotting.plot_lines([1, 2, 3], {"a": [1, 2, 3]}, xlabel="x", logx=True))


def test_save_figure_is_atomic_and_leaves_no_temporary_files(tmp_path, fields):
    fig = plotting.plot_field_comparison(fields.model, fields.reference)
    target = tmp_path / "sub" / "f.png"
    plotting.save_figure(fig, target)
    plotting.save_figure(fig, target)  # overwrite in place
    assert target.exists() and os.listdir(tmp_path / "sub") == ["f.png"]
    plotting.save_figure(fig, tmp_path / "f.svg")
    assert (tmp_path / "f.svg").read_text().lstrip().startswith("<?xml")


def test_core_import_does_not_load_matplotlib_or_panel():
    code = (
        "import sys, toyflow, toyflow.plotting, toyflow.experiments; "
        "bad = [m for m in ('matplotlib', 'panel') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_flow_field_values_reach_the_figure(data):
    f = flow_field(toyflow.OptimalDenoiser(data.train_x), 0.63, resolution=8)
    fig = plotting.plot_field_comparison(f, region=False)
    quiver = [c for c in fig.axes[0].collections if c.__class__.__name__ == "Quiver"]
    assert quiver and quiver[0].U.size == 64
