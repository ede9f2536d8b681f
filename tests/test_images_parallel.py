"""Data-parallel and model-axis training on 8 simulated CPU devices.

JAX fixes its device count when it starts, so the 8-device checks run in a subprocess with
``XLA_FLAGS=--xla_force_host_platform_device_count=8`` set before JAX is imported. They show
that the sharded step computes the same loss and update as the single-device step (same batch,
float tolerance), that ``train_parallel`` (data axis) and ``train_sweep_parallel`` (model and data
axes) reproduce ``train_sweep`` on one device, and that the compiled sharded step really
communicates (an all-reduce of the gradients). The GPU benchmark script runs there too, in its
quick mode.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from toyflow.images import parallel, unet_config

SCRIPT = textwrap.dedent(r"""
    import json, os, sys
    assert "jax" not in sys.modules
    import jax, jax.numpy as jnp, numpy as np
    from toyflow.images import unet_config
    from toyflow.images import parallel as par
    from toyflow.training import make_optimizer, train_sweep

    out = {"devices": jax.device_count()}
    # A one-level conditional U-Net on 4×4 images: all of the network, little compile time.
    cfg = unet_config("tiny", image_shape=(4, 4, 1), model_channels=8, channel_mult=(1,),
                      num_blocks=1, num_classes=3)
    opt = make_optimizer(1e-3)
    rng = np.random.default_rng(0)
    B = 16
    y = jnp.asarray(rng.uniform(-1, 1, (B, 4, 4, 1)), jnp.float32)
    noise = jnp.asarray(rng.normal(size=(B, 4, 4, 1)), jnp.float32)
    sigma = jnp.asarray(np.exp(rng.normal(size=B) - 1.2), jnp.float32)
    labels = jnp.asarray(rng.integers(0, 4, B), jnp.int32)  # 3 = the null class
    state = par.init_state(cfg, opt, jax.random.PRNGKey(0), 1e-3, ema=True)
    mesh = par.make_mesh()
    out["mesh"] = list(par.mesh_shape(mesh))

    single = par.make_batch_step(cfg, opt, ema_decay=0.9)
    sharded = par.make_batch_step(cfg, opt, mesh=mesh, ema_decay=0.9)
    args = (jnp.float32(0.5), y, labels, sigma, noise, jax.random.PRNGKey(3))
    s1, l1 = single(state, *args)
    s2, l2 = sharded(state, *args)
    out["loss_single"], out["loss_sharded"] = float(l1), float(l2)
    diff = jax.tree_util.tree_map(lambda a, b: float(jnp.max(jnp.abs(a - b))), s1.params, s2.params)
    out["param_diff"] = max(jax.tree_util.tree_leaves(diff))
    moved = jax.tree_util.tree_map(lambda a, b: float(jnp.max(jnp.abs(a - b))), s1.params, state.params)
    out["param_change"] = max(jax.tree_util.tree_leaves(moved))
    # the compiled sharded step splits the batch and all-reduces the gradients
    (compiled,) = sharded.executables.values()
    out["all_reduce"] = "all-reduce" in compiled.as_text()
    try:
        sharded(state, jnp.float32(0.5), y[:12], labels[:12], sigma[:12], noise[:12], args[-1])
        out["odd_batch_error"] = None
    except ValueError as exc:
        out["odd_batch_error"] = str(exc)

    # The whole training loop (make_train_step, snapshots, EMA): a vmapped sweep of two models on
    # one device is the reference for train_parallel (model 0 alone, batch over 8 devices) and
    # for train_sweep_parallel (a 2 × 4 mesh: one model per group of 4 devices).
    x = rng.uniform(-1, 1, (64, 4, 4, 1)).astype(np.float32)
    lab = rng.integers(0, 3, 64)
    common = dict(config=cfg, steps=6, batch_size=16, n_snapshots=2, steps_per_call=3, ema=0.9)
    sweep = dict(common, seeds=[1, 2], learning_rates=[2e-3, 1e-3])
    ref = train_sweep(x, lab, **sweep)
    r2 = par.train_parallel(x, lab, seed=1, learning_rate=2e-3, **common)
    out["train_losses"] = [ref[0].losses.tolist(), r2.losses.tolist()]
    out["train_steps"] = [ref[0].snapshot_steps, r2.snapshot_steps]
    xq = x[:4] + 0.3
    out["train_output_diff"] = float(np.max(np.abs(np.asarray(ref[0].denoiser(xq, 0.3, lab[:4]))
                                                   - np.asarray(r2.denoiser(xq, 0.3, lab[:4])))))
    w2 = par.train_sweep_parallel(x, lab, mesh=par.make_mesh(model=2), **sweep)
    out["sweep_losses"] = [ref.losses.tolist(), w2.losses.tolist()]
    try:
        par.train_sweep_parallel(x, lab, mesh=par.make_mesh(model=2), **dict(sweep, seeds=[0, 1, 2],
                                                                             learning_rates=2e-3))
        out["model_axis_error"] = None
    except ValueError as exc:
        out["model_axis_error"] = str(exc)
    # The GPU benchmark script end to end (tiny settings), data-parallel over the 8 devices.
    import runpy
    bench = runpy.run_path(os.environ["TOYFLOW_BENCH"], run_name="gpu_unet")
    report = bench["main"](["--quick", "--devices", "8", "--batch-size", "16",
                            "--json", os.environ["TOYFLOW_BENCH_JSON"]])
    out["bench"] = {k: report[k] for k in ("images_per_s", "step_time_s", "n_devices_used",
                                           "losses_finite", "peak_memory_bytes")}
    print("RESULT " + json.dumps(out))
