r"""Where the training state lives and how a compiled chunk of steps is run: a placement.

The host loop (:func:`toyflow.training.loop.fit`) is written once; a placement decides

- how the per-model arrays (states, keys, σ_d, subsets) are laid out: the model axis of a sweep
  is stacked and ``vmap``-ed in both placements;
- how :func:`~toyflow.training.step.make_train_step` is compiled and called;
- how results come back to the host.

:class:`SingleDevice` runs on the default device. On the CPU backend one small model's step
runs on one core, so the model axis is split into ``groups`` whose compiled calls run at once
from as many threads (a 16-model vmap alone gains only ~1.3× over a loop on 2 cores).

:class:`DataParallel` runs over a :class:`jax.sharding.Mesh` with two named axes::

    ("model", "data")   shape (M_dev, D_dev),   M_dev · D_dev = number of devices

- **data axis**: each batch is split over ``D_dev`` devices, parameters, optimizer state and EMA
  are replicated. :class:`ShardedConfig` pins the batch of noisy inputs to the data axis
  (``with_sharding_constraint``); XLA's SPMD partitioner propagates that through the network and
  all-reduces the gradients. The loss is a mean over the global batch, so one step equals the
  single-device step on the same batch up to float summation order.
- **model axis**: a sweep's stacked models are split over ``M_dev`` device groups.

Randomness is ``fold_in(key, step)`` with partitionable Threefry, so both placements draw the
same numbers. Several hosts: every process runs the same program after
``jax.distributed.initialize`` (:func:`initialize_distributed`); the mesh then spans every
process's devices, host arrays are placed with ``make_array_from_callback`` and read back with
``process_allgather``. No launcher of our own: JAX's runtime does the rest.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from toyflow._types import AnyArray, ArrayLike, JaxArrayLike, Key, PyTree
from toyflow._validation import check_int
from toyflow.training.step import Architecture, TrainState, TrainStep

if TYPE_CHECKING:
    from toyflow.nets import LearnedDenoiser

DATA_AXIS = "data"
MODEL_AXIS = "model"

# --- multi-host and meshes ---------------------------------------------------------------------


def initialize_distributed(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    **kwargs: Any,
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
    kwargs: dict[str, Any] = {}
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


def place(x: ArrayLike, sharding: NamedSharding) -> jax.Array:
    """Put a host array (the same on every process) onto ``sharding`` — works across hosts."""
    arr = np.asarray(x)
    return jax.make_array_from_callback(arr.shape, sharding, lambda idx: arr[idx])


def place_tree(tree: PyTree, sharding: NamedSharding) -> PyTree:
    return jax.tree_util.tree_map(lambda a: place(a, sharding), tree)


def fetch(tree: PyTree) -> PyTree:
    """Arrays laid out on a mesh (possibly spread over hosts) as full host NumPy arrays on every
    process."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        return jax.tree_util.tree_map(
            lambda a: np.asarray(multihost_utils.process_allgather(a, tiled=True)), tree
        )
    return jax.tree_util.tree_map(np.asarray, tree)


@dataclasses.dataclass(frozen=True)
class ShardedConfig:
    """An architecture config whose ``apply`` pins the batch to the mesh's data axis.

    Everything else (``init``, ``make_denoiser``, ``to_dict``, ``kind``) is the wrapped
    config's, so denoisers, snapshots and saved files are those of the plain architecture.
    """

    base: Architecture
    mesh: Mesh

    @property
    def kind(self) -> str:
        return self.base.kind

    @property
    def num_classes(self) -> int | None:
        return self.base.num_classes

    @property
    def event_shape(self) -> tuple[int, ...]:
        return self.base.event_shape

    def to_dict(self) -> dict[str, Any]:
        return self.base.to_dict()

    def init(self, key: Key) -> PyTree:
        return self.base.init(key)

    def make_denoiser(
        self, params: PyTree, sigma_data: JaxArrayLike, step: int | None = None
    ) -> LearnedDenoiser:
        return self.base.make_denoiser(params, sigma_data, step=step)

    def _constrain(self, a: jax.Array) -> jax.Array:
        spec = P(DATA_AXIS, *([None] * (a.ndim - 1)))
        out: jax.Array = jax.lax.with_sharding_constraint(a, NamedSharding(self.mesh, spec))
        return out

    def apply(
        self,
        params: PyTree,
        sigma_data: JaxArrayLike,
        x: jax.Array,
        sigma: jax.Array,
        labels: jax.Array | None = None,
        *,
        dropout_key: Key | None = None,
    ) -> jax.Array:
        x = self._constrain(x)
        sigma = self._constrain(sigma)
        labels = None if labels is None else self._constrain(labels)
        return self._constrain(
            self.base.apply(params, sigma_data, x, sigma, labels, dropout_key=dropout_key)
        )


