r"""Pure compute for the explorer: inputs → data, denoisers, the σ grid, fields, trajectories.

Every number comes from a toyflow function; results are cached by the plain values they depend
on (:mod:`toyflow.explorer.cache`). σ and δ are traced values in the jitted toyflow functions, so
moving σ or δ never recompiles.

σ is resolved from the sampling grid :func:`toyflow.schedules.sampling_sigmas` in one place,
:meth:`ExplorerCompute.sigma`: the grid holds ``sample_steps + 1`` values from σ_max down to 0,
and the slider index is clamped to ``0 … sample_steps − 1`` (the last value, 0, is where the
samples are, not a noise level to draw a field at).
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Any

import numpy as np

from toyflow.explorer.cache import DATA_CACHE, FIELD_CACHE, TRAJ_CACHE, fingerprint
from toyflow.explorer.model import (
    AUTOGUIDANCE_DELTA_STEP,
    CUSTOM,
    MAX_POINTS,
    USER,
    ExplorerInputs,
)

#: Fresh draws from the data distribution for the memorization baseline (binomial standard
#: error ≤ 1.1 points).
FRESH_DRAWS = 2000
#: Data sets whose shipped layout is a fixed split of a distribution: fresh draws come from
#: that distribution (the symmetric circle's equidistant angles are points of the uniform circle).
FRESH_PARAMS = {"circle": {"layout": "random"}}


class NotReady(Exception):
    """The chosen model has no weights yet (a learned model before training)."""


@dataclasses.dataclass(frozen=True)
class DataView:
    """The current data: points, labels (``None`` without labels) and a description."""

    dataset: Any  # toyflow.Dataset
    train_labels: np.ndarray | None
    val_labels: np.ndarray | None
    key: tuple

    @property
    def num_classes(self) -> int | None:
        return None if self.train_labels is None else int(self.train_labels.max()) + 1


@dataclasses.dataclass(frozen=True)
class TrajectoryView:
    """Sampling trajectories ``(T+1, n, 2)`` over ``sigmas (T+1,)`` (last σ = 0), the samples and
    their memorized flags."""

    trajectory: np.ndarray
    sigmas: np.ndarray
    samples: np.ndarray
    labels: np.ndarray | None
    memorized: np.ndarray | None = None


@dataclasses.dataclass(frozen=True)
class LearnedModel:
    """A learned model's snapshots for the current inputs (empty before training): ``owner`` is
    the TrainResult or running job holding them, ``token`` names it in cache keys."""

    snapshots: list
    steps: list[int]
    owner: Any = None
    token: int = 0
    training: bool = False  # a job for these inputs is queued or running


class ExplorerCompute:
    """Computes what the views show from an :class:`ExplorerInputs` (read, never written).

    ``learned`` returns the :class:`LearnedModel` for the current inputs (the training
    controller's)."""

    def __init__(self, inputs: ExplorerInputs, learned=None):
        self.inputs = inputs
        self.learned = learned or (lambda: LearnedModel([], []))
        self.counts: collections.Counter = collections.Counter()
        self.user: Any = None  # a denoiser passed in from Python, for kind "user"

    # -- data --------------------------------------------------------------------------------
    def data_key(self) -> tuple:
        s = self.inputs
        k = s.k if s.granularity == "kmeans" else None
        if s.dataset == CUSTOM:
            points = fingerprint(s.custom_points, s.custom_labels)
            return (CUSTOM, points, float(s.holdout), s.seed, s.granularity, k)
        return (s.dataset, s.n_train, s.n_val, s.seed, s.granularity, k)

    def data(self) -> DataView:
        """The data set and its labels at the chosen granularity (``ValueError`` for a
        combination that makes no sense, such as K larger than the number of points)."""
        key = self.data_key()
        hit = DATA_CACHE.get(("data", key))
        if hit is not None:
            return hit
        from toyflow.datasets import from_points, make_dataset
        from toyflow.labels import make_labels

        s = self.inputs
        self.counts["data"] += 1
        if s.dataset == CUSTOM:
            if s.custom_points is None or len(s.custom_points) < 2:
                raise ValueError(
                    "Custom data needs at least 2 points: draw them on the canvas and "
                    "press 'Use drawn points', or upload a CSV of x,y rows."
                )
            if len(s.custom_points) > MAX_POINTS:
                raise ValueError(
                    f"Custom data has {len(s.custom_points)} points; the explorer "
                    f"takes at most {MAX_POINTS}."
                )
            ds = from_points(
                s.custom_points,
                None,
                s.custom_labels,
                name=CUSTOM,
                val_fraction=s.holdout,
                seed=s.seed,
            )
            if ds.n_train < 2:
                raise ValueError("Keep at least 2 training points: lower the held-out share.")
        else:
            ds = make_dataset(s.dataset, s.n_train, s.n_val, seed=s.seed)
        if s.granularity == "kmeans" and s.k > ds.n_train:
            raise ValueError(
                f"K = {s.k} is larger than the number of training points "
                f"({ds.n_train}); choose K between 1 and {ds.n_train}."
            )
        k = s.k if s.granularity == "kmeans" else None
        tl, vl = make_labels(ds, s.granularity, k=k, seed=s.seed)
        if tl is not None and vl is None:
            vl = np.zeros(0, np.int32)
        return DATA_CACHE.put(("data", key), DataView(ds, tl, vl, key))

    def fresh_points(self) -> tuple[np.ndarray, str] | None:
        """``(points, source)`` for the memorization baseline (see :func:`fresh_points`)."""
        return fresh_points(self.data(), self.inputs.dataset, self.inputs.seed)

    def optimal(self):
        """The optimal (empirical) denoiser of the training set, class-conditional with labels."""
        data = self.data()
        key = ("optimal", data.key)
        hit = DATA_CACHE.get(key)
        if hit is None:
            from toyflow.denoisers import OptimalDenoiser

            hit = DATA_CACHE.put(key, OptimalDenoiser(data.dataset.train_x, data.train_labels))
        return hit

    def sample_labels(self) -> np.ndarray | None:
        """Labels of the samples: ``None`` without labels; one class (``condition``), or each
        sample a training label drawn with the seed (``condition = -1``)."""
        s, data = self.inputs, self.data()
        if data.train_labels is None:
            return None
        self._check_condition(data)
        if s.condition >= 0:
            return np.full(s.n_samples, s.condition, np.int32)
        rng = np.random.default_rng(s.seed)
        return rng.choice(data.train_labels, s.n_samples).astype(np.int32)

    def field_label(self) -> int | None:
        """The label the flow field is drawn for (``None``: unconditional)."""
        data = self.data()
        if data.train_labels is None or self.inputs.condition < 0:
            return None
        self._check_condition(data)
        return int(self.inputs.condition)

    def _check_condition(self, data: DataView) -> None:
        c = self.inputs.condition
        if c >= 0 and c not in set(np.unique(np.asarray(data.train_labels)).tolist()):
            raise ValueError(
                f"Condition label {c} has no training points; choose -1 "
                f"(all labels) or a label between 0 and {(data.num_classes or 1) - 1}."
            )

    # -- models ------------------------------------------------------------------------------
    def snapshot_position(self, n: int) -> int:
        i = self.inputs.snapshot_index
        return n - 1 if i < 0 else min(i, n - 1)

    def use_denoiser(self, denoiser) -> Any:
        """Adopt a denoiser or any function ``D(x, sigma[, labels])`` as the ``"user"`` model
        (wrapped by :func:`toyflow.as_denoiser`; a bad one raises ``ValueError`` here)."""
        from toyflow._function import as_denoiser

        self.user = as_denoiser(denoiser, (2,))
        if tuple(self.user.event_shape) != (2,):
            raise ValueError(
                f"the explorer draws 2D points; this denoiser works on {self.user.event_shape}"
            )
        return self.user

    def compares(self) -> bool:
        """Whether the model differs from D* (``False``: the optimal denoiser without guidance,
        where every model-vs-optimal comparison is zero up to float error)."""
        s = self.inputs
        return not (s.kind == "optimal" and s.guidance == "none")

    def base_model(self):
        """``(denoiser, key)`` of the chosen model before guidance."""
        s = self.inputs
        if s.kind == USER:
            if self.user is None:
                raise NotReady("No user denoiser: pass one with toyflow.explore(denoiser=...).")
            return self.user, ("user", id(self.user))
        if s.kind == "optimal":
            return self.optimal(), ("optimal",)
        if s.kind == "error-prone":
            from toyflow.denoisers import ErrorProneDenoiser

            return ErrorProneDenoiser(self.optimal(), s.delta), ("error-prone", float(s.delta))
        learned = self.learned()
        if not learned.snapshots:
            if learned.training:
                raise NotReady("Training… the first snapshot appears in a moment.")
            raise NotReady(
                "Press Train to train this model (a configuration trained before "
                "comes back at once)."
            )
        i = self.snapshot_position(len(learned.snapshots))
        key = ("learned", learned.token, learned.steps[i], len(learned.snapshots))
        return learned.snapshots[i], key

    def model(self):
        """``(denoiser, key)`` of the chosen model with guidance; the key fixes every cache."""
        s = self.inputs
        base, key = self.base_model()
        data_key = self.data().key
        if s.guidance == "none":
            return base, (data_key, key)
        from toyflow._denoiser import Unconditional
        from toyflow.denoisers import ErrorProneDenoiser, GuidedDenoiser, autoguidance

        if s.guidance == "classifier-free":
            if self.data().train_labels is None:
                raise ValueError(
                    "Classifier-free guidance needs labels: choose a label granularity "
                    "other than 'none'."
                )
            # The conditional model against itself with labels dropped (Unconditional accepts
            # the samples' labels and ignores them).
            guided = GuidedDenoiser(base, Unconditional(base), s.w)
            return guided, (data_key, key, "cfg", float(s.w))
        # Autoguidance: guide with a worse version of the same model.
        if s.kind == "learned":
            snaps = self.learned().snapshots
            j = max(0, self.snapshot_position(len(snaps)) - 2)  # a snapshot ~4× fewer steps back
            return autoguidance(base, snaps[j], s.w), (data_key, key, "auto", float(s.w), j)
        delta = (s.delta if s.kind == "error-prone" else 0.0) + AUTOGUIDANCE_DELTA_STEP
        worse = ErrorProneDenoiser(self.optimal(), delta)
        return autoguidance(base, worse, s.w), (data_key, key, "auto", float(s.w))

    # -- the σ grid ----------------------------------------------------------------------------
    def sigma_grid(self) -> np.ndarray:
        """The sampler's σ values (``sample_steps + 1``, the last 0): the one grid of toyflow,
        :func:`toyflow.schedules.sampling_sigmas`."""
        s = self.inputs
        if s.sigma_min >= s.sigma_max:
            raise ValueError(
                f"σ_min ({s.sigma_min:g}) must be smaller than σ_max ({s.sigma_max:g})."
            )
        key = ("grid", s.schedule, s.sample_steps, float(s.sigma_min), float(s.sigma_max), s.rho)
        hit = DATA_CACHE.get(key)
        if hit is None:
            from toyflow.schedules import sampling_sigmas

            grid = sampling_sigmas(s.schedule, s.sample_steps, s.sigma_min, s.sigma_max, s.rho)
            hit = DATA_CACHE.put(key, grid)
        return hit

    def sigma(self) -> tuple[int, float]:
        """``(index, σ)`` the views show: the slider's index clamped to the grid's noise levels.
        The one place σ is resolved from the grid."""
        idx = int(min(max(self.inputs.sigma_index, 0), self.inputs.sample_steps - 1))
        return idx, float(self.sigma_grid()[idx])

    # -- fields and trajectories ---------------------------------------------------------------
    def compute_field(self, denoiser, model_key, sigma: float):
        """:func:`toyflow.flow_field` of ``denoiser`` at ``sigma`` on the view's grid (cached)."""
        s = self.inputs
        label = self.field_label()
        key = (model_key, self.data().key, sigma, s.resolution, float(s.extent), label)
        hit = FIELD_CACHE.get(key)
        if hit is not None:
            return hit
        from toyflow.fields import flow_field, make_grid

        self.counts["field"] += 1
        gkey = ("grid2d", s.resolution, float(s.extent))
        grid = DATA_CACHE.get(gkey) or DATA_CACHE.put(gkey, make_grid(s.extent, s.resolution))
        return FIELD_CACHE.put(key, flow_field(denoiser, sigma, grid=grid, labels=label))

    def field(self):
        """:class:`toyflow.fields.FieldComparison` of the model and the optimal denoiser at σ."""
        from toyflow.fields import FieldComparison

        _, sigma = self.sigma()
        denoiser, key = self.model()
        return FieldComparison(
            self.compute_field(denoiser, key, sigma),
            self.compute_field(self.optimal(), ("optimal",), sigma),
        )

    def traj_key(self, model_key) -> tuple:
        s = self.inputs
        return (
            model_key,
            s.schedule,
            s.solver,
            s.sample_steps,
            float(s.sigma_min),
            float(s.sigma_max),
            float(s.rho),
            s.n_samples,
            s.seed,
            s.condition,
        )

    def cached_trajectories(self, model_key) -> TrajectoryView | None:
        return TRAJ_CACHE.get(self.traj_key(model_key))

    def trajectories(self) -> TrajectoryView:
        """Sampling trajectories of the current model (cached per model and sampler settings),
        with the samples' memorized flags."""
        denoiser, model_key = self.model()
        key = self.traj_key(model_key)
        hit = TRAJ_CACHE.get(key)
        if hit is not None:
            return hit
        from toyflow.metrics import memorized_mask
        from toyflow.sampling import sample

        s = self.inputs
        self.counts["trajectories"] += 1
        labels = self.sample_labels()
        samples, traj, sigmas = sample(
            denoiser,
            s.n_samples,
            sigma_min=s.sigma_min,
            sigma_max=s.sigma_max,
            rho=s.rho,
            steps=s.sample_steps,
            solver=s.solver,
            schedule=s.schedule,
            labels=labels,
            seed=s.seed,
            return_trajectory=True,
        )
        samples, traj = np.asarray(samples), np.asarray(traj)
        if not np.all(np.isfinite(traj)):
            raise FloatingPointError(
                "The sampler produced NaN or infinite states; try more steps, "
                "a smaller guidance weight or a smaller learning rate."
            )
        mem = memorized_mask(samples, self.data().dataset.train_x)
        return TRAJ_CACHE.put(key, TrajectoryView(traj, np.asarray(sigmas), samples, labels, mem))


def fresh_points(data: DataView, dataset: str, seed: int) -> tuple[np.ndarray, str] | None:
    """``(points, source)``: fresh points from the data distribution for the memorization
    baseline — ``FRESH_DRAWS`` new draws of a registered data set (seeded apart from the
    data), or the validation points of custom data; ``None`` when there are neither."""
    key = ("fresh", data.key)
    hit = DATA_CACHE.get(key)
    if hit is not None:
        return hit
    ds = data.dataset
    if dataset == CUSTOM:
        if ds.n_val == 0:
            return None
        return DATA_CACHE.put(key, (ds.val_x, f"{ds.n_val} validation points"))
    from toyflow.datasets import DATASETS, make_dataset

    params = {k: v for k, v in ds.params.items() if k in DATASETS[dataset].defaults}
    params.update(FRESH_PARAMS.get(dataset, {}))
    fresh = make_dataset(dataset, FRESH_DRAWS, 0, seed=seed + 1, **params).train_x
    return DATA_CACHE.put(key, (fresh, f"{FRESH_DRAWS} fresh draws"))
