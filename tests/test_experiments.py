"""Every registered 2D experiment runs in quick mode and writes the JSON it documents.

The JSON is checked for content, not only existence: every documented array has its documented
shape and finite values, the headline is filled in, and for the paper's experiments the
qualitative claims hold (peak gap grows as δ shrinks and sits at an intermediate σ; more
training points shrink it; autoguidance raises it).
"""

from __future__ import annotations

import json
import os
import re
import runpy
import sys

import numpy as np
import pytest

from toyflow.experiments import EXPERIMENTS, list_experiments, markdown_table, run_experiment

TWO_D = [name for name, exp in EXPERIMENTS.items() if exp.is_2d]
PAPER = [name for name, exp in EXPERIMENTS.items() if exp.paper]
IMAGE_EXPERIMENTS = [name for name, exp in EXPERIMENTS.items() if exp.family == "images"]
EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")

_CACHE: dict[str, dict] = {}


@pytest.fixture(scope="module")
def outdir(tmp_path_factory):
    return tmp_path_factory.mktemp("experiments")


def _strict_load(path):
    def no_constants(name):
        raise AssertionError(f"{path} holds the non-JSON constant {name}")

    with open(path) as f:
        return json.load(f, parse_constant=no_constants)


@pytest.fixture(scope="module")
def quick_result(outdir):
    """Run an experiment once per module in quick mode; return its JSON as written."""

    def get(name: str) -> dict:
        if name not in _CACHE:
            returned = run_experiment(name, quick=True, outdir=outdir)
            loaded = _strict_load(outdir / f"{name}.json")
            loaded["_returned"] = returned
            _CACHE[name] = loaded
        return _CACHE[name]

    return get


def _doc(name: str) -> str:
    """An experiment's documentation: its function's docstring and its module's."""
    fn = EXPERIMENTS[name].fn
    return " ".join(((fn.__doc__ or "") + " " + (sys.modules[fn.__module__].__doc__ or "")).split())


def _arr(result, key):
    return np.asarray(result["arrays"][key], dtype=float)


def test_registry_lists_the_issue_experiments():
    paper = {
        "gap-vs-delta",
        "gap-vs-guidance",
        "gap-vs-density",
        "flow-fields",
        "error-vs-angle",
        "fd-vs-delta",
    }
    learned = {
        "width-sweep",
        "training-time",
        "dataset-size",
        "condition-granularity",
        "guidance-scale",
        "noise-schedule",
        "trajectory-overlap",
    }
    assert paper == set(PAPER)
    assert learned <= {e.name for e in list_experiments("learned")}
    for name, exp in EXPERIMENTS.items():
        assert exp.name == name and exp.description
        assert exp.family in ("paper", "learned", "images")


def test_every_family_is_registered_in_one_place_and_images_never_import_experiments():
    import subprocess

    assert {e.family for e in EXPERIMENTS.values()} == {"paper", "learned", "images"}
    assert set(IMAGE_EXPERIMENTS) <= set(EXPERIMENTS)
    # The dependency runs one way: toyflow.images is importable without toyflow.experiments.
    code = "import sys, toyflow.images; print('toyflow.experiments' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_settings_are_frozen_validated_and_have_a_quick_variant():
    import dataclasses

    for name, exp in EXPERIMENTS.items():
        full, quick = exp.settings(), exp.settings.quick()
        assert dataclasses.is_dataclass(full) and type(quick) is exp.settings, name
        assert full != quick, f"{name}: quick() changes nothing"
        with pytest.raises(dataclasses.FrozenInstanceError):
            full.seed = 1  # type: ignore[misc]
    GapVsDelta = EXPERIMENTS["gap-vs-delta"].settings
    for bad in (dict(n_noise=0), dict(n_noise=2.5), dict(delta_min=3.0), dict(seed=-1)):
        with pytest.raises(ValueError):
            GapVsDelta(**bad)
    with pytest.raises(ValueError, match="valid names"):
        EXPERIMENTS["width-sweep"].settings(data="no-such-data")
    assert GapVsDelta.parse("n_noise", "7") == 7
    assert EXPERIMENTS["error-vs-angle"].settings.parse("deltas", "2,1.5") == (2.0, 1.5)


