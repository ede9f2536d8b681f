r"""Claim 3 by intervention, for the explorer's current data and model (pure compute, no Panel).

Three parts, each cached per model (the store's trajectory key) and computed by the functions
of :mod:`toyflow.intervention` — nothing here defines a measure:

- :func:`hybrid`: samples of ``HybridDenoiser(D*, model, σ_switch)`` (D* above the switch, the
  current model at and below it), or of the band form ``BandDenoiser(model, D*, σ_lo, σ_hi)``,
  with the explorer's sampler and seed: their memorized fraction beside the model's own and the
  fresh-data baseline (validation points that pass the same nearest-point test). A switch at or
  above σ_max is the model alone, sample for sample.
- :func:`injection`: noisy training samples ``y + σ n`` put at the current grid σ and
  integrated to 0 by the model and by its **twin** (the same kind of model on a disjoint
  training set of the same size and settings), their paths beside the model's own trajectories
  from that σ, and the memorized shares (read from the curves, the same noise draws).
- :func:`curves`: over the grid σ, the memorized share after injection (model, twin, noisy
  validation), the hybrid and band sweeps, the copy ratio ``E‖D − D*‖² / E‖D_twin − D*‖²`` on
  trajectory states and noisy training samples, the two-sample classifier AUC of trajectory
  states (and of fresh data) against noisy training samples, and the model's gap curve.

The twin: for the optimal and error-prone denoisers the same denoiser on the twin points (no
training); for a learned model a network trained with the same settings (and seed) on the twin
points, by the explorer's training jobs (:class:`toyflow.explorer.jobs.TrainingJob`). The twin
points are drawn by the same generator with another seed; a fixed design that draws the same
points for every seed (the symmetric circle) gives its other half (the alternate angles);
custom data gives its held-out points. Injection and the sweeps integrate the probability-flow
ODE: a stochastic sampler is replaced by Euler (the result says which solver ran). The models
compared are unconditional and unguided.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from typing import Any

import numpy as np
import param

from toyflow.explorer.cache import LRU, TrainConfig, fingerprint
from toyflow.explorer.compute import NotReady
from toyflow.explorer.jobs import compute_pool
from toyflow.explorer.model import CUSTOM

#: Noise draws per injection level (the standard errors are over them).
N_GROUPS = 4
#: Injected paths drawn per model (all of them count in the memorized shares).
N_PATHS = 40
#: States per σ in the two-sample classifier, and its neighbours.
N_AUC = 200
KNN = 10
#: The twin's data seed is the explorer's seed plus this (an independent draw).
TWIN_SEED_OFFSET = 2**31

RESULTS = LRU(64)
log = logging.getLogger("toyflow.explorer")


def clear_cache() -> None:
    """Forget computed interventions (tests, benchmarks)."""
    RESULTS.clear()


@dataclasses.dataclass(frozen=True)
class HybridResult:
    """Samples of the hybrid (``band_lo`` set: the band form, D* only in ``[band_lo,
    sigma_switch]``) and memorized fractions: the hybrid's, the model's own, fresh data's
    (``baseline``, ``None`` without validation points)."""

    sigma_switch: float
    band_lo: float | None
    samples: np.ndarray
    memorized: np.ndarray
    fraction: float
    model_fraction: float
    baseline: float | None
    solver: str


@dataclasses.dataclass(frozen=True)
class InjectionResult:
    """Noisy training samples injected at grid σ ``sigma`` (index ``index``): their starts
    ``(m, 2)``, paths ``(T, m, 2)`` under the model and the twin, the model's own trajectories
    from σ ``(T, n, 2)``, and the memorized shares ``(mean, se)`` over all noise draws."""

    sigma: float
    index: int
    starts: np.ndarray
    model_paths: np.ndarray
    twin_paths: np.ndarray
    own_paths: np.ndarray
    model_memorized: tuple[float, float]
    twin_memorized: tuple[float, float]
    solver: str


@dataclasses.dataclass(frozen=True)
class CurvesResult:
    """Per grid σ (``sigmas``, positive levels): :class:`toyflow.intervention.PerSigma` values
    and :class:`~toyflow.intervention.AUCResult` values (``None`` where the data lack what a
    curve needs, e.g. validation points), and the model's relative gap."""

    sigmas: np.ndarray
    injected_train: Any
    injected_twin: Any
    injected_val: Any
    hybrid: Any
    band: Any
    band_steps: int
    copy_trajectory: Any
    copy_train: Any
    auc: Any
    auc_fresh: Any
    gap: np.ndarray | None
    baseline: float | None
    model_fraction: float
    twin_points: np.ndarray
    solver: str


