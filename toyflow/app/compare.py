"""Compare mode: two settings side by side at the same σ.

Side A is the page's own store (the sidebar changes it); side B is a second
:class:`~toyflow.explorer.ExplorerState`, a copy of A's inputs when compare mode opens, with a
few controls of its own (a preset, the model kind, δ, the training points, the snapshot). Each
side is a :class:`~toyflow.app.stack.StackPanel` whose :class:`~toyflow.app.stack_view.StackView`
is laid out compactly (the model's field, the trajectories, the gap curve); the two σ sliders
are linked in the browser (``js_link`` both ways), so moving or playing one moves the other
without a server round trip. Leaving compare mode, or closing the page, closes B's store.
"""

from __future__ import annotations

import html
from types import SimpleNamespace
from typing import Any

import panel as pn
from bokeh.layouts import column, row

from toyflow import explorer as tfx
from toyflow.app.loop import on_doc
from toyflow.app.stack import StackPanel
from toyflow.app.stack_view import StackView
from toyflow.explorer import guide as texts
from toyflow.explorer.curves import headline_items
from toyflow.explorer.model import USER

W = pn.widgets
SIDE_FIELD = 180  # frame size (px) of each square view of a side
#: Inputs the side headers name.
HEADER_INPUTS = ("kind", "delta", "guidance", "w", "dataset", "n_train", "granularity")


def compact_headline(h: dict, learned: bool) -> str:
    """The headline numbers as short lines (a side is narrow): name, value, detail."""
    lines = []
    for name, value, detail, tip in headline_items(h):
        if name == "training loss" and not learned:
            continue
        # Long notes (why a number is hidden) stay in the tooltip: a side is narrow.
        short = detail and len(detail) <= 40
        more = f" <span style='color:#555'>({html.escape(detail)})</span>" if short else ""
        tip = tip if short or not detail else f"{detail}. {tip}"
        lines.append(
            f"<div title='{html.escape(tip)}'>{html.escape(name)}: "
            f"<b style='font-size:15px'>{html.escape(value)}</b>{more}</div>"
        )
    return f"<div style='font-size:12px;max-width:{SIDE_FIELD + 20}px'>{''.join(lines)}</div>"


class SideView(StackView):
    """A narrow layout of the σ views: slider and play, the model's field above the
    trajectories, the gap curve under them (two sides fit beside each other at 1024 px)."""

    def __init__(self, stack, **kwargs):
        super().__init__(stack, **kwargs)
        # Projector mode belongs to the main view: a side keeps its narrow slider and titles.
        self.slider.min_width = None
        for fig in self.figures.values():
            fig.title.text_font_size = "11px"

    def _layout(self) -> Any:
        f = self.figures
        self._curve_figures = [v for k, v in f.items() if k.startswith("curves:")]
        self._sync_curve_visibility()
        width = self.field_size + 10
        self.slider.update(title="", width=width, styles={"font-size": "13px"})
        self.play.width = 80
        parts: list = [self.play, self.slider]
        for fig in (f["model"], f["trajectories"]):
            fig.title.text_font_size = "11px"
            fig.toolbar_location = None  # narrow views: the title keeps the whole width
            parts.append(fig)
        gap = next((v for k, v in f.items() if k.startswith("curves:") and "gap" in k), None)
        if gap is not None:
            gap.update(width=width, height=150)
            gap.title.text_font_size = "10px"
            gap.legend.visible = False  # no room: red = the model, dashed grey = D*
            parts.append(row(gap))  # its own row: the square frames do not align to its axis
        return column(*parts, name="compare-side-view")


class SidePanel(StackPanel):
    """A :class:`StackPanel` showing a :class:`SideView`; ``on_view`` runs once the view is on
    the page (to link the sliders)."""

    def __init__(self, holder, on_view):
        super().__init__(holder)
        self.on_view = on_view

    def new_view(self, stack):
        return SideView(stack, field_size=SIDE_FIELD)

    def _show(self, stack) -> None:
        super()._show(stack)
        self.on_view()


