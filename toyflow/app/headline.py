"""The headline numbers under the σ views, as HTML cards (texts from
:func:`toyflow.explorer.curves.headline_items`)."""

from __future__ import annotations

import html

from toyflow.explorer.curves import headline_items


def headline_html(h: dict) -> str:
    """The headline numbers as cards: the memorized share over its fresh-data baseline, the
    Fréchet overfit (or a one-line note why it is hidden) and the training loss."""
    cards = []
    for name, value, detail, tip in headline_items(h):
        small = (
            f'<div style="font-size:12px;color:#555;max-width:300px">{html.escape(detail)}</div>'
            if detail
            else ""
        )
        cards.append(
            f'<div title="{html.escape(tip)}" style="display:inline-block;vertical-align:top;'
            f'margin-right:28px"><div style="font-size:12px;color:#555">{html.escape(name)}</div>'
            f'<div style="font-size:24px;font-weight:600">{html.escape(value)}</div>{small}</div>'
        )
    return "".join(cards)