# --- inputs ---------------------------------------------------------------------------------------


def check_supported(state) -> None:
    """``ValueError`` unless the current model is one the intervention compares: unconditional,
    unguided, with a twin (not a denoiser passed in from Python)."""
    if state.kind == "user":
        raise ValueError("A denoiser passed in from Python has no twin: choose another model.")
    if state.guidance != "none" or state.compute.data().train_labels is not None:
        raise ValueError(
            "The intervention compares unconditional models: set Labels and Guidance to 'none'."
        )


def solver_of(state) -> str:
    """The explorer's solver if it is an ODE solver, else Euler."""
    from toyflow.intervention import DETERMINISTIC

    return state.solver if state.solver in DETERMINISTIC else "euler"


def _grid_kw(state) -> dict[str, Any]:
    return dict(
        steps=state.sample_steps,
        schedule=state.schedule,
        sigma_min=float(state.sigma_min),
        sigma_max=float(state.sigma_max),
        rho=float(state.rho),
    )


def _shared(a: np.ndarray, b: np.ndarray) -> int:
    """How many rows of ``b`` are also rows of ``a`` (exact float32 values)."""
    rows = {r.tobytes() for r in np.ascontiguousarray(a, np.float32)}
    return sum(r.tobytes() in rows for r in np.ascontiguousarray(b, np.float32))


def twin_points(state) -> np.ndarray:
    """Training points of the twin: as many as the model's, from the same distribution, none of
    them a training point of the model (``ValueError`` when the data cannot give them)."""
    from toyflow.datasets import make_dataset

    data = state.compute.data()
    key = ("twin-points", data.key)
    hit = RESULTS.get(key)
    if hit is not None:
        return hit
    ds = data.dataset
    n = ds.n_train
    if state.dataset == CUSTOM:
        if ds.n_val < n:
            raise ValueError(
                f"The twin needs {n} other points of your data: hold out at least half of "
                f"them (held-out share ≥ 0.5; now {ds.n_val} held out)."
            )
        twin = ds.val_x[:n]
    else:
        twin = make_dataset(state.dataset, n, 0, seed=state.seed + TWIN_SEED_OFFSET).train_x
        if _shared(ds.train_x, twin):  # a fixed design: its other half
            twin = make_dataset(state.dataset, n, n, seed=state.seed).val_x
    twin = np.asarray(twin, np.float32)
    if len(twin) != n or _shared(ds.train_x, twin):
        raise ValueError(f"No disjoint twin training set of {n} points for this data set.")
    return RESULTS.put(key, twin)


def twin_config(state) -> TrainConfig:
    """The learned twin's training configuration: the model's, on the twin points."""
    cfg = state.training.config()
    twin = twin_points(state)
    return dataclasses.replace(cfg, data=fingerprint(twin, None), dataset=f"{cfg.dataset}:twin")


def twin_denoiser(state, twin_result=None):
    """``(denoiser, key)`` of the twin of the current model. A learned model's twin is the
    snapshot of ``twin_result`` (a finished :class:`toyflow.TrainResult` of
    :func:`twin_config`) at the model's snapshot step; without it :class:`NotReady`."""
    from toyflow.denoisers import ErrorProneDenoiser, OptimalDenoiser

    check_supported(state)
    twin = twin_points(state)
    tkey = fingerprint(twin)
    if state.kind == "optimal":
        return OptimalDenoiser(twin), ("optimal", tkey)
    if state.kind == "error-prone":
        delta = float(state.delta)
        return ErrorProneDenoiser(OptimalDenoiser(twin), delta), ("error-prone", delta, tkey)
    if twin_result is None:
        raise NotReady("The twin is not trained yet: press 'Train the twin'.")
    learned = state.compute.learned()
    if not learned.snapshots:
        raise NotReady("Train the model first.")
    step = learned.steps[state.compute.snapshot_position(len(learned.snapshots))]
    steps = list(twin_result.snapshot_steps)
    j = steps.index(step) if step in steps else len(steps) - 1
    return twin_result.snapshots[j], ("learned", twin_config(state).key(), steps[j])