class Side:
    """One side: a store, its σ views, a header naming the setting and its headline numbers."""

    def __init__(self, name: str, state: tfx.ExplorerState, doc, on_view):
        self.name, self.state, self._doc = name, state, doc
        self.panel = SidePanel(SimpleNamespace(state=state, _doc=doc), on_view)
        self.header = pn.pane.HTML("", css_classes=[f"compare-header-{name}"], margin=(0, 10))
        self.headline = pn.pane.HTML("", css_classes=[f"compare-headline-{name}"], margin=(0, 10))
        # A fixed width: the σ views inside may stretch, the two sides stay side by side.
        self.pane = pn.Column(
            self.header, self.headline, self.panel.pane, width=SIDE_FIELD + 40, margin=(0, 10)
        )
        p = state.param
        self._watchers = [
            # New trajectories or curves: the stack is computed on the store's thread.
            p.watch(self.panel.refresh, ["trajectory_serial", "curves_serial"]),
            p.watch(self._on_doc(self.panel.follow_store), ["sigma_index"]),
            p.watch(
                self._on_doc(self.update), ["headline_view", "error", "status", *HEADER_INPUTS]
            ),
        ]
        self.update()
        self.panel.refresh()

    def _on_doc(self, fn):
        return lambda *_ev: on_doc(self._doc, fn)

    def update(self, *_events) -> None:
        from toyflow.sigma_stack import model_title

        s = self.state
        note = ""
        if s.error:
            note = f"<div style='color:#b00020'>{html.escape(s.error)}</div>"
        elif s.status:
            note = f"<div><i>{html.escape(s.status)}</i></div>"
        labels = "" if s.granularity == "none" else f", labels: {s.granularity}"
        self.header.object = (
            f"<div style='font-size:15px'><b>{self.name}: {html.escape(model_title(s))}</b></div>"
            f"<div style='font-size:12px;color:#444'>{html.escape(s.dataset)}, "
            f"{s.n_train} training points{labels}</div>{note}"
        )
        self.headline.object = compact_headline(s.headline_view or {}, s.kind == "learned")

    def detach(self) -> None:
        for w in self._watchers:
            self.state.param.unwatch(w)
        self._watchers = []


