r"""The σ-stack: everything the σ-dependent views draw, over the whole sampling grid at once.

When the data, the model, the schedule or the guidance change, :func:`build_stack` evaluates in
one compiled call, for every σ of the sampling grid ``σ_0 > … > σ_{S−1} > 0``
(:func:`toyflow.schedules.sampling_sigmas` without its final 0):

- the flow fields of the model and of the optimal denoiser on the arrow grid, stored as the
  displacement ``D(x; σ_i) − x`` (the arrow from ``x`` to where the denoiser pulls it; the ODE
  velocity is ``dx/dσ = −displacement / σ``);
- the error heat map ``‖D(x; σ_i) − D*(x; σ_i)‖ / σ_i`` on a (finer) heat grid;
- the noisy-training cloud ``y_j + σ_i ε_j``: every training point with ``n_noise`` fixed
  noise draws ``ε_j ~ N(0, I)``, scaled by each σ (one draw for all σ, so the cloud shrinks
  smoothly onto the data as σ falls);

and it files beside them the sampling trajectories' states at each σ (as
``toyflow.sample(..., return_trajectory=True)`` returns them, in data units, so they are
comparable with the noisy training points). A view then needs no computation to move σ: the
browser switches frames (:mod:`toyflow.app.stack_view`).

The compiled call is shared by every stack of the same shapes: the denoisers are pytrees and σ,
the grid points and the noise are ordinary traced arguments, so new σ values, a new δ, new
network weights or new data of the same size never recompile. σ is vectorised with
``jax.lax.map(..., batch_size=8)``, a ``vmap`` over blocks of eight σ values, which keeps the
memory of large grids or large training sets bounded.

Storage is float16 by default: 11 significant bits, i.e. a relative error below 5·10⁻⁴ of the
displacements, positions and heat-map values, far below a pixel. The default 40-step grid, a
32 × 32 arrow grid, a 64 × 64 heat grid, 500 trajectories and 10 training points × 20 noise
draws come to about 0.6 MB (:attr:`SigmaStack.nbytes`). Pass ``dtype=np.float32`` for exact
comparisons.

This module imports JAX and NumPy only (never Panel or Bokeh).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from toyflow._denoiser import Denoiser
from toyflow._validation import as_points, check_int
from toyflow.fields import FieldComparison, FlowField, Grid, make_grid

#: Heat-map grid points per side (the arrows keep the explorer's coarser grid).
HEAT_RESOLUTION = 64
#: Noise draws per training point in the noisy-training cloud (capped by MAX_CLOUD).
CLOUD_NOISE = 20
#: At most this many noisy training points per σ.
MAX_CLOUD = 2000
#: σ values per vectorised block of the compiled call.
SIGMA_BLOCK = 8
_DTYPES = (np.float16, np.float32)

# --- how the views draw a stack (the page and the PNG alike) --------------------------------------
#: Arrows: the 95th-percentile arrow of a panel spans ARROW_CELLS grid cells (length is per panel
#: and per frame); longer ones are drawn at most ARROW_CAP times that. Colour carries the length.
ARROW_CELLS = 0.95
ARROW_CAP = 1.5
#: Arrow colour steps over ``0 … high`` (the page draws one polyline per step).
ARROW_BINS = 8
#: Percentiles of the positive ``‖D − D*‖ / σ`` values over all frames that bound the heat map's
#: log colour scale (one scale for every σ of a stack).
ERROR_PERCENTILES = (1.0, 99.5)
#: Gap plots: D*'s relative gap grows without bound as σ → 0 (≈ 1e30 on the circle); values
#: above GAP_CAP are drawn at GAP_CAP ("off scale").
GAP_CAP = 10.0
#: The gap axis is ``sign(g) log10(1 + |g| / GAP_LINEAR)``: linear near 0 (negative gaps show),
#: logarithmic beyond, so 0.02, 0.3 and 10 fit one plot.
GAP_LINEAR = 0.05
#: Ticks of the gap axis (gap values); the first is the axis' fixed bottom, GAP_CAP its top.
GAP_TICKS = (-0.5, -0.1, 0.0, 0.1, 0.3, 1.0, 3.0, 10.0)


#: Curves drawn (names as :func:`state_curves` writes them), by figure: (title, (name, colour,
#: dash) per line).
CURVE_GROUPS = (
    (
        "gap (E_val − E_train) / E_train",
        (("relative gap: model", "#d62728", "solid"), ("relative gap: D*", "#999999", "dashed")),
    ),
    (
        "model vs optimal error ‖D − D*‖",
        (
            ("‖D − D*‖ on noisy training points", "#d62728", "solid"),
            ("‖D − D*‖ on trajectory states", "#2c7fb8", "solid"),
        ),
    ),
    ("trajectory overlap", (("trajectory overlap", "#6a3d9a", "solid"),)),
)


#: Legend texts that differ from the curve's name after its colon.
CURVE_LEGENDS = {"relative gap: D*": f"D* (top line: > {GAP_CAP:g}, off scale)"}


def gap_axis(gap: Any) -> np.ndarray:
    """Gap values on the gap plots' axis: capped at GAP_CAP, then ``sign · log10(1 + |g|/c)``."""
    g = np.minimum(np.asarray(gap, np.float64), GAP_CAP)
    return np.sign(g) * np.log10(1.0 + np.abs(g) / GAP_LINEAR)