""")


@pytest.fixture(scope="module")
def eight_devices(tmp_path_factory):
    script = tmp_path_factory.mktemp("parallel") / "eight.py"
    script.write_text(SCRIPT)
    # Cheaper XLA compilation (the same for both sides of every comparison): compile time, not
    # run time, dominates these tiny programs.
    flags = (
        "--xla_force_host_platform_device_count=8 --xla_backend_optimization_level=0 "
        "--xla_llvm_disable_expensive_passes=true"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    bench_json = str(script.parent / "bench.json")
    env = dict(
        os.environ,
        XLA_FLAGS=flags,
        JAX_PLATFORMS="cpu",
        TOYFLOW_BENCH=os.path.join(root, "benchmarks", "gpu_unet.py"),
        TOYFLOW_BENCH_JSON=bench_json,
    )
    proc = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    result = json.loads(line[len("RESULT ") :])
    with open(bench_json) as f:
        result["bench_json"] = json.load(f)
    return result


def test_eight_simulated_devices(eight_devices):
    assert eight_devices["devices"] == 8
    assert eight_devices["mesh"] == [1, 8]


def test_sharded_step_equals_single_device_step(eight_devices):
    r = eight_devices
    assert np.isclose(r["loss_sharded"], r["loss_single"], rtol=1e-5, atol=1e-6)
    assert r["param_change"] > 1e-4  # the step did something ...
    assert r["param_diff"] < 1e-5 * max(1.0, r["param_change"]) + 1e-6  # ... the same thing
    assert r["all_reduce"]


def test_train_parallel_reproduces_train(eight_devices):
    single, sharded = (np.asarray(v) for v in eight_devices["train_losses"])
    assert single.shape == sharded.shape == (6,)
    np.testing.assert_allclose(sharded, single, rtol=1e-4, atol=1e-6)
    assert eight_devices["train_steps"][0] == eight_devices["train_steps"][1]
    assert eight_devices["train_output_diff"] < 1e-4


def test_model_axis_sweep_reproduces_vmapped_sweep(eight_devices):
    single, sharded = (np.asarray(v) for v in eight_devices["sweep_losses"])
    assert single.shape == sharded.shape == (2, 6)
    np.testing.assert_allclose(sharded, single, rtol=1e-4, atol=1e-6)
    assert not np.allclose(single[0], single[1])  # two different models
    assert "model axis" in eight_devices["model_axis_error"]


def test_batch_not_divisible_by_devices_is_a_clear_error(eight_devices):
    assert "not divisible by the 8 devices" in eight_devices["odd_batch_error"]


def test_gpu_benchmark_script_runs_data_parallel(eight_devices):
    """benchmarks/gpu_unet.py --quick --devices 8: numbers printed and written as JSON."""
    bench, written = eight_devices["bench"], eight_devices["bench_json"]
    assert bench["n_devices_used"] == 8 and bench["losses_finite"]
    assert bench["images_per_s"] > 0 and bench["step_time_s"] > 0
    assert written["benchmark"] == "gpu_unet" and written["batch_size"] == 16
    assert "peak_memory_bytes" in written  # None on a CPU, bytes on a GPU


def test_mesh_and_batch_checks_on_one_device():
    mesh = parallel.make_mesh()
    assert parallel.mesh_shape(mesh) == (1, 1)
    assert parallel.check_batch(7, mesh) == 7
    with pytest.raises(ValueError, match="model"):
        parallel.make_mesh(model=2)
    with pytest.raises(ValueError, match=r"data must be in \[1, 1\]"):
        parallel.make_mesh(model=1, data=4)
    with pytest.raises(ValueError, match="num_classes"):
        parallel.train_parallel(
            np.zeros((8, 4, 4, 1)),
            np.zeros(8, int),
            config=unet_config("tiny", image_shape=(4, 4, 1), channel_mult=(1,)),
            steps=1,
            batch_size=4,
        )
    with pytest.raises(ValueError, match="compute_dtype"):
        parallel.train_parallel(
            np.zeros((8, 2)), config=object(), steps=1, compute_dtype="bfloat16"
        )


def test_launch_command_is_documented():
    doc = parallel.__doc__
    assert "jax.distributed" in doc or "initialize_distributed" in doc
    assert "JAX_COORDINATOR_ADDRESS" in doc and "python -m toyflow.images.parallel" in doc
