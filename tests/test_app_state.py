"""The explorer's domain model (toyflow.explorer): set parameters, refresh, check the outputs."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import threading
import time

import jax
import numpy as np
import pytest

import toyflow
from toyflow import explorer as tfx
from toyflow.explorer import ExplorerState, NotReady

# A small learned model: every test that trains uses these, so one compiled step serves all.
SMALL = dict(width=16, depth=2, train_steps=300, batch_size=32)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """Model caches in a fresh folder; nothing shared between tests but compiled code."""
    monkeypatch.setenv("TOYFLOW_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TOYFLOW_WARMUP", "0")
    tfx.clear_memory_cache()
    tfx.clear_view_caches()
    yield
    tfx.clear_memory_cache()


@contextlib.contextmanager
def count_compiles():
    """Counts XLA backend compilations inside the block (``counter["n"]``)."""
    counter = {"n": 0}

    def listener(event, duration, **_kw):
        if event == "/jax/core/compile/backend_compile_duration":
            counter["n"] += 1

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield counter
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)


def fresh(**params) -> ExplorerState:
    state = ExplorerState(**params)
    state.refresh()
    return state


# --- views ----------------------------------------------------------------------------------


def test_defaults_publish_every_view():
    s = fresh()
    assert s.error == "" and s.status == ""
    assert s.field_view.grid.resolution == 32
    assert s.field_view.denoised.shape == (32, 32, 2)
    assert s.optimal_field_view is not None
    t = s.trajectory_view
    assert t.trajectory.shape == (41, 500, 2) and t.samples.shape == (500, 2)
    assert t.sigmas[0] == pytest.approx(80.0) and t.sigmas[-1] == 0.0
    # Claim 1: the optimal denoiser reproduces its training points.
    assert s.headline_view["memorized_fraction"] == 1.0
    curves = s.curves_view
    assert curves["optimal_gap"].gap.shape == (40,)
    assert curves["overlap"].overlap.shape == (40,)
    assert s.positions_view.shape == (500, 2)


def test_sigma_change_recomputes_only_field_and_positions():
    s = fresh(kind="error-prone", delta=1.6)
    counts = dict(s.compute_counts)
    traj = s.trajectory_view
    s.sigma_index = 25
    assert s.compute_counts["trajectories"] == counts["trajectories"]
    assert s.compute_counts["curves"] == counts["curves"]
    assert s.compute_counts["field"] == counts["field"] + 2  # model and optimal
    assert s.trajectory_view is traj
    sigma = s.sigmas[25]
    assert s.field_view.sigma == pytest.approx(sigma)
    np.testing.assert_array_equal(s.positions_view, traj.trajectory[25])
    np.testing.assert_array_equal(s.positions_at_sigma(), traj.trajectory[25])
    comparison = s.field()
    assert comparison.model.sigma == pytest.approx(sigma)


def test_sigma_and_delta_changes_never_recompile():
    s = fresh(kind="error-prone", delta=1.6)
    s.sigma_index = 5
    s.delta = 1.5  # warm every function once for this data shape
    with count_compiles() as compiles:
        for i in range(6, 30, 3):
            s.sigma_index = i
        s.delta = 1.2
        s.delta = 2.0
        s.sigma_index = 33
    assert s.error == ""
    assert compiles["n"] == 0


def test_error_prone_gap_peaks_at_intermediate_sigma():
    s = fresh(kind="error-prone", delta=1.6)
    gap = s.curves_view["model_gap"]
    assert 0.1 < gap.peak_sigma < 10.0  # claim 2, in the paper's toy setting
    assert s.headline_view["memorized_fraction"] < 1.0


def test_too_large_k_shows_an_error_and_keeps_the_views():
    s = fresh(granularity="kmeans", k=4, show_curves=False)
    field = s.field_view
    s.k = 50
    assert "K = 50" in s.error and "between 1 and 10" in s.error
    assert s.field_view is field
    s.k = 3
    assert s.error == ""
    assert s.data_view.num_classes == 3


def test_nonsensical_combinations_are_reported():
    s = fresh(show_curves=False)
    s.guidance = "classifier-free"
    assert "needs labels" in s.error
    s.param.update(granularity="coarse", condition=7)
    assert "Condition label 7" in s.error
    s.condition = 2
    assert s.error == ""
    s.param.update(sigma_min=5.0, sigma_max=2.0)
    assert "σ_min" in s.error
    s.param.update(sigma_max=80.0, sigma_min=0.002)
    s.n_val = 12  # the symmetric circle alternates train and validation angles
    assert "n_val" in s.error


@pytest.mark.parametrize("guidance", ["classifier-free", "autoguidance"])
def test_guidance_on_analytic_models(guidance):
    s = fresh(kind="error-prone", granularity="coarse", guidance=guidance, w=1.0, show_curves=False)
    assert s.error == ""
    base = s.headline_view["memorized_fraction"]
    s.w = 2.5
    assert s.error == ""
    assert isinstance(s.current_denoiser(), toyflow.GuidedDenoiser)
    assert 0.0 <= base <= 1.0


# --- user data ------------------------------------------------------------------------------


def test_csv_upload_good_and_malformed():
    s = fresh(show_curves=False)
    n = s.upload_csv(b"x,y\n1,2\n3,4.5\n-2,7\n0,0\n")
    assert n == 4 and s.dataset == "custom"
    assert s.error == ""
    assert s.data_view.dataset.n_train == 4
    before = (s.dataset, s.custom_points.copy())
    for bad, words in [
        (b"1,2\n3,oops\n", "line 2"),
        (b"", "empty"),
        (b"1,2,3,4\n", "line 1"),
        (b"1,2\nnan,3\n", "finite"),
        (b"/etc/passwd", "no data rows"),
    ]:
        with pytest.raises(ValueError, match=words):
            s.upload_csv(bad)
        assert s.dataset == before[0]
        np.testing.assert_array_equal(s.custom_points, before[1])


def test_upload_never_opens_a_path(tmp_path):
    secret = tmp_path / "secret.csv"
    secret.write_text("1,2\n3,4\n")
    s = ExplorerState(auto=False)
    with pytest.raises(ValueError):
        s.upload_csv(str(secret))  # text is CSV content, never a file name
    assert s.dataset == "circle"


def test_drawn_points_with_holdout_give_a_validation_set():
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(30, 2)) * 5
    s = fresh(show_curves=False)
    s.use_points(pts)
    assert s.dataset == "custom" and s.error == ""
    assert s.data_view.dataset.n_val == 0
    assert s._gap(s.optimal(), s.sigmas[:3]) is None  # no validation points: no gap curve
    s.holdout = 0.3
    assert s.error == ""
    assert s.data_view.dataset.n_val == 9 and s.data_view.dataset.n_train == 21
    with pytest.raises(ValueError):
        s.use_points(np.zeros((1, 2)))
    with pytest.raises(ValueError):
        s.use_points([[1.0, np.inf], [0.0, 0.0]])


# --- take-away ------------------------------------------------------------------------------


def test_json_and_python_snippet_reproduce_the_run():
    s = fresh(kind="error-prone", delta=1.6, sigma_index=22)
    doc = json.loads(s.to_json())
    assert doc["config"]["kind"] == "error-prone" and doc["config"]["delta"] == 1.6
    assert doc["metrics"]["memorized_fraction"] == pytest.approx(
        s.headline_view["memorized_fraction"]
    )
    assert len(doc["curves"]["model_gap"]["gap"]) == 40
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(s.python_snippet(), "<snippet>", "exec"), {})
    printed = float(re.search(r"memorized fraction: ([0-9.]+)", out.getvalue()).group(1))
    assert printed == pytest.approx(s.headline_view["memorized_fraction"], abs=1e-3)


def test_command_and_url_settings_round_trip():
    s = ExplorerState(
        auto=False,
        kind="error-prone",
        delta=1.2,
        n_train=40,
        n_val=40,
        dataset="moons",
        granularity="kmeans",
        k=5,
    )
    cmd = s.cli_command()
    assert cmd.startswith("panel serve app/explorer.py")
    pairs = dict(item.split("=", 1) for item in cmd.split("--args ")[1].split())
    t = ExplorerState(auto=False)
    assert t.set_from_strings(pairs) == []
    assert t.config_dict() == s.config_dict()


@pytest.mark.parametrize("kind", ["optimal", "error-prone", "learned"])
def test_toyflow_command_parses(kind):
    import toyflow.cli as cli

    s = ExplorerState(
        auto=False, kind=kind, dataset="moons", n_train=30, n_val=30, granularity="kmeans", k=3
    )
    cmd = s.toyflow_command().split()
    assert cmd[0] == "toyflow"
    args = cli.build_parser().parse_args(cmd[1:])
    assert args.data == "moons" and args.n_train == 30


def test_bad_settings_from_text_are_skipped():
    s = ExplorerState(auto=False)
    problems = s.set_from_strings(
        {"n_train": "99999", "bogus": "1", "kind": "nonsense", "delta": "abc", "seed": "7"}
    )
    assert len(problems) == 4
    assert s.n_train == 10 and s.kind == "optimal" and s.seed == 7


# --- training -------------------------------------------------------------------------------


def test_learned_model_trains_streams_snapshots_and_is_cached():
    s = fresh(kind="learned", show_curves=False, **SMALL)
    assert s.field_view is None and "Press Train" in s.status
    seen = []
    s.param.watch(lambda e: seen.append(len(e.new)), "snapshot_steps")
    job = s.train()
    assert job is not None and job.wait(240)
    assert job.status == "done", job.error
    assert s.train_status == "done"
    assert max(seen) == len(job.snapshot_steps) and len(set(seen)) > 2  # streamed one by one
    assert s.field_view is not None and s.error == ""
    assert len(s.loss_history) == SMALL["train_steps"]
    assert s.headline_view["training_loss"] > 0
    # The disk cache file is named by a hash, never by user text.
    files = os.listdir(os.path.join(tfx.cache_dir(), "explorer"))
    assert len(files) == 1 and re.fullmatch(r"[0-9a-f]{64}\.msgpack", files[0])
    # Snapshots make "training time" an axis.
    s.snapshot_index = 0
    assert s.field_view is not None and s.headline_view["training_loss"] is not None
    # Same configuration in a new session: back at once, from memory or from disk.
    for clear in (False, True):
        if clear:
            tfx.clear_memory_cache()
        t0 = time.perf_counter()
        u = ExplorerState(kind="learned", show_curves=False, **SMALL)
        assert u.train_status == "cached"
        assert u.train() is None
        assert time.perf_counter() - t0 < 2.0
        u.refresh()
        assert u.field_view is not None


def test_cancel_and_close_stop_training():
    s = fresh(kind="learned", show_curves=False, **dict(SMALL, train_steps=100_000))
    job = s.train()
    deadline = time.time() + 240
    while not job.snapshots and time.time() < deadline:
        time.sleep(0.05)
    assert job.snapshots, "no snapshot arrived"
    s.cancel()
    assert job.wait(30) and job.status == "cancelled"
    assert s.train_status == "cancelled"
    assert s.field_view is not None  # what was trained so far stays viewable
    assert tfx.cached_result(job.config) is None  # but is not cached
    job2 = s.train()
    s.close()
    assert job2.wait(30) and job2.status == "cancelled"


def test_training_failure_is_reported_and_the_session_stays_usable(monkeypatch):
    import toyflow.training

    def broken(*_a, **_kw):
        raise RuntimeError("out of memory (simulated)")

    monkeypatch.setattr(toyflow.training, "train", broken)
    s = fresh(kind="learned", show_curves=False, **SMALL)
    job = s.train()
    assert job.wait(30) and job.status == "failed"
    assert s.train_status == "failed" and "out of memory" in s.train_message
    s.kind = "error-prone"
    assert s.error == "" and s.field_view is not None


def test_training_pool_is_bounded_and_reports_queue_positions(monkeypatch):
    import toyflow.training

    release = threading.Event()

    def slow(train_x, train_labels=None, *, callback=None, **kw):
        while not release.is_set():
            if (
                callback is not None
                and callback(
                    toyflow.training.Progress(
                        step=1,
                        total=2,
                        loss=1.0,
                        elapsed=0.0,
                        snapshot=False,
                        losses=np.ones((1, 1)),
                    )
                )
                is False
            ):
                break
            time.sleep(0.02)
        raise RuntimeError("stopped")

    monkeypatch.setattr(toyflow.training, "train", slow)
    workers = tfx.train_workers()
    states = [
        ExplorerState(kind="learned", auto=False, seed=i, **SMALL) for i in range(workers + 2)
    ]
    jobs = [st.train() for st in states]
    try:
        deadline = time.time() + 10
        while sum(j.status == "running" for j in jobs) < workers and time.time() < deadline:
            time.sleep(0.02)
        assert sum(j.status == "running" for j in jobs) == workers
        queued = [j for j in jobs if j.status == "queued"]
        assert [j.queue_position for j in queued] == [1, 2]
        assert states[-1].train_status == "queued" and "Queued" in states[-1].train_message
    finally:
        release.set()
        for j in jobs:
            j.wait(10)
    assert all(j.status == "failed" for j in jobs)


def test_background_refresh_coalesces_and_settles_on_the_last_inputs():
    s = ExplorerState(background=True)
    s.request_refresh()
    for d in (1.0, 1.2, 1.4, 1.6, 1.8):
        s.param.update(kind="error-prone", delta=d)
    for i in range(10):
        s.sigma_index = i
    assert s.wait_idle(120)
    assert s.error == ""
    assert s.field_view.sigma == pytest.approx(s.sigmas[9])
    assert s.trajectory_view is s.trajectories()  # the δ = 1.8 trajectories
    s.close()


def test_state_never_imports_panel_and_nothing_starts_jax_before_a_fork():
    import subprocess
    import sys

    code = (
        "import sys, toyflow.explorer as e; s = e.ExplorerState(auto=False); "
        "assert 'panel' not in sys.modules and 'bokeh' not in sys.modules; "
        "from jax._src import xla_bridge as xb; assert not xb._backends, 'JAX started at import'; "
        "import toyflow.app.view as m; assert not xb._backends, 'the app module started JAX'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=180)


def test_not_ready_is_not_an_error():
    s = ExplorerState(kind="learned", auto=False)
    with pytest.raises(NotReady):
        s.current_denoiser()
    s.refresh()
    assert s.error == "" and "Train" in s.status
    assert s.optimal_field_view is not None
