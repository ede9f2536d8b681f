"""Changing a served page from any thread, through Panel's public API.

The store publishes from worker threads; a Bokeh document may only be changed on its session's
event loop. :func:`on_doc` runs a function there (at once when this thread already may change the
document: ``pn.state.execute`` decides) and sends what it changes right away (``pn.io.unlocked``)
instead of with the next message that happens to go out.
"""

from __future__ import annotations

from functools import partial

import panel as pn
from panel.io.state import set_curdoc


def _send_now(doc, fn) -> None:
    with set_curdoc(doc), pn.io.unlocked():
        fn()


def on_doc(doc, fn) -> None:
    """Run ``fn`` on the event loop of ``doc`` (a served page), or now when there is none."""
    if doc is None or doc.session_context is None:
        fn()
        return
    with set_curdoc(doc):
        pn.state.execute(partial(_send_now, doc, fn))
