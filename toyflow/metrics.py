r"""Measures of memorisation and generalisation (the paper's metrics; see also ``docs/theory.md``).

**Denoising error** at σ for a point set ``Y``, with fixed noise draws ``n_k`` reused for every σ::

    E(σ) = mean_{y ∈ Y, k} ‖D(y + σ n_k; σ) − y‖₂          (kind="l2", the paper's)
           mean ‖·‖₂²                                    (kind="squared")
           mean λ(σ)·‖·‖₂² / d,  λ = (σ²+σ_d²)/(σ σ_d)²   (kind="edm", the training loss)

**Relative generalisation gap** ``(E_val − E_train) / E_train`` — positive where the model fits
the training points better than unseen points from the same distribution.

**Memorised fraction**: share of samples whose nearest training point is closer than ``ratio``
(1/3) times the second-nearest; its **fresh-data baseline** is the same share for fresh points
from the data distribution (:func:`memorization_baseline`).

**Fréchet distance** between point sets (Gaussian fits):
``FD = ‖μ_a − μ_b‖² + tr(Σ_a + Σ_b − 2 (Σ_a^{½} Σ_b Σ_a^{½})^{½})``; relative overfit
``(FD_val − FD_train) / FD_train``, meaningful only when the two sets differ by more than the
samples' Monte Carlo noise (:func:`frechet_resolution`).

**Trajectory overlap** (claim 3): at each σ of the sampling grid, trajectory states are compared
with noisy training samples ``y + σ n``: the nearest-training-point distance in units of
``σ √d`` (≈ 1 for noisy training samples at small σ), the optimal posterior's largest weight,
the noisy training mixture's log-density, and the model-vs-optimal error ``‖D − D*‖`` on both.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from toyflow._denoiser import Denoiser
from toyflow._function import as_denoiser
from toyflow._validation import as_labels, as_points, check_float, check_int, lookup
from toyflow.denoisers import OptimalDenoiser, log_density
from toyflow.nets import loss_weight

#: The largest noise level the metrics accept. ``(σ n)²`` summed over coordinates must stay
#: inside float32 (about 3e38) for every data set up to image size, so σ is capped well below.
SIGMA_LIMIT = 1e15

ERROR_KINDS = {
    "l2": "mean L2 norm ‖D − y‖ (the paper's)",
    "squared": "mean squared norm ‖D − y‖²",
    "edm": "EDM-weighted λ(σ)·‖D − y‖²/d (the training loss)",
}


def _points(x, name, event_shape=None):
    arr = np.asarray(x)
    if event_shape is not None and len(event_shape) > 1:
        return as_points(arr, name, event_shape=tuple(event_shape))
    if arr.ndim > 2:
        return as_points(arr, name, event_shape=tuple(arr.shape[1:]))
    return as_points(arr, name, dim=None if event_shape is None else event_shape[0])


def _flat_points(x, name: str) -> np.ndarray:
    """A batch ``(n, ...)`` checked like any points and flattened to ``(n, D)`` float32."""
    pts = _points(x, name)
    flat = pts.reshape(pts.shape[0], -1)
    if flat.shape[1] == 0:
        raise ValueError(f"{name} have no coordinates (shape {pts.shape})")
    return flat


def _event_of(x) -> tuple[int, ...] | None:
    """The shape of one point of a batch, for wrapping a plain function as a denoiser."""
    return tuple(np.shape(x)[1:]) or None if np.ndim(x) >= 2 else None


def _sigmas(sigmas) -> np.ndarray:
    s = np.atleast_1d(np.asarray(sigmas, np.float64))
    if s.ndim != 1 or s.size == 0:
        raise ValueError(
            f"sigmas must be a non-empty 1-D list of noise levels, got shape {s.shape}"
        )
    if not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise ValueError("sigmas must all be finite and > 0")
    if np.any(s > SIGMA_LIMIT):
        raise ValueError(
            f"sigmas must be at most {SIGMA_LIMIT:g}: beyond that squared noise overflows float32 "
            f"and every error becomes inf or NaN (got max {float(s.max()):g})"
        )
    return s.astype(np.float32)


def _finite(values: np.ndarray, what: str) -> np.ndarray:
    """Return ``values`` if all are finite, else raise instead of handing back a silent NaN."""
    if not np.all(np.isfinite(values)):
        raise ValueError(
            f"{what} came out NaN or infinite: the inputs overflow float32 "
            "(rescale the data, or use smaller noise levels)"
        )
    return values


@functools.partial(jax.jit, static_argnames=("kind", "n_noise"))
def _errors(denoiser, y, labels, sigmas, key, sigma_data, *, kind: str, n_noise: int):
    """Error per σ and noise draw ``(T, n_noise)`` (each the mean over the points); the draws
    ``(n_noise, N, ...)`` from ``key`` are shared across σ."""
    n = y.shape[0]
    flat = lambda a: a.reshape(a.shape[0], -1)
    keys = jax.random.split(key, n_noise)

    def per_sigma(sigma):
        def per_draw(total, k):
            noise = jax.random.normal(k, y.shape)
            x = y + sigma * noise
            err = flat(denoiser.denoise(x, jnp.full((n,), sigma), labels) - y)
            sq = jnp.sum(err * err, axis=1)
            if kind == "l2":
                e = jnp.sqrt(sq)
            elif kind == "squared":
                e = sq
            else:
                e = loss_weight(sigma, sigma_data) * sq / err.shape[1]
            return total, jnp.mean(e)

        _, per = jax.lax.scan(per_draw, jnp.float32(0.0), keys)
        return per

    return jax.lax.map(per_sigma, sigmas)


def denoising_error(
    denoiser: Denoiser,
    x,
    sigmas,
    *,
    n_noise: int = 50,
    seed: int = 0,
    labels: Any = None,
    kind: str = "l2",
    sigma_data: float | None = None,
    per_draw: bool = False,
) -> np.ndarray:
    """``E(σ)`` for the clean points ``x`` at each σ (see module docstring), shape ``(T,)``;
    with ``per_draw`` the mean over the points for each noise draw, ``(T, n_noise)`` (its mean
    over the last axis is ``E(σ)``)."""
    lookup(ERROR_KINDS, kind, "error kind")
    denoiser = as_denoiser(denoiser, _event_of(x))
    y = _points(x, "x", denoiser.event_shape)
    s = _sigmas(sigmas)
    n_noise = check_int(n_noise, "n_noise", 1, 100_000)
    seed = check_int(seed, "seed", 0, 2**31 - 1)
    lab = denoiser.check_labels(labels, y.shape[0])
    sd = float(np.std(y)) if sigma_data is None else float(sigma_data)
    out = _errors(
        denoiser,
        jnp.asarray(y),
        None if lab is None else jnp.asarray(lab),
        jnp.asarray(s),
        jax.random.PRNGKey(seed),
        jnp.float32(max(sd, 1e-6)),
        kind=kind,
        n_noise=n_noise,
    )
    per = _finite(np.asarray(out, np.float64), "the denoising error")
    return per if per_draw else per.mean(axis=1)


def _mean_se(per: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over the last axis (noise draws) and its standard error (NaN with one draw)."""
    k = per.shape[-1]
    se = per.std(axis=-1, ddof=1) / np.sqrt(k) if k > 1 else np.full(per.shape[:-1], np.nan)
    return per.mean(axis=-1), se


