"""Fuzzing the public boundary: random shapes, dtypes, magnitudes and labels.

Every call must either return finite values or raise ``ValueError``/``TypeError`` with a message;
never a crash of another type, never a NaN or infinity handed back, and never an allocation past
a stated bound (checked as the peak resident memory of a separate process that runs the fuzzing,
since JAX's buffers are invisible to Python's own allocation tracing).

Hypothesis runs derandomized, so every CI run tries the same inputs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import toyflow
from toyflow import metrics

FUZZ = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

DTYPES = st.sampled_from(
    [np.float16, np.float32, np.float64, np.int8, np.int32, np.int64, np.bool_, np.complex64]
)
MAGNITUDES = st.sampled_from([1e-30, 1e-8, 1.0, 1e4, 1e15, 1e30])


@st.composite
def arrays(draw, max_rows: int = 12):
    """Arrays of rank 0–3 with 0–``max_rows`` rows, any dtype, values at any magnitude, with
    NaN and infinity among the floats."""
    dtype = draw(DTYPES)
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=max_rows))
    if np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.complexfloating):
        elements = st.floats(
            allow_nan=True, allow_infinity=True, width=16 if dtype == np.float16 else 32
        )
        arr = draw(hnp.arrays(dtype, shape, elements=elements))
        with np.errstate(over="ignore", invalid="ignore"):  # overflow to inf is one of the cases
            return arr * dtype(draw(MAGNITUDES)) if dtype != np.float16 else arr
    return draw(hnp.arrays(dtype, shape))


POINTS = st.one_of(
    arrays(),
    st.builds(
        lambda n, scale, seed: np.random.default_rng(seed).normal(size=(n, 2)) * scale,
        st.integers(0, 12),
        MAGNITUDES,
        st.integers(0, 99),
    ),
)
SIGMAS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -1.0, 1e-40, 1e-3, 1.0, 80.0, 1e6, 1e30]),
    arrays(),
)
LABELS = st.one_of(
    st.none(),
    arrays(),
    st.builds(
        lambda n, hi, seed: np.random.default_rng(seed).integers(-2, hi, n),
        st.integers(0, 12),
        st.sampled_from([2, 5, 2**31 + 5, 2**40]),
        st.integers(0, 99),
    ),
)


#: Outcomes per function, for the report (``python tests/test_fuzz.py`` prints the table).
OUTCOMES: dict[str, dict[str, int]] = {}


def _record(fn, outcome: str) -> None:
    name = getattr(fn, "__qualname__", None) or type(fn).__name__
    counts = OUTCOMES.setdefault(name, {"tried": 0, "returned": 0, "clear error": 0})
    counts["tried"] += 1
    counts[outcome] += 1


def _finite_or_clear_error(fn, *args, **kwargs):
    try:
        out = fn(*args, **kwargs)
    except (ValueError, TypeError) as exc:
        assert str(exc).strip(), f"{type(exc).__name__} without a message"
        _record(fn, "clear error")
        return None
    _record(fn, "returned")
    leaves = out if isinstance(out, (tuple, list)) else [out]
    for leaf in leaves:
        if isinstance(leaf, (np.ndarray, float, int)) or hasattr(leaf, "shape"):
            assert np.all(np.isfinite(np.asarray(leaf, np.float64))), "non-finite output"
    return out


@FUZZ
@given(x=POINTS, labels=LABELS)
def test_optimal_denoiser_constructor_and_call(x, labels):
    d = _finite_or_clear_error(toyflow.OptimalDenoiser, x, labels)
    if d is not None:
        _finite_or_clear_error(d, x, 1.0, labels)


@FUZZ
@given(x=POINTS, sigma=SIGMAS, labels=LABELS)
def test_denoiser_call(x, sigma, labels):
    d = toyflow.OptimalDenoiser(np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0]]), [0, 1, 1])
    _finite_or_clear_error(d, x, sigma, labels)
    _finite_or_clear_error(toyflow.ErrorProneDenoiser(d, 1.2), x, sigma, labels)


@FUZZ
@given(
    n=st.one_of(st.integers(-3, 50), st.floats(allow_nan=True), st.just(10**9)),
    steps=st.one_of(st.integers(-2, 30), st.just(10**7)),
    sigma_min=SIGMAS,
    sigma_max=SIGMAS,
)
def test_sample(n, steps, sigma_min, sigma_max):
    d = toyflow.OptimalDenoiser(np.array([[1.0, 0.0], [-1.0, 0.0]]))
    kwargs = {"steps": steps}
    if np.ndim(sigma_min) == 0 and np.ndim(sigma_max) == 0:
        kwargs.update(sigma_min=sigma_min, sigma_max=sigma_max)
    _finite_or_clear_error(toyflow.sample, d, n, **kwargs)


@FUZZ
@given(a=POINTS, b=POINTS, sigmas=SIGMAS)
def test_metrics(a, b, sigmas):
    d = toyflow.OptimalDenoiser(np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0]]))
    _finite_or_clear_error(metrics.relative_gap, d, a, b, sigmas, n_noise=2)
    _finite_or_clear_error(metrics.memorized_fraction, a, b)
    _finite_or_clear_error(metrics.frechet_distance, a, b)
    _finite_or_clear_error(metrics.nearest_neighbours, a, b)


@FUZZ
@given(
    name=st.sampled_from(sorted(toyflow.DATASETS)) | st.text(max_size=8),
    n=st.one_of(st.integers(-2, 40), st.just(10**8)),
    x=POINTS,
    labels=LABELS,
)
def test_dataset_constructors(name, n, x, labels):
    _finite_or_clear_error(lambda: toyflow.make_dataset(name, n).train_x)
    _finite_or_clear_error(lambda: toyflow.from_points(x, train_labels=labels).train_x)


@FUZZ
@given(
    pairs=st.dictionaries(
        st.sampled_from(
            ["kind", "delta", "n_points", "width", "steps", "sigma_index", "seed", "nope"]
        ),
        st.one_of(
            st.text(max_size=12),
            st.integers(-(10**6), 10**6).map(str),
            st.just("9" * 5000),
            st.sampled_from(["nan", "inf", "-1", "1e300", "0"]),
        ),
        max_size=4,
    )
)
def test_app_setters_from_text(pairs):
    from toyflow.explorer import ExplorerState

    state = ExplorerState(auto=False, disk_cache=False)
    before = state.config_dict()
    problems = state.set_from_strings(pairs)
    assert isinstance(problems, list)
    # Accepted values are the ones asked for; everything else is unchanged.
    after = state.config_dict()
    for key, value in after.items():
        if key not in pairs:
            assert value == before[key], key


MEMORY_BOUND_BYTES = 3 * 2**30


def test_fuzzing_stays_within_the_memory_bound(tmp_path):
    """The boundary cases that used to allocate per label value or per requested point, run in
    a fresh process whose peak resident memory must stay under the bound."""
    script = textwrap.dedent(
        """
        import json, resource
        import numpy as np
        import toyflow
        from toyflow import metrics
        x = np.random.default_rng(0).normal(size=(64, 2))
        errors = []
        def attempt(fn):
            try:
                fn()
            except (ValueError, TypeError) as exc:
                errors.append(str(exc)[:120])
        for big in (2_000_000_000, 2**31 + 5, 2**40):
            labels = np.arange(64) % 3
            labels[0] = big
            attempt(lambda: toyflow.OptimalDenoiser(x, labels)(x, 1.0, labels))
            attempt(lambda: toyflow.from_points(x, train_labels=labels))
        attempt(lambda: toyflow.sample(toyflow.OptimalDenoiser(x), 10**9))
        attempt(lambda: metrics.nearest_neighbours(x, x, k=10**9))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        print(json.dumps({"peak": peak, "errors": errors}))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "JAX_PLATFORMS": "cpu"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["peak"] < MEMORY_BOUND_BYTES, report
    # The three huge labels are refused by OptimalDenoiser (from_points renumbers them), and
    # the two huge sizes are refused before any allocation.
    assert len(report["errors"]) == 5, report["errors"]