def gap_axis_inverse(y: Any) -> np.ndarray:
    """The gap value at an axis position (the inverse of :func:`gap_axis` below the cap)."""
    y = np.asarray(y, np.float64)
    return np.sign(y) * GAP_LINEAR * (10.0 ** np.abs(y) - 1.0)


def arrow_lengths(mag: Any, spacing: float) -> np.ndarray:
    """Drawn arrow lengths for displacement lengths ``mag`` of one panel and frame."""
    m = np.asarray(mag, np.float32)
    ref = max(float(np.sort(m.ravel())[int(0.95 * (m.size - 1))]), 1e-30)
    return spacing * ARROW_CELLS * np.minimum(m / ref, ARROW_CAP)


@dataclasses.dataclass(frozen=True, eq=False)
class SigmaStack:
    """All frames of the σ-dependent views (NumPy arrays; ``S`` frames, one per grid σ > 0).

    ========================  ====================  =================================================
    field                     shape                 meaning
    ========================  ====================  =================================================
    ``sigmas``                ``(S,)`` float64      the frames' σ, decreasing (the sampling grid, no 0)
    ``grid``                  :class:`Grid`         the arrow grid, ``r × r`` points (row-major, y rows)
    ``model``                 ``(S, r, r, 2)``      ``D(x; σ_i) − x`` of the model shown
    ``optimal``               ``(S, r, r, 2)``      ``D*(x; σ_i) − x`` of the optimal denoiser
    ``heat_grid``             :class:`Grid`         the heat-map grid, ``h × h`` points
    ``error``                 ``(S, h, h)``         ``‖D(x; σ_i) − D*(x; σ_i)‖ / σ_i``
    ``trajectory``            ``(S, n, 2)``         sampling states at σ_i (data units)
    ``samples``               ``(n, 2)``            the final states (σ = 0)
    ``memorized``             ``(n,)`` bool | None  samples whose nearest training point is closer
                                                    than 1/3 of the second-nearest
    ``cloud``                 ``(S, m, 2)``         noisy training points ``y_j + σ_i ε_j``
    ``cloud_source``          ``(m,)`` int32        the training point of each cloud point
    ``train_x`` / ``val_x``   ``(N, 2)`` / ``(M, 2)`` float32 data points
    ``train_labels``          ``(N,)`` int32 | None labels of the training points
    ``curves``                name → ``(S,)``       optional curves over the frames' σ (NaN: none)
    ``meta``                  name → str            titles (``"model"``: the model's name, ...)
    ``compare``               bool                  ``False`` when the model is D* itself: the
                                                    model-vs-optimal panels and curves are zero
    ``memorized_baseline``    float | None          the memorized share of fresh data (same rule)
    ========================  ====================  =================================================

    The frame arrays (``model``, ``optimal``, ``error``, ``trajectory``, ``cloud``, ``samples``)
    share one dtype, float16 or float32. :meth:`flow_field` and :meth:`comparison` rebuild the
    :mod:`toyflow.fields` objects of one frame.
    """

    sigmas: np.ndarray
    grid: Grid
    model: np.ndarray
    optimal: np.ndarray
    heat_grid: Grid
    error: np.ndarray
    trajectory: np.ndarray
    samples: np.ndarray
    memorized: np.ndarray | None
    cloud: np.ndarray
    cloud_source: np.ndarray
    train_x: np.ndarray
    val_x: np.ndarray
    train_labels: np.ndarray | None = None
    curves: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    meta: dict[str, str] = dataclasses.field(default_factory=dict)
    compare: bool = True
    memorized_baseline: float | None = None

    @property
    def steps(self) -> int:
        """Number of frames ``S``."""
        return int(self.sigmas.shape[0])

    @property
    def resolution(self) -> int:
        return self.grid.resolution

    @property
    def nbytes(self) -> int:
        """Bytes of every array the stack holds (what a page receives, before encoding)."""
        arrays = [
            self.sigmas,
            self.grid.xs,
            self.grid.ys,
            self.model,
            self.optimal,
            self.heat_grid.xs,
            self.heat_grid.ys,
            self.error,
            self.trajectory,
            self.samples,
            self.cloud,
            self.cloud_source,
            self.train_x,
            self.val_x,
            self.memorized,
            self.train_labels,
            *self.curves.values(),
        ]
        return int(sum(np.asarray(a).nbytes for a in arrays if a is not None))

    @property
    def error_range(self) -> tuple[float, float]:
        """``(low, high)`` of the heat map's log colour scale: ERROR_PERCENTILES of the positive
        ``‖D − D*‖ / σ`` over all frames (fixed over σ), ``high ≥ 10 low``; ``(1e-3, 1)``
        without positive values (no comparison)."""
        err = np.asarray(self.error, np.float32).ravel()
        pos = err[np.isfinite(err) & (err > 0)]
        if pos.size == 0:
            return 1e-3, 1.0
        lo, hi = (float(v) for v in np.percentile(pos, ERROR_PERCENTILES))
        hi = max(hi, 10.0 * lo)
        return lo, hi

    def memorized_text(self) -> str:
        """``"45% end memorized (fresh data: 49%)"`` (``""`` without memorized flags): the
        samples' memorized share beside its fresh-data baseline, for the views' titles."""
        if self.memorized is None:
            return ""
        text = f"{100 * float(np.mean(self.memorized)):.0f}% end memorized"
        if self.memorized_baseline is not None and np.isfinite(self.memorized_baseline):
            text += f" (fresh data: {100 * self.memorized_baseline:.0f}%)"
        return text

    @property
    def spacing(self) -> float:
        """The arrow grid's spacing."""
        xs = self.grid.xs
        return float(xs[1] - xs[0]) if len(xs) > 1 else 1.0

    def arrow_color_high(self) -> float:
        """Top of the arrow colour bar: the 99th percentile of ``‖D(x; σ) − x‖`` over every
        frame of both fields (one scale for all σ, so colours compare across frames)."""
        mags = [
            np.linalg.norm(np.asarray(getattr(self, w), np.float32), axis=-1).ravel()
            for w in ("model", "optimal")
        ]
        return max(float(np.percentile(np.concatenate(mags), 99)), 1e-6)

    def _check_index(self, i: int) -> int:
        return check_int(i, "frame index", 0, self.steps - 1)

    def flow_field(self, i: int, which: str = "model") -> FlowField:
        """Frame ``i`` of ``"model"`` or ``"optimal"`` as a :class:`toyflow.fields.FlowField`
        (float32 ``denoised = x + displacement``)."""
        i = self._check_index(i)
        if which not in ("model", "optimal"):
            raise ValueError(f"which must be 'model' or 'optimal', got {which!r}")
        disp = np.asarray(getattr(self, which)[i], np.float32)
        r = self.grid.resolution
        return FlowField(float(self.sigmas[i]), self.grid, self.grid.points.reshape(r, r, 2) + disp)

    def comparison(self, i: int) -> FieldComparison:
        """Frame ``i``: the model's field beside the optimal one."""
        return FieldComparison(self.flow_field(i, "model"), self.flow_field(i, "optimal"))


