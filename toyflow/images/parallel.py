r"""Data-parallel (and model-parallel sweep) training with JAX's own SPMD runtime.

A :class:`jax.sharding.Mesh` with two named axes::

    ("model", "data")   shape (M_dev, D_dev),   M_dev · D_dev = number of devices

- **data axis**: each training batch is split over ``D_dev`` devices; parameters, optimizer
  state and EMA are replicated. Gradients are averaged across the axis by the compiler (the loss
  is a mean over the global batch), so one step equals the single-device step on the same batch
  up to float summation order.
- **model axis**: a sweep of ``M`` models (stacked parameters under ``vmap``) is split over
  ``M_dev`` device groups (``M`` divisible by ``M_dev``).

The step itself is :func:`toyflow.training.make_train_step`, unchanged: the architecture is
wrapped in :class:`ShardedConfig`, whose ``apply`` pins the batch of noisy images to the data
axis (``with_sharding_constraint``); XLA's SPMD partitioner propagates that through the network
and inserts the all-reduce of the gradients. Randomness is ``fold_in(key, step)`` with
partitionable Threefry, so sharded and single-device runs draw the same numbers. For exact
comparisons :func:`make_batch_step` takes an explicit batch ``(y, labels, σ, noise)``; its loss
is the formula of :mod:`toyflow.training`::

    L = mean_i λ(σ_i) · mean_k (D(y_i + σ_i n_i; σ_i) − y_i)_k²,   λ(σ) = (σ² + σ_d²)/(σ σ_d)²

bf16: pass ``compute_dtype="bfloat16"`` (or a :class:`~toyflow.images.unet.UNetConfig` with it)
for bf16 convolutions and attention with float32 parameters and optimizer state.

Several hosts: every host runs the same program; call :func:`initialize_distributed` first
(before anything touches a device). Launch, e.g. two hosts with 8 GPUs each::

    # on host 0 (the coordinator, reachable at 10.0.0.1) and on host 1:
    JAX_COORDINATOR_ADDRESS=10.0.0.1:1234 JAX_NUM_PROCESSES=2 JAX_PROCESS_ID=0 \
        python -m toyflow.images.parallel --preset cifar --data shapes --steps 100000 \
        --batch-size 512 --out model.msgpack --distributed
    JAX_COORDINATOR_ADDRESS=10.0.0.1:1234 JAX_NUM_PROCESSES=2 JAX_PROCESS_ID=1 \
        python -m toyflow.images.parallel --preset cifar --data shapes --steps 100000 \
        --batch-size 512 --out model.msgpack --distributed

    # under SLURM or Open MPI the variables are detected automatically:
    srun --nodes=2 --ntasks-per-node=1 --gpus-per-node=8 \
        python -m toyflow.images.parallel --preset cifar --distributed ...

The global batch (512 above) is split over all 16 devices. Only process 0 writes the model file.

On one machine with CPUs only, ``XLA_FLAGS=--xla_force_host_platform_device_count=8`` (set
before JAX is imported) simulates 8 devices; the tests do that.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from toyflow._validation import check_int
from toyflow.nets import loss_weight
from toyflow.schedules import Schedule, get_schedule
from toyflow.training import (
    Progress,
    SweepResult,
    TrainingCancelled,
    TrainResult,
    TrainState,
    _check_common,
    _check_lr,
    _prepare_data,
    make_optimizer,
    make_train_step,
    measure_sigma_data,
    snapshot_schedule,
)

DATA_AXIS = "data"
MODEL_AXIS = "model"


# --- multi-host and meshes ---------------------------------------------------------------------


def initialize_distributed(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    **kwargs,
) -> dict[str, int]:
    """Join a multi-host run (``jax.distributed.initialize``); call before touching devices.

    Arguments default to the environment variables ``JAX_COORDINATOR_ADDRESS``,
    ``JAX_NUM_PROCESSES`` and ``JAX_PROCESS_ID``; without them JAX detects SLURM, Open MPI,
    Kubernetes or TPU pods itself. Returns ``{"process_index", "process_count",
    "local_devices", "global_devices"}``. Safe to call twice.
    """
    env = os.environ
    coordinator_address = coordinator_address or env.get("JAX_COORDINATOR_ADDRESS")
    if num_processes is None and env.get("JAX_NUM_PROCESSES"):
        num_processes = int(env["JAX_NUM_PROCESSES"])
    if process_id is None and env.get("JAX_PROCESS_ID"):
        process_id = int(env["JAX_PROCESS_ID"])
    if not _distributed_ready():
        jax.distributed.initialize(
            coordinator_address=coordinator_address,
            num_processes=num_processes,
            process_id=process_id,
            **kwargs,
        )
    return {
        "process_index": jax.process_index(),
        "process_count": jax.process_count(),
        "local_devices": jax.local_device_count(),
        "global_devices": jax.device_count(),
    }


def _distributed_ready() -> bool:
    try:
        from jax._src import distributed as _dist

        return _dist.global_state.client is not None
    except Exception:  # pragma: no cover - private API moved
        return False


def make_mesh(
    model: int = 1, data: int | None = None, *, devices: Sequence[Any] | None = None
) -> Mesh:
    """A ``("model", "data")`` mesh over ``devices`` (default: all, across hosts).

    ``data`` defaults to ``len(devices) // model``. Axes are ``Auto`` (compiler-propagated
    shardings), which works the same on JAX 0.10–0.12.
    """
    devs = list(jax.devices() if devices is None else devices)
    model = check_int(model, "model", 1, len(devs))
    if data is None:
        if len(devs) % model:
            raise ValueError(
                f"the model axis ({model}) must divide the number of devices ({len(devs)})"
            )
        data = len(devs) // model
    data = check_int(data, "data", 1, len(devs))
    if model * data > len(devs):
        raise ValueError(
            f"a {model}×{data} mesh needs {model * data} devices, only {len(devs)} exist"
        )
    devs = devs[: model * data]
    kwargs = {}
    axis_type = getattr(jax.sharding, "AxisType", None)
    if axis_type is not None:
        kwargs["axis_types"] = (axis_type.Auto, axis_type.Auto)
    try:
        return jax.make_mesh((model, data), (MODEL_AXIS, DATA_AXIS), devices=devs, **kwargs)
    except TypeError:  # pragma: no cover - older signature without axis_types
        return Mesh(np.asarray(devs).reshape(model, data), (MODEL_AXIS, DATA_AXIS))


def mesh_shape(mesh: Mesh) -> tuple[int, int]:
    """``(model, data)`` sizes of a mesh made by :func:`make_mesh`."""
    return int(mesh.shape[MODEL_AXIS]), int(mesh.shape[DATA_AXIS])


def check_batch(batch_size: int, mesh: Mesh) -> int:
    """``ValueError`` unless the batch splits evenly over the data axis."""
    data = mesh_shape(mesh)[1]
    batch_size = check_int(batch_size, "batch_size", 1, 1 << 24)
    if batch_size % data:
        raise ValueError(
            f"batch_size {batch_size} is not divisible by the {data} devices of the data "
            f"axis; use a multiple of {data} (e.g. {data * max(1, round(batch_size / data))})"
        )
    return batch_size


def place(x, sharding: NamedSharding) -> jax.Array:
    """Put a host array (the same on every process) onto ``sharding`` — works across hosts."""
    arr = np.asarray(x)
    return jax.make_array_from_callback(arr.shape, sharding, lambda idx: arr[idx])


def place_tree(tree, sharding: NamedSharding):
    return jax.tree_util.tree_map(lambda a: place(a, sharding), tree)


def fetch(tree):
    """Arrays laid out on a mesh (possibly spread over hosts) as full host NumPy arrays on every
    process."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        return jax.tree_util.tree_map(
            lambda a: np.asarray(multihost_utils.process_allgather(a, tiled=True)), tree
        )
    return jax.tree_util.tree_map(np.asarray, tree)


