r"""Training image models over several devices and hosts: the sharding-specific parts.

Training itself is the one engine of :mod:`toyflow.training`: :func:`train_parallel` and
:func:`train_sweep_parallel` are :func:`toyflow.training.train` and
:func:`~toyflow.training.train_sweep` with a ``mesh`` (the
:class:`~toyflow.training.placement.DataParallel` placement, whose docstring explains the
``("model", "data")`` mesh), plus image-model defaults (an architecture ``config`` is required,
``compute_dtype`` may be overridden). This module adds an explicit-batch step for exact
single- vs multi-device comparisons (:func:`make_batch_step`) and the multi-host command line.

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
before JAX is imported) simulates 8 devices; the tests do that. Several CPU processes need
cross-process collectives: ``jax.config.update("jax_cpu_collectives_implementation", "gloo")``
before initialising (``tests/test_multihost.py`` runs two such processes on localhost).
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from toyflow.training import (  # noqa: F401 (init_state re-exported)
    SweepResult,
    TrainResult,
    TrainState,
    apply_gradients,
    init_state,
    train,
    train_sweep,
)
from toyflow.training.placement import (  # noqa: F401 (the mesh helpers, re-exported)
    DATA_AXIS,
    MODEL_AXIS,
    ShardedConfig,
    check_batch,
    fetch,
    initialize_distributed,
    make_mesh,
    mesh_shape,
    place,
    place_tree,
)
from toyflow.training.step import denoising_loss as batch_loss


def _with_dtype(config, compute_dtype: str | None):
    if compute_dtype is None:
        return config
    if not hasattr(config, "compute_dtype"):
        raise ValueError(f"{type(config).__name__} has no compute_dtype setting")
    return dataclasses.replace(config, compute_dtype=compute_dtype)


def _check_config(config):
    if config is None or not hasattr(config, "apply"):
        raise ValueError("config must be an architecture config such as a UNetConfig")


# --- an explicit-batch step (for exact single- vs multi-device comparisons) ---------------------


def make_batch_step(
    config, optimizer, *, mesh: Mesh | None = None, ema_decay: float | None = None
) -> Callable:
    """Jitted ``step(state, sigma_data, y, labels, sigma, noise, dropout_key) -> (state, loss)``.

    The loss is :func:`toyflow.training.step.denoising_loss` on the given batch, the update
    :func:`~toyflow.training.step.apply_gradients`. With ``mesh`` the batch arguments are sharded
    over the data axis and the state replicated; without, it runs on one device.
    """
    cfg = config if mesh is None else ShardedConfig(config, mesh)
    grad_fn = jax.value_and_grad(lambda p, *a, k: batch_loss(cfg, p, *a, dropout_key=k))

    def step(state: TrainState, sigma_data, y, labels, sigma, noise, dropout_key):
        loss, grads = grad_fn(state.params, sigma_data, y, labels, sigma, noise, k=dropout_key)
        return apply_gradients(state, grads, optimizer, ema_decay), loss

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
            lab = None if labels is None else batch(1)
            in_sh = (rep, rep, batch(nd), lab, batch(1), batch(nd), rep)
            jitted[key] = (
                jax.jit(step, in_shardings=in_sh, out_shardings=(rep, rep)).lower(*args).compile()
            )
        return jitted[key](*args)

    sharded.executables = jitted  # type: ignore[attr-defined]  # compiled steps (``.as_text()`` shows the collectives)
    return sharded


# --- training over a mesh: the engine with a DataParallel placement ----------------------------


def train_parallel(
    train_x,
    train_labels=None,
    *,
    config,
    learning_rate: float = 2e-4,
    mesh: Mesh | None = None,
    compute_dtype: str | None = None,
    **kwargs: Any,
) -> TrainResult:
    """Train one model data-parallel over ``mesh`` (default: every device on the data axis).

    :func:`toyflow.training.train` with ``mesh`` and an architecture ``config`` (the other
    arguments, the result, snapshots, EMA and ``.save``/``.load`` are the same); ``batch_size``
    is the global batch and must be divisible by the data axis. ``compute_dtype="bfloat16"``
    overrides the config's.
    """
    cfg = _with_dtype(config, compute_dtype)
    _check_config(cfg)
    mesh = make_mesh() if mesh is None else mesh
    if mesh_shape(mesh)[0] != 1:
        raise ValueError(
            "train_parallel trains one model: use a mesh with model=1 "
            "(train_sweep_parallel uses the model axis)"
        )
    return train(
        train_x, train_labels, config=cfg, learning_rate=learning_rate, mesh=mesh, **kwargs
    )


def train_sweep_parallel(
    train_x,
    train_labels=None,
    *,
    config,
    seeds: Sequence[int],
    learning_rates: Sequence[float] | float = 2e-4,
    mesh: Mesh | None = None,
    compute_dtype: str | None = None,
    **kwargs: Any,
) -> SweepResult:
    """Train ``len(seeds)`` models of one architecture, stacked under ``vmap`` and split over the
    mesh's model axis, each data-parallel over the data axis (:func:`toyflow.training.train_sweep`
    with ``mesh``). Default mesh: model axis = the largest divisor of the device count that also
    divides the number of models."""
    cfg = _with_dtype(config, compute_dtype)
    _check_config(cfg)
    m = len(seeds)
    if m < 1:
        raise ValueError("train_sweep_parallel needs at least one seed")
    if mesh is None:
        n_dev = jax.device_count()
        mesh = make_mesh(model=max(d for d in range(1, n_dev + 1) if n_dev % d == 0 and m % d == 0))
    if np.ndim(learning_rates) == 0:
        learning_rates = [float(learning_rates)] * m  # type: ignore[arg-type]
    return train_sweep(
        train_x,
        train_labels,
        config=cfg,
        seeds=seeds,
        learning_rates=learning_rates,
        mesh=mesh,
        **kwargs,
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
