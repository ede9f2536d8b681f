"""Take-away exports of an explorer session: JSON (configuration, metrics, curves), a Python
script that reproduces the run with the toyflow API, and the commands that serve this view or run
it from the command line."""

from __future__ import annotations

import json
from typing import Any

from toyflow._json import jsonable
from toyflow.explorer.compute import NotReady
from toyflow.explorer.model import (
    AUTOGUIDANCE_DELTA_STEP,
    CUSTOM,
    N_SNAPSHOTS,
    STEPS_PER_CALL,
    USER,
)


def to_json(state, *, indent: int | None = 2) -> str:
    """Configuration, headline metrics and curves as JSON (custom points under "data")."""

    from toyflow import __version__

    doc: dict[str, Any] = {
        "format": "toyflow-explorer-run-v1",
        "toyflow": __version__,
        "config": state.config_dict(),
    }
    try:
        doc["sigma"] = state.current_sigma()
        doc["metrics"] = state.headline()
        curves = state.curves()
        doc["curves"] = {"sigmas": curves["sigmas"]}
        for name in ("model_gap", "optimal_gap"):
            if curves[name] is not None:
                doc["curves"][name] = curves[name].to_dict()
        if curves["overlap"] is not None:
            doc["curves"]["trajectory_overlap"] = curves["overlap"].to_dict()
    except NotReady as exc:
        doc["metrics"] = None
        doc["note"] = str(exc)
    except (ValueError, FloatingPointError) as exc:
        doc["error"] = str(exc)
    if state.kind == "learned":
        try:
            doc["training"] = state.training.training_info()
        except ValueError as exc:  # settings the page already flags: say so in the file too
            doc["training_error"] = str(exc)
    if state.dataset == CUSTOM:
        try:
            doc["data"] = state.data().dataset.to_dict()
        except ValueError as exc:
            doc["data_error"] = str(exc)
    doc["python"] = python_snippet(state)
    doc["command"] = cli_command(state)
    doc["toyflow_command"] = toyflow_command(state)
    return json.dumps(jsonable(doc), indent=indent)