# --- the compiled call ----------------------------------------------------------------------------


@jax.jit
def _frames(model, optimal, arrow_pts, heat_pts, sigmas, train_y, noise, label):
    """Every σ at once: displacements on the arrow grid, ``‖D − D*‖/σ`` on the heat grid and
    the noisy-training cloud. ``label`` is ``None`` or a scalar int (one label for all queries)."""
    pts = jnp.concatenate([arrow_pts, heat_pts], axis=0)
    n, na = pts.shape[0], arrow_pts.shape[0]
    lab = None if label is None else jnp.full((n,), label, jnp.int32)

    def one(sigma):
        s = jnp.full((n,), sigma, jnp.float32)
        d_model = model.denoise(pts, s, lab)
        d_opt = optimal.denoise(pts, s, lab)
        err = jnp.linalg.norm(d_model[na:] - d_opt[na:], axis=-1) / sigma
        cloud = train_y + sigma * noise
        return d_model[:na] - arrow_pts, d_opt[:na] - arrow_pts, err, cloud

    block = min(SIGMA_BLOCK, sigmas.shape[0])
    return jax.lax.map(one, sigmas, batch_size=block)


def compile_count() -> int:
    """How many programs the stack's compiled call holds (tests check that σ, δ and data of the
    same shapes add none)."""
    return int(_frames._cache_size())  # type: ignore[attr-defined]