def test_unknown_experiment_and_setting_raise_value_error():
    with pytest.raises(ValueError, match="valid names"):
        run_experiment("no-such-experiment")
    with pytest.raises(ValueError, match="unknown setting"):
        run_experiment("gap-vs-delta", quick=True, not_a_setting=3)


@pytest.mark.parametrize("name", TWO_D)
def test_docstring_documents_every_array(name, quick_result):
    doc = _doc(name)
    result = quick_result(name)
    # NAME_se / NAME_se_draws count as documented where the docstring defines that convention.
    base = lambda k: re.sub(r"_se(_draws)?$", "", k) if "NAME_se" in doc else k
    missing = [k for k in result["arrays"] if base(k) not in doc]
    assert not missing, f"{name}: arrays not documented in the docstring: {missing}"


@pytest.mark.parametrize("name", TWO_D)
def test_quick_run_writes_finite_arrays_of_documented_shapes(name, quick_result, outdir):
    result = quick_result(name)
    assert result["name"] == name and result["quick"] is True
    assert result["paper"] == EXPERIMENTS[name].paper
    assert isinstance(result["config"], dict) and result["config"]
    assert result["headline"], "headline numbers are missing"
    assert set(result["shapes"]) == set(result["arrays"])
    for key, spec in result["shapes"].items():
        want = tuple(result["dims"][d] if isinstance(d, str) else d for d in spec)
        values = _arr(result, key)
        assert values.shape == want, f"{key}: shape {values.shape}, documented {spec} = {want}"
        assert values.size > 0, key
        if "NaN marks a value that is undefined" in _doc(name):  # documented gaps only
            assert not np.any(np.isinf(values)), key
        else:
            assert np.all(np.isfinite(values)), f"{key} has non-finite values"
    assert all(isinstance(v, bool) for v in result["checks"].values())
    png = outdir / f"{name}.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in os.listdir(outdir) if p.startswith(".tmp-")], (
        "temporary files left behind"
    )


def test_gap_vs_delta_peak_grows_as_delta_shrinks_at_intermediate_sigma(quick_result):
    r = quick_result("gap-vs-delta")
    deltas, sigmas, gap = _arr(r, "deltas"), _arr(r, "sigmas"), _arr(r, "gap")
    assert np.all(np.diff(deltas) < 0)  # from 2.2 down to 1.2
    peaks = gap.max(axis=1)
    assert np.all(np.diff(peaks) > 0)
    assert peaks[-1] > 5 * peaks[0]  # steep rise
    idx = gap.argmax(axis=1)
    assert np.all((idx > 0) & (idx < len(sigmas) - 1))
    assert np.all((sigmas[idx] > 0.1) & (sigmas[idx] < 10))
    # Far from the peak the gap is only Monte-Carlo noise (a few % with quick's 10 noise draws).
    assert np.all(np.abs(gap[:, 0]) < 0.1) and np.all(np.abs(gap[:, -1]) < 0.1)
    assert peaks[-1] > 5 * max(np.abs(gap[:, 0]).max(), np.abs(gap[:, -1]).max())
    assert (
        r["checks"]["peak_gap_grows_as_delta_shrinks"] and r["checks"]["peak_at_intermediate_sigma"]
    )


def test_gap_vs_density_more_points_shrink_the_gap(quick_result):
    r = quick_result("gap-vs-density")
    n, peaks = _arr(r, "n_train"), _arr(r, "peak_gap")
    assert np.all(np.diff(n) > 0) and np.all(np.diff(peaks) < 0)
    idx = _arr(r, "gap").argmax(axis=1)
    assert np.all((idx > 0) & (idx < len(_arr(r, "sigmas")) - 1))