# --- the sharded architecture wrapper ----------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ShardedConfig:
    """An architecture config whose ``apply`` pins the batch to the mesh's data axis.

    Everything else (``init``, ``make_denoiser``, ``to_dict``, ``kind``) is the wrapped
    config's, so denoisers, snapshots and saved files are those of the plain architecture.
    """

    base: Any
    mesh: Mesh

    @property
    def kind(self) -> str:
        return self.base.kind

    @property
    def num_classes(self):
        return self.base.num_classes

    @property
    def event_shape(self):
        return self.base.event_shape

    def to_dict(self):
        return self.base.to_dict()

    def init(self, key):
        return self.base.init(key)

    def make_denoiser(self, params, sigma_data, step=None):
        return self.base.make_denoiser(params, sigma_data, step=step)

    def _constrain(self, a):
        spec = P(DATA_AXIS, *([None] * (a.ndim - 1)))
        return jax.lax.with_sharding_constraint(a, NamedSharding(self.mesh, spec))

    def apply(self, params, sigma_data, x, sigma, labels=None, *, dropout_key=None):
        x = self._constrain(x)
        sigma = self._constrain(sigma)
        labels = None if labels is None else self._constrain(labels)
        return self._constrain(
            self.base.apply(params, sigma_data, x, sigma, labels, dropout_key=dropout_key)
        )


