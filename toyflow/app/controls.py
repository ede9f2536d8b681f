"""The explorer page's controls: widgets built from the param model (``Widget.from_param``, so
each is linked both ways to its input), the buttons, and what the store's outputs change on them.
"""

from __future__ import annotations

import logging
from typing import Any

import holoviews as hv
import numpy as np
import panel as pn
from holoviews import streams

from toyflow import explorer as tfx
from toyflow.app.elements import COPY_JS, MONO, TRAIN_COLOR, legend_html
from toyflow.app.headline import headline_html

log = logging.getLogger("toyflow.app")
W = pn.widgets


def _from(widget_type, parameter, *, css: str | None = None, **kwargs):
    """A widget for ``parameter`` linked both ways (no tooltip icon: the layout stays compact)."""
    if css:
        kwargs["css_classes"] = [css]
    widget = widget_type.from_param(parameter, **kwargs)
    if "description" in widget.param:
        widget.description = None
    return widget


class Controls:
    """Every widget of one page, bound to one store (``app.state``)."""

    def __init__(self, app):
        self.app = app
        self.projector = False  # projector mode: the advanced controls hide (set_projector)
        self.cards: dict[str, pn.Card] = {}  # sidebar() fills these
        self.advanced_cards: list[pn.Card] = []
        self.state = s = app.state
        p = s.param
        # data
        self.dataset = _from(W.Select, p.dataset, label="Data set", width=300)
        self.n_train = _from(
            W.IntInput,
            p.n_train,
            label="Training points (data density, 4–5000)",
            width=300,
            css="n-train-input",
        )
        self.n_val = _from(W.IntInput, p.n_val, label="Validation points", width=145)
        self.seed = _from(W.IntInput, p.seed, label="Seed", width=145)
        self.granularity = _from(W.Select, p.granularity, label="Labels", width=145)
        self.k = _from(W.IntInput, p.k, label="K (k-means)", width=145)
        self.condition = _from(W.IntInput, p.condition, label="Sample label (−1: all)", width=145)
        self.holdout = _from(
            W.FloatSlider,
            p.holdout,
            label="Held-out share of your points",
            step=0.05,
            width=300,
            throttled=True,
        )
        self.upload = W.FileInput(
            accept=".csv,text/csv,text/plain", width=300, css_classes=["csv-upload"]
        )
        self.upload.param.watch(self._on_upload, "value")
        self.use_drawn = W.Button(
            label="Use drawn points", color="primary", width=145, css_classes=["use-drawn-button"]
        )
        self.use_drawn.on_click(self._on_use_drawn)
        self.clear_drawn = W.Button(label="Clear canvas", width=145)
        self.clear_drawn.on_click(lambda _e: self.new_canvas(None))
        self.copy_data = W.Button(label="Start from current data", width=300)
        self.copy_data.on_click(self._on_copy_data)
        self.open_canvas = W.Button(
            label="Draw points with the mouse…", width=300, css_classes=["open-canvas-button"]
        )
        self.open_canvas.on_click(self._on_open_canvas)
        self.draw_box = pn.Column()
        self.draw_pane = None
        self._draw_stream = None
        # model
        self.kind = _from(W.RadioButtonGroup, p.kind, label="", width=300, css="model-kind")
        self.delta = _from(
            W.FloatSlider,
            p.delta,
            label="δ (model error)",
            step=0.05,
            width=300,
            throttled=True,
            css="delta-slider",
        )
        self.width = _from(W.IntInput, p.width, label="Width", width=95, css="width-input")
        self.depth = _from(W.IntInput, p.depth, label="Depth", width=95, css="depth-input")
        self.train_steps = _from(
            W.IntInput, p.train_steps, label="Steps", step=100, width=95, css="steps-input"
        )
        self.learning_rate = _from(
            W.FloatInput,
            p.learning_rate,
            label="Learning rate",
            step=1e-4,
            width=145,
            format="0.00000",
        )
        self.batch_size = _from(W.IntInput, p.batch_size, label="Batch size", width=145)
        self.train_button = W.Button(
            label="Train", color="primary", width=145, css_classes=["train-button"]
        )
        self.train_button.on_click(lambda _e: self.state.train())
        self.cancel_button = W.Button(
            label="Cancel", color="danger", width=145, disabled=True, css_classes=["cancel-button"]
        )
        self.cancel_button.on_click(lambda _e: self.state.cancel())
        self.progress = pn.indicators.Progress(
            value=0, max=1000, width=300, active=False, css_classes=["train-progress"]
        )
        self.train_message = pn.pane.Markdown(
            "", width=300, css_classes=["train-message"], margin=(0, 10)
        )
        self.snapshot = W.IntSlider(
            label="Training time",
            start=0,
            end=1,
            value=0,
            width=300,
            show_value=False,
            disabled=True,
            css_classes=["snapshot-slider"],
        )
        self.snapshot.param.watch(self._on_snapshot_slider, ["value", "value_throttled"])
        # The page's value_throttled (the server cannot set it) and the position the server
        # last set: see _on_snapshot_slider.
        self._page_throttled, self._snapshot_pos = 0, 0
        self.hyper_row = pn.Row(self.learning_rate, self.batch_size)
        self.guidance = _from(W.Select, p.guidance, label="Guidance", width=145)
        self.w = _from(W.FloatSlider, p.w, label="w", step=0.1, width=145, throttled=True)
        self.guidance_row = pn.Row(self.guidance, self.w)
        self.loss_slot = pn.Column(margin=0)  # the loss plot (sidebar() puts it in)
        self.learned_box = pn.Column(
            pn.Row(self.width, self.depth, self.train_steps),
            self.hyper_row,
            pn.Row(self.train_button, self.cancel_button),
            self.progress,
            self.train_message,
            self.loss_slot,
            self.snapshot,
            margin=0,
        )
        # sampling
        self.schedule = _from(W.Select, p.schedule, label="Schedule", width=145)
        self.solver = _from(W.Select, p.solver, label="Solver", width=145)
        self.sigma_min = _from(W.FloatInput, p.sigma_min, label="σ_min", step=0.001, width=95)
        self.sigma_max = _from(W.FloatInput, p.sigma_max, label="σ_max", step=1.0, width=95)
        self.rho = _from(W.FloatInput, p.rho, label="ρ", step=0.5, width=95)
        self.sample_steps = _from(W.IntInput, p.sample_steps, label="Sampler steps", width=145)
        self.n_samples = _from(W.IntInput, p.n_samples, label="Samples", width=145)
        self.show_curves = _from(
            W.Checkbox, p.show_curves, label="Curves over σ (gap, errors, overlap)", width=300
        )

        # take-away
        def download(kind: str, callback, filename: str) -> Any:
            return W.FileDownload(
                callback=callback,
                filename=filename,
                label=f"Download {kind.upper()}",
                width=145,
                css_classes=[f"{kind}-download"],
            )

        self.png_download = download("png", app._png, "toyflow-explorer.png")
        self.json_download = download("json", app._json, "toyflow-run.json")
        self.html_download = download("html", app._html, "toyflow-sigma.html")
        self.gif_download = download("gif", app._gif, "toyflow-sigma.gif")
        self.snippet = W.TextAreaInput(
            label="Python",
            value="",
            height=260,
            width=300,
            css_classes=["python-snippet"],
            stylesheets=[MONO],
        )
        self.command = W.TextAreaInput(
            label="Commands",
            value="",
            height=130,
            width=300,
            css_classes=["cli-command"],
            stylesheets=[MONO],
        )
        self.copy_snippet = W.Button(label="Copy Python", width=145)
        self.copy_snippet.js_on_click(args={"src": self.snippet}, code=COPY_JS)
        self.copy_command = W.Button(label="Copy command", width=145)
        self.copy_command.js_on_click(args={"src": self.command}, code=COPY_JS)
        # messages
        self.alert = pn.pane.Alert(
            "",
            alert_type="danger",
            visible=False,
            sizing_mode="stretch_width",
            css_classes=["error-alert"],
        )
        self.status = pn.pane.HTML(
            "", css_classes=["status-text"], margin=(12, 10), sizing_mode="stretch_width"
        )
        self.spinner = pn.indicators.LoadingSpinner(value=False, size=24, margin=(12, 5))
        self.headline = pn.pane.HTML(
            "", css_classes=["headline"], margin=(4, 10), sizing_mode="stretch_width"
        )
        self.legend = pn.pane.HTML(legend_html(), margin=(0, 10), sizing_mode="stretch_width")

    # -- callbacks -------------------------------------------------------------------------------
    def _on_snapshot_slider(self, event) -> None:
        """A released handle (value_throttled) picks the snapshot. The page sends that only
        when it changes, and the server's moves do not change it there: a release on the value
        it holds (the first snapshot, typically) comes as a plain value change, seen here."""
        n = len(self.state.snapshot_steps)
        if event.new is None or n == 0:
            return
        if event.name == "value_throttled":
            self._page_throttled = event.new
        elif event.new != self._page_throttled or event.new == self._snapshot_pos:
            return  # a drag in progress, or the server's own move
        self._snapshot_pos = int(event.new)
        self.state.snapshot_index = -1 if event.new >= n - 1 else int(event.new)

    def _on_upload(self, event) -> None:
        if not event.new:
            return
        try:
            n = self.state.upload_csv(event.new)
        except ValueError as exc:
            self.app.notice = f"Upload not used: {exc}"
            return
        self.app.notice = ""
        self.status.param.update(object=f"Using {n} uploaded points.", visible=True)

    def _on_use_drawn(self, _event) -> None:
        stream = self._draw_stream
        data = (stream.data if stream is not None else None) or {}
        xs, ys = list(data.get("x", [])), list(data.get("y", []))
        try:
            pts = np.column_stack([np.asarray(xs, float), np.asarray(ys, float)]) if xs else None
            self.state.use_points(pts)
        except ValueError as exc:
            self.app.notice = f"Drawn points not used: {exc}"
            return
        self.app.notice = ""

    def _on_open_canvas(self, _event) -> None:
        if self.draw_pane is None:
            self.new_canvas(None)
        self.open_canvas.visible = False

    def _on_copy_data(self, _event) -> None:
        view = self.state.data_view
        if view is not None:
            self.new_canvas(view.dataset.train_x)

    def new_canvas(self, points) -> None:
        """A fresh drawing canvas (HoloViews' point-drawing stream), empty or with ``points``."""
        element = draw_element(points, self.state.extent)
        self._draw_stream = streams.PointDraw(source=element, num_objects=tfx.MAX_POINTS)
        if self.draw_pane is None:
            self.draw_pane = pn.pane.HoloViews(element, css_classes=["draw-canvas"])
            self.draw_box.objects = [
                self.draw_pane,
                pn.Row(self.use_drawn, self.clear_drawn),
                self.copy_data,
            ]
        else:
            self.draw_pane.object = element

    # -- state → widgets -------------------------------------------------------------------------
    def update_messages(self, *_events) -> None:
        s = self.state
        parts = [m for m in (s.error, self.app.notice) if m]
        if s.train_status == "failed":
            parts.append(s.train_message)
        self.alert.param.update(object="\n\n".join(parts), visible=bool(parts))
        # Hidden while idle: the empty line would push the views down a 768 px screen.
        self.status.param.update(object=s.status, visible=bool(s.status))
        self.spinner.param.update(value=bool(s.busy), visible=bool(s.busy))

    def update_training(self, *_events) -> None:
        s = self.state
        running = s.train_status in ("queued", "running")
        self.progress.param.update(
            value=int(1000 * s.train_progress), active=s.train_status == "queued"
        )
        self.train_message.object = s.train_message
        self.cancel_button.disabled = not running
        n = len(s.snapshot_steps)
        if n:
            pos = n - 1 if s.snapshot_index < 0 else min(s.snapshot_index, n - 1)
            self._snapshot_pos = pos
            self.snapshot.param.update(
                start=0,
                end=max(n - 1, 1),
                value=pos,
                disabled=n < 2,
                label=f"Training time: step {s.snapshot_steps[pos]} (snapshot {pos + 1} of {n})",
            )
        else:
            self.snapshot.param.update(value=0, end=1, disabled=True, label="Training time")
        self.update_messages()

    def update_headline(self, *_events) -> None:
        self.headline.object = headline_html(self.state.headline_view or {})

    def update_takeaway(self, *_events) -> None:
        s = self.state
        try:
            self.snippet.value = s.python_snippet()
            cli = s.toyflow_command()
            self.command.value = f"# this view, served:\n{s.cli_command()}\n" + (
                f"# the run from the command line:\n{cli}\n" if cli else ""
            )
        except Exception as exc:  # never let the take-away text break the page
            log.warning("snippet failed: %s", exc)

    def set_projector(self, on: bool) -> None:
        set_projector(self, on)

    def update_visibility(self, *_events) -> None:
        update_visibility(self)