def test_gap_vs_guidance_autoguidance_raises_the_gap(quick_result):
    r = quick_result("gap-vs-guidance")
    ws, peaks = _arr(r, "ws"), _arr(r, "peak_gap")
    assert ws[0] == 0 and ws[-1] == pytest.approx(2.0)
    assert np.all(np.diff(peaks) > 0)
    # Guidance sharpens the field like a smaller δ: more samples land on training points, and the
    # gap keeps peaking at an intermediate σ.
    mem = _arr(r, "memorized_fraction")
    assert np.all((mem >= 0) & (mem <= 1))
    assert mem[-1] > mem[0] + 0.05 and np.corrcoef(ws, mem)[0, 1] > 0.8
    sigmas, peak_sigma = _arr(r, "sigmas"), _arr(r, "peak_sigma")
    assert np.all((peak_sigma > sigmas.min()) & (peak_sigma < sigmas.max()))


def test_flow_fields_optimal_localizes_and_delta_model_smooths(quick_result):
    r = quick_result("flow-fields")
    sig = _arr(r, "sigmas")
    assert sig == pytest.approx([27.84, 2.818, 0.6254], rel=1e-3)
    h = r["headline"]
    train = _arr(r, "train_x")

    def memorized(x):  # nearest training point closer than 1/3 of the second-nearest
        d = np.sort(np.linalg.norm(x[:, None] - train[None], axis=-1), axis=1)
        return float(np.mean(d[:, 0] < d[:, 1] / 3))

    # Claim 1, recomputed from the written samples: the optimal denoiser memorizes, δ does less.
    opt_mem, model_mem = memorized(_arr(r, "optimal_samples")), memorized(_arr(r, "model_samples"))
    assert opt_mem == pytest.approx(h["optimal_memorized_fraction"]) and opt_mem > 0.9
    assert model_mem == pytest.approx(h["model_memorized_fraction"]) and model_mem < opt_mem
    # The optimal field localizes as σ shrinks: at σ ≈ 28 it points at the mean of the data, at
    # σ ≈ 0.63 at the nearest training point for most of the grid; where ‖D* − x‖ ≤ σ shrinks.
    gx, gy = np.meshgrid(_arr(r, "grid_x"), _arr(r, "grid_y"))
    grid = np.stack([gx, gy], axis=-1)
    target = grid + _arr(r, "optimal_displacement")
    assert np.max(np.linalg.norm(target[0] - train.mean(axis=0), axis=-1)) < 0.1 * sig[0]
    nearest = train[np.argmin(np.linalg.norm(grid[..., None, :] - train, axis=-1), axis=-1)]
    assert np.median(np.linalg.norm(target[-1] - nearest, axis=-1)) < 0.05
    region = _arr(r, "optimal_region").mean(axis=(1, 2))
    assert region[0] == 1.0 and np.all(np.diff(region) < 0) and region[-1] < 0.05
    # The δ model stays close to the identity at σ ≪ δ, so its region does not collapse.
    assert _arr(r, "model_region").mean(axis=(1, 2))[-1] > 10 * region[-1]
    # At large σ both fields agree; at small σ they differ by many σ.
    diff = _arr(r, "difference_norm").mean(axis=(1, 2)) / sig
    assert diff == pytest.approx(h["mean_difference_over_sigma"])
    assert diff[0] < 0.05 < 1 < diff[-1]


