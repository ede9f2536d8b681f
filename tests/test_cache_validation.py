"""Cache files that load but are wrong (issue 15, item 6): a model file in the explorer's disk
cache with NaN parameters, misshapen parameters, another architecture, or a cancelled or
shorter training is validated after loading, reported, removed and treated as missing, so the
configuration trains again instead of failing on every visit."""

from __future__ import annotations

import logging
import os

import jax
import numpy as np
import pytest
from flax import serialization

from toyflow import explorer as tfx
from toyflow.explorer import ExplorerState
from toyflow.nets import MLPConfig
from toyflow.training import TrainResult, load_result

SMALL = dict(width=16, depth=2, train_steps=300, batch_size=32)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TOYFLOW_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TOYFLOW_WARMUP", "0")
    tfx.clear_memory_cache()
    yield
    tfx.clear_memory_cache()


def _config():
    state = ExplorerState(kind="learned", auto=False, show_curves=False, **SMALL)
    return state.training.config()


def _result(cfg, *, width=None, steps=None, cancelled=False):
    """A finished result as the explorer's training job stores it (without training)."""
    arch = MLPConfig(width=width or cfg.width, depth=cfg.depth, num_classes=cfg.num_classes)
    den = arch.make_denoiser(arch.init(jax.random.PRNGKey(0)), 0.5, step=steps or cfg.steps)
    settings = dict(
        architecture=arch.to_dict(),
        kind="mlp",
        steps=cfg.steps,
        batch_size=cfg.batch_size,
        schedule=cfg.schedule,
    )
    return TrainResult(
        denoiser=den,
        losses=np.ones(steps or cfg.steps, np.float32),
        snapshots=[den],
        snapshot_steps=[steps or cfg.steps],
        settings=settings,
        sigma_data=0.5,
        steps_done=steps or cfg.steps,
        cancelled=cancelled,
    )


def _edit(path, change):
    with open(path, "rb") as f:
        payload = serialization.msgpack_restore(f.read())
    change(payload)
    with open(path, "wb") as f:
        f.write(serialization.msgpack_serialize(payload))


def _nan_weights(p):
    k = p["final"]["params"]["out"]["kernel"]
    p["final"]["params"]["out"]["kernel"] = np.full_like(k, np.nan)


def _wrong_shape(p):
    b = p["snapshots"]["0"]["params"]["hidden_0"]["bias"]
    p["snapshots"]["0"]["params"]["hidden_0"]["bias"] = np.zeros(b.size + 3, b.dtype)


def _foreign_config(p):
    p["config"] = '{"width": 8, "depth": 2}'  # parameters of width 16 under a width-8 config


BAD = {
    "nan-weights": dict(edit=_nan_weights),
    "wrong-shape": dict(edit=_wrong_shape),
    "foreign-config": dict(edit=_foreign_config),
    "other-width": dict(width=8),
    "fewer-steps": dict(steps=7),
    "cancelled": dict(cancelled=True),
}


def test_a_right_cache_file_is_used():
    cfg = _config()
    _result(cfg).save(cfg.path())
    hit = tfx.cached_result(cfg)
    assert hit is not None and hit.config.width == cfg.width
    assert os.path.exists(cfg.path())


@pytest.mark.parametrize("how", list(BAD))
def test_a_wrong_cache_file_counts_as_missing_and_is_removed(how, caplog):
    cfg = _config()
    spec = dict(BAD[how])
    edit = spec.pop("edit", None)
    _result(cfg, **spec).save(cfg.path())
    if edit is not None:
        _edit(cfg.path(), edit)
    with caplog.at_level(logging.WARNING, logger="toyflow.explorer"):
        assert tfx.cached_result(cfg) is None
    assert any("ignoring cached model" in r.getMessage() for r in caplog.records)
    assert not os.path.exists(cfg.path())  # asked again, it is simply missing
    assert tfx.cached_result(cfg) is None
    # What is stored afterwards (the retrained model) is used.
    tfx.store_result(cfg, _result(cfg))
    tfx.clear_memory_cache()
    assert tfx.cached_result(cfg) is not None


@pytest.mark.parametrize("how", ["nan-weights", "wrong-shape"])
def test_load_result_rejects_what_would_fail_later(how, tmp_path):
    cfg = _config()
    path = tmp_path / "m.msgpack"
    _result(cfg).save(path)
    _edit(path, BAD[how]["edit"])
    with pytest.raises(ValueError, match="damaged toyflow model file"):
        load_result(path)


def test_a_session_over_a_wrong_cache_file_offers_training_again():
    cfg = _config()
    _result(cfg).save(cfg.path())
    _edit(cfg.path(), _wrong_shape)
    s = ExplorerState(kind="learned", auto=False, show_curves=False, **SMALL)
    try:
        assert s.train_status != "cached"
        job = s.train()  # trains again instead of raising on the bad file
        assert job is not None
    finally:
        s.close()
    assert job.wait(60) and job.status in ("cancelled", "done")
