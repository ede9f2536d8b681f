r"""Denoising score matching with EDM weighting, many steps per compiled call, and sweeps.

Loss for a batch of clean points ``y`` (EDM, Karras et al. 2022)::

    L = E_{σ, n} [ λ(σ) · mean_k (D(y + σ n; σ) − y)_k² ],   λ(σ) = (σ² + σ_d²) / (σ σ_d)²

with σ drawn from the schedule's training distribution (EDM: ``ln σ ~ N(P_mean + ln(σ_d/0.5),
P_std²)``). Optax Adam (gradient clipping, optional weight decay), optional EMA of the weights,
and label dropout to the null class so one conditional model serves classifier-free guidance.

Speed. The state ``(step, params, opt_state, ema)`` is a pytree; ``make_train_step`` returns a
jitted function that runs a *traced* number of steps with ``lax.fori_loop``, so any chunk length
reuses one compilation. A sweep stacks parameters (and optimizer states, learning rates,
seeds, data subsets) along a leading axis and ``vmap``s the same function: many small models
train in one compiled call. Per-step randomness is ``fold_in(key, step)``, so results do not
depend on how the steps were chunked.

On the CPU backend one small model's step runs on one core (measured: a width-64 step is as
fast pinned to one core as on two, and a 16-model vmap gains only ~1.3x over a loop). A sweep
therefore splits its model axis into one group per core and runs the groups' compiled calls
from as many threads at once (``groups``); on a GPU the whole sweep is one call.

Snapshots at log-spaced steps make "training time" an axis: ``result.snapshots`` are denoisers.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import serialization

from toyflow._denoiser import Denoiser
from toyflow._validation import as_labels, as_points, check_float, check_int
from toyflow.nets import MLPConfig, loss_weight
from toyflow.schedules import Schedule, get_schedule

MAX_STEPS = 10_000_000
MAX_BATCH = 1 << 16


class TrainState(NamedTuple):
    """Everything that changes during training (a pytree)."""

    step: jax.Array
    params: Any
    opt_state: Any
    ema: Any


@dataclasses.dataclass(frozen=True)
class Progress:
    """What a progress callback receives after each compiled chunk of steps."""

    step: int
    total: int
    loss: float  # mean loss over the last chunk (averaged over models in a sweep)
    elapsed: float
    snapshot: bool  # a snapshot was taken at this step
    losses: np.ndarray  # the chunk's per-step losses, shape (models, chunk)
    #: The snapshot's denoisers (one per model) when ``snapshot`` is True, else empty: lets a
    #: caller (the app) show snapshots while training runs.
    denoisers: tuple = ()

    @property
    def fraction(self) -> float:
        return self.step / max(self.total, 1)


class TrainingCancelled(Exception):
    """Raise inside a progress callback to stop training (same as returning False)."""


def measure_sigma_data(x: np.ndarray) -> float:
    """The data's standard deviation (over all coordinates), used by the preconditioning."""
    sd = float(np.std(np.asarray(x, np.float64)))
    return sd if sd > 1e-6 else 1.0


def snapshot_schedule(steps: int, n_snapshots: int) -> list[int]:
    """``n_snapshots`` log-spaced steps in ``[1, steps]`` (always ending at ``steps``)."""
    if n_snapshots <= 0:
        return [steps]
    lo = min(10, steps)
    pts = np.unique(np.round(np.geomspace(lo, steps, n_snapshots)).astype(int))
    return sorted(set(int(p) for p in pts) | {steps})


def make_optimizer(
    learning_rate: float,
    *,
    grad_clip: float | None = 1.0,
    weight_decay: float = 0.0,
    warmup_steps: int = 0,
):
    """Adam(W) with clipping, the learning rate injected as a state hyperparameter (so a sweep
    can give each model its own)."""

    def factory(learning_rate):
        parts = []
        if grad_clip:
            parts.append(optax.clip_by_global_norm(grad_clip))
        if weight_decay:
            parts.append(optax.adamw(learning_rate, weight_decay=weight_decay))
        else:
            parts.append(optax.adam(learning_rate))
        return optax.chain(*parts)

    return optax.inject_hyperparams(factory)(learning_rate=learning_rate)


