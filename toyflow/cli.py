"""The ``toyflow`` command line: train, sample, draw flow fields, run experiments.

    toyflow train --data circle --n-train 10 --width 128 --steps 2000 --outdir runs/a
    toyflow sample --model runs/a/model.msgpack --n 1000 --outdir runs/a
    toyflow sample --denoiser error-prone --delta 1.6 --outdir runs/delta
    toyflow field --denoiser optimal --sigma 28 2.8 0.63 --outdir runs/fields
    toyflow experiment gap-vs-delta --outdir results [--quick]
    toyflow experiment --all --outdir results [--quick]
    toyflow experiment --list
    toyflow serve [--port 5007 --show ...]    (the explorer in the browser: panel serve options)
    toyflow explore --export run.html [--gif run.gif] --kind error-prone --delta 1.2   (offline)
    toyflow tour --export tour.html               (the lecture tour, offline)

Every command writes JSON and PNG files into ``--outdir`` (default ``./toyflow-out``) and shows
a tqdm progress bar for long work. Files of the same name already there are replaced, as
``make``, ``matplotlib``'s ``savefig`` and most tools writing into an output folder do; each
subcommand's ``--help`` says so. Every argument is checked, and its size bounded, before any
work starts. Choices (data sets, schedules, solvers, label granularities,
experiments) come from the registries. Bad input ends with a one-line message and exit code 2,
never a traceback. Nothing typed is passed to a shell.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

EXIT_USAGE = 2
DEFAULT_OUTDIR = "toyflow-out"
REPLACES = (
    "Files of the same name already in --outdir are replaced without asking (use a new "
    "--outdir to keep an earlier run)."
)


class UsageError(ValueError):
    """Bad command-line input (reported in one line, exit code 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error message (``toyflow train: error: ...``) and exit code 2."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# --- argument types -------------------------------------------------------------------------------


def _number(kind: type, strict: bool, hi: float | None = None, lo: float | None = None):
    """An argparse type: ``kind`` (int or float), finite, ``> 0`` if ``strict`` else ``>= 0``,
    at least ``lo`` and at most ``hi`` when given (sizes are bounded, so that no typed number can
    make a command run for days or fill the memory)."""
    what = "a whole number" if kind is int else "a number"
    bound = "> 0" if strict else ">= 0"

    def parse(text: str):
        if len(text) > 40:
            raise argparse.ArgumentTypeError(f"expected {what}, got {len(text)} characters")
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not np.isfinite(v) or v < 0 or (strict and v == 0):
            if kind is int:  # whole numbers say their bound as ">= 1" / ">= 0"
                raise argparse.ArgumentTypeError(f"expected a number >= {int(strict)}, got {v}")
            raise argparse.ArgumentTypeError(f"expected a finite number {bound}, got {text!r}")
        if lo is not None and v < lo:
            raise argparse.ArgumentTypeError(f"expected a number >= {lo}, got {text}")
        if hi is not None and v > hi:
            raise argparse.ArgumentTypeError(f"expected a number <= {hi}, got {text}")
        return v

    return parse


_positive_int, _nonneg_int = _number(int, True), _number(int, False)
_positive_float, _nonneg_float = _number(float, True), _number(float, False)

# Upper bounds of the typed sizes (the library's own limits where it has them).
MAX_SEED = 2**31 - 1
MAX_N_SIGMA = 1000  # σ values of the gap curve
MAX_NOISE = 100_000  # noise draws per point and σ (metrics.gap_curve's limit)
MAX_SAMPLES = 10_000_000  # samples (sampling.sample's limit)
MAX_SAMPLE_STEPS = 10_000  # sampler steps (schedules.sampling_sigmas' limit)
MAX_SNAPSHOTS = 1000
MAX_GAP_EVALUATIONS = 50_000_000  # n-sigma x n-noise x validation points of one gap curve
MAX_RESOLUTION = 1024  # field grid points per side (fields' limit)
MAX_EXTENT = 1e6
MAX_FIELD_SIGMAS = 64
MAX_SIGMA = 1e6


def _bounded_int(hi: int, lo: int = 1):
    return _number(int, lo > 0, hi, lo)


def _sigma_value(text: str) -> float:
    return _number(float, True, MAX_SIGMA)(text)


# --- progress ---------------------------------------------------------------------------------------


class _Bar:
    """A tqdm bar fed by training ``Progress`` objects or ``(done, total, message)`` calls."""

    def __init__(self, desc: str, total: float, quiet: bool):
        from tqdm.auto import tqdm

        self.bar = tqdm(
            total=total,
            desc=desc,
            disable=True if quiet else None,
            leave=False,
            unit="step",
            dynamic_ncols=True,
            file=sys.stderr,
        )

    def training(self, p) -> None:
        self.bar.total = p.total
        self.bar.n = p.step
        self.bar.set_postfix(loss=f"{p.loss:.4g}", refresh=False)
        self.bar.refresh()

    def steps(self, done: float, total: float, message: str) -> None:
        self.bar.total = total
        self.bar.n = round(done, 2)
        self.bar.set_postfix_str(message[:40], refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


# --- shared pieces -----------------------------------------------------------------------------------


def _add_data_options(p: argparse.ArgumentParser, *, labels: bool = False) -> None:
    from toyflow.datasets import DATASETS, MAX_POINTS

    g = p.add_argument_group("data")
    g.add_argument(
        "--data",
        choices=list(DATASETS),
        default=None,
        help="data set from the registry (default: circle, or the model's own data)",
    )
    g.add_argument(
        "--n-train",
        type=_bounded_int(MAX_POINTS),
        default=None,
        help="training points (default 10)",
    )
    g.add_argument(
        "--n-val",
        type=_bounded_int(MAX_POINTS, 0),
        default=None,
        help="validation points (default: n-train)",
    )
    g.add_argument(
        "--data-seed",
        type=_bounded_int(2**63 - 1, 0),
        default=None,
        help="seed of the data draw (default 0)",
    )
    if labels:
        from toyflow.labels import GRANULARITIES

        g.add_argument(
            "--labels",
            choices=list(GRANULARITIES),
            default="none",
            help="condition granularity (default none = unconditional)",
        )
        g.add_argument(
            "--k", type=_bounded_int(MAX_POINTS), default=None, help="clusters for --labels kmeans"
        )


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--outdir",
        default=DEFAULT_OUTDIR,
        help=f"output folder (default ./{DEFAULT_OUTDIR}); files of the same name already there "
        "are replaced",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _make_data(args, stored: dict | None = None):
    """The data set named on the command line (falling back to a model's stored data settings)."""
    from toyflow.datasets import make_dataset

    stored = stored or {}
    name = args.data or stored.get("name", "circle")
    n_train = args.n_train or stored.get("n_train", 10)
    n_val = args.n_val if args.n_val is not None else stored.get("n_val")
    seed = args.data_seed if args.data_seed is not None else stored.get("seed", 0)
    data = make_dataset(name, n_train, n_val, seed=seed)
    return data, {"name": name, "n_train": data.n_train, "n_val": data.n_val, "seed": seed}


def _write_json(path: str, obj: Any) -> None:
    from toyflow._json import write_json

    write_json(path, obj)


def _outdir(args) -> str:
    out = os.path.abspath(args.outdir)
    shown = args.outdir if len(args.outdir) <= 80 else args.outdir[:60] + "…"
    if os.path.exists(out) and not os.path.isdir(out):
        raise UsageError(f"--outdir {shown!r} exists and is not a folder")
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as exc:  # a name too long, a read-only disk, a file in the path
        raise UsageError(f"cannot create --outdir {shown!r}: {exc.strerror or exc}") from None
    return out


def _load_model(path: str):
    from toyflow.training import load_result

    if not os.path.isfile(path):
        raise UsageError(f"model file {path!r} does not exist")
    try:
        return load_result(path)  # ValueError for damaged files, NaN or misshapen weights
    except (ValueError, OSError):
        raise
    except Exception as exc:  # anything else a hand-made file provokes is still bad input
        raise UsageError(
            f"{path!r} is not a usable toyflow model ({type(exc).__name__}: {exc})"
        ) from exc


def _choose_denoiser(args, data):
    """``--model`` (a trained model) or ``--denoiser optimal|error-prone`` on ``data``."""
    from toyflow.denoisers import ErrorProneDenoiser, OptimalDenoiser

    if args.model:
        if args.denoiser is not None:
            raise UsageError("give either --model or --denoiser, not both")
        result = _load_model(args.model)
        return result.denoiser, f"model {os.path.basename(args.model)}"
    kind = args.denoiser or "optimal"
    if kind == "optimal":
        if args.delta is not None:
            raise UsageError("--delta applies to --denoiser error-prone only")
        return OptimalDenoiser(data.train_x), "optimal D*"
    if args.delta is None:
        raise UsageError("--denoiser error-prone needs --delta (the model error, e.g. 1.6)")
    return ErrorProneDenoiser(data.train_x, args.delta), f"error-prone δ = {args.delta:g}"


def _stored_data(args) -> dict | None:
    """The data settings saved with a model by ``toyflow train`` (``None`` without a model)."""
    if not getattr(args, "model", None):
        return None
    return _load_model(args.model).settings.get("data")


def _check_finite(values, what: str) -> None:
    """No silent NaN: a denoiser that gives NaN or infinity ends the command, nothing written."""
    if not np.all(np.isfinite(np.asarray(values))):
        raise UsageError(f"{what} hold NaN or infinite values; nothing was written")


# --- train -------------------------------------------------------------------------------------------


def _cmd_train(args) -> int:
    from toyflow import metrics
    from toyflow.denoisers import OptimalDenoiser
    from toyflow.experiments._eval import log_sigmas, peak
    from toyflow.fields import compare_fields
    from toyflow.labels import make_labels, sample_labels
    from toyflow.plotting import plot_field_comparison, plot_loss_curves, save_figure
    from toyflow.sampling import sample
    from toyflow.training import train

    started = time.perf_counter()
    if args.labels != "kmeans" and args.k is not None:
        raise UsageError("--k applies to --labels kmeans only")
    data, data_cfg = _make_data(args)
    evaluations = args.n_sigma * args.n_noise * data.n_val
    if evaluations > MAX_GAP_EVALUATIONS:
        raise UsageError(
            f"the gap curve would take {args.n_sigma} σ x {args.n_noise} noise draws x "
            f"{data.n_val} validation points = {evaluations:,} evaluations (at most "
            f"{MAX_GAP_EVALUATIONS:,}): lower --n-sigma, --n-noise or --n-val"
        )
    train_labels, val_labels = make_labels(data, args.labels, k=args.k, seed=data_cfg["seed"])
    out = _outdir(args)  # every argument is checked: only now does work start
    data_cfg.update(labels=args.labels, k=args.k)
    bar = _Bar("train", args.steps, args.quiet)
    try:
        same_names = ("width", "depth", "steps", "batch_size", "seed", "schedule", "ema")
        options = {name: getattr(args, name) for name in same_names}
        result = train(
            data.train_x,
            train_labels,
            learning_rate=args.lr,
            n_snapshots=args.snapshots,
            callback=bar.training,
            **options,
        )
    finally:
        bar.close()
    result.settings["data"] = data_cfg
    result.save(os.path.join(out, "model.msgpack"))

    # Gap curve, samples, memorization, Fréchet overfit.
    sigmas = log_sigmas(args.n_sigma)
    model = result.denoiser
    curve = (
        metrics.gap_curve(
            model,
            data.train_x,
            data.val_x,
            sigmas,
            n_noise=args.n_noise,
            seed=args.seed,
            train_labels=train_labels,
            val_labels=val_labels,
        )
        if data.n_val
        else None
    )
    labels = sample_labels(train_labels, args.n_samples, args.seed)
    samples = np.asarray(
        sample(
            model,
            args.n_samples,
            steps=args.sample_steps,
            seed=args.seed,
            labels=labels,
            schedule=args.schedule,
        )
    )
    _check_finite(samples, "the samples")
    mem_mask = metrics.memorized_mask(samples, data.train_x) if data.n_train >= 2 else None
    fd = (
        metrics.sample_overfit(samples, data.train_x, data.val_x)
        if data.n_val >= 2 and data.n_train >= 2 and len(samples) >= 2
        else None
    )
    losses = np.asarray(result.losses, float)
    tail = losses[-max(1, len(losses) // 10) :]
    report = {
        "command": "train",
        "data": data_cfg,
        "model": result.settings,
        "num_params": getattr(model, "num_params", None),
        "steps_done": result.steps_done,
        "wall_time": round(time.perf_counter() - started, 3),
        "losses": {
            "first": float(losses[0]),
            "min": float(losses.min()),
            "last_tenth_mean": float(tail.mean()),
            "steps": int(losses.size),
        },
        "gap": None if curve is None else curve.to_dict(),
        "memorized_fraction": None if mem_mask is None else float(np.mean(mem_mask)),
        "baseline_memorized_fraction": (
            metrics.memorized_fraction(data.val_x, data.train_x)
            if data.n_val and data.n_train >= 2
            else None
        ),
        "frechet": fd,
        "files": {
            "model": "model.msgpack",
            "metrics": "metrics.json",
            "loss": "loss.png",
            "field": "field.png",
        },
    }
    _write_json(os.path.join(out, "metrics.json"), report)
    save_figure(
        plot_loss_curves(losses, title=f"width {args.width}, depth {args.depth}"),
        os.path.join(out, "loss.png"),
    )
    field_sigma = args.field_sigma or (peak(sigmas, curve.gap)[1] if curve is not None else 1.0)
    optimal = OptimalDenoiser(data.train_x)
    cmp = compare_fields(
        model.unconditional() if train_labels is not None else model,
        optimal,
        field_sigma,
        resolution=40,
    )
    save_figure(
        plot_field_comparison(
            cmp.model,
            cmp.reference,
            train_x=data.train_x,
            val_x=data.val_x,
            samples=samples[:1000],
            memorized=None if mem_mask is None else mem_mask[:1000],
            model_title="learned",
        ),
        os.path.join(out, "field.png"),
    )
    line = f"trained {result.steps_done} steps in {report['wall_time']:.1f}s; final loss {tail.mean():.4g}"
    if curve is not None:
        line += f"; peak gap {curve.peak_gap:.3g} at σ = {curve.peak_sigma:.3g}"
    if mem_mask is not None:
        line += f"; memorized {100 * float(np.mean(mem_mask)):.1f}% of samples"
    print(line)
    print(f"wrote {out}/model.msgpack, metrics.json, loss.png, field.png")
    return 0


# --- sample ------------------------------------------------------------------------------------------


def _cmd_sample(args) -> int:
    from toyflow import metrics
    from toyflow.plotting import plot_samples, save_figure
    from toyflow.sampling import sample

    started = time.perf_counter()
    data, data_cfg = _make_data(args, _stored_data(args))
    denoiser, title = _choose_denoiser(args, data)
    out = _outdir(args)
    samples = np.asarray(
        sample(
            denoiser,
            args.n,
            steps=args.steps,
            solver=args.solver,
            schedule=args.schedule,
            seed=args.seed,
            labels=args.label,
        )
    )
    _check_finite(samples, f"samples of {title}")
    mem = metrics.memorized_mask(samples, data.train_x) if data.n_train >= 2 else None
    fd = (
        metrics.sample_overfit(samples, data.train_x, data.val_x)
        if data.n_val >= 2 and data.n_train >= 2 and len(samples) >= 2
        else None
    )
    report = {
        "command": "sample",
        "denoiser": title,
        "data": data_cfg,
        "settings": {
            "n": args.n,
            "steps": args.steps,
            "solver": args.solver,
            "schedule": args.schedule,
            "seed": args.seed,
            "label": args.label,
        },
        "wall_time": round(time.perf_counter() - started, 3),
        "memorized_fraction": None if mem is None else float(np.mean(mem)),
        "frechet": fd,
        "samples": samples,
        "memorized": None if mem is None else mem.astype(int),
        "train_x": data.train_x,
        "val_x": data.val_x,
    }
    _write_json(os.path.join(out, "samples.json"), report)
    save_figure(
        plot_samples(samples, data.train_x, data.val_x, mem, title=title),
        os.path.join(out, "samples.png"),
    )
    share = "" if mem is None else f"; memorized {100 * float(np.mean(mem)):.1f}%"
    print(f"sampled {args.n} points with {title}{share}")
    print(f"wrote {out}/samples.json, samples.png")
    return 0


# --- field -------------------------------------------------------------------------------------------


def _cmd_field(args) -> int:
    from toyflow.denoisers import OptimalDenoiser
    from toyflow.fields import compare_fields
    from toyflow.plotting import plot_field_grid, save_figure

    if len(args.sigma) > MAX_FIELD_SIGMAS:
        raise UsageError(f"--sigma takes at most {MAX_FIELD_SIGMAS} values, got {len(args.sigma)}")
    data, data_cfg = _make_data(args, _stored_data(args))
    denoiser, title = _choose_denoiser(args, data)
    optimal = OptimalDenoiser(data.train_x)
    label = args.label
    if denoiser.num_classes is None:
        if label is not None:
            raise UsageError("--label needs a conditional model (trained with --labels)")
    elif label is None:
        denoiser = denoiser.unconditional()  # the null-class (unconditional) branch
    comps = [
        compare_fields(
            denoiser, optimal, s, extent=args.extent, resolution=args.resolution, labels=label
        )
        for s in args.sigma
    ]
    for c in comps:
        _check_finite(c.model.displacement, f"the field of {title} at σ = {c.model.sigma:g}")
    out = _outdir(args)
    fig = plot_field_grid(
        [[c.model for c in comps], [c.reference for c in comps]],
        row_labels=[title, "optimal D*"],
        col_labels=[f"σ = {s:g}" for s in args.sigma],
        train_x=data.train_x,
        val_x=data.val_x,
        difference_row=[(c.model, c.reference) for c in comps],
    )
    save_figure(fig, os.path.join(out, "field.png"))
    report = {
        "command": "field",
        "denoiser": title,
        "data": data_cfg,
        "sigmas": list(args.sigma),
        "grid": {"x": comps[0].model.grid.xs, "y": comps[0].model.grid.ys},
        "fields": [
            {
                "sigma": c.model.sigma,
                "displacement": c.model.displacement,
                "optimal_displacement": c.reference.displacement,
                "difference_norm": c.difference_norm,
                "region_fraction": float(np.mean(c.model.region)),
                "optimal_region_fraction": float(np.mean(c.reference.region)),
                "mean_difference_over_sigma": float(np.mean(c.difference_norm) / c.model.sigma),
            }
            for c in comps
        ],
    }
    _write_json(os.path.join(out, "field.json"), report)
    for c in comps:
        print(
            f"σ = {c.model.sigma:g}: mean ‖D − D*‖/σ = {np.mean(c.difference_norm) / c.model.sigma:.3g}, "
            f"displacement region {100 * np.mean(c.model.region):.0f}% of the grid "
            f"(optimal {100 * np.mean(c.reference.region):.0f}%)"
        )
    print(f"wrote {out}/field.png, field.json")
    return 0


# --- experiment ----------------------------------------------------------------------------------------


def _cmd_experiment(args) -> int:
    from toyflow.experiments import EXPERIMENTS, run_experiment

    if args.list:
        if args.name or args.all:
            raise UsageError("--list takes no experiment name and no --all")
        width = max(len(n) for n in EXPERIMENTS)
        for name, exp in EXPERIMENTS.items():
            print(f"{name:<{width}}  {'[' + exp.family + ']':<9}  {exp.description}")
        return 0
    if args.all and args.name:
        raise UsageError("give either an experiment name or --all, not both")
    if not args.name and not args.all:
        raise UsageError("name an experiment, or --all for every 2D one (--list shows them)")
    if args.all and args.set:
        raise UsageError("--set changes one experiment's settings; it does not go with --all")
    names = [n for n, e in EXPERIMENTS.items() if e.is_2d] if args.all else [args.name]
    overrides = _settings_overrides(EXPERIMENTS[names[0]], args.set or [])
    if args.draws is not None and not args.all and EXPERIMENTS[args.name].settings.DRAWS is None:
        raise UsageError(f"{args.name} has no Monte-Carlo draws to set (--draws)")
    if args.draws is not None and "draws" in overrides:
        raise UsageError("give --draws or --set draws=N, not both")
    out = _outdir(args)
    started = time.perf_counter()
    summary = {}
    for i, name in enumerate(names):
        label = name if len(names) == 1 else f"[{i + 1}/{len(names)}] {name}"
        bar = _Bar(label, 1, args.quiet)
        try:
            draws = args.draws is not None and EXPERIMENTS[name].settings.DRAWS is not None
            result = run_experiment(
                name,
                quick=args.quick,
                outdir=out,
                progress=bar.steps,
                **overrides,
                **({"draws": args.draws} if draws else {}),
            )
        finally:
            bar.close()
        summary[name] = {
            "wall_time": result.get("wall_time"),
            "headline": result.get("headline", {}),
            "checks": result.get("checks", {}),
        }
        print(f"{name}{' (quick)' if args.quick else ''}: {result.get('wall_time', 0):.1f}s")
        for key, value in result.get("headline", {}).items():
            print(f"  {key}: {json.dumps(value, default=float)}")
        for key, value in result.get("checks", {}).items():
            print(f"  check {key}: {'yes' if value else 'NO'}")
        print(f"wrote {out}/{name}.json, {name}.png")
    if args.all:
        total = round(time.perf_counter() - started, 1)
        _write_json(
            os.path.join(out, "summary.json"),
            {"quick": args.quick, "total_wall_time": total, "experiments": summary},
        )
        print(
            f"all {len(names)} 2D experiments{' (quick)' if args.quick else ''}: {total:.1f}s; "
            f"wrote {out}/summary.json"
        )
    return 0


def _settings_overrides(exp, items: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` items of ``--set`` as typed settings of experiment ``exp``."""
    out = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep:
            raise UsageError(f"--set expects KEY=VALUE, got {item!r}")
        out[key.strip().replace("-", "_")] = exp.settings.parse(key.strip().replace("-", "_"), text)
    return out


# --- explore --export ---------------------------------------------------------------------------------


def _cmd_explore(args) -> int:
    """``toyflow explore --export FILE.html [--gif FILE.gif] [--kind ... --delta ...]``: the
    explorer's σ views for a preset (the URL keys), written as one offline page and/or a GIF."""
    from toyflow.explorer import PLAIN_PARAMS, ExplorerState, NotReady

    if not args.export and not args.gif:
        raise UsageError("give --export FILE.html and/or --gif FILE.gif")
    pairs = {
        name: getattr(args, "preset_" + name)
        for name in PLAIN_PARAMS
        if getattr(args, "preset_" + name, None) is not None
    }
    state = ExplorerState(auto=False, disk_cache=True)
    problems = state.set_from_strings(pairs)
    if problems:
        raise UsageError("; ".join(problems))
    if state.kind == "learned":
        job = state.train()  # None: a configuration trained before came from the cache
        if job is not None:
            bar = _Bar("training", 1, args.quiet)
            while not job.wait(0.5):
                bar.steps(job.progress, 1, "")
            bar.close()
            if job.status != "done":
                raise FloatingPointError(f"training {job.status}: {job.error or 'no result'}")
    if state.error:
        raise UsageError(state.error)
    from toyflow.app.export import export_gif, export_html
    from toyflow.sigma_stack import model_title, stack_for_state

    try:
        stack = stack_for_state(state)
    except NotReady as exc:
        raise UsageError(str(exc)) from None
    title = args.title or f"toyflow: {model_title(state)}"
    if args.export:
        export_html(stack, args.export, title=title)
        print(f"wrote {args.export} (open it in a browser; it needs no server or network)")
    if args.gif:
        export_gif(stack, args.gif, fps=args.fps, title=title)
        print(f"wrote {args.gif} ({stack.steps} frames at {args.fps:g} frames/s)")
    return 0


# --- tour --export -----------------------------------------------------------------------------------------


def _cmd_tour(args) -> int:
    """``toyflow tour --export FILE.html [--steps 1,3]``: the lecture tour as one offline page."""
    from toyflow.app.tour_export import export_tour, stderr_log
    from toyflow.explorer.tour import STEPS, parse_number

    numbers = [parse_number(s) for s in args.steps.split(",")] if args.steps else None
    steps = [STEPS[n - 1] for n in numbers] if numbers else STEPS
    export_tour(args.export, steps, log=(lambda _m: None) if args.quiet else stderr_log)
    print(f"wrote {args.export} (open it in a browser; it needs no server or network)")
    return 0


# --- parser ----------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (choices read the registries)."""
    from toyflow._validation import MAX_CLASSES
    from toyflow.experiments import EXPERIMENTS
    from toyflow.nets import MAX_DEPTH, MAX_WIDTH
    from toyflow.sampling import SOLVERS
    from toyflow.schedules import SCHEDULES
    from toyflow.training.api import MAX_BATCH, MAX_STEPS

    parser = _Parser(
        prog="toyflow",
        description="Why diffusion models generalize although the "
        "optimal denoiser memorizes: train, sample, draw fields, run experiments.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser(
        "train",
        help="train an MLP denoiser; writes model.msgpack, metrics.json, loss.png, field.png",
        description="Train an MLP denoiser; writes model.msgpack, metrics.json, loss.png and "
        f"field.png into --outdir. {REPLACES}",
    )
    _add_data_options(p, labels=True)
    g = p.add_argument_group("model")
    g.add_argument("--width", type=_bounded_int(MAX_WIDTH), default=128)
    g.add_argument("--depth", type=_bounded_int(MAX_DEPTH), default=3)
    g.add_argument("--steps", type=_bounded_int(MAX_STEPS), default=2000)
    g.add_argument("--batch-size", type=_bounded_int(MAX_BATCH), default=512)
    g.add_argument(
        "--lr", type=_number(float, True, 1.0), default=2e-3, help="learning rate (Adam)"
    )
    g.add_argument("--schedule", choices=list(SCHEDULES), default="edm")
    g.add_argument(
        "--ema",
        type=_number(float, False, 0.99999),
        default=None,
        help="EMA decay (e.g. 0.999; default off)",
    )
    g.add_argument("--seed", type=_bounded_int(MAX_SEED, 0), default=0)
    g.add_argument(
        "--snapshots",
        type=_bounded_int(MAX_SNAPSHOTS, 0),
        default=8,
        help="log-spaced snapshots kept",
    )
    g = p.add_argument_group("evaluation")
    g.add_argument(
        "--n-sigma",
        type=_bounded_int(MAX_N_SIGMA),
        default=64,
        help=f"σ values of the gap curve (at most {MAX_N_SIGMA})",
    )
    g.add_argument(
        "--n-noise", type=_bounded_int(MAX_NOISE), default=20, help="noise draws per point and σ"
    )
    g.add_argument("--n-samples", type=_bounded_int(MAX_SAMPLES), default=1000)
    g.add_argument("--sample-steps", type=_bounded_int(MAX_SAMPLE_STEPS), default=40)
    g.add_argument(
        "--field-sigma",
        type=_sigma_value,
        default=None,
        help="σ of field.png (default: where the gap peaks)",
    )
    _add_common(p)
    p.set_defaults(func=_cmd_train)

    def add_denoiser_options(p):
        g = p.add_argument_group("denoiser")
        g.add_argument("--model", default=None, help="a model.msgpack written by toyflow train")
        g.add_argument(
            "--denoiser",
            choices=["optimal", "error-prone"],
            default=None,
            help="an analytic denoiser of the data (default optimal)",
        )
        g.add_argument(
            "--delta",
            type=_number(float, False, MAX_SIGMA),
            default=None,
            help="model error δ (error-prone)",
        )
        g.add_argument(
            "--label",
            type=_bounded_int(MAX_CLASSES - 1, 0),
            default=None,
            help="condition a conditional model on this label",
        )

    p = sub.add_parser(
        "sample",
        help="generate samples; writes samples.json, samples.png",
        description=f"Generate samples; writes samples.json and samples.png. {REPLACES}",
    )
    add_denoiser_options(p)
    _add_data_options(p)
    g = p.add_argument_group("sampler")
    g.add_argument("--n", type=_bounded_int(MAX_SAMPLES), default=1000, help="number of samples")
    g.add_argument("--steps", type=_bounded_int(MAX_SAMPLE_STEPS), default=40)
    g.add_argument("--solver", choices=list(SOLVERS), default="euler")
    g.add_argument("--schedule", choices=list(SCHEDULES), default="edm")
    g.add_argument("--seed", type=_bounded_int(MAX_SEED, 0), default=0)
    _add_common(p)
    p.set_defaults(func=_cmd_sample)

    p = sub.add_parser(
        "field",
        help="flow field beside the optimal one; writes field.png, field.json",
        description="The flow field of a denoiser beside the optimal one; writes field.png "
        f"and field.json. {REPLACES}",
    )
    add_denoiser_options(p)
    _add_data_options(p)
    g = p.add_argument_group("field")
    g.add_argument(
        "--sigma",
        type=_sigma_value,
        nargs="+",
        default=[2.8],
        help=f"one or several σ (at most {MAX_FIELD_SIGMAS})",
    )
    g.add_argument("--resolution", type=_bounded_int(MAX_RESOLUTION, 2), default=40)
    g.add_argument("--extent", type=_number(float, True, MAX_EXTENT), default=17.5)
    _add_common(p)
    p.set_defaults(func=_cmd_field)

    p = sub.add_parser(
        "experiment",
        help="run a registered experiment; writes NAME.json, NAME.png",
        description="Run a registered experiment; writes NAME.json and NAME.png (and "
        f"summary.json with --all). {REPLACES}",
    )
    p.add_argument(
        "name",
        nargs="?",
        choices=list(EXPERIMENTS),
        metavar="NAME",
        help="experiment name (see --list)",
    )
    p.add_argument("--list", action="store_true", help="list the experiments and exit")
    p.add_argument(
        "--all",
        action="store_true",
        help="run every 2D experiment (paper and learned); also writes summary.json",
    )
    p.add_argument("--quick", action="store_true", help="shrunk settings (under a minute)")
    p.add_argument(
        "--draws",
        type=_bounded_int(MAX_NOISE),
        metavar="N",
        help="Monte-Carlo draws behind the ± standard errors (noise draws of the gap curves; "
        "with --all, for every experiment that has them)",
    )
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="change one setting (repeatable; lists as 1,2,3); the settings are in NAME.json's config",
    )
    _add_common(p)
    p.set_defaults(func=_cmd_experiment)

    from toyflow.explorer import PLAIN_PARAMS, ExplorerState

    p = sub.add_parser(
        "explore",
        help="the explorer's σ views for a preset as an offline HTML page (--export) or a GIF",
        description="The explorer's σ views for a preset as one offline HTML page (--export) "
        "and/or a GIF (--gif). An existing file of that name is replaced.",
    )
    p.add_argument(
        "--export", metavar="FILE.html", help="write one self-contained page (replaces the file)"
    )
    p.add_argument(
        "--gif", metavar="FILE.gif", help="write the σ sweep as a GIF (replaces the file)"
    )
    p.add_argument("--fps", type=_positive_float, default=8.0, help="GIF frames per second")
    p.add_argument("--title", default=None, help="the page's title")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    g = p.add_argument_group("preset (the explorer's URL keys)")
    for name in PLAIN_PARAMS:
        doc = (ExplorerState.param[name].doc or "").split(" (")[0]
        g.add_argument(f"--{name.replace('_', '-')}", dest="preset_" + name, metavar="V", help=doc)
    p.set_defaults(func=_cmd_explore)

    p = sub.add_parser(
        "tour",
        help="the lecture tour (8 steps through the argument) as one offline HTML page",
        description="The lecture tour as one self-contained page: each step's σ views, text "
        "and navigation (buttons, PageDown/PageUp, arrow keys). Learned steps train first "
        "(cached afterwards). An existing file of that name is replaced.",
    )
    p.add_argument("--export", metavar="FILE.html", required=True, help="the page to write")
    p.add_argument("--steps", metavar="LIST", help="only these steps, e.g. 1,3 (default: all)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=_cmd_tour)

    # `toyflow serve [panel serve options]`: main() hands everything after "serve" to serve().
    sub.add_parser(
        "serve",
        add_help=False,
        help="serve the explorer (any `panel serve` options follow, e.g. --port 5007 --show)",
    )
    return parser


def has_display() -> bool:
    """Whether a browser could open a window here (a desktop session; macOS and Windows
    always)."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def serve(options: Sequence[str]) -> int:
    """``toyflow serve [panel serve options]``: ``panel serve`` on the explorer that ships in
    the package (no checkout needed); prints the page's address first. ``--args name=value``
    presets the page (``--args kind=error-prone delta=1.2``)."""
    import subprocess

    from toyflow.app import APP_FILE

    options = list(options)

    def option(name: str, default: str) -> str:
        for i, item in enumerate(options):
            if item == name and i + 1 < len(options):
                return options[i + 1]
            if item.startswith(name + "="):
                return item.split("=", 1)[1]
        return default

    address = option("--address", "localhost")
    host = "localhost" if address in ("0.0.0.0", "") else address
    print(f"toyflow explorer: http://{host}:{option('--port', '5006')}/explorer", flush=True)
    if "--show" in options and not has_display():
        # Panel would try a browser that cannot open and say nothing about it.
        options = [o for o in options if o != "--show"]
        print(
            "No browser opened (--show): this machine has no display (DISPLAY and "
            "WAYLAND_DISPLAY are unset); open the address above in a browser.",
            flush=True,
        )
    cmd = [sys.executable, "-m", "panel", "serve", APP_FILE, *options]
    try:
        return subprocess.call(cmd)
    except KeyboardInterrupt:
        return 130


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 2 bad input, 1 failure)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["serve"]:
        return serve(argv[1:])
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2), already printed
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    prog = f"toyflow {args.command}"
    try:
        return int(args.func(args) or 0)
    except (ValueError, OSError) as exc:  # bad input, or a path the system refuses
        print(f"{prog}: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except FloatingPointError as exc:
        print(f"{prog}: failed: {_one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


def _one_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, OSError) and exc.filename and exc.strerror:
        text = f"{exc.strerror}: {exc.filename!r}"
    return " ".join(text.split())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