def _with_dtype(config, compute_dtype: str | None):
    if compute_dtype is None:
        return config
    if not hasattr(config, "compute_dtype"):
        raise ValueError(f"{type(config).__name__} has no compute_dtype setting")
    return dataclasses.replace(config, compute_dtype=compute_dtype)


# --- an explicit-batch step (for exact single- vs multi-device comparisons) ---------------------


def batch_loss(config, params, sigma_data, y, labels, sigma, noise, *, dropout_key=None):
    """The EDM denoising loss of :mod:`toyflow.training` on an explicit batch.

    y, noise: ``(B, H, W, C)``; sigma: ``(B,)``; labels: ``(B,)`` or None (already dropped to
    the null class where wanted).
    """
    x = y + sigma.reshape((-1,) + (1,) * (y.ndim - 1)) * noise
    den = config.apply(params, sigma_data, x, sigma, labels, dropout_key=dropout_key)
    err = jnp.mean(jnp.square(den - y).reshape(y.shape[0], -1), axis=1)
    return jnp.mean(loss_weight(sigma, sigma_data) * err)


def make_batch_step(
    config, optimizer, *, mesh: Mesh | None = None, ema_decay: float | None = None
) -> Callable:
    """Jitted ``step(state, sigma_data, y, labels, sigma, noise, dropout_key) -> (state, loss)``.

    With ``mesh`` the batch arguments are sharded over the data axis and the state replicated;
    without, it runs on one device. Same formula, same optimizer update either way.
    """
    cfg = config if mesh is None else ShardedConfig(config, mesh)
    grad_fn = jax.value_and_grad(lambda p, *a, k: batch_loss(cfg, p, *a, dropout_key=k))

    def step(state: TrainState, sigma_data, y, labels, sigma, noise, dropout_key):
        loss, grads = grad_fn(state.params, sigma_data, y, labels, sigma, noise, k=dropout_key)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        ema = state.ema
        if ema_decay is not None:
            ema = jax.tree_util.tree_map(
                lambda e, p: ema_decay * e + (1 - ema_decay) * p, ema, params
            )
        return TrainState(state.step + 1, params, opt_state, ema), loss

    if mesh is None:
        return jax.jit(step)
    rep = NamedSharding(mesh, P())
    batch = lambda nd: NamedSharding(mesh, P(DATA_AXIS, *([None] * (nd - 1))))
    jitted = {}

    def sharded(state, sigma_data, y, labels, sigma, noise, dropout_key):
        check_batch(y.shape[0], mesh)
        args = (state, sigma_data, y, labels, sigma, noise, dropout_key)
        key = (
            labels is None,
            jax.tree_util.tree_structure(args),
            tuple((a.shape, a.dtype) for a in jax.tree_util.tree_leaves(args)),
        )
        if key not in jitted:
            nd = np.ndim(y)
            in_sh = (
                rep,
                rep,
                batch(nd),
                None if labels is None else batch(1),
                batch(1),
                batch(nd),
                rep,
            )
            jitted[key] = (
                jax.jit(step, in_shardings=in_sh, out_shardings=(rep, rep)).lower(*args).compile()
            )
        return jitted[key](*args)

    sharded.executables = jitted  # compiled steps (``.as_text()`` shows the collectives)
    return sharded


def init_state(config, optimizer, key, learning_rate: float, *, ema: bool = False) -> TrainState:
    """A fresh :class:`~toyflow.training.TrainState` (one model) with the learning rate set."""
    params = config.init(key)
    opt_state = optimizer.init(params)
    opt_state.hyperparams["learning_rate"] = jnp.asarray(learning_rate, jnp.float32)
    return TrainState(jnp.int32(0), params, opt_state, params if ema else None)


# --- training over a mesh ---------------------------------------------------------------------------


_COMPILED: dict[Any, Callable] = {}


