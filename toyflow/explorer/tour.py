"""The lecture tour: eight steps through the argument, each a preset of the explorer.

A step is a :class:`TourStep`: a title, two or three sentences saying what to look at, and a
preset (URL keys of the explorer, as ``?kind=error-prone&delta=1.6`` would set them, including
``sigma_index``). The served page opens the tour with ``?tour=N`` (:mod:`toyflow.app.tour`);
``toyflow tour --export tour.html`` writes it as one offline page
(:mod:`toyflow.app.tour_export`). The numbers in the texts are those of ``docs/results.md``.

This module holds data only (no Panel, no computation).
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Mapping

#: The learned model of the tour: an MLP on 64 points of the 3 × 3 Gaussian mixture, small
#: enough to train in seconds on 2 CPU cores (every key set, so a changed default elsewhere does
#: not change the tour's model).
LEARNED = {
    "kind": "learned",
    "dataset": "gaussian_mixture",
    "n_train": "64",
    "n_val": "200",
    "seed": "0",
    "width": "64",
    "depth": "3",
    "train_steps": "3000",
    "batch_size": "256",
    "learning_rate": "0.002",
}
#: The paper's symmetric circle: 10 training and 10 validation points at radius 10.
CIRCLE = {"dataset": "circle", "n_train": "10", "n_val": "10", "seed": "0"}


#: Views a step can put first: the σ views and the curve figures (by the start of their title).
FOCUS_NAMES = (
    "model",
    "optimal",
    "error",
    "trajectories",
    "gap",
    "model vs optimal",
    "trajectory overlap",
)


@dataclasses.dataclass(frozen=True)
class TourStep:
    """One step of the tour: what it is called, what to look at, and the explorer's preset."""

    title: str
    text: str
    preset: Mapping[str, str]
    #: The views this step is about, shown first (so they are on screen at 1024×768): "gap",
    #: "trajectories", "model", "error", "model vs optimal", "trajectory overlap".
    focus: tuple[str, ...] = ()

    def __post_init__(self):
        if not self.title.strip() or not self.text.strip():
            raise ValueError("a tour step needs a title and a text")
        unknown = set(self.focus) - set(FOCUS_NAMES)
        if unknown:
            raise ValueError(f"tour step {self.title!r}: unknown views {sorted(unknown)} in focus")
        if "sigma_index" not in self.preset:
            raise ValueError(f"tour step {self.title!r}: the preset must set sigma_index")
        # read-only, plain strings: the values a URL would carry
        object.__setattr__(
            self, "preset", types.MappingProxyType({k: str(v) for k, v in self.preset.items()})
        )

    @property
    def learned(self) -> bool:
        """Whether the step shows a learned model (it must be trained, or come from a cache)."""
        return self.preset.get("kind") == "learned"

    @property
    def sigma_index(self) -> int:
        return int(self.preset["sigma_index"])

    def settings(self) -> dict[str, str]:
        """Every plain input as text: its default, then the preset. Applying them resets
        whatever an earlier step or the visitor changed."""
        out = {k: _text(v) for k, v in input_defaults().items() if v is not None}
        out.update(self.preset)
        return out

    def view_key(self) -> tuple:
        """The preset without ``sigma_index``: steps with equal keys show the same σ-stack."""
        return tuple(sorted((k, v) for k, v in self.preset.items() if k != "sigma_index"))


def input_defaults() -> dict[str, object]:
    """Every plain input's default value (the explorer's URL keys)."""
    from toyflow.explorer.model import PLAIN_PARAMS, ExplorerInputs

    return {name: ExplorerInputs.param[name].default for name in PLAIN_PARAMS}


def _text(value: object) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


