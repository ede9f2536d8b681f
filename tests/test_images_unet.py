"""The U-Net: configuration, the denoiser contract on (n, H, W, C), preconditioning, dropout,
bf16, and a tiny model trained on digits by the ordinary ``train`` (loss falls, snapshots,
samples, gap and memorization, save/load).

Compilation dominates on a CPU, so the trained model uses exactly the settings of the image
experiments' quick mode (:data:`toyflow.experiments.images.QUICK` on 500 digits): the
experiment tests in the same session reuse its compiled training step.
"""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from toyflow import metrics
from toyflow.experiments import images as image_experiments
from toyflow.images import UNetConfig, UNetDenoiser, digits, unet_config
from toyflow.images.measure import image_sigmas, memorization
from toyflow.images.unet import PRESETS, param_count
from toyflow.nets import preconditioning
from toyflow.sampling import sample
from toyflow.training import load_result, train

Q = image_experiments.QUICK


# --- configuration -----------------------------------------------------------------------------


def test_presets_and_paper_size():
    assert set(PRESETS) == {"tiny", "small", "cifar"}
    cifar = unet_config("cifar")
    assert (cifar.model_channels, cifar.channel_mult, cifar.num_blocks, cifar.dropout) == (
        128,
        (2, 2, 2),
        4,
        0.13,
    )
    assert cifar.event_shape == (32, 32, 3)
    # EDM's DDPM++ CIFAR-10 network has 55.7 M parameters.
    assert 54e6 < param_count(cifar) < 57e6
    assert param_count(unet_config("tiny")) < param_count(unet_config("small")) < param_count(cifar)


def test_config_round_trip_through_json():
    cfg = unet_config("small", num_classes=10, compute_dtype="bfloat16", attn_resolutions=[16, 8])
    assert cfg.attn_resolutions == (16, 8)
    d = json.loads(json.dumps(cfg.to_dict()))
    assert UNetConfig.from_dict(d) == cfg
    assert hash(UNetConfig.from_dict(d)) == hash(cfg)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(image_shape=(10, 10, 1), channel_mult=(1, 2, 2)), "divisible by 4"),
        (dict(image_shape=(8, 8)), r"\(H, W, C\)"),
        (dict(model_channels=132, channel_mult=(1,)), "GroupNorm"),
        (dict(compute_dtype="float16"), "compute dtype"),
        (dict(embedding="learned"), "noise embedding"),
        (dict(dropout=1.5), "dropout"),
        (dict(num_blocks=0), "num_blocks"),
        (dict(channel_mult=()), "channel_mult"),
        (dict(num_heads=3), "num_heads"),
    ],
)
def test_config_rejects_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        unet_config("tiny", **kwargs)


def test_unknown_preset_and_override():
    with pytest.raises(ValueError, match=r"cifar.*small.*tiny"):
        unet_config("huge")
    with pytest.raises(ValueError, match="unknown U-Net setting"):
        unet_config("tiny", width=3)


# --- the contract on a fresh model -----------------------------------------------------------------

#: A one-level U-Net on 4×4 images: every code path of the network, a fraction of the compile time.
MICRO = dict(image_shape=(4, 4, 1), model_channels=8, channel_mult=(1,), num_blocks=1)


@pytest.fixture(scope="module")
def fresh():
    cfg = unet_config("tiny", num_classes=3, **MICRO)
    params = cfg.init(jax.random.PRNGKey(0))
    # perturb the zero-initialised output layers so the network's output matters
    return cfg, params, jax.tree_util.tree_map(lambda p: p + 0.01, params)


def _images(n, seed, shape=(4, 4, 1)):
    return np.random.default_rng(seed).normal(size=(n,) + shape).astype(np.float32)