def _sharded_run(
    config: ShardedConfig,
    optimizer,
    schedule,
    batch_size,
    label_dropout,
    ema_decay,
    max_chunk,
    optimizer_key,
    has_labels: bool,
):
    """``make_train_step`` vmapped over models (model axis) and jitted with explicit shardings."""
    key = (
        config,
        optimizer_key,
        schedule,
        batch_size,
        label_dropout,
        ema_decay,
        max_chunk,
        has_labels,
    )
    fn = _COMPILED.get(key)
    if fn is None:
        mesh = config.mesh
        run = make_train_step(
            config,
            optimizer,
            schedule,
            batch_size=batch_size,
            label_dropout=label_dropout,
            ema_decay=ema_decay,
            max_chunk=max_chunk,
        )
        run = jax.vmap(run, in_axes=(0, 0, 0, None, None, 0, 0, None), spmd_axis_name=MODEL_AXIS)
        per_model = NamedSharding(mesh, P(MODEL_AXIS))
        rep = NamedSharding(mesh, P())
        in_sh = (
            per_model,
            per_model,
            per_model,
            rep,
            rep if has_labels else None,
            per_model,
            per_model,
            rep,
        )
        fn = jax.jit(run, in_shardings=in_sh, out_shardings=(per_model, per_model))
        if len(_COMPILED) > 16:
            _COMPILED.pop(next(iter(_COMPILED)))
        _COMPILED[key] = fn
    return fn