@dataclasses.dataclass(frozen=True)
class GapCurve:
    """Train and validation errors per σ and the relative gap ``(E_val − E_train) / E_train``,
    with standard errors over the noise draws (``e_train_se``, ``e_val_se``, ``gap_se``; NaN
    with a single draw)."""

    sigmas: np.ndarray
    e_train: np.ndarray
    e_val: np.ndarray
    kind: str = "l2"
    e_train_se: np.ndarray | None = None
    e_val_se: np.ndarray | None = None

    @property
    def gap(self) -> np.ndarray:
        return (self.e_val - self.e_train) / np.maximum(self.e_train, 1e-30)

    @property
    def gap_se(self) -> np.ndarray:
        """Delta-method standard error of the gap (train and validation draws independent)."""
        nan = np.full(np.shape(self.e_train), np.nan)
        st = nan if self.e_train_se is None else self.e_train_se
        sv = nan if self.e_val_se is None else self.e_val_se
        t = np.maximum(self.e_train, 1e-30)
        return np.sqrt((sv / t) ** 2 + (self.e_val * st / t**2) ** 2)

    @property
    def peak_sigma(self) -> float:
        return float(self.sigmas[int(np.argmax(self.gap))])

    @property
    def peak_gap(self) -> float:
        return float(np.max(self.gap))

    def to_dict(self) -> dict[str, Any]:
        return {
            "sigmas": self.sigmas.tolist(),
            "e_train": self.e_train.tolist(),
            "e_val": self.e_val.tolist(),
            "gap": self.gap.tolist(),
            "kind": self.kind,
            "peak_sigma": self.peak_sigma,
            "peak_gap": self.peak_gap,
        }