class Compare:
    """Compare mode of one page: built when it opens, closed when it closes."""

    def __init__(self, app) -> None:
        self.app = app
        self.state_b: tfx.ExplorerState | None = None
        self.sides: list[Side] = []
        self.linked = False
        self.toggle = None  # the page's on/off toggle (set by the guide)
        self.controls = pn.Column()
        self.views = pn.FlexBox()
        self.pane = pn.Column(
            pn.pane.HTML(
                "<b>Compare mode</b>: A is the sidebar's setting, B a copy with its own controls "
                "here; the two σ sliders move together.",
                margin=(5, 10),
            ),
            self.controls,
            self.views,
            visible=False,
            css_classes=["compare-mode"],
        )

    # -- opening and closing ---------------------------------------------------------------------
    def show(self, on: bool) -> None:
        """Open compare mode (the single σ view hides) or leave it (B's store is closed)."""
        if on:
            self.open()
        else:
            self.close()

    def open(self) -> tfx.ExplorerState:
        """B as a copy of A's inputs (a user denoiser included), the two sides and B's controls."""
        if self.state_b is not None:
            return self.state_b
        a = self.app.state
        values = {n: getattr(a, n) for n in tfx.INPUT_PARAMS}
        user = values["kind"] == USER
        if user:
            values["kind"] = "optimal"
        b = tfx.ExplorerState(background=a._background, auto=False, **values)
        if user:
            b.use_denoiser(a.compute.user)
        self.state_b, self.linked = b, False
        doc = self.app._doc
        self.sides = [Side("A", a, doc, self._link), Side("B", b, doc, self._link)]
        self._build_controls(b)
        self.views.objects = [s.pane for s in self.sides]
        b.auto = True
        b.request_refresh()
        self.pane.visible = True
        self._show_single(False)
        return b

    def close(self) -> None:
        """Leave compare mode: B's store closes (its training is cancelled), A's views return."""
        for side in self.sides:
            side.detach()
        if self.state_b is not None:
            self.state_b.close()
        self.state_b, self.sides, self.linked = None, [], False
        self.views.objects, self.controls.objects = [], []
        self.pane.visible = False
        self._show_single(True)
        if self.toggle is not None and self.toggle.value:
            self.toggle.value = False

    def _show_single(self, on: bool) -> None:
        """The page's single σ view and its numbers (hidden while the two sides show)."""
        self.app.stacks.pane.visible = on
        self.app.controls.headline.visible = on

    # -- σ shared in the browser -----------------------------------------------------------------
    def _link(self) -> None:
        """Once both sides show their views: each σ slider sets the other's in the page."""
        views = [s.panel.view for s in self.sides]
        if self.linked or len(views) != 2 or None in views:
            return
        a, b = views
        a.slider.js_link("value", b.slider, "value")
        b.slider.js_link("value", a.slider, "value")
        if b.slider.value != a.slider.value and a.slider.value <= b.slider.end:
            b.slider.value = a.slider.value
        self.linked = True

    # -- B's own controls ------------------------------------------------------------------------
    def _build_controls(self, b: tfx.ExplorerState) -> None:
        p = b.param
        options = {"B: a key setting…": "", **{pr.label: pr.name for pr in texts.PRESETS}}
        self.preset = W.Select(options=options, value="", width=190, css_classes=["compare-preset"])
        self.preset.param.watch(self._on_preset, "value")
        self.kind = W.RadioButtonGroup.from_param(
            p.kind, label="", width=300, css_classes=["compare-kind"]
        )
        self.delta = W.FloatSlider.from_param(
            p.delta,
            label="B: δ",
            step=0.05,
            width=180,
            throttled=True,
            css_classes=["compare-delta"],
        )
        self.n_train = W.IntInput.from_param(
            p.n_train, label="B: training points", width=130, css_classes=["compare-n-train"]
        )
        self.n_train.description = None
        self.snapshot = W.IntSlider(
            label="B: snapshot", start=1, end=2, value=2, width=180, disabled=True
        )
        self.snapshot.param.watch(self._on_snapshot, "value_throttled")
        self.train = W.Button(label="Train B", width=90, css_classes=["compare-train"])
        self.train.on_click(lambda _e: b.train())
        self.copy = W.Button(label="B = A", width=70, css_classes=["compare-copy"])
        self.copy.on_click(lambda _e: self.copy_a())
        self.message = pn.pane.HTML("", margin=(5, 10), styles={"font-size": "12px"})
        self.controls.objects = [
            pn.Row(self.preset, self.kind, self.copy),
            pn.Row(self.delta, self.n_train, self.snapshot, self.train, self.message),
        ]
        b.param.watch(
            lambda *_e: on_doc(self.app._doc, self._update_controls),
            ["kind", "train_serial", "snapshot_steps"],
        )
        self._update_controls()

    def _update_controls(self) -> None:
        b = self.state_b
        if b is None:
            return
        learned = b.kind == "learned"
        self.delta.visible = b.kind == "error-prone"
        self.train.visible = self.snapshot.visible = learned
        n = len(b.snapshot_steps)
        pos = n if b.snapshot_index < 0 else min(b.snapshot_index + 1, n)
        self.snapshot.param.update(end=max(n, 2), value=max(pos, 1), disabled=n < 2)
        self.message.object = html.escape(b.train_message) if learned else ""

    def _on_snapshot(self, event) -> None:
        b, n = self.state_b, len(self.state_b.snapshot_steps) if self.state_b else 0
        if b is None or n == 0 or event.new is None:
            return
        b.snapshot_index = -1 if event.new >= n else int(event.new) - 1

    def _on_preset(self, event) -> None:
        b = self.state_b
        if b is None or not event.new:
            return
        problems = texts.apply_preset(b, event.new)
        if problems:
            self.message.object = html.escape("; ".join(problems))
            return
        learned = b.training.learned()
        if texts.preset(event.new).train and not learned.snapshots and not learned.training:
            b.train()

    def copy_a(self) -> None:
        """B's plain inputs set to A's (one refresh)."""
        b = self.state_b
        if b is None:
            return
        a = self.app.state
        values = {n: getattr(a, n) for n in tfx.INPUT_PARAMS if n != "kind" or a.kind != USER}
        updates = texts.changed_values(b, values)
        if updates:
            b.param.update(**updates)