def _fit_parallel(
    x,
    labels,
    *,
    config,
    mesh: Mesh,
    seeds,
    learning_rates,
    subsets,
    steps,
    batch_size,
    schedule: Schedule,
    ema_decay,
    label_dropout,
    n_snapshots,
    steps_per_call,
    grad_clip,
    weight_decay,
    callback,
    settings,
) -> SweepResult:
    """Like ``toyflow.training._fit`` but with the state, data and batch placed on ``mesh``."""
    t_start = time.perf_counter()
    m = len(seeds)
    n_model = mesh_shape(mesh)[0]
    if m % n_model:
        raise ValueError(
            f"{m} models cannot be split evenly over the {n_model} devices of the model axis"
        )
    check_batch(batch_size, mesh)
    sharded = ShardedConfig(config, mesh)
    sigma_data = np.array([measure_sigma_data(x[s]) for s in subsets], np.float32)
    n_max = max(len(s) for s in subsets)
    idx = np.zeros((m, n_max), np.int32)
    for i, s in enumerate(subsets):
        idx[i, : len(s)] = s
    counts = np.array([len(s) for s in subsets], np.int32)

    optimizer = make_optimizer(1.0, grad_clip=grad_clip, weight_decay=weight_decay)
    keys = jnp.stack([jax.random.PRNGKey(int(s)) for s in seeds])
    init_keys, run_keys = jax.vmap(lambda k: jax.random.split(k))(keys).transpose(1, 0, 2)

    per_model = NamedSharding(mesh, P(MODEL_AXIS))
    rep = NamedSharding(mesh, P())

    def init_one(k, lr):
        return init_state(config, optimizer, k, lr, ema=ema_decay is not None)

    # Initialise on this process's default device (the same numbers on every host), then lay the
    # state out on the mesh.
    state = jax.tree_util.tree_map(
        np.asarray, jax.jit(jax.vmap(init_one))(init_keys, jnp.asarray(learning_rates, jnp.float32))
    )
    state = place_tree(state, per_model)
    max_chunk = int(min(steps_per_call, steps))
    run = _sharded_run(
        sharded,
        optimizer,
        schedule,
        batch_size,
        label_dropout,
        ema_decay,
        max_chunk,
        (grad_clip, weight_decay),
        labels is not None,
    )
    data_x = place(x, rep)
    data_labels = None if labels is None else place(labels, rep)
    run_keys = place(np.asarray(run_keys), per_model)
    sd, idx_j, cnt_j = place(sigma_data, per_model), place(idx, per_model), place(counts, per_model)

    snap_steps = snapshot_schedule(steps, n_snapshots)
    snap_set = set(snap_steps)
    boundaries = sorted(snap_set | {steps})
    losses: list[np.ndarray] = []
    snaps: list[tuple[int, Any]] = []
    done, cancelled = 0, False
    while done < steps:
        target = next(b for b in boundaries if b > done)
        n = min(target - done, max_chunk)
        state, buf = run(
            state, run_keys, sd, data_x, data_labels, idx_j, cnt_j, place(np.int32(n), rep)
        )
        chunk_losses = fetch(buf)[:, :n]
        losses.append(chunk_losses)
        done += n
        took_snapshot = done in snap_set
        if took_snapshot:
            snaps.append((done, fetch(state.ema if ema_decay is not None else state.params)))
        if callback is not None:
            prog = Progress(
                step=done,
                total=steps,
                loss=float(np.mean(chunk_losses)),
                elapsed=time.perf_counter() - t_start,
                snapshot=took_snapshot,
                losses=chunk_losses,
            )
            try:
                keep_going = callback(prog)
            except TrainingCancelled:
                keep_going = False
            if keep_going is False:
                cancelled = done < steps
                break
    wall = time.perf_counter() - t_start
    all_losses = np.concatenate(losses, axis=1) if losses else np.zeros((m, 0), np.float32)
    if not np.all(np.isfinite(all_losses)):
        bad = int(np.argmax(~np.all(np.isfinite(all_losses), axis=0)))
        raise FloatingPointError(
            f"training diverged (non-finite loss at step {bad + 1}); "
            f"try a smaller learning_rate than {max(learning_rates):g}"
        )
    if not snaps or snaps[-1][0] != done:
        snaps.append((done, fetch(state.ema if ema_decay is not None else state.params)))

    def take(tree, i):
        return jax.tree_util.tree_map(lambda a: jnp.asarray(a[i]), tree)

    results = []
    for i in range(m):
        snapshots = [config.make_denoiser(take(w, i), sigma_data[i], step=s) for s, w in snaps]
        s_i = dict(
            settings,
            seed=int(seeds[i]),
            learning_rate=float(learning_rates[i]),
            n_train=int(counts[i]),
            mesh={"model": n_model, "data": mesh_shape(mesh)[1]},
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


def _settings(
    cfg, sched, steps, batch_size, ema, label_dropout, grad_clip, weight_decay, n_snapshots
):
    return dict(
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


def _check_config(config, lab):
    if config is None or not hasattr(config, "apply"):
        raise ValueError("config must be an architecture config such as a UNetConfig")
    if lab is not None:
        if getattr(config, "num_classes", None) is None:
            raise ValueError("train_labels were given but the config has num_classes=None")
        if int(lab.max()) >= config.num_classes:
            raise ValueError(
                f"train_labels go up to {int(lab.max())} but the config has "
                f"num_classes={config.num_classes}"
            )


def train_parallel(
    train_x,
    train_labels=None,
    *,
    config,
    steps: int = 2000,
    batch_size: int = 512,
    learning_rate: float = 2e-4,
    seed: int = 0,
    mesh: Mesh | None = None,
    schedule: str | Schedule = "edm",
    ema: float | None = None,
    label_dropout: float = 0.1,
    n_snapshots: int = 8,
    steps_per_call: int = 250,
    grad_clip: float | None = 1.0,
    weight_decay: float = 0.0,
    compute_dtype: str | None = None,
    callback: Callable[[Progress], Any] | None = None,
) -> TrainResult:
    """Train one model data-parallel over ``mesh`` (default: every device on the data axis).

    Same arguments and result as :func:`toyflow.training.train` with an architecture
    ``config`` (snapshots, EMA, ``.save``/``.load``); ``batch_size`` is the global batch and must
    be divisible by the data axis. ``compute_dtype="bfloat16"`` overrides the config's.
    """
    mesh = make_mesh() if mesh is None else mesh
    cfg = _with_dtype(config, compute_dtype)
    x, lab = _prepare_data(train_x, train_labels, cfg)
    _check_config(cfg, lab)
    common = _check_common(
        steps, batch_size, ema, label_dropout, n_snapshots, steps_per_call, grad_clip, weight_decay
    )
    steps, batch_size, ema, label_dropout, n_snapshots, steps_per_call, grad_clip, weight_decay = (
        common
    )
    check_batch(batch_size, mesh)
    if mesh_shape(mesh)[0] != 1:
        raise ValueError(
            "train_parallel trains one model: use a mesh with model=1 "
            "(train_sweep_parallel uses the model axis)"
        )
    sched = get_schedule(schedule)
    out = _fit_parallel(
        x,
        lab,
        config=cfg,
        mesh=mesh,
        seeds=[check_int(seed, "seed", 0, 2**31 - 1)],
        learning_rates=[_check_lr(learning_rate)],
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
        settings=_settings(
            cfg, sched, steps, batch_size, ema, label_dropout, grad_clip, weight_decay, n_snapshots
        ),
    )
    return out.results[0]


def train_sweep_parallel(
    train_x,
    train_labels=None,
    *,
    config,
    seeds: Sequence[int],
    learning_rates: Sequence[float] | float = 2e-4,
    mesh: Mesh | None = None,
    subsets: Sequence[Sequence[int]] | None = None,
    steps: int = 2000,
    batch_size: int = 512,
    schedule: str | Schedule = "edm",
    ema: float | None = None,
    label_dropout: float = 0.1,
    n_snapshots: int = 8,
    steps_per_call: int = 250,
    grad_clip: float | None = 1.0,
    weight_decay: float = 0.0,
    compute_dtype: str | None = None,
    callback: Callable[[Progress], Any] | None = None,
) -> SweepResult:
    """Train ``len(seeds)`` models of one architecture, stacked under ``vmap`` and split over the
    mesh's model axis, each data-parallel over the data axis. Default mesh: model axis = the
    largest divisor of the device count that also divides the number of models."""
    cfg = _with_dtype(config, compute_dtype)
    x, lab = _prepare_data(train_x, train_labels, cfg)
    _check_config(cfg, lab)
    seeds = [check_int(s, "seed", 0, 2**31 - 1) for s in seeds]
    m = len(seeds)
    if m < 1:
        raise ValueError("train_sweep_parallel needs at least one seed")
    if mesh is None:
        n_dev = jax.device_count()
        model = max(d for d in range(1, n_dev + 1) if n_dev % d == 0 and m % d == 0)
        mesh = make_mesh(model=model)
    lrs = [learning_rates] * m if np.ndim(learning_rates) == 0 else list(learning_rates)  # type: ignore[list-item]
    if len(lrs) != m:
        raise ValueError(f"learning_rates has {len(lrs)} entries for {m} seeds")
    lrs = [_check_lr(v) for v in lrs]
    if subsets is None:
        subs = [np.arange(x.shape[0])] * m
    else:
        if len(subsets) != m:
            raise ValueError(f"subsets has {len(subsets)} entries for {m} seeds")
        subs = []
        for i, s in enumerate(subsets):
            s = np.asarray(s)
            if (
                s.ndim != 1
                or s.size == 0
                or not np.issubdtype(s.dtype, np.integer)
                or s.min() < 0
                or s.max() >= x.shape[0]
            ):
                raise ValueError(
                    f"subsets[{i}] must be a non-empty list of indices in [0, {x.shape[0]})"
                )
            subs.append(s.astype(np.int32))
    common = _check_common(
        steps, batch_size, ema, label_dropout, n_snapshots, steps_per_call, grad_clip, weight_decay
    )
    steps, batch_size, ema, label_dropout, n_snapshots, steps_per_call, grad_clip, weight_decay = (
        common
    )
    sched = get_schedule(schedule)
    return _fit_parallel(
        x,
        lab,
        config=cfg,
        mesh=mesh,
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
        settings=_settings(
            cfg, sched, steps, batch_size, ema, label_dropout, grad_clip, weight_decay, n_snapshots
        ),
    )


# --- command line (the multi-host launch target) --------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m toyflow.images.parallel``: train a U-Net data-parallel and save it."""
    parser = argparse.ArgumentParser(
        prog="python -m toyflow.images.parallel", description=main.__doc__
    )
    parser.add_argument("--preset", default="tiny", help="U-Net preset (tiny, small, cifar)")
    parser.add_argument("--data", default="digits", help="built-in image set (digits, shapes, ...)")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=2e-4)
    parser.add_argument("--ema", type=float, default=0.999)
    parser.add_argument("--bf16", action="store_true", help="bfloat16 compute")
    parser.add_argument(
        "--distributed", action="store_true", help="call jax.distributed.initialize() first"
    )
    parser.add_argument("--out", default=None, help="model file to write (process 0 only)")
    args = parser.parse_args(argv)
    if args.distributed:
        info = initialize_distributed()
        print(
            f"process {info['process_index']}/{info['process_count']}: "
            f"{info['local_devices']} local of {info['global_devices']} devices",
            flush=True,
        )
    from toyflow.images.data import load_image_dataset
    from toyflow.images.unet import unet_config

    data = load_image_dataset(args.data)
    cfg = unet_config(
        args.preset,
        image_shape=data.event_shape,
        compute_dtype="bfloat16" if args.bf16 else "float32",
    )
    result = train_parallel(
        data.train_x,
        config=cfg,
        steps=args.steps,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        ema=args.ema,
        callback=lambda p: (
            print(f"step {p.step}/{p.total} loss {p.loss:.4f}", flush=True)
            if jax.process_index() == 0
            else None
        ),
    )
    if args.out and jax.process_index() == 0:
        result.save(args.out)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
