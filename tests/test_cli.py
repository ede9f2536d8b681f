"""The ``toyflow`` command line end to end on tiny settings, and its handling of bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from toyflow.cli import build_parser, main

TINY_TRAIN = [
    "--steps",
    "60",
    "--width",
    "16",
    "--depth",
    "2",
    "--batch-size",
    "64",
    "--n-sigma",
    "8",
    "--n-noise",
    "2",
    "--n-samples",
    "64",
    "--sample-steps",
    "8",
    "--snapshots",
    "2",
    "--quiet",
]


def _json(path):
    with open(path) as f:
        return json.load(f, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("train")
    assert (
        main(["train", "--data", "circle", "--n-train", "10", "--outdir", str(out), *TINY_TRAIN])
        == 0
    )
    return out


def test_train_writes_model_metrics_and_figures(trained):
    for name in ("model.msgpack", "metrics.json", "loss.png", "field.png"):
        assert (trained / name).exists(), name
    m = _json(trained / "metrics.json")
    assert m["losses"]["steps"] == 60 and np.isfinite(m["losses"]["last_tenth_mean"])
    assert len(m["gap"]["sigmas"]) == 8 and len(m["gap"]["gap"]) == 8
    assert 0 <= m["memorized_fraction"] <= 1
    assert set(m["frechet"]) == {"fd_train", "fd_val", "relative_overfit"}
    assert m["data"]["name"] == "circle" and m["model"]["architecture"]["width"] == 16


def test_train_conditional_kmeans(tmp_path):
    rc = main(
        [
            "train",
            "--data",
            "gaussian_mixture",
            "--n-train",
            "32",
            "--labels",
            "kmeans",
            "--k",
            "4",
            "--outdir",
            str(tmp_path),
            *TINY_TRAIN,
        ]
    )
    assert rc == 0
    m = _json(tmp_path / "metrics.json")
    assert m["model"]["architecture"]["num_classes"] == 4


def test_sample_from_trained_model_uses_its_data(trained, tmp_path):
    rc = main(
        [
            "sample",
            "--model",
            str(trained / "model.msgpack"),
            "--n",
            "50",
            "--steps",
            "8",
            "--outdir",
            str(tmp_path),
            "--quiet",
        ]
    )
    assert rc == 0
    s = _json(tmp_path / "samples.json")
    assert np.asarray(s["samples"]).shape == (50, 2)
    assert s["data"]["name"] == "circle" and s["data"]["n_train"] == 10
    assert (tmp_path / "samples.png").exists()


@pytest.mark.parametrize("solver", ["euler", "heun"])
def test_sample_analytic_denoisers(tmp_path, solver):
    rc = main(
        [
            "sample",
            "--denoiser",
            "error-prone",
            "--delta",
            "1.6",
            "--n",
            "40",
            "--steps",
            "10",
            "--solver",
            solver,
            "--outdir",
            str(tmp_path),
            "--quiet",
        ]
    )
    assert rc == 0
    s = _json(tmp_path / "samples.json")
    assert np.all(np.isfinite(np.asarray(s["samples"], float)))
    assert 0 <= s["memorized_fraction"] <= 1


def test_field_several_sigmas(tmp_path, capsys):
    rc = main(
        [
            "field",
            "--denoiser",
            "optimal",
            "--sigma",
            "28",
            "2.8",
            "0.63",
            "--resolution",
            "12",
            "--outdir",
            str(tmp_path),
        ]
    )
    assert rc == 0
    f = _json(tmp_path / "field.json")
    assert [round(x["sigma"], 2) for x in f["fields"]] == [28.0, 2.8, 0.63]
    assert np.asarray(f["fields"][0]["displacement"]).shape == (12, 12, 2)
    # The optimal denoiser compared with itself: no difference.
    assert max(x["mean_difference_over_sigma"] for x in f["fields"]) == 0
    assert (tmp_path / "field.png").exists()
    assert "σ = 2.8" in capsys.readouterr().out


def test_field_of_a_trained_model(trained, tmp_path):
    assert (
        main(
            [
                "field",
                "--model",
                str(trained / "model.msgpack"),
                "--sigma",
                "1",
                "--resolution",
                "10",
                "--outdir",
                str(tmp_path),
            ]
        )
        == 0
    )
    assert (tmp_path / "field.png").exists()


def test_experiment_list_names_everything(capsys):
    from toyflow.experiments import EXPERIMENTS

    assert main(["experiment", "--list"]) == 0
    out = capsys.readouterr().out
    for name in EXPERIMENTS:
        assert name in out


def test_experiment_quick_writes_json_and_png(tmp_path, capsys):
    assert (
        main(["experiment", "error-vs-angle", "--quick", "--outdir", str(tmp_path), "--quiet"]) == 0
    )
    r = _json(tmp_path / "error-vs-angle.json")
    assert r["name"] == "error-vs-angle" and r["quick"] is True
    assert (tmp_path / "error-vs-angle.png").exists()
    assert "contrast_val_over_train" in capsys.readouterr().out


def test_choices_read_the_registries():
    from toyflow.datasets import DATASETS
    from toyflow.labels import GRANULARITIES
    from toyflow.sampling import SOLVERS
    from toyflow.schedules import SCHEDULES

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices
    opts = {a.dest: a for a in sub["train"]._actions}
    assert list(opts["data"].choices) == list(DATASETS)
    assert list(opts["schedule"].choices) == list(SCHEDULES)
    assert list(opts["labels"].choices) == list(GRANULARITIES)
    assert list({a.dest: a for a in sub["sample"]._actions}["solver"].choices) == list(SOLVERS)


BAD = [
    (["train", "--data", "nope"], "invalid choice"),
    (["train", "--steps", "0"], ">= 1"),
    (["train", "--lr", "abc"], "expected a number"),
    (["train", "--labels", "kmeans", "--steps", "5"], "needs k"),
    (["train", "--n-train", "4", "--n-val", "9", "--steps", "5"], "n_val"),
    (["train", "--k", "3", "--steps", "5"], "--k applies"),
    (["sample", "--denoiser", "error-prone"], "--delta"),
    (["sample", "--model", "/no/such/model.msgpack"], "does not exist"),
    (["sample", "--denoiser", "optimal", "--label", "1", "--n", "4"], "labels"),
    (["field", "--sigma", "-1"], "> 0"),
    (["field", "--sigma", "nan"], "finite"),
    (["experiment", "nope"], "invalid choice"),
    (["experiment"], "name an experiment"),
    (["experiment", "gap-vs-delta", "--list"], "--list takes no"),
    (["experiment", "gap-vs-delta", "--all"], "not both"),
]


@pytest.mark.parametrize("argv, message", BAD)
def test_bad_input_exits_2_with_one_line(argv, message, tmp_path, capsys):
    rc = main([*argv, "--outdir", str(tmp_path / "out")])
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert message in err
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err


def test_not_a_model_file(tmp_path, capsys):
    bogus = tmp_path / "bogus.msgpack"
    bogus.write_bytes(b"not msgpack at all")
    assert main(["sample", "--model", str(bogus), "--outdir", str(tmp_path / "o")]) == 2
    assert "not a toyflow model file" in capsys.readouterr().err


def test_outdir_that_is_a_file(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    assert main(["field", "--denoiser", "optimal", "--outdir", str(f), "--resolution", "4"]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_help_exits_zero(capsys):
    assert main(["train", "--help"]) == 0
    assert "--batch-size" in capsys.readouterr().out


def test_experiment_all_runs_every_2d_experiment_and_writes_a_summary(
    tmp_path, monkeypatch, capsys
):
    import toyflow.experiments as ex

    # Two cheap paper experiments stand in for the registry (the quick runs of every experiment
    # are tested in test_experiments.py); one image entry must be skipped by --all.
    subset = {n: ex.EXPERIMENTS[n] for n in ("error-vs-angle", "gap-vs-delta")}
    subset["image-dummy"] = ex.Experiment(
        "image-dummy", "not 2D", lambda **k: pytest.fail("ran"), "images", ex.Settings, "-"
    )
    monkeypatch.setattr(ex, "EXPERIMENTS", subset)
    assert main(["experiment", "--all", "--quick", "--outdir", str(tmp_path), "--quiet"]) == 0
    summary = _json(tmp_path / "summary.json")
    assert summary["quick"] is True and set(summary["experiments"]) == {
        "error-vs-angle",
        "gap-vs-delta",
    }
    assert summary["total_wall_time"] > 0
    assert (tmp_path / "gap-vs-delta.png").exists()
    assert "all 2 2D experiments" in capsys.readouterr().out


def test_experiment_set_changes_a_setting_typed_from_the_registry(tmp_path, capsys):
    out = ["--outdir", str(tmp_path), "--quiet", "--quick"]
    args = ["experiment", "error-vs-angle", "--set", "deltas=2,1.4", "--set", "n_angles=24"]
    assert main([*args, *out]) == 0
    config = _json(tmp_path / "error-vs-angle.json")["config"]
    assert config["deltas"] == [2.0, 1.4] and config["n_angles"] == 24
    assert main(["experiment", "error-vs-angle", "--set", "n_angles=0", *out]) == 2
    assert "n_angles must be in" in capsys.readouterr().err
    assert main(["experiment", "error-vs-angle", "--set", "nope=1", *out]) == 2
    assert "unknown setting" in capsys.readouterr().err
    assert main(["experiment", "--all", "--set", "seed=1", *out]) == 2