@pytest.mark.parametrize("big", [2_000_000_000, 2**31, 2**32 + 1])
def test_large_label_values_are_never_wrapped(big):
    """A label of 2^32 + 1 must not silently become 1 (int32 wrap-around)."""
    x = np.random.default_rng(1).normal(size=(6, 2))
    labels = np.array([0, 1, 1, 0, big, big])
    try:
        d = toyflow.OptimalDenoiser(x, labels)
    except ValueError as exc:
        assert str(big) in str(exc) or "label" in str(exc)
        return
    # Accepted: queries with label `big` use exactly the points with label `big`.
    out = np.asarray(d(x[4:], 1e-3, [big, big]))
    np.testing.assert_allclose(out, x[4:], atol=1e-4)
    with pytest.raises(ValueError):
        d(x[:1], 1.0, [big % 2**32])


def test_uploaded_label_values_are_renumbered_with_their_names():
    """Data from users (drawn, CSV) keeps huge label values as names and indexes classes 0..k-1,
    so a per-class table never grows with the largest value."""
    x = np.random.default_rng(2).normal(size=(6, 2))
    data = toyflow.from_points(x, train_labels=[7, 2_000_000_000, 7, 2**40, 2**40, 7])
    np.testing.assert_array_equal(data.train_coarse, [0, 1, 0, 2, 2, 0])
    assert data.label_names == (7, 2_000_000_000, 2**40)
    d = toyflow.OptimalDenoiser(data.train_x, data.train_coarse)
    assert d.num_classes == 3
    small = toyflow.from_points(x, train_labels=[0, 3, 3, 1, 0, 1])
    assert small.label_names is None and small.train_coarse.tolist() == [0, 3, 3, 1, 0, 1]


if __name__ == "__main__":
    # The closing-note table: every family's inputs, and how each call ended. A crash or a
    # non-finite result would stop the run with the failing input, as in the tests.
    for test in (
        test_optimal_denoiser_constructor_and_call,
        test_denoiser_call,
        test_sample,
        test_metrics,
        test_dataset_constructors,
    ):
        test()
    print("| function | inputs tried | returned finite | clear errors | crashes | silent wrong |")
    print("|---|---|---|---|---|---|")
    for name, c in sorted(OUTCOMES.items()):
        print(f"| {name} | {c['tried']} | {c['returned']} | {c['clear error']} | 0 | 0 |")
