"""The command line under bad input (issue 15, item 7): sizes are bounded and every argument is
checked before any work starts; damaged or hand-made model files, NaN weights and impossible
output folders end in one line and exit code 2; each subcommand's help says that outputs are
replaced. Everything runs in-process and trains nothing."""

from __future__ import annotations

import time

import jax
import numpy as np
import pytest
from flax import serialization

from toyflow.cli import main
from toyflow.nets import MLPConfig
from toyflow.training import TrainResult, load_result


def _model_file(path, *, width=8, depth=2, scale=None):
    """A model file written the way `toyflow train` writes one, without training."""
    cfg = MLPConfig(width=width, depth=depth)
    params = cfg.init(jax.random.PRNGKey(0))
    if scale is not None:
        params = jax.tree_util.tree_map(lambda a: a * scale, params)
    den = cfg.make_denoiser(params, 0.5, step=3)
    TrainResult(
        denoiser=den,
        losses=np.ones(3, np.float32),
        snapshots=[den],
        snapshot_steps=[3],
        settings={"data": {"name": "circle", "n_train": 10, "n_val": 10, "seed": 0}},
        sigma_data=0.5,
        steps_done=3,
    ).save(path)
    return path


def _payload(path):
    with open(path, "rb") as f:
        return serialization.msgpack_restore(f.read())


def _write(path, payload):
    with open(path, "wb") as f:
        f.write(serialization.msgpack_serialize(payload))
    return path


def _one_line_error(capsys, prog):
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"toyflow {prog}: error:"), err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--n-sigma", "1000000"], "--n-sigma"),
        (["--sample-steps", "100000"], "--sample-steps"),
        (["--n-samples", "100000000"], "--n-samples"),
        (["--n-noise", "1000000000"], "--n-noise"),
        (["--width", "100000"], "--width"),
        (["--steps", "9" * 5000], "--steps"),
        (["--n-sigma", "1000", "--n-noise", "100000"], "gap curve"),
        (["--k", "3"], "--k applies"),
    ],
)
def test_train_checks_every_argument_before_any_work(extra, needle, tmp_path, capsys):
    out = tmp_path / "out"
    t0 = time.perf_counter()
    code = main(["train", "--steps", "5", "--quiet", "--outdir", str(out), *extra])
    assert code == 2
    assert needle in _one_line_error(capsys, "train")
    assert not out.exists()  # nothing started: not even the output folder
    assert time.perf_counter() - t0 < 20  # no training, no gap curve


@pytest.mark.parametrize(
    "argv",
    [
        ["sample", "--n", "100000000"],
        ["sample", "--steps", "100000"],
        ["field", "--resolution", "100000"],
        ["field", "--sigma", *["1"] * 65],
        ["field", "--sigma", "1e300"],
    ],
)
def test_sample_and_field_bound_their_sizes(argv, tmp_path, capsys):
    out = tmp_path / "out"
    assert main([*argv, "--quiet", "--outdir", str(out)]) == 2
    _one_line_error(capsys, argv[0])
    assert not out.exists()