def test_error_vs_angle_is_small_at_training_points(quick_result):
    r = quick_result("error-vs-angle")
    e_train, e_val, deltas = _arr(r, "error_at_train"), _arr(r, "error_at_val"), _arr(r, "deltas")
    assert np.all(e_val > e_train)
    # The contrast between and at training points grows as δ shrinks (computed from the arrays).
    contrast = (e_val / e_train)[np.argsort(-deltas)]
    assert np.all(np.diff(contrast) > 0)
    # At the smallest δ every training angle is a dip: the error there is below the error at
    # every validation angle (between training points).
    angles, error = _arr(r, "angles"), _arr(r, "error")[np.argmin(deltas)]
    at = lambda a: np.interp(a, angles, error, period=2 * np.pi)
    assert at(_arr(r, "train_angles")).max() < at(_arr(r, "val_angles")).min()
    # The optimal denoiser returns the training point itself: its error there is a small part of σ.
    h, opt = r["headline"], _arr(r, "optimal_error")
    assert (
        np.interp(_arr(r, "train_angles"), angles, opt, period=2 * np.pi).max() < 0.5 * h["sigma"]
    )
    assert h["optimal_error_between_train_angles"] > 5 * h["optimal_error_at_train_angles"]


def test_fd_vs_delta_memorization_grows_as_delta_shrinks(quick_result):
    r = quick_result("fd-vs-delta")
    mem = _arr(r, "memorized_fraction")
    assert mem[-1] > mem[0]
    fd_train, fd_val, h = _arr(r, "fd_train"), _arr(r, "fd_val"), r["headline"]
    assert np.all(fd_train >= 0) and np.all(fd_val >= 0)
    # As δ shrinks the samples move towards the training set and away from validation: the
    # relative overfit (FD_val − FD_train)/FD_train grows and approaches the optimal denoiser's.
    assert np.all(np.diff(_arr(r, "relative_overfit")) > 0)
    assert fd_train[-1] < fd_train[0] and np.all(fd_train < fd_val)
    assert fd_train[-1] == pytest.approx(h["optimal_fd_train"], rel=0.1)
    assert mem[-1] < h["optimal_memorized_fraction"]


@pytest.mark.parametrize("name", [n for n in TWO_D if not EXPERIMENTS[n].paper])
def test_learned_experiments_report_baselines_and_ranges(name, quick_result):
    r = quick_result(name)
    for key in ("memorized_fraction", "memorized_cfg", "memorized_auto"):
        if key in r["arrays"]:
            v = _arr(r, key)
            assert np.all((v >= 0) & (v <= 1)), key
    if "sigmas" in r["arrays"]:
        s = _arr(r, "sigmas")
        assert np.all(s > 0)


def test_returned_result_matches_the_json(quick_result):
    r = quick_result("gap-vs-delta")
    returned = r["_returned"]
    np.testing.assert_allclose(np.asarray(returned["arrays"]["gap"]), _arr(r, "gap"), rtol=1e-6)
    assert returned["files"]["json"].endswith("gap-vs-delta.json")


def test_progress_is_reported():
    calls = []
    run_experiment("gap-vs-density", quick=True, progress=lambda d, t, m: calls.append((d, t, m)))
    assert calls and calls[-1][0] == calls[-1][1]
    assert all(0 <= d <= t for d, t, _ in calls)


def test_example_scripts_and_readme_table_follow_the_registry():
    scripts = sorted(
        f for f in os.listdir(EXAMPLES) if f.endswith(".py") and f != "run_experiment.py"
    )
    names = {f[:-3].replace("_", "-") for f in scripts}
    assert set(EXPERIMENTS) == names, f"examples and registry differ: {set(EXPERIMENTS) ^ names}"
    for f in scripts:
        name = f[:-3].replace("_", "-")
        text = open(os.path.join(EXAMPLES, f)).read()
        assert f'"{name}"' in text
        assert EXPERIMENTS[name].description[1:] in text, f"{f}: description differs from registry"
    table = markdown_table()
    readme = open(os.path.join(os.path.dirname(EXAMPLES), "README.md")).read()
    for name, exp in EXPERIMENTS.items():
        assert f"| `{name}` | {exp.family} | {exp.description} |" in table
    assert table in readme, "README's experiment table is not toyflow.experiments.markdown_table()"