def gap_curve(
    denoiser: Denoiser,
    train_x,
    val_x,
    sigmas,
    *,
    n_noise: int = 50,
    seed: int = 0,
    kind: str = "l2",
    train_labels: Any = None,
    val_labels: Any = None,
) -> GapCurve:
    """Train/validation denoising errors per σ (validation uses its own noise draws)."""
    denoiser = as_denoiser(denoiser, _event_of(train_x))
    tx = _points(train_x, "train_x", denoiser.event_shape)
    vx = _points(val_x, "val_x", denoiser.event_shape)
    sd = float(np.std(tx))  # both sets are weighted with the training data's σ_data
    (e_tr, se_tr), (e_va, se_va) = (
        _mean_se(
            denoising_error(
                denoiser,
                x,
                sigmas,
                n_noise=n_noise,
                seed=seed + i,
                labels=lab,
                kind=kind,
                sigma_data=sd,
                per_draw=True,
            )
        )
        for i, (x, lab) in enumerate(((tx, train_labels), (vx, val_labels)))
    )
    return GapCurve(np.asarray(_sigmas(sigmas), np.float64), e_tr, e_va, kind, se_tr, se_va)


def relative_gap(denoiser: Denoiser, train_x, val_x, sigmas, **options: Any) -> np.ndarray:
    """The relative generalisation gap ``(E_val − E_train) / E_train``, one value per σ.

    ``options`` are :func:`gap_curve`'s (``n_noise``, ``seed``, ``kind``, ``train_labels``,
    ``val_labels``)."""
    return gap_curve(denoiser, train_x, val_x, sigmas, **options).gap


# --- nearest neighbours and memorisation ----------------------------------------------------