def make_train_step(
    config,
    optimizer,
    schedule: Schedule,
    *,
    batch_size: int,
    label_dropout: float = 0.1,
    ema_decay: float | None = None,
    max_chunk: int = 1000,
) -> Callable:
    """Factory (optax style) for ``run(state, key, sigma_data, data_x, data_labels, idx, count,
    n_steps) -> (state, losses)``.

    ``idx (N_max,)`` / ``count`` pick the model's subset of ``data_x``; ``n_steps ≤ max_chunk``
    is traced, so every chunk length shares one compilation. ``losses`` has length
    ``max_chunk``; entries past ``n_steps`` are zero. Not jitted: jit or ``vmap`` it.
    """
    num_classes = getattr(config, "num_classes", None)

    def loss_fn(params, key, sigma_data, y, labels):
        k_sigma, k_noise, k_drop, k_dropout = jax.random.split(key, 4)
        sigma = schedule.sample_training_sigma(k_sigma, (y.shape[0],), sigma_data)
        noise = jax.random.normal(k_noise, y.shape)
        if labels is not None and num_classes is not None:
            drop = jax.random.uniform(k_drop, labels.shape) < label_dropout
            labels = jnp.where(drop, num_classes, labels)
        x = y + sigma.reshape((-1,) + (1,) * (y.ndim - 1)) * noise
        den = config.apply(params, sigma_data, x, sigma, labels, dropout_key=k_dropout)
        err = jnp.mean(jnp.square(den - y).reshape(y.shape[0], -1), axis=1)
        return jnp.mean(loss_weight(sigma, sigma_data) * err)

    grad_fn = jax.value_and_grad(loss_fn)

    def one_step(state: TrainState, key, sigma_data, data_x, data_labels, idx, count):
        k = jax.random.fold_in(key, state.step)
        k_batch, k_loss = jax.random.split(k)
        pick = idx[jax.random.randint(k_batch, (batch_size,), 0, count)]
        y = data_x[pick]
        labels = None if data_labels is None else data_labels[pick]
        loss, grads = grad_fn(state.params, k_loss, sigma_data, y, labels)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        ema = state.ema
        if ema_decay is not None:
            ema = jax.tree_util.tree_map(
                lambda e, p: ema_decay * e + (1 - ema_decay) * p, ema, params
            )
        return TrainState(state.step + 1, params, opt_state, ema), loss

    def run(state, key, sigma_data, data_x, data_labels, idx, count, n_steps):
        def body(i, carry):
            st, buf = carry
            st, loss = one_step(st, key, sigma_data, data_x, data_labels, idx, count)
            return st, buf.at[i].set(loss)

        buf = jnp.zeros((max_chunk,), jnp.float32)
        return jax.lax.fori_loop(0, n_steps, body, (state, buf))

    return run


