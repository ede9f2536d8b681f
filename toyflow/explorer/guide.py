"""What the explorer page says to a student: the "what you are looking at" texts per view and
model kind, the glossary of every term the page shows, and the paper's key settings as presets.

Plain strings and dictionaries (the web app, :mod:`toyflow.app.guide`, only displays them) and two
functions that set a store's inputs: :func:`apply_preset` and :func:`reset_inputs`. The numbers
quoted are the ones docs/results.md reports from the project's own runs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from toyflow.explorer.model import (
    AUTOGUIDANCE_DELTA_STEP,
    DATA_PARAMS,
    INPUT_PARAMS,
    MODEL_KINDS,
    MODEL_PARAMS,
    PLAIN_PARAMS,
    USER,
    ExplorerInputs,
)

#: Every model kind the page can show (the built-in ones and a denoiser passed from Python).
KINDS = (*MODEL_KINDS, USER)

#: The views of the page, in the order the explanation lists them, with their headings.
VIEWS = (
    ("fields", "The two fields"),
    ("difference", "The difference ‖D − D*‖ / σ"),
    ("trajectories", "The trajectories at σ"),
    ("curves", "The curves over σ"),
    ("headline", "The headline numbers"),
)

_COMMON = {
    "difference": (
        "Colour is ‖D − D*‖ / σ, how far the shown model is from the optimal denoiser, in units "
        "of the noise level (log colour scale)."
    ),
    "trajectories": (
        "Black dots: where the sampling trajectories (from σ_max down to 0) are at this σ; "
        "orange: the trajectories whose final sample is memorized. Light purple: noisy "
        "training points y + σε, the inputs the denoiser is fitted on at this σ."
    ),
    "curves": (
        "Each curve is over the whole σ grid (log axis); the dotted line marks the slider's σ."
    ),
    "headline": (
        "Memorized samples: the share of final samples whose nearest training point is closer "
        "than 1/3 of the second-nearest. Fréchet overfit: (FD to validation − FD to training) / "
        "FD to training of the samples; positive means the samples resemble the training set "
        "more than fresh data. It is hidden when the two sets share their mean and covariance "
        "(the symmetric circle). Memorized shares are read against the fresh-data baseline: "
        "fresh draws from the data distribution judged by the same 1/3 rule."
    ),
}

#: The texts per model kind: a lead sentence and one text per view (added to ``_COMMON``).
TEXTS: dict[str, dict[str, str]] = {
    "optimal": {
        "lead": (
            "The optimal denoiser D*: the exact minimiser of the denoising loss on the training "
            "points. D*(x; σ) is a weighted mean of the training points, with softmax weights "
            "that sharpen as σ falls."
        ),
        "fields": (
            "Arrows point from x to D*(x; σ) (colour: the length ‖D − x‖); both fields show D* "
            "here. At large σ every arrow points to the middle of the data; at small σ every "
            "arrow points to its nearest training point: D* memorizes. The shaded displacement "
            "region ‖D(x; σ) − x‖ ≤ σ shrinks to small discs around the training points."
        ),
        "difference": "The model is D* itself: the difference is zero everywhere.",
        "trajectories": (
            "Following D*, every trajectory ends on a training point: 100 % of the samples are "
            "memorized on the paper's 10-point circle."
        ),
        "curves": (
            "D*'s relative gap (E_val − E_train) / E_train grows without bound as σ → 0: it "
            "reproduces the training points exactly, never the validation points."
        ),
        "headline": "For D* the memorized share is 100 % (or close to it).",
    },
    "error-prone": {
        "lead": (
            "The paper's error-prone model: the exact denoiser of the training points blurred "
            "by a Gaussian of width δ = {delta:g}. δ stands in for a network's error: for σ ≫ δ "
            "the model behaves like D*, for σ ≪ δ it barely moves x."
        ),
        "fields": (
            "The model's field: arrows from x to D_δ(x; σ); the optimal D* field beside it, on one "
            "colour scale. "
            "Above σ ≈ δ the two agree. Below it D* points to single training points while D_δ "
            "stays smooth (δ = 1.6, σ = 0.63: the displacement region covers 1 % of the window "
            "for D*, 45 % for D_δ)."
        ),
        "difference": (
            "Dark at large σ; bright between the training points once σ falls below about δ."
        ),
        "trajectories": (
            "Trajectories follow D_δ. Fewer end memorized than with D* (δ = 1.6: 43 % against "
            "100 %); the smaller δ, the more."
        ),
        "curves": (
            "The relative gap peaks at an intermediate σ (about 1.1 on the paper's circle) and "
            "the peak grows as δ shrinks: about 0.09 at δ = 2.2, 0.36 at 1.6 and 0.91 at 1.2 "
            "(float64 reference, 20 000 draws). That is the objective overfitting at intermediate "
            "noise."
        ),
        "headline": (
            "As δ shrinks, the memorized share rises above its fresh-data baseline (the small "
            "number under it). The Fréchet overfit is hidden on the symmetric circle: its training "
            "and validation sets share their mean and covariance, so the number would be noise."
        ),
    },
    "learned": {
        "lead": (
            "A small MLP trained on the training points with the EDM-weighted denoising loss "
            "(Train; a configuration trained before comes back at once). The training-time "
            "slider picks a snapshot: the gap grows as training goes on."
        ),
        "fields": (
            "The model's field: arrows from x to the learned D(x; σ); beside it D* on the same "
            "points. At large "
            "σ they agree; at small σ D* points to single training points while the learned "
            "field stays smoother."
        ),
        "difference": (
            "Where the network departs from the memorizing D*: small at large σ, larger between "
            "the training points at small σ."
        ),
        "trajectories": (
            "Measured in 2D (docs/results.md): at the gap peak the trajectory states are mostly "
            "train-like, so the overfit region is visited; whether a sample ends memorized is "
            "decided lower, at σ ≈ 0.1–0.3, where the learned field stays smoother than D*."
        ),
        "curves": (
            "The model's relative gap peaks at an intermediate σ (0.4–0.8 for the learned "
            "models of docs/results.md) and grows with training time and width. ‖D − D*‖ on "
            "trajectory states stays at the validation level, above its value on noisy "
            "training points."
        ),
        "headline": (
            "Read the memorized share against fresh data, not against zero: validation points "
            "score 7.7 % on the Gaussian mixture and 29–37 % on the random circle."
        ),
    },
    USER: {
        "lead": (
            "Your own denoiser D(x, sigma), passed from Python with toyflow.explore(denoiser=...), "
            "beside the optimal one."
        ),
        "fields": (
            "Your denoiser's field: arrows from x to your D(x; σ); beside it the same for D*, on one "
            "colour scale. "
            "Where the two agree, your denoiser behaves like the memorizing D*."
        ),
        "difference": "Bright where your denoiser departs from D*.",
        "trajectories": "Trajectories follow your denoiser down to σ = 0.",
        "curves": (
            "A relative gap that peaks at an intermediate σ means your denoiser fits the "
            "training points better than the validation points there."
        ),
        "headline": "",
    },
}

_GUIDANCE = {
    "autoguidance": (
        "Autoguidance, w = {w:g}: D = D_pos + w (D_pos − D_neg) with a worse model as D_neg "
        "(δ + {step:g} for the analytic models, an earlier snapshot for a learned one). It acts "
        "like a smaller δ: gap and memorized share rise with w."
    ),
    "classifier-free": (
        "Classifier-free guidance, w = {w:g}: the conditional model pushed away from the "
        "unconditional one, D = D_cond + w (D_cond − D_uncond)."
    ),
}

_LABELS = (
    "Labels ({granularity}): the denoiser sees a label per point and each sample draws one; "
    "finer labels raise the gap sharply (one label per point: more than 10× the unconditional "
    "gap)."
)


def explain(inputs: Any) -> dict[str, Any]:
    """The explanation of the current view: ``{"lead": str, "notes": [str], "views": [(heading,
    text)]}`` for ``inputs`` (an :class:`ExplorerInputs` or any object with ``kind``, ``delta``,
    ``w``, ``guidance`` and ``granularity``). Raises ``ValueError`` for an unknown kind."""
    kind = getattr(inputs, "kind", None)
    if kind not in TEXTS:
        raise ValueError(f"no explanation for the model kind {kind!r}; known: {', '.join(KINDS)}")
    texts = TEXTS[kind]
    notes = []
    guidance = getattr(inputs, "guidance", "none")
    if guidance in _GUIDANCE:
        notes.append(_GUIDANCE[guidance].format(w=float(inputs.w), step=AUTOGUIDANCE_DELTA_STEP))
    granularity = getattr(inputs, "granularity", "none")
    if granularity != "none":
        notes.append(_LABELS.format(granularity=granularity))
    views = []
    for key, heading in VIEWS:
        text = " ".join(t for t in (_COMMON.get(key, ""), texts[key]) if t)
        views.append((heading, text))
    return {
        "lead": texts["lead"].format(delta=float(getattr(inputs, "delta", 0.0))),
        "notes": notes,
        "views": views,
    }


@dataclasses.dataclass(frozen=True)
class Term:
    """One glossary entry: the ``term``, the labels under which the page shows it (``shown_as``,
    each a piece of text found on the page) and its ``meaning``."""

    term: str
    shown_as: tuple[str, ...]
    meaning: str


GLOSSARY: tuple[Term, ...] = (
    Term(
        "σ, noise level",
        ("noise level",),
        "The standard deviation of the noise: a noisy sample is x = y + σn with y a data point "
        "and n ~ N(0, I). Sampling walks the grid from σ_max = 80 down to 0; the slider picks "
        "one step of it.",
    ),
    Term(
        "denoiser D(x; σ)",
        ("D(x;σ)",),
        "An estimate of the clean point E[y | x] behind a noisy x. Score, sampler velocity and "
        "the arrows are all derived from it.",
    ),
    Term(
        "optimal denoiser D*",
        ("optimal D*",),
        "The exact minimiser of the denoising loss on the training set: the mean of the "
        "training points weighted by softmax(−‖x − y_i‖² / 2σ²). At small σ it returns the "
        "nearest training point: it memorizes.",
    ),
    Term(
        "arrows (flow field)",
        ("arrows: D(x;σ) − x", "arrow colour"),
        "At each grid point x an arrow towards D(x; σ); its colour is the length ‖D(x; σ) − x‖ "
        "(one colour scale for both fields and every σ).",
    ),
    Term(
        "displacement region",
        ("displacement region ‖D(x;σ) − x‖ ≤ σ",),
        "The shaded set where the denoiser moves x by at most σ: the places that look like a "
        "noisy sample at this σ. For D* at small σ it shrinks to discs around training points.",
    ),
    Term(
        "difference ‖D − D*‖ / σ",
        ("‖D − D*‖ / σ",),
        "How far the shown model is from the optimal denoiser, divided by σ (log colour "
        "scale): zero for D* itself.",
    ),
    Term(
        "training and validation points",
        ("training point", "validation point"),
        "Training points (red) are what the model is fitted on; validation points (white) come "
        "from the same distribution and are never used for fitting.",
    ),
    Term(
        "data density (training points)",
        ("Training points (data density",),
        "How many training points cover the data's support. Denser support: smaller gap at a "
        "smaller σ (8 → 15 points on the circle at δ = 1.6: peak gap 0.79 → 0.08).",
    ),
    Term(
        "noisy training points y + σε",
        ("noisy training points y + σε",),
        "Training points with noise of this σ added: what the denoiser is trained on at this "
        "noise level.",
    ),
    Term(
        "trajectories",
        ("trajectories at σ",),
        "The paths of the sampler from pure noise at σ_max down to σ = 0; each ends in a "
        "generated sample. The dots show where they are at the slider's σ.",
    ),
    Term(
        "memorized sample (NN-distance ratio)",
        ("memorized sample",),
        "A sample whose nearest training point is closer than 1/3 of its second-nearest. "
        "Compare the share with fresh data (the validation points), which also score above "
        "zero.",
    ),
    Term(
        "fresh-data baseline",
        ("fresh data",),
        "The memorized share of fresh draws from the data distribution (the validation "
        "points): what a model that generalizes perfectly scores. It is not zero: 7.7 % on the "
        "Gaussian mixture, 29–37 % on the random circle.",
    ),
    Term(
        "Fréchet overfit",
        ("Fréchet overfit",),
        "(FD_val − FD_train) / FD_train, with FD the Fréchet distance (means and covariances) of "
        "the samples to the validation and to the training set. Positive: the samples resemble "
        "the training set more than fresh data.",
    ),
    Term(
        "EDM-weighted loss (training loss)",
        ("training loss",),
        "The denoising loss λ(σ) ‖D(y + σn; σ) − y‖², weighted as in EDM (Karras et al. 2022) "
        "and averaged over the noise levels drawn in training.",
    ),
    Term(
        "relative gap (E_val − E_train) / E_train",
        ("(E_val − E_train) / E_train", "relative gap"),
        "E_split(σ) is the mean denoising error ‖D(y + σn; σ) − y‖ over the training or the "
        "validation points. A positive gap means the model fits the training points better: it "
        "overfits the objective at that σ.",
    ),
    Term(
        "model vs optimal error ‖D − D*‖",
        (
            "model vs optimal error",
            "‖D − D*‖ on noisy training points",
            "‖D − D*‖ on trajectory states",
        ),
        "The distance between the model and D*, averaged over noisy training points (where the "
        "model was fitted) and over the trajectory states (where the sampler actually goes).",
    ),
    Term(
        "trajectory overlap",
        ("trajectory overlap",),
        "The mean distance of noisy training points to their nearest training point over the "
        "same distance for trajectory states: 1 means the trajectories sit where the noisy "
        "training data are, well below 1 that they stay away. (The optimal posterior's largest "
        "weight, D* max weight, tells the same: near 1 = localized on one point.)",
    ),
    Term(
        "δ, model error",
        ("δ (model error)",),
        "The width of the Gaussian blur in the paper's error-prone model: a stand-in for a "
        "network's error. Smaller δ: larger gap, more memorization.",
    ),
    Term(
        "guidance and w",
        ("Guidance",),
        "D = D_pos + w (D_pos − D_neg). Classifier-free: conditional against unconditional; "
        "autoguidance: against a worse model. Larger w sharpens the field.",
    ),
    Term(
        "labels",
        ("Labels", "K (k-means)", "Sample label"),
        "A label per training point (coarse component, k-means cluster or one per point); a "
        "conditional denoiser only uses the points with the sample's label.",
    ),
    Term(
        "snapshot (training time)",
        ("Training time",),
        "The learned model as it was after a given number of training steps; 10 snapshots are "
        "kept, log-spaced in steps.",
    ),
    Term(
        "noise schedule and sampler",
        ("Schedule", "Solver", "Sampler steps"),
        "How σ falls during sampling (EDM, VP, VE, cosine) and how the sampling ODE is "
        "integrated (Euler, Heun, stochastic), on a grid of that many steps.",
    ),
)


@dataclasses.dataclass(frozen=True)
class Preset:
    """One of the paper's key settings: a button ``label``, a ``summary`` (what to look at)
    and the ``settings`` as URL values (``?kind=error-prone&delta=1.2``; ``sigma_index`` on the
    default 40-step grid). ``train``: start training after applying (a learned model)."""

    name: str
    label: str
    summary: str
    settings: Mapping[str, str]
    train: bool = False

    @property
    def query(self) -> str:
        """The settings as a URL query (the same view as a link)."""
        return "&".join(f"{k}={v}" for k, v in self.settings.items())


PRESETS: tuple[Preset, ...] = (
    Preset(
        "optimal",
        "D* memorizes",
        "The optimal denoiser on the paper's 10-point circle at σ ≈ 0.63: every arrow points "
        "to a training point and every sample is memorized.",
        {"kind": "optimal", "sigma_index": "25"},
    ),
    Preset(
        "large-delta",
        "Error-prone δ = 2.2",
        "A large model error: the field stays smooth, the gap stays small (peak 0.11).",
        {"kind": "error-prone", "delta": "2.2", "sigma_index": "23"},
    ),
    Preset(
        "small-delta",
        "Error-prone δ = 1.2",
        "A small model error: the gap peaks near σ ≈ 1.1 at 0.93 and more samples end on "
        "training points than at δ = 2.2 (read the share against its fresh-data baseline).",
        {"kind": "error-prone", "delta": "1.2", "sigma_index": "23"},
    ),
    Preset(
        "few-points",
        "8 training points",
        "Sparse support (δ = 1.6): a large gap (peak 0.79).",
        {"kind": "error-prone", "delta": "1.6", "n_train": "8", "n_val": "8", "sigma_index": "22"},
    ),
    Preset(
        "many-points",
        "15 training points",
        "Denser support, same δ = 1.6: the gap shrinks to 0.08 and peaks at a smaller σ.",
        {
            "kind": "error-prone",
            "delta": "1.6",
            "n_train": "15",
            "n_val": "15",
            "sigma_index": "22",
        },
    ),
    Preset(
        "autoguidance",
        "Autoguidance w = 2",
        "δ = 1.8 guided away from δ = 2.2 with w = 2: like a smaller δ, the gap and the "
        "memorized share rise.",
        {
            "kind": "error-prone",
            "delta": "1.8",
            "guidance": "autoguidance",
            "w": "2",
            "sigma_index": "23",
        },
    ),
    Preset(
        "labels",
        "One label per point",
        "Each sample is conditioned on one training point's label (δ = 1.6): the conditional "
        "gap is far larger than the unconditional one.",
        {"kind": "error-prone", "delta": "1.6", "granularity": "point", "sigma_index": "23"},
    ),
    Preset(
        "learned",
        "Learned MLP",
        "A small MLP on a 9-cluster Gaussian mixture with 64 training points, trained here in "
        "seconds: the gap peaks at an intermediate σ while the memorized share stays near its "
        "fresh-data baseline.",
        {
            "kind": "learned",
            "dataset": "gaussian_mixture",
            "n_train": "64",
            "n_val": "200",
            "sigma_index": "26",
        },
        train=True,
    ),
)

PRESETS_BY_NAME = {p.name: p for p in PRESETS}


def preset(name: str) -> Preset:
    """The preset called ``name``; ``ValueError`` names the known ones."""
    if name not in PRESETS_BY_NAME:
        raise ValueError(f"unknown preset {name!r}; known: {', '.join(PRESETS_BY_NAME)}")
    return PRESETS_BY_NAME[name]


def default_inputs() -> dict[str, Any]:
    """The default of every input (:data:`toyflow.explorer.INPUT_PARAMS`)."""
    return {name: ExplorerInputs.param[name].default for name in INPUT_PARAMS}


def same_value(a: Any, b: Any) -> bool:
    """Whether two input values are equal (arrays by value, ``None`` only to ``None``)."""
    if a is None or b is None:
        return a is b
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return bool(np.array_equal(a, b))
    return bool(a == b)


def changed_values(inputs: ExplorerInputs, values: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of ``values`` that differ from the current inputs."""
    return {n: v for n, v in values.items() if not same_value(getattr(inputs, n), v)}


def reset_inputs(inputs: ExplorerInputs) -> list[str]:
    """Every input back to its default in one update (one refresh); trained models stay in the
    caches. Returns the names that changed."""
    updates = changed_values(inputs, default_inputs())
    if updates:
        inputs.param.update(**updates)
    return sorted(updates)


def apply_preset(inputs: ExplorerInputs, name: str) -> list[str]:
    """Set ``inputs`` to the preset ``name`` in one update: the data and model inputs back to
    their defaults, then the preset's settings. The sampler and view settings (steps, samples,
    resolution) and custom points stay. Returns the problems (none for the shipped presets);
    nothing changes when there are any."""
    p = preset(name)
    parsed = ExplorerInputs()
    problems = parsed.set_from_strings(dict(p.settings))
    if problems:
        return problems
    names = [n for n in (*DATA_PARAMS, *MODEL_PARAMS) if n in PLAIN_PARAMS] + list(p.settings)
    updates = changed_values(inputs, {n: getattr(parsed, n) for n in names})
    if updates:
        inputs.param.update(**updates)
    return []