def model_and_key(state):
    """``(denoiser, key)`` of the current model; the key names every cached intervention."""
    check_supported(state)
    denoiser, model_key = state.compute.model()
    return denoiser, state.compute.traj_key(model_key)


def _sigmas(state) -> np.ndarray:
    return np.asarray(state.compute.sigma_grid()[:-1], np.float64)


def _baseline(state) -> float | None:
    from toyflow.metrics import memorized_fraction

    ds = state.compute.data().dataset
    return memorized_fraction(ds.val_x, ds.train_x) if ds.n_val else None


def _model_fraction(state) -> float:
    traj = state.compute.trajectories()
    return float(np.mean(traj.memorized))


# --- the three parts --------------------------------------------------------------------------------


def check_switch(sigma_switch, band_lo=None) -> tuple[float, float | None]:
    """A switch level (finite, > 0) and an optional band's lower edge (finite, > 0, at most the
    switch); anything else raises ``ValueError``."""
    try:
        s = float(sigma_switch)
        lo = None if band_lo is None else float(band_lo)
    except (TypeError, ValueError):
        raise ValueError(f"σ_switch must be a number, got {sigma_switch!r}") from None
    if not (np.isfinite(s) and s > 0):
        raise ValueError(f"σ_switch must be a finite number > 0, got {sigma_switch!r}")
    if lo is not None and not (np.isfinite(lo) and 0 < lo <= s):
        raise ValueError(f"the band's lower edge must lie in (0, σ_switch = {s:g}], got {lo!r}")
    return s, lo


def hybrid(state, sigma_switch, band_lo=None) -> HybridResult:
    """Samples of the hybrid at ``sigma_switch`` (``band_lo``: the band form) with the
    explorer's sampler and seed (the model's own samples start from the same noise)."""
    from toyflow.hybrid import BandDenoiser, HybridDenoiser
    from toyflow.metrics import memorized_mask
    from toyflow.sampling import sample

    s, lo = check_switch(sigma_switch, band_lo)
    model, key = model_and_key(state)
    solver = solver_of(state)
    ckey = ("hybrid", key, s, lo, solver)
    hit = RESULTS.get(ckey)
    if hit is not None:
        return hit
    optimal = state.compute.optimal()
    d = HybridDenoiser(optimal, model, s) if lo is None else BandDenoiser(model, optimal, lo, s)
    kw = _grid_kw(state)
    samples = np.asarray(sample(d, state.n_samples, seed=state.seed, solver=solver, **kw))
    train_x = state.compute.data().dataset.train_x
    mem = memorized_mask(samples, train_x)
    out = HybridResult(
        s, lo, samples, mem, float(mem.mean()), _model_fraction(state), _baseline(state), solver
    )
    return RESULTS.put(ckey, out)


def _noisy(state, clean, sigmas, n: int, seed: int) -> np.ndarray:
    """``n`` noisy copies per σ cycling through ``clean``: ``(K, n, 2)``."""
    from toyflow.intervention import noisy_starts

    y = np.asarray(clean, np.float32)[np.arange(n) % len(clean)]
    return noisy_starts(y, sigmas, 1, seed=seed)[:, 0]