# --- the two placements ---------------------------------------------------------------------------

#: ``run`` arguments: state, key, σ_d, subset idx and count are per model; data and n are shared.
_RUN_AXES = (0, 0, 0, None, None, 0, 0, None)

#: One group's per-model arrays: ``(state, run key, σ_d, subset indices, subset sizes)``.
Part: TypeAlias = tuple[PyTree, ...]
#: The arrays every model reads: ``(data_x, data_labels or None)``.
Shared: TypeAlias = tuple[jax.Array | None, jax.Array | None]
#: What a compiled call returns for one group: the stacked states and losses.
StepOut: TypeAlias = tuple[TrainState, jax.Array]


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


def pad_models(a: AnyArray, total: int) -> AnyArray:
    """``a`` with its last model repeated along axis 0 up to ``total`` models."""
    extra = total - a.shape[0]
    if extra <= 0:
        return a
    xp = np if isinstance(a, np.ndarray) else jnp
    out: AnyArray = xp.concatenate([a, xp.repeat(a[-1:], extra, axis=0)])
    return out


class Placement(Protocol):
    """What :func:`toyflow.training.loop.fit` asks of a placement (in call order)."""

    def start(self, m: int, batch_size: int) -> int:
        """Validate for ``m`` models; return the model count the stacked arrays are padded to."""

    def step_config(self, config: Architecture) -> Architecture:
        """The architecture config the train step uses (e.g. with sharding constraints)."""

    def cache_key(self, has_labels: bool) -> tuple[Hashable, ...]:
        """What, besides the step's settings, tells compiled runners apart."""

    def compile(self, run: TrainStep, has_labels: bool) -> TrainStep:
        """``run`` of :func:`~toyflow.training.step.make_train_step`, vmapped over models, jitted."""

    def per_model(self, tree: PyTree) -> list[PyTree]:
        """Stacked per-model arrays laid out, one entry per group of models."""

    def shared(self, a: np.ndarray | None) -> jax.Array | None:
        """An array every model reads (the training data) laid out."""

    def call(self, fn: TrainStep, parts: list[Part], shared: Shared, n: int) -> list[StepOut]:
        """Run ``n`` steps for every group; one ``(state, losses)`` per group."""

    def gather(self, trees: list[PyTree], host: bool = False) -> PyTree:
        """The real models' arrays of all groups in one tree (host NumPy if ``host``)."""

    def settings(self) -> dict[str, Any]:
        """Entries for a result's ``settings``."""

    def close(self) -> None:
        """Release threads or other resources."""


