"""The paper's toy curves reproduced from the paper's formulas, independently of toyflow.

A float64 NumPy implementation written from the formulas in docs/theory.md (none of toyflow's
code): the symmetric circle (radius 10, ``2n`` equidistant angles rotated by 0.01 of a turn,
alternately train and validation), the optimal denoiser

    D*(x; σ) = Σ_i w_i(x) y_i,   w_i = softmax_i(−‖x − y_i‖² / 2σ²),

the error-prone denoiser ``y_δ(x; σ) = (δ² x + σ² D*(x; √(σ² + δ²))) / (σ² + δ²)``, and per σ the
expected error on each split, ``E(σ) = E ‖D(y + σ n; σ) − y‖`` (the paper's gap) and the EDM
loss ``E λ(σ) ‖D(y + σ n; σ) − y‖² / d`` with ``λ = (σ² + σ_d²) / (σ σ_d)²``. Both are estimated
with many more noise draws than toyflow uses, from a different random generator, and compared
with toyflow's ``gap-vs-delta`` experiment and ``metrics.gap_curve`` within Monte-Carlo noise
(4 combined standard errors).

``python tests/test_paper_reference.py`` prints the comparison table quoted in docs/results.md.
"""

from __future__ import annotations

import numpy as np
import pytest

RADIUS = 10.0
#: Combined standard errors allowed between toyflow and the reference (a 4σ band: with the
#: ~50 compared values a false alarm has probability ~3e-3).
Z = 4.0


def circle(n_train: int) -> tuple[np.ndarray, np.ndarray]:
    """The paper's symmetric circle: ``θ_i = 2π (i / 2n + 0.01)``, even i train, odd i val."""
    i = np.arange(2 * n_train)
    theta = 2 * np.pi * (i / (2 * n_train) + 0.01)
    pts = RADIUS * np.stack([np.cos(theta), np.sin(theta)], axis=1)
    return pts[0::2], pts[1::2]


def optimal(x: np.ndarray, sigma: float, train: np.ndarray) -> np.ndarray:
    """``D*(x; σ)`` for ``x (..., 2)`` in float64 (a stable softmax)."""
    logits = -np.sum((x[..., None, :] - train) ** 2, axis=-1) / (2 * sigma**2)
    w = np.exp(logits - logits.max(axis=-1, keepdims=True))
    w /= w.sum(axis=-1, keepdims=True)
    return w @ train


def error_prone(x: np.ndarray, sigma: float, train: np.ndarray, delta: float) -> np.ndarray:
    """The exact denoiser of the training set smoothed by ``N(0, δ² I)``."""
    if delta == 0.0:
        return optimal(x, sigma, train)
    s2, d2 = sigma**2, delta**2
    return (d2 * x + s2 * optimal(x, np.sqrt(s2 + d2), train)) / (s2 + d2)


def split_errors(
    points: np.ndarray,
    train: np.ndarray,
    sigma: float,
    delta: float,
    draws: int,
    rng: np.random.Generator,
    kind: str = "l2",
) -> tuple[float, float]:
    """Mean and standard error over ``draws`` noise draws of the per-draw mean over ``points``
    of ``‖D − y‖`` (``kind="l2"``) or ``λ(σ) ‖D − y‖² / d`` (``kind="edm"``, σ_d = std(train))."""
    y = points[None]
    x = y + sigma * rng.standard_normal((draws,) + points.shape)
    err = error_prone(x, sigma, train, delta) - y
    sq = np.sum(err**2, axis=-1)
    if kind == "l2":
        per = np.sqrt(sq)
    else:
        sd = np.std(train)
        per = (sigma**2 + sd**2) / (sigma * sd) ** 2 * sq / points.shape[1]
    m = per.mean(axis=1)
    return float(m.mean()), float(m.std(ddof=1) / np.sqrt(draws))


def reference_gap(train, val, sigma, delta, draws, rng, kind="l2"):
    """``(E_train, se, E_val, se, gap, se)`` of the reference at one σ."""
    et, et_se = split_errors(train, train, sigma, delta, draws, rng, kind)
    ev, ev_se = split_errors(val, train, sigma, delta, draws, rng, kind)
    t = max(et, 1e-300)
    gap = (ev - et) / t
    gap_se = np.hypot(ev_se / t, ev * et_se / t**2)
    return et, et_se, ev, ev_se, gap, gap_se


def _close(a, a_se, b, b_se, atol: float = 0.0) -> bool:
    return bool(abs(a - b) <= Z * np.hypot(a_se, b_se) + atol)


# --- tests ----------------------------------------------------------------------------------------


def test_toyflow_builds_the_papers_circle():
    from toyflow.datasets import make_dataset

    train, val = circle(10)
    data = make_dataset("circle", 10, seed=0)
    np.testing.assert_allclose(data.train_x, train, atol=1e-5)
    np.testing.assert_allclose(data.val_x, val, atol=1e-5)
    # 0.01 of a turn: the first training angle is 2π/100 rad, not 0.01 rad.
    assert np.arctan2(data.train_x[0, 1], data.train_x[0, 0]) == pytest.approx(0.02 * np.pi)