def test_fresh_model_is_the_skip_connection(fresh):
    """The output convolution starts at zero, so an untrained model is D = c_skip(σ)·x exactly."""
    cfg, params, _ = fresh
    den = cfg.make_denoiser(params, 0.5)
    x = _images(5, 0)
    sigma = np.array([0.01, 0.1, 1.0, 10.0, 80.0], np.float32)
    c_skip = np.asarray(preconditioning(sigma, 0.5)[0])
    np.testing.assert_allclose(
        np.asarray(den(x, sigma)), c_skip[:, None, None, None] * x, rtol=1e-6
    )


def test_contract_shapes_and_errors(fresh):
    cfg, _, params = fresh
    den = cfg.make_denoiser(params, 0.5)
    assert isinstance(den, UNetDenoiser) and den.event_shape == (4, 4, 1) and den.num_classes == 3
    x = _images(5, 1)
    out = den(x, 0.7)
    assert out.shape == (5, 4, 4, 1) and out.dtype == jnp.float32
    np.testing.assert_allclose(
        np.asarray(den(jnp.asarray(x), np.full(5, 0.7))), np.asarray(out), rtol=1e-5
    )
    cond = np.asarray(den(x, 0.7, [0, 1, 2, 0, 1]))
    assert not np.allclose(cond, np.asarray(out))  # labels change the output
    assert den(np.zeros((0, 4, 4, 1)), 1.0).shape == (0, 4, 4, 1)
    with pytest.raises(ValueError, match=r"shape \(n, 4, 4, 1\)"):
        den(np.zeros((5, 4, 4, 3)), 1.0)
    with pytest.raises(ValueError, match="must be < 3"):
        den(x, 1.0, [0, 1, 2, 3, 0])
    with pytest.raises(ValueError, match="sigma must be > 0"):
        den(x, 0.0)
    uncond = unet_config("tiny", **MICRO).make_denoiser(params, 0.5)
    with pytest.raises(ValueError, match="without labels"):
        uncond(x, 1.0, [0, 0, 0, 0, 0])


def test_large_batches_are_blocked_consistently(fresh, monkeypatch):
    """Above EVAL_BLOCK queries the denoiser runs in blocks under ``lax.map``; the result equals
    the unblocked evaluation (two batches of 5, compiled by the test above)."""
    import toyflow.images.unet as unet_mod

    cfg, _, params = fresh
    den = cfg.make_denoiser(params, 0.5)
    x = _images(10, 2)
    sigma = np.linspace(0.1, 3.0, 10).astype(np.float32)
    labels = np.arange(10) % 3
    whole = np.concatenate(
        [
            np.asarray(den(x[:5], sigma[:5], labels[:5])),
            np.asarray(den(x[5:], sigma[5:], labels[5:])),
        ]
    )
    monkeypatch.setattr(unet_mod, "EVAL_BLOCK", 4)
    blocked = jax.jit(lambda d, a, b, c: d.denoise(a, b, c))(
        den, jnp.asarray(x), jnp.asarray(sigma), jnp.asarray(labels)
    )
    np.testing.assert_allclose(np.asarray(blocked), whole, rtol=1e-5, atol=1e-6)


def test_variants_conv_dropout_bf16(fresh, monkeypatch):
    """In one compiled function (compilation dominates): the matmul and XLA convolutions agree;
    dropout acts only with a key; bf16 compute stays close to float32 and returns float32."""
    import dataclasses

    cfg, _, params = fresh
    dropout = dataclasses.replace(cfg, dropout=0.5)
    bf16 = dataclasses.replace(cfg, compute_dtype="bfloat16")
    x = jnp.asarray(_images(3, 3))
    s = jnp.full((3,), 0.8)

    def variants(p, key):
        monkeypatch.setenv("TOYFLOW_CONV", "matmul")
        matmul = cfg.apply(p, 0.5, x, s)
        no_key = dropout.apply(p, 0.5, x, s)
        dropped = dropout.apply(p, 0.5, x, s, dropout_key=key)
        half = bf16.apply(p, 0.5, x, s)
        monkeypatch.setenv("TOYFLOW_CONV", "xla")
        xla = cfg.apply(p, 0.5, x, s)
        return matmul, xla, no_key, dropped, half

    matmul, xla, no_key, dropped, half = jax.jit(variants)(params, jax.random.PRNGKey(0))
    np.testing.assert_allclose(np.asarray(matmul), np.asarray(xla), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        np.asarray(no_key), np.asarray(matmul), rtol=1e-6
    )  # no key: no dropout
    assert not np.allclose(np.asarray(dropped), np.asarray(matmul))
    assert half.dtype == jnp.float32
    assert float(jnp.linalg.norm(half - matmul) / jnp.linalg.norm(matmul)) < 0.05
    monkeypatch.setenv("TOYFLOW_CONV", "fast")
    with pytest.raises(ValueError, match="TOYFLOW_CONV"):
        jax.jit(lambda p: cfg.apply(p, 0.5, x, s))(params)