class SingleDevice:
    """The default device; a sweep's models in ``groups`` vmapped groups run from threads.

    ``groups=None``: one per CPU core on the CPU backend, 1 on accelerators (see
    :func:`sweep_groups`). The last model is repeated to fill the last group; the copies are
    dropped by :meth:`gather`. Groups change speed, not results.
    """

    def __init__(self, groups: int | None = None) -> None:
        self.requested = groups
        self.groups = 1
        self.models = 1
        self._pool: ThreadPoolExecutor | None = None

    def start(self, m: int, batch_size: int) -> int:
        """Set up for ``m`` models; returns the padded model count the state must have."""
        self.models = m
        self.groups = sweep_groups(m, self.requested)
        self.per_group = -(-m // self.groups)
        return self.groups * self.per_group

    def step_config(self, config: Architecture) -> Architecture:
        return config

    def cache_key(self, has_labels: bool) -> tuple[Hashable, ...]:
        return ("single",)

    def compile(self, run: TrainStep, has_labels: bool) -> TrainStep:
        return jax.jit(jax.vmap(run, in_axes=_RUN_AXES))

    def per_model(self, tree: PyTree) -> list[PyTree]:
        """Per-model arrays (padded to the model count :meth:`start` returned), one per group."""
        g = self.per_group
        tree = jax.tree_util.tree_map(
            lambda a: jnp.asarray(a) if isinstance(a, np.ndarray) else a, tree
        )
        if self.groups == 1:
            return [tree]
        return [
            jax.tree_util.tree_map(lambda v, i=i: v[i * g : (i + 1) * g], tree)
            for i in range(self.groups)
        ]

    def shared(self, a: np.ndarray | None) -> jax.Array | None:
        return None if a is None else jnp.asarray(a)

    def call(self, fn: TrainStep, parts: list[Part], shared: Shared, n: int) -> list[StepOut]:
        """Run ``n`` steps of every group; ``parts[i] = (state, key, σ_d, idx, count)``."""
        data_x, data_labels = shared

        def one(p: Part) -> StepOut:
            st, k, sd, ix, cnt = p
            out: StepOut = jax.block_until_ready(
                fn(st, k, sd, data_x, data_labels, ix, cnt, jnp.int32(n))
            )
            return out

        if self.groups == 1:
            return [one(parts[0])]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.groups, thread_name_prefix="toyflow-sweep")
        return list(self._pool.map(one, parts))

    def gather(self, trees: list[PyTree], host: bool = False) -> PyTree:
        """One tree of the real models from the groups' trees (on the device unless ``host``)."""
        if len(trees) == 1 and self.groups * self.per_group == self.models:
            out = trees[0]
        else:
            out = jax.tree_util.tree_map(lambda *a: jnp.concatenate(a)[: self.models], *trees)
        return jax.tree_util.tree_map(np.asarray, out) if host else out

    def settings(self) -> dict[str, Any]:
        return {}

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


class DataParallel:
    """Over a ``("model", "data")`` mesh (:func:`make_mesh`; default all devices on the data
    axis), across hosts after :func:`initialize_distributed`. See the module docstring."""

    def __init__(self, mesh: Mesh | None = None) -> None:
        self.mesh = make_mesh() if mesh is None else mesh
        self._per_model = NamedSharding(self.mesh, P(MODEL_AXIS))
        self._rep = NamedSharding(self.mesh, P())

    def start(self, m: int, batch_size: int) -> int:
        n_model = mesh_shape(self.mesh)[0]
        if m % n_model:
            raise ValueError(
                f"{m} models cannot be split evenly over the {n_model} devices of the model axis"
            )
        check_batch(batch_size, self.mesh)
        return m

    def step_config(self, config: Architecture) -> Architecture:
        return ShardedConfig(config, self.mesh)

    def cache_key(self, has_labels: bool) -> tuple[Hashable, ...]:
        return ("mesh", self.mesh, has_labels)

    def compile(self, run: TrainStep, has_labels: bool) -> TrainStep:
        run = jax.vmap(run, in_axes=_RUN_AXES, spmd_axis_name=MODEL_AXIS)
        pm, rep = self._per_model, self._rep
        in_sh = (pm, pm, pm, rep, rep if has_labels else None, pm, pm, rep)
        return jax.jit(run, in_shardings=in_sh, out_shardings=(pm, pm))

    def per_model(self, tree: PyTree) -> list[PyTree]:
        # Built on each process's default device (the same numbers on every host), then laid out.
        return [place_tree(jax.tree_util.tree_map(np.asarray, tree), self._per_model)]

    def shared(self, a: np.ndarray | None) -> jax.Array | None:
        return None if a is None else place(a, self._rep)

    def call(self, fn: TrainStep, parts: list[Part], shared: Shared, n: int) -> list[StepOut]:
        return [fn(*parts[0][:3], *shared, *parts[0][3:], place(np.int32(n), self._rep))]

    def gather(self, trees: list[PyTree], host: bool = False) -> PyTree:
        (tree,) = trees
        out = fetch(tree)
        return out if host else jax.tree_util.tree_map(jnp.asarray, out)

    def settings(self) -> dict[str, Any]:
        model, data = mesh_shape(self.mesh)
        return {"mesh": {"model": model, "data": data}}

    def close(self) -> None:
        pass
