"""The explorer's web app (Panel): the page over a :class:`toyflow.explorer.ExplorerState`.

Importing :mod:`toyflow` never imports this package (nor Panel); :func:`toyflow.explore` and the
served entry file do. Serve it with ``toyflow serve`` (or ``panel serve`` on
:data:`APP_FILE`); in a notebook, ``toyflow.explore(kind="error-prone")``.
"""

from __future__ import annotations

import os

#: The file ``panel serve`` runs: one page per session (see :func:`toyflow.app.view.create_app`).
APP_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "explorer.py")


def __getattr__(name):
    # ExplorerApp and create_app load Panel, HoloViews and Bokeh: only when asked for.
    if name in ("ExplorerApp", "create_app", "args_from_command_line"):
        from toyflow.app import view

        return getattr(view, name)
    raise AttributeError(f"module 'toyflow.app' has no attribute {name!r}")


__all__ = ["APP_FILE", "ExplorerApp", "args_from_command_line", "create_app"]