# --- a tiny model trained on digits --------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits500():
    return digits().subset(500, seed=0)


@pytest.fixture(scope="module")
def trained(digits500):
    cfg = unet_config("tiny", image_shape=digits500.event_shape, model_channels=Q["model_channels"])
    return train(
        digits500.train_x,
        config=cfg,
        steps=300,
        batch_size=Q["batch_size"],
        learning_rate=Q["learning_rate"],
        ema=Q["ema"],
        steps_per_call=Q["steps_per_call"],
        n_snapshots=Q["n_snapshots"],
        seed=0,
    )


def test_training_loss_falls(trained):
    assert trained.losses.shape == (300,)
    assert np.all(np.isfinite(trained.losses))
    assert trained.losses[-50:].mean() < 0.8 * trained.losses[:50].mean()
    assert trained.snapshot_steps[-1] == 300 and len(trained.snapshots) >= 3
    assert all(isinstance(s, UNetDenoiser) for s in trained.snapshots)
    assert trained.settings["kind"] == "unet"


def test_trained_model_denoises_better_than_the_identity(trained, digits500):
    """At σ = 0.5 the trained model's error on validation digits is well below ‖σ n‖."""
    rng = np.random.default_rng(0)
    y = digits500.val_x[:64]
    x = y + 0.5 * rng.normal(size=y.shape).astype(np.float32)  # 64 queries: one compiled shape
    err = np.linalg.norm((np.asarray(trained.denoiser(x, 0.5)) - y).reshape(64, -1), axis=1).mean()
    noise = np.linalg.norm((x - y).reshape(64, -1), axis=1).mean()
    assert err < 0.7 * noise


def test_samples_gap_and_memorization_are_finite(trained, digits500):
    xs = np.asarray(sample(trained.denoiser, Q["n_samples"], steps=Q["sample_steps"], seed=0))
    assert xs.shape == (Q["n_samples"], 8, 8, 1) and np.all(np.isfinite(xs))
    mem = memorization(xs, digits500.train_x)
    assert 0.0 <= mem["fraction"] <= 1.0 and mem["indices"].shape == (Q["n_samples"], 2)
    assert np.all(np.isfinite(mem["ratio"]))
    n = Q["n_gap"]
    curve = metrics.gap_curve(
        trained.denoiser,
        digits500.train_x[:n],
        digits500.val_x[:n],
        image_sigmas(64),
        n_noise=Q["n_noise"],
    )
    assert curve.gap.shape == (64,) and np.all(np.isfinite(curve.gap))
    assert np.all(curve.e_train > 0)


def test_save_and_load_round_trip(trained, tmp_path):
    path = tmp_path / "unet.msgpack"
    trained.save(path)
    back = load_result(path)
    assert back.config == trained.config
    assert back.snapshot_steps == trained.snapshot_steps
    x = np.random.default_rng(5).normal(size=(64, 8, 8, 1)).astype(np.float32)
    for a, b in zip(back.snapshots, trained.snapshots):
        np.testing.assert_allclose(np.asarray(a(x, 0.3)), np.asarray(b(x, 0.3)), rtol=1e-6)
    np.testing.assert_array_equal(back.losses, trained.losses)