def curves(state, twin, twin_key, progress=None) -> CurvesResult:
    """Every curve over the grid σ for the current model and its twin ``(twin, twin_key)``
    (:func:`twin_denoiser`); ``progress(fraction, message)`` hears each step."""
    from toyflow import intervention as iv

    model, key = model_and_key(state)
    solver = solver_of(state)
    ckey = ("curves", key, twin_key, solver)
    hit = RESULTS.get(ckey)
    if hit is not None:
        return hit
    say = progress or (lambda _f, _m: None)
    c = state.compute
    ds = c.data().dataset
    train_x, val_x = ds.train_x, ds.val_x
    optimal = c.optimal()
    sig = _sigmas(state)
    idx = np.arange(len(sig))
    kw = _grid_kw(state)
    seed = int(state.seed)
    say(0.05, "trajectories of the model")
    traj = c.trajectories().trajectory[:-1]
    starts = iv.noisy_starts(train_x, sig, N_GROUPS, seed=seed + 1)
    say(0.15, "injection: the model")
    inj = iv.injection_memorization(model, starts, idx, train_x, solver=solver, **kw)
    say(0.3, "injection: the twin")
    inj_twin = iv.injection_memorization(twin, starts, idx, train_x, solver=solver, **kw)
    inj_val = None
    if len(val_x):
        vstarts = iv.noisy_starts(val_x, sig, N_GROUPS, seed=seed + 2)
        inj_val = iv.injection_memorization(model, vstarts, idx, train_x, solver=solver, **kw)
    say(0.45, "hybrid sweep over σ_switch")
    n_hyb = max(2 * N_GROUPS, min(int(state.n_samples), 200))
    sweep_kw = dict(n=n_hyb, n_groups=N_GROUPS, seed=seed, solver=solver, **kw)
    hyb = iv.hybrid_memorization(optimal, model, sig, train_x, **sweep_kw)
    band_steps = max(1, len(sig) // 10)
    lo = sig[np.minimum(idx + band_steps - 1, len(sig) - 1)]
    band = iv.band_memorization(model, optimal, np.stack([lo, sig], 1), train_x, **sweep_kw)
    say(0.65, "copy ratio against the twin")
    groups = iv.group_states(traj, min(N_GROUPS, traj.shape[1]))
    copy_traj = iv.copy_ratio(model, twin, optimal, groups, sig).ratio
    copy_train = iv.copy_ratio(model, twin, optimal, starts, sig).ratio
    say(0.8, "two-sample classifier")
    n_auc = min(N_AUC, traj.shape[1])
    knn = min(KNN, max(1, n_auc // 2))
    noisy_train = _noisy(state, train_x, sig, n_auc, seed + 3)
    auc = iv.two_sample_auc(traj[:, :n_auc], noisy_train, sig, k=knn)
    auc_fresh = None
    if len(val_x) >= 2:
        noisy_val = _noisy(state, val_x, sig, n_auc, seed + 4)
        auc_fresh = iv.two_sample_auc(noisy_val, noisy_train, sig, k=knn)
    say(0.95, "gap curve")
    cached = state.summaries.cached_curves(c.model()[1])
    gap = cached["model_gap"] if cached is not None else state.summaries.gap(model, sig)
    out = CurvesResult(
        sig,
        inj,
        inj_twin,
        inj_val,
        hyb,
        band,
        band_steps,
        copy_traj,
        copy_train,
        auc,
        auc_fresh,
        None if gap is None else np.asarray(gap.gap, np.float64),
        _baseline(state),
        _model_fraction(state),
        twin_points(state),
        solver,
    )
    return RESULTS.put(ckey, out)


def injection(state, twin, twin_key, curves_result: CurvesResult) -> InjectionResult:
    """Paths of noisy training samples injected at the current σ (the first noise draw of the
    curves' starts) under the model and the twin, and the model's own trajectories from there;
    the memorized shares are the curves' values at that σ (all noise draws)."""
    from toyflow import intervention as iv
    from toyflow.sampling import sample

    model, key = model_and_key(state)
    k, sigma = state.compute.sigma()
    solver = curves_result.solver
    ckey = ("injection", key, twin_key, k, solver)
    hit = RESULTS.get(ckey)
    if hit is not None:
        return hit
    train_x = state.compute.data().dataset.train_x
    starts = iv.noisy_starts(train_x, [sigma], N_GROUPS, seed=int(state.seed) + 1)[0, 0]
    starts = starts[:N_PATHS]
    kw = dict(_grid_kw(state), solver=solver, sigma_start=sigma, return_trajectory=True)
    _, paths, _ = sample(model, len(starts), x_init=starts, **kw)
    _, twin_paths, _ = sample(twin, len(starts), x_init=starts, **kw)
    own = state.compute.trajectories().trajectory[k:, :N_PATHS]

    def at(ps):
        return float(ps.mean[k]), float(ps.se[k])

    out = InjectionResult(
        sigma,
        k,
        starts,
        np.asarray(paths),
        np.asarray(twin_paths),
        np.asarray(own),
        at(curves_result.injected_train),
        at(curves_result.injected_twin),
        solver,
    )
    return RESULTS.put(ckey, out)


# --- one session's runner ---------------------------------------------------------------------------


class InterventionRunner(param.Parameterized):
    """One session's intervention: its inputs (the switch), the learned twin's training job,
    and the published results the view draws. Work runs on the shared compute pool, one pass at
    a time; requests made meanwhile coalesce into one more pass.

    >>> runner = InterventionRunner(state)
    >>> runner.switch_index = 20            # σ_switch = the grid's σ_20
    >>> runner.run(wait=True)               # doctest: +SKIP
    >>> runner.hybrid_view.fraction         # doctest: +SKIP
    """

    switch_index = param.Integer(
        default=0, bounds=(0, None), doc="σ_switch as an index into the grid (0 = σ_max)."
    )
    band_steps = param.Integer(
        default=0,
        bounds=(0, 400),
        doc="0: hybrid (D* above σ_switch); n > 0: band form, D* in n grid steps from σ_switch.",
    )
    status = param.String(default="idle", doc="idle | waiting | running | done | failed")
    message = param.String(default="")
    progress = param.Number(default=0.0, bounds=(0.0, 1.0))
    twin_status = param.String(default="", doc="the learned twin: '' | queued | running | done…")
    twin_progress = param.Number(default=0.0, bounds=(0.0, 1.0))
    twin_message = param.String(default="")
    hybrid_view = param.Parameter(default=None)
    injection_view = param.Parameter(default=None)
    curves_view = param.Parameter(default=None)
    serial = param.Integer(default=0, doc="bumped on every publish")

    def __init__(self, state, **params):
        super().__init__(**params)
        self.state = state
        self.active = False  # set by run(): later requests recompute
        self.job = None
        self._twin: tuple[Any, Any] = (None, None)  # (TrainConfig, TrainResult)
        self._lock = threading.Lock()
        self._dirty = self._running = self._closed = False
        self._idle = threading.Event()
        self._idle.set()
        self.param.watch(lambda *_e: self.request(), ["switch_index", "band_steps"])

    # -- inputs ------------------------------------------------------------------------------------
    def switch_levels(self) -> tuple[float, float | None]:
        """``(σ_switch, band_lo)`` from the grid (indices clamped to its noise levels)."""
        sig = _sigmas(self.state)
        k = min(self.switch_index, len(sig) - 1)
        if self.band_steps <= 0:
            return float(sig[k]), None
        return float(sig[k]), float(sig[min(k + self.band_steps - 1, len(sig) - 1)])

    # -- running -----------------------------------------------------------------------------------
    def run(self, wait: bool = False) -> None:
        """Compute (or fetch) every part for the current inputs; ``wait``: block until done."""
        self.active = True
        self.request()
        if wait:
            self.wait_idle()

    def request(self) -> None:
        if not self.active:
            return
        with self._lock:
            self._dirty = True
            if self._running or self._closed:
                return
            self._running = True
            self._idle.clear()
        compute_pool().submit(self._loop)

    def wait_idle(self, timeout: float = 600.0) -> bool:
        return self._idle.wait(timeout)

    def _loop(self) -> None:
        while True:
            with self._lock:
                if not self._dirty or self._closed:
                    self._running = False
                    self._idle.set()
                    return
                self._dirty = False
            try:
                self._pass()
            except NotReady as exc:
                self._say("waiting", str(exc), 0.0)
            except (ValueError, FloatingPointError) as exc:
                self._say("failed", str(exc), 0.0)
            except Exception as exc:  # keep the session usable whatever happens
                log.exception("intervention failed")
                self._say("failed", f"Unexpected error: {type(exc).__name__}: {exc}", 0.0)

    def _say(self, status: str, message: str, progress: float) -> None:
        self.param.update(status=status, message=message, progress=min(max(progress, 0.0), 1.0))
        self.serial += 1

    def _pass(self) -> None:
        s = self.state
        model_and_key(s)  # the model first: no twin is trained for a model not trained yet
        if s.kind == "learned" and self._twin_result() is None:
            job = self.job
            if job is None or job.finished or job.config != twin_config(s):
                self.train_twin()
            raise NotReady("The twin is training: the intervention runs when it is done.")
        twin, twin_key = twin_denoiser(s, self._twin_result())
        self._say("running", "hybrid samples", 0.02)
        sigma_switch, band_lo = self.switch_levels()
        self.hybrid_view = hybrid(s, sigma_switch, band_lo)
        self.serial += 1
        cv = curves(s, twin, twin_key, lambda f, m: self._say("running", m, 0.05 + 0.85 * f))
        self.curves_view = cv
        self._say("running", "injected paths", 0.92)
        self.injection_view = injection(s, twin, twin_key, cv)
        self._say("done", f"Done (solver: {cv.solver}).", 1.0)

    # -- the learned twin --------------------------------------------------------------------------
    def _twin_result(self):
        """The finished twin of the current learned model, from this runner or the caches."""
        from toyflow.explorer.cache import cached_result

        cfg = twin_config(self.state)
        if self._twin[0] == cfg:
            return self._twin[1]
        hit = cached_result(cfg, disk=self.state.training.disk_cache)
        if hit is not None:
            self._twin = (cfg, hit)
            self._twin_say(1.0, "cached", "The twin was trained before: loaded.")
        return hit

    def _twin_say(self, progress: float, status: str, message: str) -> None:
        self.param.update(twin_progress=progress, twin_status=status, twin_message=message)
        self.serial += 1

    def train_twin(self):
        """Train the learned model's twin (the model's settings on the twin points) as a
        training job of the shared pool; returns the job, or ``None`` when a cached twin was
        loaded. Raises ``ValueError`` for a model without a learned twin."""
        from toyflow.explorer.jobs import TrainingJob

        s = self.state
        check_supported(s)
        if s.kind != "learned":
            raise ValueError("Only a learned model's twin is trained; this one needs no training.")
        if self._twin_result() is not None:
            return None
        self.cancel_twin()
        cfg = twin_config(s)
        job = TrainingJob(cfg, twin_points(s), None, disk_cache=s.training.disk_cache)
        job.subscribe(self._on_job)
        self.job = job
        self._twin_say(0.0, "queued", "The twin waits for a training worker…")
        job.submit()
        return job

    def cancel_twin(self) -> None:
        job = self.job
        if job is not None and not job.finished:
            job.cancel()

    def _on_job(self, job, event: str) -> None:
        """Updates from the twin's training job (on the training worker thread)."""
        if job is not self.job or self._closed:
            return
        if event == "status" and job.finished:
            if job.status == "done":
                self._twin = (job.config, job.result)
                msg = (
                    f"Twin trained: {job.result.steps_done} steps in {job.result.wall_time:.1f} s."
                )
                self._twin_say(1.0, "done", msg)
                self.request()
            elif job.status == "failed":
                self._twin_say(job.progress, "failed", f"Training the twin failed: {job.error}")
            else:
                self._twin_say(job.progress, "cancelled", f"Twin cancelled at step {job.step}.")
            return
        if job.status == "running":
            msg = f"Training the twin: step {job.step} of {job.config.steps}."
            self._twin_say(job.progress, "running", msg)

    def close(self) -> None:
        """End of a session: cancel the twin's training and stop computing."""
        self._closed = True
        self.cancel_twin()


__all__ = [
    "CurvesResult",
    "HybridResult",
    "InjectionResult",
    "InterventionRunner",
    "check_supported",
    "check_switch",
    "clear_cache",
    "curves",
    "hybrid",
    "injection",
    "model_and_key",
    "solver_of",
    "twin_config",
    "twin_denoiser",
    "twin_points",
]