def test_reference_denoisers_match_known_limits():
    train, val = circle(10)
    # σ → 0: D* returns the nearest training point; σ → ∞: the mean of the training set.
    x = val + 0.3
    nearest = train[np.argmin(np.linalg.norm(x[:, None] - train, axis=-1), axis=1)]
    np.testing.assert_allclose(optimal(x, 1e-3, train), nearest, atol=1e-9)
    np.testing.assert_allclose(optimal(x, 1e4, train), np.tile(train.mean(0), (10, 1)), atol=1e-4)
    # δ → 0 is D*; σ ≪ δ is (nearly) the identity.
    np.testing.assert_allclose(error_prone(x, 0.5, train, 1e-9), optimal(x, 0.5, train))
    np.testing.assert_allclose(error_prone(x, 1e-4, train, 1.6), x, atol=1e-6)


def test_gap_vs_delta_matches_the_reference_within_monte_carlo_noise():
    """toyflow's gap-vs-delta (200 draws) against the reference (4000 draws) at σ from 0.1 to
    20, for δ = 2.2 and 1.2: training and validation errors and the relative gap."""
    from toyflow.experiments import run_experiment

    r = run_experiment(
        "gap-vs-delta", quick=True, n_delta=2, delta_max=2.2, delta_min=1.2, draws=200
    )
    a = {k: np.asarray(v, float) for k, v in r["arrays"].items()}
    train, val = circle(10)
    rng = np.random.default_rng(12345)
    picks = [int(np.argmin(np.abs(np.log(a["sigmas"] / t)))) for t in (0.1, 0.5, 1.1, 3.0, 20.0)]
    checked = 0
    for i, delta in enumerate(a["deltas"]):
        for k in picks:
            ref = reference_gap(train, val, a["sigmas"][k], delta, 4000, rng)
            for j, key in enumerate(("e_train", "e_val", "gap")):
                ours, ours_se = a[key][i, k], a[key + "_se"][i, k]
                assert np.isfinite(ours_se) and ours_se > 0, key
                assert _close(ours, ours_se, ref[2 * j], ref[2 * j + 1]), (
                    f"δ={delta:g} σ={a['sigmas'][k]:.3g} {key}: toyflow {ours:.4f} ± {ours_se:.4f}"
                    f", reference {ref[2 * j]:.4f} ± {ref[2 * j + 1]:.4f}"
                )
                checked += 1
    assert checked == 2 * len(picks) * 3
    # The reported standard error is the spread over draws: the reference's, scaled by √(4000/200).
    k = picks[2]
    ref = reference_gap(train, val, a["sigmas"][k], a["deltas"][-1], 4000, rng)
    assert a["gap_se"][-1, k] == pytest.approx(ref[5] * np.sqrt(4000 / 200), rel=0.35)


@pytest.mark.parametrize("kind", ["l2", "edm"])
def test_optimal_denoiser_error_and_edm_loss_match_the_reference(kind):
    """The optimal denoiser (δ = 0): toyflow's metrics.gap_curve, the paper's norm and the
    EDM-weighted loss per σ, against the reference."""
    from toyflow.denoisers import OptimalDenoiser
    from toyflow.metrics import gap_curve

    train, val = circle(10)
    sigmas = np.array([1.0, 2.0, 4.0, 8.0])
    c = gap_curve(OptimalDenoiser(train), train, val, sigmas, n_noise=300, seed=3, kind=kind)
    rng = np.random.default_rng(7)
    for k, sigma in enumerate(sigmas):
        et, et_se, ev, ev_se, _, _ = reference_gap(train, val, sigma, 0.0, 3000, rng, kind)
        # (+ a float32 rounding allowance: at σ = 1 D* returns the training point itself)
        assert _close(c.e_train[k], c.e_train_se[k], et, et_se, 1e-4), (kind, sigma, c.e_train[k])
        assert _close(c.e_val[k], c.e_val_se[k], ev, ev_se, 1e-4), (kind, sigma, c.e_val[k], ev)
    # D* memorizes: at σ = 1 the training error is a small part of the validation error.
    assert c.e_train[0] < 0.05 * c.e_val[0]


# --- the table quoted in docs/results.md -------------------------------------------------------------


def _table(draws_ref: int = 20_000) -> None:  # pragma: no cover - a report, run by hand
    import json
    import sys

    path = sys.argv[1] if len(sys.argv) > 1 else "docs/results/500-draws/gap-vs-delta.json"
    with open(path) as f:
        r = json.load(f)
    a = {k: np.asarray(v, float) for k, v in r["arrays"].items()}
    train, val = circle(10)
    rng = np.random.default_rng(2026)
    print(f"toyflow: {path} ({r['config']['n_noise']} draws); reference: {draws_ref} draws")
    print(
        "| δ | σ | E_train toyflow | reference | E_val toyflow | reference | gap toyflow | reference |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for delta in (2.2, 1.6, 1.2):
        i = int(np.argmin(np.abs(a["deltas"] - delta)))
        for target in (0.3, 1.1, 3.0, 10.0):
            k = int(np.argmin(np.abs(np.log(a["sigmas"] / target))))
            ref = reference_gap(train, val, a["sigmas"][k], a["deltas"][i], draws_ref, rng)
            cells = []
            for j, key in enumerate(("e_train", "e_val", "gap")):
                cells.append(f"{a[key][i, k]:.4f} ± {a[key + '_se'][i, k]:.4f}")
                cells.append(f"{ref[2 * j]:.4f} ± {ref[2 * j + 1]:.4f}")
            print(f"| {a['deltas'][i]:.1f} | {a['sigmas'][k]:.3g} | " + " | ".join(cells) + " |")


if __name__ == "__main__":  # pragma: no cover
    _table()