STEPS: tuple[TourStep, ...] = (
    TourStep(
        "Data and noise",
        "Ten training points (red) and ten validation points (open blue) on a circle of radius "
        "10: the paper's symmetric circle. A noisy sample is x = y + σn; the purple cloud is "
        "every training point with noise of size σ, here σ ≈ 28, far wider than the circle. "
        "Press ▶ play: the cloud shrinks onto the data as σ falls from 80 to 0.002, and the "
        "sampling trajectories (dots; orange: they end on a training point) travel down the "
        "same σ grid.",
        {**CIRCLE, "kind": "optimal", "sigma_index": "7"},
        focus=("trajectories",),
    ),
    TourStep(
        "The optimal denoiser memorizes",
        "D*(x; σ) is the posterior mean over the training points, the best possible answer to "
        "the denoising objective on this training set. At σ ≈ 28 its arrows all point to the "
        "centre, at σ ≈ 2.8 (here) they split towards the points, and at σ ≈ 0.63 (step 26) "
        "the field has localized: only 1.1 % of the grid is left in the displacement region "
        "‖D − x‖ ≤ σ. Every sample lands on a training point: 100 % of 1000 samples are "
        "memorized (orange trajectories).",
        {**CIRCLE, "kind": "optimal", "sigma_index": "19"},
    ),
    TourStep(
        "An imperfect model smooths the field",
        "The error-prone denoiser D_δ is the exact denoiser of the data blurred by δ, an "
        "analytic stand-in for a network's error. At σ ≈ 0.63 and δ = 1.6, 44.6 % of the grid "
        "is still in the displacement region (D*: 1.1 %) and ‖D − D*‖ / σ averages 8.06 "
        "(heat map). Only 43 % of its samples are memorized; the others land between the "
        "training points.",
        {**CIRCLE, "kind": "error-prone", "delta": "1.6", "sigma_index": "25"},
    ),
    TourStep(
        "The train/validation gap peaks at intermediate σ",
        "The gap plot shows (E_val − E_train) / E_train, the denoising error on "
        "validation points relative to training points. It is a few percent at both ends of "
        "the σ grid and peaks in between: over δ = 2.2 … 1.2 every peak lies at σ between 1.09 "
        "and 1.18, and the peak rises from 0.106 at δ = 2.2 to 0.926 at δ = 1.2 (shown here). "
        "The smaller the model error, the more the objective overfits.",
        {**CIRCLE, "kind": "error-prone", "delta": "1.2", "sigma_index": "23"},
        focus=("gap", "model"),
    ),
    TourStep(
        "A learned MLP overfits there too, yet its samples are new",
        "Now a network: an MLP (width 64, depth 3, 3000 steps) trained on 64 points of a "
        "3 × 3 Gaussian mixture; its gap too peaks at an intermediate σ. In the training-time "
        "experiment the peak grows to 0.511 at σ = 0.37 after 12 000 steps, yet only 14.3 % "
        "of that model's samples are memorized, against 7.7 % for fresh draws from the data "
        "and 100 % for D* on the same 64 points. The objective overfits; the samples do not "
        "follow.",
        {**LEARNED, "sigma_index": "25"},
        focus=("gap", "trajectories"),
    ),
    TourStep(
        "Why: where the trajectories go",
        "The paper's reason, that trajectories seldom visit where the model overfits, holds "
        "only in part in 2D: at the gap peak (σ ≈ 0.47 on the mixture, here) trajectory states "
        "are mostly train-like (0.65 on the mixture, 0.76 on the circle; 1 looks like noisy "
        "training samples). The hybrid "
        "sampler shows what matters: D* instead of the model above the gap peak changes "
        "memorization by only 2–3 points, D* in a band just below the peak raises it from "
        "15 % to 35 %, and injected noisy training points are memorized by a twin that never "
        "saw them as often as by the model. The outcome is decided at σ ≈ 0.1–0.3, where "
        "the learned field (left) stays smoother than D* (middle).",
        {**LEARNED, "sigma_index": "26"},
        focus=("trajectories", "model vs optimal"),
    ),
    TourStep(
        "What shifts the balance",
        "Autoguidance with w = 2 (δ = 1.8 guided by δ = 2.2, shown here) acts like a smaller "
        "δ: the peak gap rises from 0.247 at w = 0 to 0.668, memorized samples from 38.2 % to "
        "57.6 %. More training points shrink the gap (δ = 1.6: 0.786 with 8 points, 0.078 with "
        "15); width (16 → 256: 0.221 → 0.465) and training time (0.03 → 0.51) raise it; one "
        "label per point raises it more than 10× (0.327 → 3.797) while memorization only "
        "doubles (10.9 % → 21.5 %).",
        {
            **CIRCLE,
            "kind": "error-prone",
            "delta": "1.8",
            "guidance": "autoguidance",
            "w": "2",
            "sigma_index": "23",
        },
        focus=("gap",),
    ),
    TourStep(
        "Summary",
        "D* memorizes; model error, δ or a trained network's, smooths the field, and the "
        "objective's train/validation gap peaks at intermediate σ. Learned models overfit "
        "there too, yet their samples stay new: in 2D not because trajectories avoid the "
        "overfit region, but because the outcome is decided below the gap peak, at σ ≈ "
        "0.1–0.3, where the learned field is smoother than D*: here σ ≈ 0.19, where D* "
        "(middle) pulls every point onto a training point and the learned field (left) does "
        "not. Every number quoted comes from `toyflow experiment --all` (docs/results.md).",
        {**LEARNED, "sigma_index": "29"},
        focus=("gap", "trajectories"),
    ),
)


def step(number: int | str) -> TourStep:
    """Step ``number`` (1-based, as the URL's ``?tour=N``); a bad number raises ``ValueError``."""
    return STEPS[parse_number(number) - 1]


def parse_number(number: int | str, count: int = len(STEPS)) -> int:
    """``number`` as a step number in 1..count; anything else raises ``ValueError``."""
    text = str(number).strip()
    if not text.isascii() or not text.isdigit() or len(text) > 3:
        raise ValueError(f"tour step must be a whole number from 1 to {count}, got {text[:20]!r}")
    n = int(text)
    if not 1 <= n <= count:
        raise ValueError(f"tour step must be from 1 to {count}, got {n}")
    return n
