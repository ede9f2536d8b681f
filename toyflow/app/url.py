"""The page's address: a :class:`panel.io.location.Location` that never fails on the query.

Panel reads every query value as a number where it looks like one, and a value of more than
4,300 digits trips Python's int-string limit (a guard against slow conversions) inside that
parse, while the page is being built: the session dies and the visitor sees an empty page.
Other odd values (``²`` looks like a digit to ``str.isdigit`` but is not one to ``int``) do the
same. :class:`SafeLocation` falls back to plain strings for the values Panel cannot parse, so
the explorer's own checks (:meth:`toyflow.explorer.ExplorerState.set_from_strings`) reject them
with the page's usual notice and the defaults stay in place.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

import panel as pn
from panel.io.location import Location
from panel.util import parse_query


def parse_query_safely(search: str) -> dict[str, Any]:
    """Panel's reading of ``?a=1&b=x`` (numbers as numbers), but a value it cannot read stays a
    string instead of raising."""
    try:
        return parse_query(search)
    except Exception:
        out: dict[str, Any] = {}
        for key, value in urllib.parse.parse_qsl(search.lstrip("?")):
            try:
                out.update(parse_query("?" + urllib.parse.urlencode({key: value})))
            except Exception:
                out[key] = value
        return out


class SafeLocation(Location):
    """A :class:`~panel.io.location.Location` whose ``query_params`` never raise."""

    @property
    def query_params(self) -> dict[str, Any]:
        return parse_query_safely(self.search)


def safe_location() -> SafeLocation:
    """The current session's address (pass it to ``servable(location=...)``)."""
    doc = pn.state.curdoc
    context = getattr(doc, "session_context", None) if doc is not None else None
    if context is None:
        return SafeLocation()
    return SafeLocation.from_request(context.request)
