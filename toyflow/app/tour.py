"""Lecture mode: the served explorer as a guided tour, opened with ``?tour=N`` (N = 1 … 8).

The steps are data (:data:`toyflow.explorer.tour.STEPS`); this module puts one step at a time
on a projector-sized page: a step counter (``3 / 8``), the title, the text (CSS class
``tour-text``), Back / Next / reset-step buttons, the σ views of the explorer (the
:class:`~toyflow.app.stack.StackPanel` of the session, with its slider and play), the headline
numbers and the legend; no sidebar. PageDown / PageUp and ArrowRight / ArrowLeft (as
presentation clickers send) press Next / Back (:data:`toyflow.app.tour_export.KEYS_JS`).

Moving to a step sets every plain input to its default and then to the step's preset, so a
step always looks the same. A learned step's model is trained on the shared pool the first
time (the explorer's caches keep it: later visits load it at once).

Wiring (in :func:`toyflow.app.view.create_app`)::

    tour = Tour.from_args(args)           # None without ?tour=
    if tour: pairs.update(tour.settings())
    page = tour.page(app) if tour else app.template()
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Mapping

import panel as pn

from toyflow.app.tour_export import KEYS_JS, TEXT_PX, WIDTH, counter_html, step_html, title_html
from toyflow.explorer.model import PLAIN_PARAMS
from toyflow.explorer.tour import STEPS, parse_number

log = logging.getLogger("toyflow.app")

_CSS = f"""
:host {{ font-size: {TEXT_PX}px; }}
.tour-body {{ line-height: 1.35; max-width: {WIDTH}px; }}
.tour-body code {{ font-size: {TEXT_PX - 2}px; }}
"""
_BUTTON_CSS = ":host .bk-btn { font-size: 16px; }"


def _text(value) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


class Tour:
    """One session's tour: the current step and the widgets that show and move it."""

    def __init__(
        self, number: int = 1, problem: str = "", overrides: Mapping[str, str] | None = None
    ):
        self.number = number
        self.problem = problem
        # other URL keys (?tour=1&n_samples=100): kept for every step (a slow laptop, tests)
        self.overrides = {k: v for k, v in (overrides or {}).items() if k != "sigma_index"}
        self.app = None
        self.counter = pn.pane.HTML(
            "",
            css_classes=["tour-counter"],
            styles={"font-size": "22px", "color": "#555"},
            width=70,
            margin=(8, 5),
        )
        self.title = pn.pane.HTML("", css_classes=["tour-title"], width=WIDTH - 500, margin=(8, 5))
        self.text = pn.pane.HTML(
            "", css_classes=["tour-text"], stylesheets=[_CSS], width=WIDTH, margin=(0, 10)
        )
        kw = {"width": 90, "stylesheets": [_BUTTON_CSS], "margin": (8, 4)}
        self.back = pn.widgets.Button(label="◀ Back", css_classes=["tour-back"], **kw)
        self.next = pn.widgets.Button(
            label="Next ▶", button_type="primary", css_classes=["tour-next"], **kw
        )
        self.reset = pn.widgets.Button(
            label="↺ reset step", css_classes=["tour-reset"], **{**kw, "width": 110}
        )
        self.leave = pn.pane.HTML("", css_classes=["tour-leave"], width=60, margin=(8, 4))
        self.keys = pn.pane.HTML(f"<script>{KEYS_JS}</script>", width=0, height=0, margin=0)
        self.back.on_click(lambda _e: self.go(self.number - 1))
        self.next.on_click(lambda _e: self.go(self.number + 1))
        self.reset.on_click(lambda _e: self.go(self.number))
        self._show()

    @classmethod
    def from_args(cls, args: Mapping) -> Tour | None:
        """The tour a page's query asks for (``?tour=N``; Panel's ``session_args``: name → list
        of bytes), ``None`` without one. A bad N opens step 1 with a notice. The query's other
        explorer keys apply to every step (``sigma_index`` aside)."""
        text = {k: _text(v[-1]) for k, v in (args or {}).items() if v}
        if "tour" not in text:
            return None
        overrides = {k: v for k, v in text.items() if k in PLAIN_PARAMS}
        try:
            return cls(parse_number(text["tour"]), overrides=overrides)
        except ValueError as exc:
            return cls(1, f"{exc}; showing step 1", overrides)

    @property
    def step(self):
        return STEPS[self.number - 1]

    def settings(self) -> dict[str, str]:
        """The current step's inputs as text: the defaults, its preset, the query's keys."""
        return {**self.step.settings(), **self.overrides}

    # -- moving -----------------------------------------------------------------------------------
    def go(self, number: int) -> None:
        """Show step ``number`` (clamped to 1 … len(STEPS)) with its preset restored."""
        old = self.step.view_key()
        self.number = min(max(int(number), 1), len(STEPS))
        self._show()
        if self.app is None:
            return
        if self.step.view_key() != old:
            # another model or data: the old views must not stand beside the new text
            self.app.stacks._show_waiting()
        self.app.stacks.set_focus(self.step.focus)
        state = self.app.state
        problems = state.set_from_strings(self.settings())
        if problems:  # a preset the explorer refuses: a bug, but say it on the page
            self.app.notice = "Tour step settings ignored: " + "; ".join(problems)
        self._train()
        self._follow_url()

    def _train(self) -> None:
        """A learned step whose model is neither cached nor training: train it now."""
        state = self.app.state if self.app is not None else None
        if state is None or state.kind != "learned":
            return
        if state.train_status in ("done", "cached", "running", "queued"):
            return
        state.train()

    def _show(self) -> None:
        step, n = self.step, len(STEPS)
        self.counter.object = counter_html(self.number, n)
        self.title.object = title_html(step)
        self.text.object = step_html(step)
        self.back.disabled = self.number <= 1
        self.next.disabled = self.number >= n
        query = urllib.parse.urlencode(dict(step.preset))
        self.leave.object = (
            f'<a href="?{query}" title="this step\'s settings in the full explorer">'
            "leave<br>the tour</a>"
        )

    def _follow_url(self) -> None:
        """Keep ``?tour=N`` in the address bar (a reload stays on the step)."""
        try:
            if pn.state.location is not None:
                pn.state.location.update_query(tour=self.number)
        except Exception as exc:  # the address is a convenience: never break the step
            log.debug("tour: address not updated: %s", exc)

    # -- the page ---------------------------------------------------------------------------------
    def page(self, app) -> pn.Column:
        """The tour page over ``app`` (an :class:`~toyflow.app.view.ExplorerApp` whose store
        already holds the step's settings)."""
        self.app = app
        if self.problem:
            app.notice = self.problem
        self._train()
        c = app.controls
        for part in (app.stacks.pane, app.stacks.holder):  # the σ views take the page's width
            part.sizing_mode = "stretch_width"
        nav = pn.Row(
            self.counter, c.spinner, self.title, self.back, self.next, self.reset, self.leave
        )
        return pn.Column(
            nav,
            self.text,
            c.alert,
            c.status,
            app.stacks.pane,
            c.headline,
            c.legend,
            self.keys,
            css_classes=["tour-page"],
            margin=(5, 10),
            sizing_mode="stretch_width",  # the σ views' grid takes the width: 4 views a row
        )