def python_snippet(state) -> str:
    """A Python script that reproduces the current run with the toyflow API."""
    lines = ["import numpy as np", "import toyflow", ""]
    if state.dataset == CUSTOM:
        lines += [
            "import json",
            '# Your points are in the explorer\'s JSON download, under "data".',
            'with open("toyflow-run.json") as f:',
            '    data = toyflow.Dataset.from_dict(json.load(f)["data"])',
        ]
    else:
        lines.append(
            f"data = toyflow.make_dataset({state.dataset!r}, n_train={state.n_train}, "
            f"n_val={state.n_val}, seed={state.seed})"
        )
    k = f", k={state.k}" if state.granularity == "kmeans" else ""
    lines.append(
        f"train_labels, val_labels = toyflow.make_labels(data, {state.granularity!r}{k}, "
        f"seed={state.seed})"
    )
    lines.append("optimal = toyflow.OptimalDenoiser(data.train_x, train_labels)")
    if state.kind == "optimal":
        lines.append("model = optimal")
    elif state.kind == "error-prone":
        lines.append(f"model = toyflow.ErrorProneDenoiser(optimal, delta={state.delta!r})")
    elif state.kind == USER:
        lines.append("model = my_denoiser  # the function given to toyflow.explore(denoiser=...)")
    else:
        snap = "-1" if state.snapshot_index < 0 else str(state.snapshot_index)
        lines += [
            f"result = toyflow.train(data.train_x, train_labels, width={state.width}, "
            f"depth={state.depth}, steps={state.train_steps}, batch_size={state.batch_size},",
            f"                       learning_rate={state.learning_rate!r}, seed={state.seed}, "
            f"schedule={state.schedule!r}, n_snapshots={N_SNAPSHOTS}, "
            f"steps_per_call={STEPS_PER_CALL})",
            f"i = {snap} % len(result.snapshots)  # the training-time slider",
            "model = result.snapshots[i]",
        ]
    if state.guidance == "classifier-free":
        lines.append(
            f"model = toyflow.GuidedDenoiser(model, toyflow.Unconditional(model), "
            f"w={state.w!r})  # classifier-free"
        )
    elif state.guidance == "autoguidance":
        if state.kind == "learned":
            lines.append(
                f"model = toyflow.autoguidance(model, result.snapshots[max(0, i - 2)], "
                f"w={state.w!r})"
            )
        else:
            d = (state.delta if state.kind == "error-prone" else 0.0) + AUTOGUIDANCE_DELTA_STEP
            lines.append(
                f"model = toyflow.autoguidance(model, toyflow.ErrorProneDenoiser("
                f"optimal, delta={d!r}), w={state.w!r})"
            )
    if state.granularity == "none":
        lines.append("labels = None")
    elif state.condition >= 0:
        lines.append(f"labels = np.full({state.n_samples}, {state.condition})")
    else:
        lines.append(
            f"labels = np.random.default_rng({state.seed}).choice(train_labels, {state.n_samples})"
        )
    lines += [
        "samples, trajectory, sigmas = toyflow.sample(",
        f"    model, {state.n_samples}, sigma_min={state.sigma_min!r}, sigma_max={state.sigma_max!r}, "
        f"rho={state.rho!r}, steps={state.sample_steps},",
        f"    solver={state.solver!r}, schedule={state.schedule!r}, labels=labels, seed={state.seed}, "
        f"return_trajectory=True)",
        "memorized = toyflow.metrics.memorized_fraction(samples, data.train_x)",
        'print(f"memorized fraction: {memorized:.3f}")',
        "if len(data.val_x):",
        "    gap = toyflow.metrics.gap_curve(model, data.train_x, data.val_x, sigmas[:-1],",
        "                                    train_labels=train_labels, val_labels=val_labels)",
        '    print(f"largest relative gap {gap.peak_gap:.3f} at sigma {gap.peak_sigma:.3g}")',
        f"field = toyflow.compare_fields(model, optimal, sigmas[{state.clamped_sigma_index()}], "
        f"resolution={state.resolution}, extent={state.extent!r})",
    ]
    return "\n".join(lines) + "\n"


def cli_command(state) -> str:
    """The command that serves the explorer opened on this configuration (the non-default
    plain inputs, as ``--args name=value``)."""
    args = [
        f"{name}={value}"
        for name, value in state.config_dict().items()
        if value != state.param[name].default
    ]
    if state.dataset == CUSTOM:
        args = [a for a in args if not a.startswith("dataset=")]
    tail = (" --args " + " ".join(args)) if args else ""
    return f"panel serve app/explorer.py --show{tail}"


def toyflow_command(state) -> str | None:
    """The ``toyflow`` command-line run closest to this one: ``toyflow train`` for a learned
    model (the same data, labels and optimiser settings), ``toyflow sample`` for the analytic
    denoisers (the sampler's own default grid; no guidance). ``None`` for custom data."""
    if state.dataset == CUSTOM or state.kind == USER:
        return None
    data = (
        f"--data {state.dataset} --n-train {state.n_train} --n-val {state.n_val} "
        f"--data-seed {state.seed}"
    )
    if state.kind == "learned":
        k = f" --k {state.k}" if state.granularity == "kmeans" else ""
        return (
            f"toyflow train {data} --labels {state.granularity}{k} --width {state.width} "
            f"--depth {state.depth} --steps {state.train_steps} --batch-size {state.batch_size} "
            f"--lr {state.learning_rate:g} --schedule {state.schedule} --seed {state.seed} "
            f"--snapshots {N_SNAPSHOTS} --n-samples {state.n_samples} "
            f"--sample-steps {state.sample_steps}"
        )
    delta = f" --delta {state.delta:g}" if state.kind == "error-prone" else ""
    return (
        f"toyflow sample {data} --denoiser {state.kind}{delta} --n {state.n_samples} "
        f"--steps {state.sample_steps} --solver {state.solver} --schedule {state.schedule} "
        f"--seed {state.seed}"
    )
