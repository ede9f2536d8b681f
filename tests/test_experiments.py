"""Every registered 2D experiment runs in quick mode and writes the JSON it documents.

The JSON is checked for content, not only existence: every documented array has its documented
shape and finite values, the headline is filled in, and for the paper's experiments the
qualitative claims hold (peak gap grows as δ shrinks and sits at an intermediate σ; more
training points shrink it; autoguidance raises it).
"""

from __future__ import annotations

import json
import os
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
    doc = EXPERIMENTS[name].fn.__doc__ or ""
    result = quick_result(name)
    missing = [k for k in result["arrays"] if k not in doc]
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
    mem = _arr(r, "memorized_fraction")
    assert np.all((mem >= 0) & (mem <= 1))


def test_flow_fields_optimal_localizes_and_delta_model_smooths(quick_result):
    r = quick_result("flow-fields")
    sig = _arr(r, "sigmas")
    assert sig == pytest.approx([27.84, 2.818, 0.6254], rel=1e-3)
    h = r["headline"]
    assert h["optimal_memorized_fraction"] > 0.9
    assert h["model_memorized_fraction"] < h["optimal_memorized_fraction"]
    # At large σ both fields agree; at small σ they differ by many σ.
    assert h["mean_difference_over_sigma"][0] < 0.05 < h["mean_difference_over_sigma"][-1]


def test_error_vs_angle_is_small_at_training_points(quick_result):
    r = quick_result("error-vs-angle")
    assert np.all(_arr(r, "error_at_val") > _arr(r, "error_at_train"))
    assert r["checks"]["contrast_grows_as_delta_shrinks"]


def test_fd_vs_delta_memorization_grows_as_delta_shrinks(quick_result):
    r = quick_result("fd-vs-delta")
    mem = _arr(r, "memorized_fraction")
    assert mem[-1] > mem[0]
    assert np.all(_arr(r, "fd_train") >= 0) and np.all(_arr(r, "fd_val") >= 0)


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