def test_example_script_runs_end_to_end(tmp_path, monkeypatch, capsys):
    script = os.path.join(EXAMPLES, "gap_vs_density.py")
    monkeypatch.setattr(sys, "argv", [script, "--outdir", str(tmp_path), "--quick", "--quiet"])
    with pytest.raises(SystemExit) as exc:
        runpy.run_path(script, run_name="__main__")
    assert exc.value.code == 0
    assert (tmp_path / "gap-vs-density.json").exists() and (
        tmp_path / "gap-vs-density.png"
    ).exists()
    assert "peak_gap_at_fewest_points" in capsys.readouterr().out


@pytest.mark.parametrize("name", PAPER)
def test_paper_experiments_carry_standard_errors(name, quick_result):
    """Every curve of the paper experiments has a ``_se`` companion of its shape (finite, ≥ 0),
    and the headline's numbers theirs."""
    r = quick_result(name)
    arrays = r["arrays"]
    curves = {
        k
        for k in (
            "gap",
            "e_train",
            "e_val",
            "peak_gap",
            "memorized_fraction",
            "error",
            "optimal_error",
            "fd_train",
            "fd_val",
            "relative_overfit",
        )
        if k in arrays
    }
    assert curves or name == "flow-fields"
    for key in curves:
        se = _arr(r, key + "_se")
        assert se.shape == _arr(r, key).shape, key
        assert np.all(np.isfinite(se)) and np.all(se >= 0), key
    if "gap_se" in arrays:  # noise draws: a gap that is not all zero has a positive error
        assert np.all(_arr(r, "gap_se")[:, len(_arr(r, "sigmas")) // 2] > 0)
    numbers = [k for k, v in r["headline"].items() if isinstance(v, float) and "sigma" not in k]
    with_se = [k for k in numbers if not k.endswith("_se") and k + "_se" in r["headline"]]
    assert with_se or name == "error-vs-angle", f"{name}: no headline standard errors"


def test_draws_sets_the_number_of_draws_and_the_errors_shrink_like_one_over_root_n(tmp_path):
    from toyflow.cli import main

    small = run_experiment("gap-vs-delta", quick=True, n_delta=2, draws=10)
    big = run_experiment("gap-vs-delta", quick=True, n_delta=2, draws=160)
    assert small["config"]["n_noise"] == 10 and big["config"]["n_noise"] == 160
    ratio = np.median(_arr(small, "gap_se")[:, 5:-5] / _arr(big, "gap_se")[:, 5:-5])
    assert ratio == pytest.approx(4.0, rel=0.35)  # √(160 / 10)
    Settings = EXPERIMENTS["gap-vs-delta"].settings
    assert Settings.parse("draws", "7") == 7 and Settings().replace(draws=7).n_noise == 7
    with pytest.raises(ValueError, match="not both"):
        Settings().replace(draws=7, n_noise=8)
    assert EXPERIMENTS["fd-vs-delta"].settings().replace(draws=300).n_samples == 300
    with pytest.raises(ValueError, match="unknown setting"):
        EXPERIMENTS["width-sweep"].settings().replace(draws=3)
    # the command line: --draws N (and --set draws=N) set it; an experiment without draws says so
    cmd = ["experiment", "error-vs-angle", "--quick", "--quiet", "--outdir", str(tmp_path)]
    assert main([*cmd, "--draws", "6"]) == 0
    assert json.loads((tmp_path / "error-vs-angle.json").read_text())["config"]["n_noise"] == 6
    assert main([*cmd, "--set", "draws=7"]) == 0
    assert json.loads((tmp_path / "error-vs-angle.json").read_text())["config"]["n_noise"] == 7
    assert main([*cmd, "--set", "draws=7", "--draws", "6"]) == 2
    assert main(["experiment", "width-sweep", "--quick", "--draws", "6", "--quiet"]) == 2
