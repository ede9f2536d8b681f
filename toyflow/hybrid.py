r"""Hybrid denoisers: one model above a noise level, another below it (or inside a band).

A hybrid answers *from which σ on does a model decide the outcome of sampling?* With the optimal
denoiser ``D*`` of the training set above ``σ_switch`` and a learned model ``D_θ`` below it::

    D_hybrid(x; σ) = D*(x; σ)    if σ > σ_switch
                     D_θ(x; σ)   if σ ≤ σ_switch

the sampler follows the memorizing field until ``σ_switch`` and the learned one afterwards; the
memorized fraction of its samples, read against the switch, says where memorization is decided
(the hybrid sampler of closed-form flow matching, Bertrand et al., NeurIPS 2025). The band form
puts the second model only inside ``[σ_lo, σ_hi]``::

    D_band(x; σ) = D_inside(x; σ)   if σ_lo ≤ σ ≤ σ_hi
                   D_outside(x; σ)  otherwise

Both are JAX pytrees whose switch levels are leaves, so a new ``σ_switch`` is a new value (a
``vmap`` over switches runs in one compiled call), and the choice is made per sample: a batch
with mixed σ gets each row from the model its own σ selects. Labels are passed to each part
that takes labels and dropped for a part that does not (e.g. an unconditional ``D*``).
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from toyflow._denoiser import Denoiser, pytree_class
from toyflow._function import as_denoiser
from toyflow._validation import check_float, is_traced


def _parts(**parts: Any) -> list[Denoiser]:
    """The parts as toyflow denoisers (a plain function ``D(x, sigma[, labels])`` is wrapped,
    with the other part's point shape), checked to work on the same shape."""
    known = [tuple(d.event_shape) for d in parts.values() if isinstance(d, Denoiser)]
    event = known[0] if known else None
    out = [as_denoiser(d, event, name=name) for name, d in parts.items()]
    shapes = {name: tuple(d.event_shape) for name, d in zip(parts, out)}
    if len(set(shapes.values())) > 1:
        listed = ", ".join(f"{k} {v}" for k, v in shapes.items())
        raise ValueError(f"the denoisers of a hybrid work on different shapes: {listed}")
    return out


def _level(value, name: str):
    """A σ level: traced values pass through, numbers are checked (finite, > 0)."""
    if is_traced(value):
        return value
    return jnp.float32(check_float(value, name, 0.0, 1e6, lo_open=True))


def _labels_for(part: Denoiser, labels):
    return labels if part.num_classes is not None else None


def _check_labels(parts: tuple[Denoiser, ...], labels, n):
    """Labels are valid if every part that takes labels accepts them; at least one must."""
    if labels is None:
        return None
    takers = [p for p in parts if p.num_classes is not None]
    if not takers:
        raise ValueError("none of the hybrid's denoisers takes labels, so it takes labels=None")
    lab = takers[0].check_labels(labels, n)
    for p in takers[1:]:
        p.check_labels(lab, n)
    return lab


def _rows(mask, x):
    return jnp.reshape(mask, (-1,) + (1,) * (x.ndim - 1))


@pytree_class(dynamic=("high", "low", "sigma_switch"), static=())
class HybridDenoiser(Denoiser):
    """``high`` for ``σ > sigma_switch`` and ``low`` for ``σ ≤ sigma_switch``, per sample.

    Args:
      high: the denoiser used above the switch (e.g. ``OptimalDenoiser(train_x)``); any
        function ``D(x, sigma[, labels])`` is wrapped like everywhere in toyflow.
      low: the denoiser used at and below the switch (e.g. a learned model).
      sigma_switch: the switch level (> 0; a traced value inside ``jit``/``vmap``).

    Use a value of the sampling grid (:func:`toyflow.sampling_sigmas`) as ``sigma_switch`` to
    know exactly which sampler steps each part takes: the step at the switch is ``low``'s.
    """

    def __init__(self, high: Denoiser, low: Denoiser, sigma_switch):
        self.high, self.low = _parts(high=high, low=low)
        self.sigma_switch = _level(sigma_switch, "sigma_switch")

    @property
    def event_shape(self):  # type: ignore[override]
        return self.high.event_shape

    @property
    def num_classes(self):
        return self.high.num_classes if self.high.num_classes is not None else self.low.num_classes

    def check_labels(self, labels, n):
        return _check_labels((self.high, self.low), labels, n)

    def denoise(self, x, sigma, labels):
        above = sigma > jnp.asarray(self.sigma_switch, jnp.float32)
        d_high = self.high.denoise(x, sigma, _labels_for(self.high, labels))
        d_low = self.low.denoise(x, sigma, _labels_for(self.low, labels))
        return jnp.where(_rows(above, x), d_high, d_low)

    def __repr__(self) -> str:
        s = self.sigma_switch
        shown = "traced" if is_traced(s) else f"{float(s):g}"
        return f"HybridDenoiser(sigma_switch={shown}, high={self.high!r}, low={self.low!r})"


@pytree_class(dynamic=("outside", "inside", "sigma_lo", "sigma_hi"), static=())
class BandDenoiser(Denoiser):
    """``inside`` for ``σ_lo ≤ σ ≤ σ_hi`` and ``outside`` elsewhere, per sample (the band form).

    ``BandDenoiser(learned, OptimalDenoiser(train_x), lo, hi)`` swaps the optimal denoiser into
    one band of noise levels only, so the sampler ends with the learned model's own steps.
    """

    def __init__(self, outside: Denoiser, inside: Denoiser, sigma_lo, sigma_hi):
        self.outside, self.inside = _parts(outside=outside, inside=inside)
        self.sigma_lo = _level(sigma_lo, "sigma_lo")
        self.sigma_hi = _level(sigma_hi, "sigma_hi")
        if not (is_traced(self.sigma_lo) or is_traced(self.sigma_hi)) and float(
            self.sigma_lo
        ) > float(self.sigma_hi):
            raise ValueError(
                f"sigma_lo ({float(self.sigma_lo):g}) must not exceed sigma_hi "
                f"({float(self.sigma_hi):g})"
            )

    @property
    def event_shape(self):  # type: ignore[override]
        return self.outside.event_shape

    @property
    def num_classes(self):
        out = self.outside.num_classes
        return out if out is not None else self.inside.num_classes

    def check_labels(self, labels, n):
        return _check_labels((self.outside, self.inside), labels, n)

    def denoise(self, x, sigma, labels):
        lo = jnp.asarray(self.sigma_lo, jnp.float32)
        hi = jnp.asarray(self.sigma_hi, jnp.float32)
        in_band = (sigma >= lo) & (sigma <= hi)
        d_in = self.inside.denoise(x, sigma, _labels_for(self.inside, labels))
        d_out = self.outside.denoise(x, sigma, _labels_for(self.outside, labels))
        return jnp.where(_rows(in_band, x), d_in, d_out)

    def __repr__(self) -> str:
        def show(v):
            return "traced" if is_traced(v) else f"{float(v):g}"

        return (
            f"BandDenoiser(band=[{show(self.sigma_lo)}, {show(self.sigma_hi)}], "
            f"outside={self.outside!r}, inside={self.inside!r})"
        )