@functools.partial(jax.jit, static_argnames=("k", "chunk"))
def _knn(queries, reference, *, k: int, chunk: int):
    """Streaming k nearest reference rows for each query: (sq. distances, indices)."""
    from toyflow.denoisers import _sq_dists

    n_ref = reference.shape[0]
    chunk = min(chunk, n_ref)
    n_chunks = -(-n_ref // chunk)
    pad = n_chunks * chunk - n_ref
    ref = jnp.concatenate([reference, jnp.zeros((pad, reference.shape[1]), reference.dtype)])
    ref = ref.reshape(n_chunks, chunk, -1)
    q = queries.shape[0]

    def step(carry, inp):
        best_d, best_i = carry
        rc, c = inp
        d = _sq_dists(queries, rc)
        ids = c * chunk + jnp.arange(chunk)
        d = jnp.where(ids[None, :] < n_ref, d, jnp.inf)
        all_d = jnp.concatenate([best_d, d], axis=1)
        all_i = jnp.concatenate([best_i, jnp.broadcast_to(ids, (q, chunk))], axis=1)
        neg, pos = jax.lax.top_k(-all_d, k)
        return (-neg, jnp.take_along_axis(all_i, pos, axis=1)), None

    init = (jnp.full((q, k), jnp.inf, jnp.float32), jnp.zeros((q, k), jnp.int32))
    (d, i), _ = jax.lax.scan(step, init, (ref, jnp.arange(n_chunks)))
    return d, i


def nearest_neighbours(
    queries, reference, k: int = 2, *, chunk: int = 4096, query_block: int = 2048
) -> tuple[np.ndarray, np.ndarray]:
    """Distances ``(n, k)`` and indices ``(n, k)`` of the ``k`` nearest reference points
    (Euclidean, over flattened coordinates), nearest first."""
    q = _flat_points(queries, "queries")
    r = _flat_points(reference, "reference")
    if q.shape[1] != r.shape[1]:
        raise ValueError(f"queries have {q.shape[1]} coordinates but reference has {r.shape[1]}")
    k = check_int(k, "k", 1, r.shape[0])
    # Huge coordinates would overflow the float32 squared distances: measure in a frame scaled
    # to unit size (distances scale back exactly; the neighbours are the same).
    scale = max(float(np.max(np.abs(q), initial=0.0)), float(np.max(np.abs(r), initial=0.0)))
    scale = scale if scale > 1e15 else 1.0
    q, r = q / scale, r / scale
    ds, idx = [], []
    for start in range(0, q.shape[0], query_block):
        d, i = _knn(jnp.asarray(q[start : start + query_block]), jnp.asarray(r), k=k, chunk=chunk)
        ds.append(np.asarray(d))
        idx.append(np.asarray(i))
    return scale * np.sqrt(np.maximum(np.concatenate(ds), 0.0)), np.concatenate(idx)


def memorized_mask(samples, train_x, ratio: float = 1 / 3) -> np.ndarray:
    """Per sample: is the nearest training point closer than ``ratio`` × the second-nearest?"""
    ratio = check_float(ratio, "ratio", 0.0, 1.0, lo_open=True)
    ta = _flat_points(train_x, "train_x")
    if ta.shape[0] < 2:
        raise ValueError(
            "memorisation needs at least 2 training points (nearest and second-nearest)"
        )
    d, _ = nearest_neighbours(samples, train_x, k=2)
    return d[:, 0] < ratio * d[:, 1]


def memorized_fraction(samples, train_x, ratio: float = 1 / 3) -> float:
    """Share of samples whose nearest training point is closer than ``ratio`` × the second-nearest."""
    return float(np.mean(memorized_mask(samples, train_x, ratio)))


def memorization_baseline(fresh_x, train_x, ratio: float = 1 / 3) -> tuple[float, float]:
    """The fresh-data baseline of :func:`memorized_fraction`: the share of fresh points from the
    data distribution (draws, or held-out points) that the same criterion calls memorized, and
    its binomial standard error ``√(p (1 − p) / n)``.

    It is what a model that generalizes perfectly would score; on a 1-D manifold such as the
    circle it is far from zero (fresh points often land next to a training point). Read a
    model's memorized fraction against it, not against zero."""
    mask = memorized_mask(fresh_x, train_x, ratio)
    p = float(np.mean(mask))
    return p, float(np.sqrt(p * (1.0 - p) / mask.size))


# --- Fréchet distance ----------------------------------------------------------------------------


def _gaussian_fit(x) -> tuple[np.ndarray, np.ndarray]:
    if np.ndim(x) < 2 or np.shape(x)[0] < 2 or np.size(x) == 0:
        raise ValueError("a Fréchet distance needs at least 2 points per set")
    n = _flat_points(x, "points").shape[0]  # validation; the fit itself runs in float64
    a = np.asarray(x, np.float64).reshape(n, -1)
    return a.mean(axis=0), np.atleast_2d(np.cov(a, rowvar=False))


def _sqrtm_psd(m: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eigh((m + m.T) / 2)
    return (vecs * np.sqrt(np.maximum(vals, 0.0))) @ vecs.T


def frechet_distance(a, b) -> float:
    """Fréchet distance between Gaussian fits of point sets ``a (n, ...)`` and ``b (m, ...)``."""
    mu_a, cov_a = _gaussian_fit(a)
    mu_b, cov_b = _gaussian_fit(b)
    if mu_a.shape != mu_b.shape:
        raise ValueError(f"point sets differ in dimension: {mu_a.shape[0]} vs {mu_b.shape[0]}")
    root_a = _sqrtm_psd(cov_a)
    cross = _sqrtm_psd(root_a @ cov_b @ root_a)
    fd = float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(cross))
    return max(fd, 0.0)


def sample_overfit(samples, train_x, val_x) -> dict[str, float]:
    """``fd_train``, ``fd_val`` and the relative overfit ``(FD_val − FD_train) / FD_train``."""
    fd_tr = frechet_distance(samples, train_x)
    fd_va = frechet_distance(samples, val_x)
    return {
        "fd_train": fd_tr,
        "fd_val": fd_va,
        "relative_overfit": (fd_va - fd_tr) / max(fd_tr, 1e-12),
    }


def frechet_resolution(train_x, val_x, n_samples: int) -> dict[str, Any]:
    """Can :func:`sample_overfit` tell the training from the validation set with ``n_samples``
    samples?

    ``FD_val − FD_train`` vanishes for any samples when both sets have the same mean and
    covariance (the symmetric circle: equidistant, alternating angles). The relative overfit
    is then float noise (≈ 1e-7), not a measurement. Returns ``fd_train_val`` (the Fréchet
    distance between the two sets), ``floor`` = ``tr Σ_train / n_samples`` (the expected
    squared error of the mean of ``n_samples`` draws, the samples' own Monte Carlo noise) and
    ``resolvable`` (``fd_train_val > floor``)."""
    n = check_int(n_samples, "n_samples", 1, 10**9)
    fd = frechet_distance(train_x, val_x)
    _, cov = _gaussian_fit(train_x)
    floor = float(np.trace(cov)) / n
    return {"fd_train_val": fd, "floor": floor, "resolvable": bool(fd > floor)}


# --- trajectory overlap ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TrajectoryOverlap:
    """Per-σ comparison of sampling trajectories with noisy training data (arrays ``(T,)``).

    ``*_nn_distance``: mean distance to the nearest training point over ``σ √d``.
    ``*_max_weight``: mean largest weight of the optimal posterior (1 = localised).
    ``*_log_density``: mean log-density under the noisy training mixture.
    ``error_*``: mean ``‖D − D*‖`` (model vs optimal) on trajectory states, noisy training
    samples and noisy validation samples (NaN when no validation set was given).
    """

    sigmas: np.ndarray
    traj_nn_distance: np.ndarray
    noisy_nn_distance: np.ndarray
    traj_max_weight: np.ndarray
    noisy_max_weight: np.ndarray
    traj_log_density: np.ndarray
    noisy_log_density: np.ndarray
    error_traj: np.ndarray
    error_noisy_train: np.ndarray
    error_noisy_val: np.ndarray

    @property
    def overlap(self) -> np.ndarray:
        """Noisy-training nearest distance over trajectory nearest distance (1 = trajectories sit
        where the noisy training data are; ≪ 1 = trajectories stay away from them)."""
        return self.noisy_nn_distance / np.maximum(self.traj_nn_distance, 1e-30)

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: np.asarray(getattr(self, f.name)).tolist() for f in dataclasses.fields(self)}
        out["overlap"] = self.overlap.tolist()
        return out