def draw_element(points, ext: float):
    """The drawing canvas's points (HoloViews, with the point-drawing tool active)."""
    pts = np.zeros((0, 2)) if points is None else np.asarray(points)
    return hv.Points((pts[:, 0], pts[:, 1]), kdims=["x", "y"]).opts(
        tools=["point_draw"],
        active_tools=["point_draw"],
        size=7,
        color=TRAIN_COLOR,
        width=290,  # fits the sidebar's cards; width and height (not frame sizes): W-1005
        height=290,
        xlim=(-ext, ext),
        ylim=(-ext, ext),
        title="",  # the hint is in the card's text (a title this wide would be cut)
    )


def set_projector(c: Controls, on: bool) -> None:
    """Projector mode: fewer controls (the advanced cards hide, the data card folds) and
    larger page text; the σ views change themselves in the browser (stack_layout)."""
    c.projector = bool(on)
    for card in c.advanced_cards:
        card.visible = not on
    if "data" in c.cards:
        c.cards["data"].collapsed = on
    zoom = {"zoom": "1.2"} if on else {}
    for pane in (c.legend, c.status):
        pane.styles = zoom
    update_visibility(c)


def update_visibility(c: Controls) -> None:
    """Which widgets the current inputs use (and projector mode leaves)."""
    s = c.state
    learned = s.kind == "learned"
    # The learned model's widgets sit in one box: hiding the box leaves no blank rows.
    c.learned_box.visible = learned
    for w in (c.width, c.train_button, c.cancel_button, c.snapshot):
        w.visible = learned  # (each one's own state, for scripts and tests)
    c.guidance_row.visible = not c.projector
    c.hyper_row.visible = learned and not c.projector
    c.delta.visible = s.kind == "error-prone"
    custom = s.dataset == tfx.CUSTOM
    c.n_train.disabled = custom
    c.n_val.disabled = custom
    c.holdout.visible = custom
    c.k.visible = s.granularity == "kmeans"
    c.condition.visible = s.granularity != "none"
    c.w.visible = s.guidance != "none"