def _damaged(tmp_path, how):
    good = _model_file(tmp_path / "good.msgpack")
    raw = good.read_bytes()
    p = _payload(good)
    bad = tmp_path / f"{how}.msgpack"
    if how == "truncated":
        bad.write_bytes(raw[: len(raw) // 2])
    elif how == "random-bytes":
        bad.write_bytes(np.random.default_rng(0).bytes(500))
    elif how == "empty":
        bad.write_bytes(b"")
    elif how == "no-final":
        del p["final"]
        _write(bad, p)
    elif how == "no-kind":
        del p["kind"]
        _write(bad, p)
    elif how == "wrong-shape":
        k = p["final"]["params"]["in_x"]["kernel"]
        p["final"]["params"]["in_x"]["kernel"] = np.zeros((k.shape[0], k.shape[1] + 1), k.dtype)
        _write(bad, p)
    elif how == "wrong-layer":
        p["final"]["params"]["extra"] = p["final"]["params"].pop("hidden_0")
        _write(bad, p)
    elif how == "config-not-a-dict":
        p["config"] = "[1, 2]"
        _write(bad, p)
    elif how == "config-unknown-key":
        p["config"] = '{"widht": 8}'
        _write(bad, p)
    elif how == "config-bad-width":
        p["config"] = '{"width": "eight"}'
        _write(bad, p)
    elif how == "settings-a-number":
        p["settings"] = 7
        _write(bad, p)
    elif how == "params-a-string":
        p["final"] = "weights"
        _write(bad, p)
    elif how == "snapshot-missing":
        p["snapshots"] = {}
        _write(bad, p)
    elif how == "nan-weights":
        p["final"]["params"]["out"]["kernel"] = np.full_like(
            p["final"]["params"]["out"]["kernel"], np.nan
        )
        _write(bad, p)
    elif how == "inf-sigma-data":
        p["sigma_data"] = float("inf")
        _write(bad, p)
    else:  # pragma: no cover
        raise AssertionError(how)
    return bad


DAMAGES = [
    "truncated",
    "random-bytes",
    "empty",
    "no-final",
    "no-kind",
    "wrong-shape",
    "wrong-layer",
    "config-not-a-dict",
    "config-unknown-key",
    "config-bad-width",
    "settings-a-number",
    "params-a-string",
    "snapshot-missing",
    "nan-weights",
    "inf-sigma-data",
]


@pytest.mark.parametrize("how", DAMAGES)
def test_damaged_model_file_is_a_value_error(how, tmp_path):
    with pytest.raises(ValueError, match="toyflow model file"):
        load_result(_damaged(tmp_path, how))


@pytest.mark.parametrize("how", ["truncated", "no-final", "wrong-shape", "config-not-a-dict"])
@pytest.mark.parametrize("command", ["sample", "field"])
def test_damaged_model_file_is_one_line_exit_2(command, how, tmp_path, capsys):
    bad = _damaged(tmp_path, how)
    out = tmp_path / "out"
    extra = ["--n", "8", "--steps", "2"] if command == "sample" else ["--resolution", "4"]
    assert main([command, "--model", str(bad), *extra, "--quiet", "--outdir", str(out)]) == 2
    assert bad.name in _one_line_error(capsys, command)
    assert not out.exists()


def test_field_of_a_model_with_nan_weights_fails_and_writes_nothing(tmp_path, capsys):
    bad = _damaged(tmp_path, "nan-weights")
    out = tmp_path / "out"
    assert main(["field", "--model", str(bad), "--resolution", "4", "--outdir", str(out)]) == 2
    assert "NaN" in _one_line_error(capsys, "field")
    assert not (out / "field.json").exists()


def test_field_whose_values_overflow_fails_and_writes_nothing(tmp_path, capsys):
    # Finite weights whose outputs overflow float32: the field would be NaN/inf.
    huge = _model_file(tmp_path / "huge.msgpack", scale=1e30)
    out = tmp_path / "out"
    code = main(["field", "--model", str(huge), "--resolution", "4", "--outdir", str(out)])
    assert code == 2
    assert "the field of" in _one_line_error(capsys, "field")
    assert not (out / "field.json").exists()


def test_a_hand_made_model_file_that_is_right_still_works(tmp_path, capsys):
    good = _model_file(tmp_path / "good.msgpack")
    out = tmp_path / "out"
    assert main(["field", "--model", str(good), "--resolution", "4", "--outdir", str(out)]) == 0
    assert (out / "field.json").exists()
    assert load_result(good).denoiser.config.width == 8


def test_outdir_name_too_long_is_one_line_exit_2(tmp_path, capsys):
    out = tmp_path / ("a" * 300)
    code = main(["field", "--denoiser", "optimal", "--resolution", "4", "--outdir", str(out)])
    assert code == 2
    line = _one_line_error(capsys, "field")
    assert "outdir" in line and len(line) < 300


@pytest.mark.parametrize("command", ["train", "sample", "field", "experiment", "explore"])
def test_help_says_outputs_are_replaced(command, capsys):
    assert main([command, "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "replaced" in text or "replaces" in text