@jax.jit
def _overlap_one(model, optimal, states, noisy_tr, noisy_va, sigma, labels, tr_labels, va_labels):
    d = states.reshape(states.shape[0], -1).shape[1]
    scale = sigma * jnp.sqrt(jnp.float32(d))
    flat = lambda a: a.reshape(a.shape[0], -1)

    def stats(x, lab):
        n = x.shape[0]
        sig = jnp.full((n,), sigma)
        post = optimal.posterior(x, sig, lab)
        nn = jnp.sqrt(jnp.maximum(-2.0 * sigma**2 * post.max_logit, 0.0)) / scale
        logp = log_density(post, sigma, optimal.train_x.shape[0], d)
        err = jnp.linalg.norm(
            flat(model.denoise(x, sig, lab)) - flat(post.denoised.reshape(x.shape)), axis=1
        )
        return jnp.mean(nn), jnp.mean(post.max_weight), jnp.mean(logp), jnp.mean(err)

    t = stats(states, labels)
    n = stats(noisy_tr, tr_labels)
    v = stats(noisy_va, va_labels) if noisy_va is not None else (jnp.nan,) * 4
    return jnp.stack([t[0], n[0], t[1], n[1], t[2], n[2], t[3], n[3], v[3]])


def trajectory_overlap(
    denoiser: Denoiser,
    trajectory,
    sigmas,
    train_x,
    *,
    val_x=None,
    optimal: OptimalDenoiser | None = None,
    labels: Any = None,
    train_labels: Any = None,
    val_labels: Any = None,
    n_noise: int = 4,
    seed: int = 0,
) -> TrajectoryOverlap:
    """Compare trajectory states with noisy training samples at every σ > 0 of the grid.

    Args:
      denoiser: the model whose trajectories these are.
      trajectory: ``(T + 1, n, d)`` from ``sample(..., return_trajectory=True)``.
      sigmas: the ``T + 1`` grid noise levels (the last, 0, is skipped).
      train_x / val_x: clean training (and optional validation) points.
      optimal: the optimal denoiser of ``train_x`` (built if not given; pass the conditional one
        with ``train_labels`` for conditional models).
      labels: the samples' labels; train_labels / val_labels for the noisy sets.
      n_noise: noise draws per training point for the noisy sets.
    """
    traj = np.asarray(trajectory, np.float32)
    sig = np.asarray(sigmas, np.float64)
    if traj.ndim < 3 or traj.shape[0] != sig.shape[0]:
        raise ValueError(
            f"trajectory must be (T+1, n, ...) matching {sig.shape[0]} sigmas, got {traj.shape}"
        )
    if not np.all(np.isfinite(traj)):
        raise ValueError("trajectory contains NaN or infinite values")
    if not np.all(np.isfinite(sig)) or np.any(sig < 0):
        raise ValueError("sigmas must be finite and >= 0 (the sampling grid, its last entry 0)")
    if not np.any(sig > 0):
        raise ValueError("sigmas has no noise level > 0: there is no trajectory state to compare")
    if np.any(sig > SIGMA_LIMIT):
        raise ValueError(f"sigmas must be at most {SIGMA_LIMIT:g}, got max {float(sig.max()):g}")
    event = tuple(traj.shape[2:])
    denoiser = as_denoiser(denoiser, event)
    tx = _points(train_x, "train_x", event)
    vx = None if val_x is None else _points(val_x, "val_x", event)
    if optimal is None:
        optimal = OptimalDenoiser(tx, train_labels)
    n_noise = check_int(n_noise, "n_noise", 1, 1000)
    n_samples = traj.shape[1]
    lab = denoiser.check_labels(labels, n_samples)
    tl = as_labels(train_labels, tx.shape[0], "train_labels")
    vl = None if vx is None else as_labels(val_labels, vx.shape[0], "val_labels")
    rep = lambda a: None if a is None else jnp.asarray(np.tile(a, n_noise))
    key = jax.random.PRNGKey(check_int(seed, "seed", 0, 2**31 - 1))
    k_tr, k_va = jax.random.split(key)
    noise_tr = jax.random.normal(k_tr, (n_noise * tx.shape[0],) + event)
    noise_va = None if vx is None else jax.random.normal(k_va, (n_noise * vx.shape[0],) + event)
    ytr = jnp.asarray(np.tile(tx, (n_noise,) + (1,) * len(event)))
    yva = None if vx is None else jnp.asarray(np.tile(vx, (n_noise,) + (1,) * len(event)))
    rows = []
    keep = np.flatnonzero(sig > 0)
    for i in keep:
        s = jnp.float32(sig[i])
        rows.append(
            np.asarray(
                _overlap_one(
                    denoiser,
                    optimal,
                    jnp.asarray(traj[i]),
                    ytr + s * noise_tr,
                    None if yva is None else yva + s * noise_va,
                    s,
                    None if lab is None else jnp.asarray(lab),
                    rep(tl) if lab is not None else None,
                    rep(vl) if lab is not None else None,
                )
            )
        )
    m = np.asarray(rows, np.float64)
    if not np.all(np.isfinite(m[:, :8])):
        raise ValueError(
            "trajectory overlap came out NaN or infinite: the inputs overflow float32 "
            "(rescale the data, or use smaller noise levels)"
        )
    return TrajectoryOverlap(sig[keep], *[m[:, j] for j in range(9)])