def sidebar(c: Controls, loss_box) -> list:
    """The sidebar cards: model, data, sampler, take-away."""
    data_card = pn.Card(
        c.dataset,
        c.n_train,
        pn.Row(c.n_val, c.seed),
        pn.Row(c.granularity, c.k),
        c.condition,
        c.holdout,
        pn.pane.Markdown(
            "**Your own data**: draw points (click: add · drag: move · Backspace: delete), "
            "or upload a CSV of `x,y[,label]` rows.",
            margin=(5, 10),
        ),
        c.open_canvas,
        c.draw_box,
        c.upload,
        title="Data",
        collapsed=False,
        width=330,
    )
    c.loss_slot.objects = [loss_box]
    model_card = pn.Card(c.kind, c.delta, c.learned_box, c.guidance_row, title="Model", width=330)
    sampling_card = pn.Card(
        pn.Row(c.schedule, c.solver),
        pn.Row(c.sigma_min, c.sigma_max, c.rho),
        pn.Row(c.sample_steps, c.n_samples),
        c.show_curves,
        title="Noise schedule and sampler",
        width=330,
    )
    takeaway_card = pn.Card(
        pn.Row(c.png_download, c.json_download),
        pn.Row(c.html_download, c.gif_download),
        c.snippet,
        c.command,
        pn.Row(c.copy_snippet, c.copy_command),
        title="Take it away",
        collapsed=True,
        width=330,
    )
    c.cards = {"model": model_card, "data": data_card}
    c.advanced_cards = [sampling_card, takeaway_card]
    if c.projector:  # a page opened in projector mode (?projector=1)
        c.set_projector(True)
    # In a box: projector mode hides them (a template's root objects do not hide in the page).
    return [model_card, data_card, pn.Column(*c.advanced_cards, margin=0)]