@dataclasses.dataclass
class TrainResult:
    """A trained model: ``.denoiser`` (EMA weights if EMA was on), per-step ``.losses``,
    ``.snapshots`` (denoisers at ``.snapshot_steps``) and the settings that made it."""

    denoiser: Denoiser
    losses: np.ndarray
    snapshots: list[Denoiser]
    snapshot_steps: list[int]
    settings: dict[str, Any]
    sigma_data: float
    steps_done: int
    cancelled: bool = False
    wall_time: float = 0.0

    @property
    def config(self):
        return self.denoiser.config

    @property
    def steps_per_second(self) -> float:
        return self.steps_done / self.wall_time if self.wall_time > 0 else float("nan")

    def save(self, path: str | os.PathLike) -> None:
        """Write the model, its snapshots, losses and settings atomically (msgpack)."""
        save_result(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> TrainResult:
        return load_result(path)


@dataclasses.dataclass
class SweepResult:
    """Models trained together under ``vmap``: one :class:`TrainResult` per model."""

    results: list[TrainResult]
    wall_time: float = 0.0

    @property
    def denoisers(self) -> list[Denoiser]:
        return [r.denoiser for r in self.results]

    @property
    def losses(self) -> np.ndarray:
        return np.stack([r.losses for r in self.results])

    def __len__(self) -> int:
        return len(self.results)

    def __getitem__(self, i) -> TrainResult:
        return self.results[i]


def _net_config(config, dim, width, depth, activation, embedding, embed_dim, num_classes):
    if config is not None:
        return config
    return MLPConfig(
        dim=dim,
        width=width,
        depth=depth,
        activation=activation,
        embedding=embedding,
        embed_dim=embed_dim,
        num_classes=num_classes,
    )


def _prepare_data(train_x, train_labels, config):
    event = tuple(getattr(config, "event_shape", ())) if config is not None else ()
    arr = np.asarray(train_x)
    if arr.ndim > 2 or len(event) > 1:
        x = as_points(train_x, "train_x", event_shape=event or tuple(arr.shape[1:]))
    else:
        x = as_points(train_x, "train_x")
    lab = as_labels(train_labels, x.shape[0], "train_labels")
    return x, lab


_COMPILED: dict[Any, Callable] = {}


def _num_classes(lab: np.ndarray | None, config) -> int | None:
    """The class count the labels need; with a given ``config``, check that it has room."""
    if lab is None:
        return None
    if config is not None:
        k = getattr(config, "num_classes", None)
        if k is None:
            raise ValueError("train_labels were given but the config has num_classes=None")
        if int(lab.max()) >= k:
            raise ValueError(
                f"train_labels go up to {int(lab.max())} but the config has num_classes={k}"
            )
    return int(lab.max()) + 1


def _bucket(n: int) -> int:
    """The next power of two ≥ n (at least 8): the padded size of per-data-set arrays."""
    return max(8, 1 << (int(n) - 1).bit_length())


def _pad_rows(a: np.ndarray, n: int) -> np.ndarray:
    """``a`` with zero rows appended up to ``n`` rows."""
    pad = n - a.shape[0]
    return a if pad <= 0 else np.concatenate([a, np.zeros((pad,) + a.shape[1:], a.dtype)])


def _compiled_run(
    config,
    optimizer_key,
    schedule,
    batch_size,
    label_dropout,
    ema_decay,
    max_chunk,
    vectorized: bool,
    optimizer,
):
    """Share compiled runners across calls with equal settings (the app retrains often)."""
    key = (
        config,
        optimizer_key,
        schedule,
        batch_size,
        label_dropout,
        ema_decay,
        max_chunk,
        vectorized,
    )
    fn = _COMPILED.get(key)
    if fn is None:
        run = make_train_step(
            config,
            optimizer,
            schedule,
            batch_size=batch_size,
            label_dropout=label_dropout,
            ema_decay=ema_decay,
            max_chunk=max_chunk,
        )
        if vectorized:
            run = jax.vmap(run, in_axes=(0, 0, 0, None, None, 0, 0, None))
        fn = jax.jit(run)
        if len(_COMPILED) > 64:
            _COMPILED.pop(next(iter(_COMPILED)))
        _COMPILED[key] = fn
    return fn


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask, not the host's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def sweep_groups(m: int, groups: int | None = None) -> int:
    """How many groups of a ``m``-model sweep run at once: ``groups`` if given, else one per CPU
    core on the CPU backend (a small model's step uses one core) and 1 on accelerators."""
    if groups is not None:
        return check_int(groups, "groups", 1, m)
    if jax.default_backend() != "cpu":
        return 1
    return max(1, min(m, available_cores()))


def _pad_models(a, total: int):
    """``a`` with its last model repeated along axis 0 up to ``total`` models."""
    extra = total - a.shape[0]
    if extra <= 0:
        return a
    xp = np if isinstance(a, np.ndarray) else jnp
    return xp.concatenate([a, xp.repeat(a[-1:], extra, axis=0)])


def _fit(
    x: np.ndarray,
    labels: np.ndarray | None,
    *,
    config,
    seeds: Sequence[int],
    learning_rates: Sequence[float],
    subsets: Sequence[np.ndarray],
    steps: int,
    batch_size: int,
    schedule: Schedule,
    ema_decay: float | None,
    label_dropout: float,
    n_snapshots: int,
    steps_per_call: int,
    grad_clip: float | None,
    weight_decay: float,
    callback: Callable[[Progress], Any] | None,
    settings: dict[str, Any],
    groups: int = 1,
) -> SweepResult:
    """Train ``M = len(seeds)`` models together (``M = 1`` for :func:`train`), in ``groups``
    equal groups whose compiled calls run at once from separate threads (the last model is
    repeated to fill the last group; the copies are dropped)."""
    t_start = time.perf_counter()
    m = len(seeds)
    g = -(-m // groups)  # models per group
    total = groups * g
    sigma_data = np.array([measure_sigma_data(x[s]) for s in subsets], np.float32)
    # Subsets as padded index arrays with counts.
    # Index arrays and data are padded to a power of two: data sets of similar size share one
    # compiled step. Only idx[:count] is ever sampled, so the padding changes no result.
    n_max = _bucket(max(len(s) for s in subsets))
    idx = np.zeros((m, n_max), np.int32)
    for i, s in enumerate(subsets):
        idx[i, : len(s)] = s
    counts = np.array([len(s) for s in subsets], np.int32)

    optimizer = make_optimizer(1.0, grad_clip=grad_clip, weight_decay=weight_decay)
    keys = _pad_models(jnp.stack([jax.random.PRNGKey(int(s)) for s in seeds]), total)
    init_keys, run_keys = jax.vmap(lambda k: jax.random.split(k))(keys).transpose(1, 0, 2)

    def init_one(k, lr):
        params = config.init(k)
        opt_state = optimizer.init(params)
        opt_state.hyperparams["learning_rate"] = jnp.asarray(lr, jnp.float32)
        ema = params if ema_decay is not None else None
        return TrainState(jnp.int32(0), params, opt_state, ema)

    # The initialiser is cached like the runner: re-tracing it costs seconds on a small CPU.
    init_key = ("init", config, (grad_clip, weight_decay), ema_decay is not None)
    init_fn = _COMPILED.get(init_key)
    if init_fn is None:
        init_fn = _COMPILED[init_key] = jax.jit(jax.vmap(init_one))
    state = init_fn(init_keys, _pad_models(jnp.asarray(learning_rates, jnp.float32), total))
    max_chunk = int(min(steps_per_call, steps))
    run = _compiled_run(
        config,
        (grad_clip, weight_decay),
        schedule,
        batch_size,
        label_dropout,
        ema_decay,
        max_chunk,
        True,
        optimizer,
    )
    data_x = jnp.asarray(_pad_rows(x, _bucket(x.shape[0])))
    data_labels = None if labels is None else jnp.asarray(_pad_rows(labels, _bucket(x.shape[0])))

    def split(a):  # the leading (model) axis into the groups
        return [jax.tree_util.tree_map(lambda v: v[i * g : (i + 1) * g], a) for i in range(groups)]

    # Per group: (state, run key, σ_data, subset indices, subset sizes).
    parts = list(
        zip(
            split(state),
            split(run_keys),
            split(jnp.asarray(_pad_models(sigma_data, total))),
            split(jnp.asarray(_pad_models(idx, total))),
            split(jnp.asarray(_pad_models(counts, total))),
        )
    )

    def run_group(i, n):
        st, k, sd, ix, cnt = parts[i]
        st, buf = run(st, k, sd, data_x, data_labels, ix, cnt, jnp.int32(n))
        return jax.block_until_ready((st, buf))

    def merged(field):  # one state field of all real models, stacked
        trees = [getattr(p[0], field) for p in parts]
        if len(trees) == 1 and total == m:
            return trees[0]
        return jax.tree_util.tree_map(lambda *a: jnp.concatenate(a)[:m], *trees)

    pool = ThreadPoolExecutor(groups, thread_name_prefix="toyflow-sweep") if groups > 1 else None

    snap_steps = snapshot_schedule(steps, n_snapshots)
    snap_set = set(snap_steps)
    boundaries = sorted(snap_set | {steps})
    losses: list[np.ndarray] = []
    snaps: list[tuple[int, Any]] = []
    done, cancelled = 0, False
    weights_field = "ema" if ema_decay is not None else "params"
    try:
        while done < steps:
            target = next(b for b in boundaries if b > done)
            n = min(target - done, max_chunk)
            if pool is None:
                outs = [run_group(0, n)]
            else:
                outs = list(pool.map(run_group, range(groups), [n] * groups))
            parts = [(st,) + p[1:] for (st, _), p in zip(outs, parts)]
            chunk_losses = np.concatenate([np.asarray(buf) for _, buf in outs])[:m, :n]
            losses.append(chunk_losses)
            done += n
            took_snapshot = done in snap_set
            snap_denoisers: tuple = ()
            if took_snapshot:
                weights = merged(weights_field)
                snaps.append((done, weights))
                if callback is not None:
                    snap_denoisers = tuple(
                        config.make_denoiser(
                            jax.tree_util.tree_map(lambda a, i=i: a[i], weights),
                            sigma_data[i],
                            step=done,
                        )
                        for i in range(m)
                    )
            if callback is not None:
                prog = Progress(
                    step=done,
                    total=steps,
                    loss=float(np.mean(chunk_losses)),
                    elapsed=time.perf_counter() - t_start,
                    snapshot=took_snapshot,
                    losses=chunk_losses,
                    denoisers=snap_denoisers,
                )
                try:
                    keep_going = callback(prog)
                except TrainingCancelled:
                    keep_going = False
                if keep_going is False:
                    cancelled = done < steps
                    break
    finally:
        if pool is not None:
            pool.shutdown()
    wall = time.perf_counter() - t_start
    all_losses = np.concatenate(losses, axis=1) if losses else np.zeros((m, 0), np.float32)
    if not np.all(np.isfinite(all_losses)):
        bad = int(np.argmax(~np.all(np.isfinite(all_losses), axis=0)))
        raise FloatingPointError(
            f"training diverged (non-finite loss at step {bad + 1}); "
            f"try a smaller learning_rate than {max(learning_rates):g}"
        )
    final = merged(weights_field)
    if not snaps or snaps[-1][0] != done:
        snaps.append((done, final))

    def take(tree, i):
        return jax.tree_util.tree_map(lambda a: a[i], tree)

    results = []
    for i in range(m):
        snapshots = [config.make_denoiser(take(w, i), sigma_data[i], step=s) for s, w in snaps]
        s_i = dict(
            settings,
            seed=int(seeds[i]),
            learning_rate=float(learning_rates[i]),
            n_train=int(counts[i]),
        )
        results.append(
            TrainResult(
                denoiser=snapshots[-1],
                losses=all_losses[i],
                snapshots=snapshots,
                snapshot_steps=[s for s, _ in snaps],
                settings=s_i,
                sigma_data=float(sigma_data[i]),
                steps_done=done,
                cancelled=cancelled,
                wall_time=wall,
            )
        )
    return SweepResult(results, wall_time=wall)


def _check_common(
    steps, batch_size, ema, label_dropout, n_snapshots, steps_per_call, grad_clip, weight_decay
):
    steps = check_int(steps, "steps", 1, MAX_STEPS)
    batch_size = check_int(batch_size, "batch_size", 1, MAX_BATCH)
    ema = None if ema in (None, 0, 0.0, False) else check_float(ema, "ema", 0.0, 0.99999)
    label_dropout = check_float(label_dropout, "label_dropout", 0.0, 1.0)
    n_snapshots = check_int(n_snapshots, "n_snapshots", 0, 1000)
    steps_per_call = check_int(steps_per_call, "steps_per_call", 1, 100_000)
    grad_clip = None if not grad_clip else check_float(grad_clip, "grad_clip", 0.0, lo_open=True)
    weight_decay = check_float(weight_decay, "weight_decay", 0.0, 1.0)
    return (
        steps,
        batch_size,
        ema,
        label_dropout,
        n_snapshots,
        steps_per_call,
        grad_clip,
        weight_decay,
    )


def _check_lr(lr):
    return check_float(lr, "learning_rate", 0.0, 1.0, lo_open=True)


def train(
    train_x,
    train_labels=None,
    *,
    width: int = 128,
    depth: int = 3,
    steps: int = 2000,
    batch_size: int = 512,
    learning_rate: float = 2e-3,
    seed: int = 0,
    activation: str = "silu",
    embedding: str = "fourier",
    embed_dim: int = 32,
    schedule: str | Schedule = "edm",
    ema: float | None = None,
    label_dropout: float = 0.1,
    n_snapshots: int = 8,
    steps_per_call: int = 250,
    grad_clip: float | None = 1.0,
    weight_decay: float = 0.0,
    config=None,
    callback: Callable[[Progress], Any] | None = None,
) -> TrainResult:
    """Train one denoiser by denoising score matching.

    Args:
      train_x: ``(N, d)`` training points (``(N, H, W, C)`` with an image ``config``).
      train_labels: optional ``(N,)`` ints: the model becomes conditional (with a null class for
        ``labels=None``, trained by ``label_dropout``).
      width, depth, activation, embedding, embed_dim: the MLP (ignored when ``config`` is given;
        pass an architecture config such as the U-Net's to train something else).
      steps, batch_size, learning_rate, seed: the optimisation (Adam, clipped at ``grad_clip``).
      schedule: the training noise distribution (``"edm"``, ``"vp"``, ``"ve"``, ``"cosine"``).
      ema: EMA decay of the weights (``None`` = off); the denoiser and snapshots use the EMA.
      n_snapshots: snapshots at log-spaced steps (``.snapshots``, ``.snapshot_steps``).
      steps_per_call: steps per compiled call (the granularity of progress and cancel).
      callback: ``f(Progress)`` after each call; return ``False`` (or raise
        :class:`TrainingCancelled`) to stop; the result then has ``cancelled=True``.

    Returns: a :class:`TrainResult`.
    """
    x, lab = _prepare_data(train_x, train_labels, config)
    num_classes = _num_classes(lab, config)
    cfg = _net_config(
        config,
        x.shape[1] if x.ndim == 2 else None,
        width,
        depth,
        activation,
        embedding,
        embed_dim,
        num_classes,
    )
    common = _check_common(
        steps, batch_size, ema, label_dropout, n_snapshots, steps_per_call, grad_clip, weight_decay
    )
    steps, batch_size, ema, label_dropout, n_snapshots, steps_per_call, grad_clip, weight_decay = (
        common
    )
    lr = _check_lr(learning_rate)
    seed = check_int(seed, "seed", 0, 2**31 - 1)
    sched = get_schedule(schedule)
    settings = dict(
        architecture=cfg.to_dict(),
        kind=cfg.kind,
        steps=steps,
        batch_size=batch_size,
        schedule=sched.name,
        ema=ema,
        label_dropout=label_dropout,
        grad_clip=grad_clip,
        weight_decay=weight_decay,
        n_snapshots=n_snapshots,
    )
    out = _fit(
        x,
        lab,
        config=cfg,
        seeds=[seed],
        learning_rates=[lr],
        subsets=[np.arange(x.shape[0])],
        steps=steps,
        batch_size=batch_size,
        schedule=sched,
        ema_decay=ema,
        label_dropout=label_dropout,
        n_snapshots=n_snapshots,
        steps_per_call=steps_per_call,
        grad_clip=grad_clip,
        weight_decay=weight_decay,
        callback=callback,
        settings=settings,
    )
    return out.results[0]


def train_sweep(
    train_x,
    train_labels=None,
    *,
    seeds: Sequence[int] | None = None,
    learning_rates: Sequence[float] | float | None = None,
    subsets: Sequence[Sequence[int]] | None = None,
    width: int = 128,
    depth: int = 3,
    steps: int = 2000,
    batch_size: int = 512,
    learning_rate: float = 2e-3,
    activation: str = "silu",
    embedding: str = "fourier",
    embed_dim: int = 32,
    schedule: str | Schedule = "edm",
    ema: float | None = None,
    label_dropout: float = 0.1,
    n_snapshots: int = 8,
    steps_per_call: int = 250,
    grad_clip: float | None = 1.0,
    weight_decay: float = 0.0,
    config=None,
    callback: Callable[[Progress], Any] | None = None,
    groups: int | None = None,
) -> SweepResult:
    """Train many models of one architecture together under ``vmap`` (one compiled step).

    The sweep's size ``M`` is the common length of ``seeds``, ``learning_rates`` and ``subsets``
    (any one of them may be given; scalars broadcast). ``subsets[i]`` are indices into
    ``train_x`` that model ``i`` trains on (data-density sweeps); its ``σ_data`` is measured on
    its own subset. ``groups`` splits the models into that many vmapped groups that run at once
    from separate threads (default: one per CPU core on the CPU backend, 1 on accelerators; see
    :func:`sweep_groups`); it changes speed, not results. Other arguments are as in
    :func:`train`.
    """
    x, lab = _prepare_data(train_x, train_labels, config)
    lens = {len(v) for v in (seeds, subsets) if v is not None}
    if learning_rates is not None and np.ndim(learning_rates) == 1:
        lens.add(len(learning_rates))
    if not lens:
        raise ValueError(
            "train_sweep needs seeds, learning_rates or subsets to know how many models to train"
        )
    if len(lens) > 1:
        raise ValueError(
            f"seeds, learning_rates and subsets must have the same length, got lengths {sorted(lens)}"
        )
    m = lens.pop()
    if m < 1 or m > 4096:
        raise ValueError(f"a sweep trains between 1 and 4096 models, got {m}")
    n_groups = sweep_groups(m, groups)
    seeds = list(range(m)) if seeds is None else [check_int(s, "seed", 0, 2**31 - 1) for s in seeds]
    if learning_rates is None:
        learning_rates = [learning_rate] * m
    elif np.ndim(learning_rates) == 0:
        learning_rates = [float(learning_rates)] * m  # type: ignore[arg-type]
    lrs = [_check_lr(v) for v in learning_rates]  # type: ignore[union-attr]
    if subsets is None:
        subs = [np.arange(x.shape[0])] * m
    else:
        subs = []
        for i, s in enumerate(subsets):
            s = np.asarray(s)
            if s.ndim != 1 or s.size == 0 or not np.issubdtype(s.dtype, np.integer):
                raise ValueError(f"subsets[{i}] must be a non-empty 1-D array of integer indices")
            if s.min() < 0 or s.max() >= x.shape[0]:
                raise ValueError(f"subsets[{i}] has indices outside [0, {x.shape[0]})")
            subs.append(s.astype(np.int32))
    num_classes = _num_classes(lab, config)
    cfg = _net_config(
        config,
        x.shape[1] if x.ndim == 2 else None,
        width,
        depth,
        activation,
        embedding,
        embed_dim,
        num_classes,
    )
    common = _check_common(
        steps, batch_size, ema, label_dropout, n_snapshots, steps_per_call, grad_clip, weight_decay
    )
    steps, batch_size, ema, label_dropout, n_snapshots, steps_per_call, grad_clip, weight_decay = (
        common
    )
    sched = get_schedule(schedule)
    settings = dict(
        architecture=cfg.to_dict(),
        kind=cfg.kind,
        steps=steps,
        batch_size=batch_size,
        schedule=sched.name,
        ema=ema,
        label_dropout=label_dropout,
        grad_clip=grad_clip,
        weight_decay=weight_decay,
        n_snapshots=n_snapshots,
    )
    return _fit(
        x,
        lab,
        config=cfg,
        seeds=seeds,
        learning_rates=lrs,
        subsets=subs,
        steps=steps,
        batch_size=batch_size,
        schedule=sched,
        ema_decay=ema,
        label_dropout=label_dropout,
        n_snapshots=n_snapshots,
        steps_per_call=steps_per_call,
        grad_clip=grad_clip,
        weight_decay=weight_decay,
        callback=callback,
        settings=settings,
        groups=n_groups,
    )


# --- save / load ------------------------------------------------------------------------------

FORMAT = "toyflow-model-v1"
ARCHITECTURES: dict[str, Callable[[dict], Any]] = {"mlp": lambda d: MLPConfig(**d)}


def register_architecture(kind: str, from_dict: Callable[[dict], Any]) -> None:
    """Let :func:`load_result` rebuild configs of another architecture (the U-Net registers)."""
    ARCHITECTURES[kind] = from_dict


def _to_numpy(tree):
    return jax.tree_util.tree_map(lambda a: np.asarray(a), tree)


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write to a temporary file beside ``path`` and rename, so a crash never leaves half a file."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; give the usual permissions
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_result(result: TrainResult, path: str | os.PathLike) -> None:
    """Save a :class:`TrainResult` (final weights, snapshots, losses, settings) atomically."""
    cfg = result.denoiser.config
    payload = {
        "format": FORMAT,
        "kind": cfg.kind,
        "config": json.dumps(cfg.to_dict()),
        "settings": json.dumps(result.settings, default=str),
        "sigma_data": float(result.sigma_data),
        "steps_done": int(result.steps_done),
        "cancelled": bool(result.cancelled),
        "wall_time": float(result.wall_time),
        "losses": np.asarray(result.losses, np.float32),
        "snapshot_steps": np.asarray(result.snapshot_steps, np.int64),
        "snapshots": {str(i): _to_numpy(s.params) for i, s in enumerate(result.snapshots)},
        "final": _to_numpy(result.denoiser.params),
    }
    atomic_write_bytes(path, serialization.msgpack_serialize(payload))


def load_result(path: str | os.PathLike) -> TrainResult:
    """Load what :func:`save_result` wrote (``ValueError`` for a file that is not one)."""
    try:
        with open(path, "rb") as f:
            payload = serialization.msgpack_restore(f.read())
    except FileNotFoundError:
        raise
    except Exception as exc:
        raise ValueError(f"{os.fspath(path)!r} is not a toyflow model file ({exc})") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{os.fspath(path)!r} is not a toyflow model file (format {FORMAT})")
    kind = payload["kind"]
    if kind not in ARCHITECTURES:
        raise ValueError(
            f"unknown architecture {kind!r} in {os.fspath(path)!r}; known: {sorted(ARCHITECTURES)}"
        )
    cfg = ARCHITECTURES[kind](json.loads(payload["config"]))
    sd = float(payload["sigma_data"])
    to_j = lambda t: jax.tree_util.tree_map(jnp.asarray, t)
    steps = [int(s) for s in np.asarray(payload["snapshot_steps"])]
    snaps = [
        cfg.make_denoiser(to_j(payload["snapshots"][str(i)]), sd, step=s)
        for i, s in enumerate(steps)
    ]
    final = cfg.make_denoiser(to_j(payload["final"]), sd, step=int(payload["steps_done"]))
    return TrainResult(
        denoiser=final,
        losses=np.asarray(payload["losses"]),
        snapshots=snaps,
        snapshot_steps=steps,
        settings=json.loads(payload["settings"]),
        sigma_data=sd,
        steps_done=int(payload["steps_done"]),
        cancelled=bool(payload["cancelled"]),
        wall_time=float(payload["wall_time"]),
    )
