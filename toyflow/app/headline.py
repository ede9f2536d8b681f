"""The headline numbers under the σ views, as HTML cards."""

from __future__ import annotations

import numpy as np


def headline_html(h: dict) -> str:
    """The headline numbers as three cards (memorized share, Fréchet overfit, training loss)."""

    def fmt(v, spec):
        return "—" if v is None or not np.isfinite(v) else format(v, spec)

    cards = [
        (
            "memorized samples",
            fmt(h.get("memorized_fraction"), ".1%"),
            "nearest training point closer than 1/3 of the second-nearest",
        ),
        (
            "Fréchet overfit",
            fmt(h.get("relative_overfit"), ".3g"),
            "(FD to validation − FD to training) / FD to training",
        ),
        (
            "training loss",
            fmt(h.get("training_loss"), ".4g"),
            "EDM-weighted loss, recent steps",
        ),
    ]
    return "".join(
        f'<div title="{tip}" style="display:inline-block;margin-right:28px">'
        f'<div style="font-size:12px;color:#555">{name}</div>'
        f'<div style="font-size:24px;font-weight:600">{value}</div></div>'
        for name, value, tip in cards
    )