# --- building a stack -----------------------------------------------------------------------------


def frame_sigmas(sigmas: Any) -> np.ndarray:
    """The frames' σ from a sampling grid: finite, strictly decreasing, positive; a final 0 (as
    :func:`toyflow.schedules.sampling_sigmas` returns it) is dropped."""
    s = np.asarray(sigmas, dtype=np.float64)
    if s.ndim != 1 or s.size == 0:
        raise ValueError(f"sigmas must be a 1-D grid of noise levels, got shape {s.shape}")
    if not np.all(np.isfinite(s)):
        raise ValueError("sigmas must be finite")
    if s.size > 1 and s[-1] == 0.0:
        s = s[:-1]
    if np.any(s <= 0):
        raise ValueError("sigmas must be positive (only the grid's last value may be 0)")
    if np.any(np.diff(s) >= 0):
        raise ValueError("sigmas must decrease strictly (σ_0 > σ_1 > …), as the sampling grid does")
    if s.size > 10_000:
        raise ValueError(f"sigmas holds {s.size} values; at most 10000 frames")
    return s


def _trajectory_frames(trajectory: Any, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """``(states (S, n, 2), samples (n, 2))`` from a sampler's ``(S + 1, n, 2)`` trajectory."""
    t = np.asarray(trajectory)
    if t.ndim != 3 or t.shape[-1] != 2 or t.shape[0] != steps + 1 or t.shape[1] == 0:
        raise ValueError(
            f"trajectory must have shape ({steps + 1}, n, 2) (the sampler's states at every grid "
            f"σ, the last the samples), got {t.shape}"
        )
    if not np.all(np.isfinite(t)):
        raise ValueError("trajectory holds NaN or infinite states")
    return t[:steps], t[steps]


def build_stack(
    model: Denoiser,
    optimal: Denoiser,
    train_x: Any,
    sigmas: Any,
    trajectory: Any,
    *,
    val_x: Any = None,
    train_labels: Any = None,
    label: int | None = None,
    memorized: Any = None,
    grid: Grid | None = None,
    resolution: int = 32,
    extent: Any = 17.5,
    heat_resolution: int = HEAT_RESOLUTION,
    n_noise: int = CLOUD_NOISE,
    seed: int = 0,
    dtype: Any = np.float16,
    curves: dict[str, Any] | None = None,
    meta: dict[str, str] | None = None,
    compare: bool | None = None,
    memorized_baseline: float | None = None,
) -> SigmaStack:
    """Compute a :class:`SigmaStack` in one compiled call.

    Args:
      model: the denoiser shown (any 2D toyflow denoiser, guidance included).
      optimal: the reference, usually ``OptimalDenoiser(train_x, train_labels)``.
      train_x: ``(N, 2)`` training points (the noisy cloud's centres).
      sigmas: the sampling grid (``toyflow.sampling_sigmas(...)``; a final 0 is dropped).
      trajectory: ``(S + 1, n, 2)`` states from ``toyflow.sample(..., return_trajectory=True)``
        on the same grid.
      val_x, train_labels, memorized: drawn beside the frames (optional).
      label: ``None`` (unconditional) or one label the fields are drawn for.
      grid / resolution / extent: the arrow grid (a :class:`Grid`, or :func:`make_grid`'s args).
      heat_resolution: points per side of the heat grid (same window as the arrow grid).
      n_noise: noise draws per training point (the cloud holds at most ``MAX_CLOUD`` points).
      seed: seeds the cloud's noise.
      dtype: ``np.float16`` (default, half the bytes) or ``np.float32`` for the frame arrays.
      curves: name → ``(S,)`` values over the frames' σ (e.g. the relative gap); copied.
      meta: titles for the views.
      compare: whether the model-vs-optimal views mean anything (default: ``model`` is not
        ``optimal``); ``False`` lets a view hide them.
      memorized_baseline: the memorized share of fresh data, shown beside the samples' own.
    """
    if not isinstance(model, Denoiser) or not isinstance(optimal, Denoiser):
        raise ValueError("model and optimal must be toyflow denoisers")
    for d in (model, optimal):
        if tuple(d.event_shape) != (2,):
            raise ValueError(f"the σ-stack draws 2D points; a denoiser works on {d.event_shape}")
    if np.dtype(dtype) not in [np.dtype(t) for t in _DTYPES]:
        raise ValueError(f"dtype must be float16 or float32, got {np.dtype(dtype)}")
    sig = frame_sigmas(sigmas)
    steps = sig.shape[0]
    tx = as_points(train_x, "train_x", dim=2)
    vx = (
        np.zeros((0, 2), np.float32)
        if val_x is None
        else as_points(val_x, "val_x", dim=2, allow_empty=True)
    )
    states, samples = _trajectory_frames(trajectory, steps)
    mem = None
    if memorized is not None:
        mem = np.asarray(memorized, bool).reshape(-1)
        if mem.shape[0] != samples.shape[0]:
            raise ValueError(f"memorized must have {samples.shape[0]} flags, got {mem.shape[0]}")
    tl = None
    if train_labels is not None:
        tl = np.asarray(train_labels, np.int32).reshape(-1)
        if tl.shape[0] != tx.shape[0]:
            raise ValueError(f"train_labels must have {tx.shape[0]} values, got {tl.shape[0]}")
    lab = None
    if label is not None:
        checked = model.check_labels(np.full((1,), label), 1)
        if checked is None:
            raise ValueError(f"label must be an integer label of the model, got {label!r}")
        lab = int(checked[0])
        optimal.check_labels(np.full((1,), lab), 1)
    g = grid if grid is not None else make_grid(extent, resolution)
    hres = check_int(heat_resolution, "heat_resolution", 2, 512)
    xmin, ymin, xmax, ymax = g.bounds
    hg = make_grid((xmin, xmax, ymin, ymax), hres)
    n_noise = check_int(n_noise, "n_noise", 1, 1000)
    n_noise = max(1, min(n_noise, MAX_CLOUD // tx.shape[0]))
    source = np.tile(np.arange(tx.shape[0], dtype=np.int32), n_noise)
    if source.size > MAX_CLOUD:  # more training points than the cloud shows: a seeded subset
        source = np.sort(np.random.default_rng(seed).choice(source, MAX_CLOUD, replace=False))
    noise = np.asarray(
        jax.random.normal(
            jax.random.PRNGKey(check_int(seed, "seed", 0, 2**31 - 1)), (source.size, 2)
        ),
        np.float32,
    )
    out = _frames(
        model,
        optimal,
        jnp.asarray(g.points),
        jnp.asarray(hg.points),
        jnp.asarray(sig, jnp.float32),
        jnp.asarray(tx[source]),
        jnp.asarray(noise),
        None if lab is None else jnp.asarray(lab, jnp.int32),
    )
    d_model, d_opt, err, cloud = (np.asarray(a) for a in out)
    if not (np.all(np.isfinite(d_model)) and np.all(np.isfinite(d_opt))):
        raise FloatingPointError(
            "the denoiser returned NaN or infinite values on the field grid; try a smaller "
            "guidance weight or another snapshot"
        )
    r, h = g.resolution, hres
    dt = np.dtype(dtype)
    cast = lambda a: np.ascontiguousarray(a, dt)
    curves_out = {}
    for name, values in (curves or {}).items():
        v = np.asarray(values, np.float64).reshape(-1)
        if v.shape[0] != steps:
            raise ValueError(
                f"curve {name!r} must have {steps} values (one per σ), got {v.shape[0]}"
            )
        curves_out[str(name)] = v
    return SigmaStack(
        sigmas=sig,
        grid=g,
        model=cast(d_model.reshape(steps, r, r, 2)),
        optimal=cast(d_opt.reshape(steps, r, r, 2)),
        heat_grid=hg,
        error=cast(np.clip(err, 0.0, 6e4).reshape(steps, h, h)),
        trajectory=cast(np.clip(states, -6e4, 6e4)),
        samples=cast(np.clip(samples, -6e4, 6e4)),
        memorized=mem,
        cloud=cast(np.clip(cloud, -6e4, 6e4)),
        cloud_source=source.astype(np.int32),
        train_x=tx.astype(np.float32),
        val_x=vx.astype(np.float32),
        train_labels=tl,
        curves=curves_out,
        meta=dict(meta or {}),
        compare=bool(model is not optimal) if compare is None else bool(compare),
        memorized_baseline=None if memorized_baseline is None else float(memorized_baseline),
    )


# --- from the explorer's store ------------------------------------------------------------------


def model_title(state) -> str:
    """A short name of the model an explorer state shows (``"error-prone δ = 1.6"``)."""
    name = {
        "optimal": "optimal D*",
        "error-prone": f"error-prone δ = {state.delta:g}",
        "user": "your denoiser",
    }.get(state.kind, "learned MLP")
    if state.guidance != "none":
        name += f", {state.guidance} w = {state.w:g}"
    return name


def state_curves(curves: dict | None, steps: int) -> dict[str, np.ndarray]:
    """Plain ``(S,)`` arrays from the explorer's curves (``curves()``: GapCurve and
    TrajectoryOverlap objects); curves of another length are left out, and so are the
    model-vs-optimal curves when the model is D* itself (``curves["compare"]`` false: the
    model's gap is D*'s and ‖D − D*‖ is float noise)."""
    out: dict[str, np.ndarray] = {}
    if not curves:
        return out
    compare = curves.get("compare", True)
    gaps = (("model_gap", "relative gap: model"), ("optimal_gap", "relative gap: D*"))
    for key, title in gaps if compare else gaps[1:]:
        g = curves.get(key)
        if g is not None:
            out[title] = np.asarray(g.gap, np.float64)
    o = curves.get("overlap")
    if o is not None:
        if compare:
            out["‖D − D*‖ on noisy training points"] = np.asarray(o.error_noisy_train, np.float64)
            out["‖D − D*‖ on trajectory states"] = np.asarray(o.error_traj, np.float64)
        out["trajectory overlap"] = np.asarray(o.overlap, np.float64)
    return {k: v for k, v in out.items() if v.shape == (steps,)}


def _field_label(state) -> int | None:
    fn = getattr(state, "field_label", None)
    if fn is None:  # the split explorer keeps it on its compute part
        fn = state.compute.field_label
    return fn()


def _baseline(state) -> float | None:
    """The explorer's fresh-data baseline of the memorized share (``None`` where it has none)."""
    summaries = getattr(state, "summaries", None)
    if summaries is None or not hasattr(summaries, "memorization_baseline"):
        return None
    return summaries.memorization_baseline().get("memorized_baseline")


def _compares(state) -> bool:
    compute = getattr(state, "compute", None)
    if compute is not None and hasattr(compute, "compares"):
        return bool(compute.compares())
    return not (state.kind == "optimal" and state.guidance == "none")


def stack_for_state(
    state, *, with_curves: bool = True, compare: bool | None = None, **kwargs
) -> SigmaStack:
    """The σ-stack of an explorer state (``toyflow.explorer.ExplorerState``) for its current
    inputs, through its public methods: ``sigma_grid``, ``data``, ``optimal``,
    ``current_denoiser``, ``field_label`` (or ``compute.field_label``), ``trajectories`` and
    ``curves``. Raises the state's
    ``NotReady`` for a learned model without weights. ``kwargs`` go to :func:`build_stack`."""
    sigmas = state.sigma_grid()
    data = state.data()
    traj = state.trajectories()
    steps = sigmas.shape[0] - 1
    curves = {}
    if with_curves and getattr(state, "show_curves", True):
        curves = state_curves(state.curves(), steps)
    meta = {
        "model": model_title(state),
        "data": f"{data.dataset.name}, {data.dataset.n_train} training points",
        "sampler": f"{state.solver} on the {state.schedule} grid, {steps} steps",
    }
    kwargs.setdefault("resolution", state.resolution)
    kwargs.setdefault("extent", state.extent)
    kwargs.setdefault("seed", state.seed)
    return build_stack(
        state.current_denoiser(),
        state.optimal(),
        data.dataset.train_x,
        sigmas,
        traj.trajectory,
        val_x=data.dataset.val_x,
        train_labels=data.train_labels,
        label=_field_label(state),
        memorized=traj.memorized,
        curves=curves,
        meta=meta,
        compare=_compares(state) if compare is None else compare,
        memorized_baseline=_baseline(state),
        **kwargs,
    )
