"""Experiments: every 2D result of the paper, the same questions asked of learned models, and
the image experiments, all registered in one place, :data:`EXPERIMENTS`.

Each experiment is declared once with :func:`~toyflow.experiments._common.experiment`, carrying
a frozen settings dataclass (validated at construction, with a ``quick()`` variant), and runs
as ``fn(*, quick=False, outdir=None, progress=None, **overrides) -> dict``, returning a tidy
result: the configuration, the arrays plotted (with their documented shapes), the headline
numbers and the qualitative checks. With ``outdir`` it writes ``NAME.json`` and ``NAME.png``
atomically.

    >>> from toyflow.experiments import EXPERIMENTS, run_experiment
    >>> list(EXPERIMENTS)[:3]
    ['gap-vs-delta', 'gap-vs-guidance', 'gap-vs-density']
    >>> result = run_experiment("gap-vs-delta", quick=True)        # doctest: +SKIP
    >>> result["headline"]["peak_gap_at_delta_min"]                 # doctest: +SKIP

The CLI (``toyflow experiment --list``), ``examples/`` and the README table read the registry.
The paper's analytic experiments live in :mod:`.paper`, the learned-model ones in
:mod:`.learned`, the image ones in :mod:`.images` (which builds on :mod:`toyflow.images`; that
package never imports this one).
"""

from __future__ import annotations

import os
from typing import Any

# Importing the modules registers their experiments; the order here is the listing order.
# isort: off
from toyflow.experiments import paper, learned, intervention, images, image_intervention  # noqa: F401

# isort: on
from toyflow.experiments._common import (
    EXPERIMENTS,
    Experiment,
    ProgressFn,
    Settings,
    experiment,
    load_result,
    result_json,
    write_result,
)


def plot_result(result: dict | str | os.PathLike):
    """Redraw an experiment's figure from its result (or the path of its JSON)."""
    if not isinstance(result, dict):
        result = load_result(result)
    return EXPERIMENTS[result["name"]].figure(result)


def list_experiments(family: str | None = None) -> list[Experiment]:
    """Registered experiments (optionally of one family), in registry order."""
    return [e for e in EXPERIMENTS.values() if family is None or e.family == family]


def run_experiment(
    name: str,
    *,
    quick: bool = False,
    outdir: str | os.PathLike | None = None,
    progress: ProgressFn | None = None,
    **overrides: Any,
) -> dict:
    """Run a registered experiment by name (``ValueError`` lists the valid names).

    ``quick`` shrinks it to well under a minute on 2 CPU cores; ``outdir`` receives
    ``NAME.json`` and ``NAME.png``; ``progress(done, total, message)`` is called as work
    completes; ``overrides`` replace individual settings (unknown ones raise ``ValueError``).
    """
    return EXPERIMENTS[name].fn(quick=quick, outdir=outdir, progress=progress, **overrides)


def markdown_table() -> str:
    """The README's table of experiments (name, family, what it measures), from the registry."""
    rows = ["| experiment | family | what it measures |", "|---|---|---|"]
    rows += [f"| `{e.name}` | {e.family} | {e.description} |" for e in EXPERIMENTS.values()]
    return "\n".join(rows)


__all__ = [
    "EXPERIMENTS",
    "Experiment",
    "Settings",
    "experiment",
    "list_experiments",
    "load_result",
    "markdown_table",
    "plot_result",
    "result_json",
    "run_experiment",
    "write_result",
]
