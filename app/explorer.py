"""toyflow explorer: flow fields and trajectories per noise level, learned vs optimal, trained live.

Serve it::

    panel serve app/explorer.py --show
    panel serve app/explorer.py --num-procs 4 --address 0.0.0.0 --allow-websocket-origin '*'   # a class

Open a configuration directly: ``panel serve app/explorer.py --show --args kind=error-prone
delta=1.2`` or the URL ``/explorer?kind=error-prone&delta=1.2``. In a notebook:
``toyflow.explore(kind="error-prone")`` (or ``ExplorerApp.from_params(...)``).

This file is the view layer only: :class:`toyflow.explorer.ExplorerState` computes everything by
calling toyflow, this module turns its parameters into widgets and its outputs into HoloViews
plots. Per-session state lives in the objects ``create_app`` builds; the only process-wide
things (a bounded training pool, caches) live in ``toyflow.explorer``.
"""

from __future__ import annotations

import io
import logging
import sys

import holoviews as hv
import numpy as np
import panel as pn
import param
from holoviews import opts, streams

from toyflow import explorer as tfx

log = logging.getLogger("toyflow.app")

TRAIN_COLOR = "#d62728"
VAL_COLOR = "#1f77b4"
MEMORIZED_COLOR = "#ff7f0e"
NOVEL_COLOR = "#2ca02c"
POSITION_COLOR = "#111111"
FIELD_SIZE = 300  # frame size (px) of each field plot
CURVE_W, CURVE_H = 225, 230
DIFF_RANGE = (1e-3, 10.0)  # colour range of ‖D − D*‖ / σ (log scale)
GAP_CAP = 10.0  # relative gaps above this are drawn at the cap (the optimal E_train → 0)
MAX_PATHS = 500

hv.extension("bokeh", logo=False)


def _css(cls: str) -> list[str]:
    return [cls]


# --- elements (pure functions of arrays; HoloViews only) ----------------------------------------


def _grid_axes(field):
    g = field.grid
    return g.xs, g.ys


def _vector_field(field, vmax: float, spacing: float) -> hv.VectorField:
    """Arrows of ``D(x; σ) − x``: direction and colour from the field, lengths scaled so the
    longest arrow of the two fields shown spans about 1.8 grid cells."""
    pts = field.grid.points
    disp = np.asarray(field.displacement).reshape(-1, 2)
    norm = np.hypot(disp[:, 0], disp[:, 1])
    angle = np.arctan2(disp[:, 1], disp[:, 0])
    length = 1.8 * spacing * norm / max(vmax, 1e-12)
    return hv.VectorField((pts[:, 0], pts[:, 1], angle, length, norm),
                          kdims=["x", "y"], vdims=["angle", "length", "|D(x;σ) − x|"])


def _empty_vectors() -> hv.VectorField:
    return hv.VectorField(([], [], [], [], []), kdims=["x", "y"], vdims=["angle", "length", "|D(x;σ) − x|"])


def _region(field) -> hv.Image:
    xs, ys = _grid_axes(field)
    return hv.Image((xs, ys, field.region.astype(float)), kdims=["x", "y"], vdims=["region"]).opts(
        cmap=["#ffffff", "#9ecae1"], alpha=0.45, clim=(0, 1))


def _empty_image(extent: float, vdim: str, value: float = 0.0) -> hv.Image:
    xs = np.linspace(-extent, extent, 2)
    return hv.Image((xs, xs, np.full((2, 2), value)), kdims=["x", "y"], vdims=[vdim])


def _empty_curve(ydim: str, label: str = "") -> hv.Curve:
    """A curve with nothing to draw (on a log σ axis) until the store has computed one."""
    return hv.Curve(([1e-3, 1e2], [np.nan, np.nan]), "σ", ydim, label=label)


def _points(x, label: str) -> hv.Points:
    x = np.zeros((0, 2)) if x is None else np.asarray(x)
    return hv.Points((x[:, 0], x[:, 1]), kdims=["x", "y"], label=label)


class ExplorerApp(pn.viewable.Viewer):
    """The explorer's page: widgets built from an :class:`~toyflow.explorer.ExplorerState`,
    views that render its outputs. ``template()`` is the served page; the object itself displays
    inline in Jupyter."""

    state = param.ClassSelector(class_=tfx.ExplorerState)
    notice = param.String(default="", doc="Messages of the page itself (uploads, URL settings).")

    def __init__(self, state: tfx.ExplorerState | None = None, **params):
        state = state if state is not None else tfx.ExplorerState(background=True)
        super().__init__(state=state, **params)
        self._layout = None
        self._build_widgets()
        self._build_views()
        self._update_visibility()

    @classmethod
    def from_params(cls, *, result=None, state=None, **params) -> "ExplorerApp":
        """An app over a new (or the given) store; ``result`` opens a TrainResult from a script."""
        pn.extension()
        if state is None:
            # Synchronous refreshes: in a notebook the views are built on the kernel's thread.
            state = tfx.ExplorerState(background=False, **params)
        elif params:
            state.param.update(**params)
        if result is not None:
            state.load_result(result)
        state.refresh()
        return cls(state)

    # ------------------------------------------------------------------------------------------
    # widgets

    def _link(self, widget, name: str, *, throttled: bool = False):
        """Two-way link between ``widget.value`` and ``state.<name>`` (``value_throttled`` from
        the widget for expensive sliders: updates arrive on release / at a throttled rate)."""
        state = self.state
        src = "value_throttled" if throttled else "value"

        def to_state(event):
            if getattr(state, name) != event.new:
                try:
                    setattr(state, name, event.new)
                except ValueError as exc:  # outside the parameter's bounds
                    self.notice = str(exc)

        def to_widget(event):
            if widget.value != event.new:
                widget.value = event.new

        widget.param.watch(to_state, src)
        state.param.watch(to_widget, name)
        return widget

    def _build_widgets(self) -> None:
        s = self.state
        p = s.param
        W = pn.widgets
        # data
        self.dataset = self._link(W.Select(label="Data set", options=list(p.dataset.objects),
                                           value=s.dataset, width=300), "dataset")
        self.n_train = self._link(W.IntInput(label="Training points (data density, 4–5000)",
                                             value=s.n_train, start=4, end=tfx.MAX_POINTS, step=1,
                                             width=300, css_classes=_css("n-train-input")), "n_train")
        self.n_val = self._link(W.IntInput(label="Validation points", value=s.n_val, start=0,
                                           end=tfx.MAX_POINTS, width=145), "n_val")
        self.seed = self._link(W.IntInput(label="Seed", value=s.seed, start=0, end=2**31 - 1,
                                          width=145), "seed")
        self.granularity = self._link(W.Select(label="Labels", options=list(p.granularity.objects),
                                               value=s.granularity, width=145), "granularity")
        self.k = self._link(W.IntInput(label="K (k-means)", value=s.k, start=1, end=tfx.MAX_POINTS,
                                       width=145), "k")
        self.condition = self._link(W.IntInput(label="Sample label (−1: all)", value=s.condition,
                                               start=-1, end=tfx.MAX_POINTS - 1, width=145), "condition")
        self.holdout = self._link(W.FloatSlider(label="Held-out share of your points", start=0.0,
                                                end=0.9, step=0.05, value=s.holdout, width=300),
                                  "holdout", throttled=True)
        self.upload = W.FileInput(accept=".csv,text/csv,text/plain", width=300,
                                  css_classes=_css("csv-upload"))
        self.upload.param.watch(self._on_upload, "value")
        self.use_drawn = W.Button(label="Use drawn points", color="primary", width=145,
                                  css_classes=_css("use-drawn-button"))
        self.use_drawn.on_click(self._on_use_drawn)
        self.clear_drawn = W.Button(label="Clear canvas", width=145)
        self.clear_drawn.on_click(lambda _e: self._new_canvas(None))
        self.copy_data = W.Button(label="Start from current data", width=300)
        self.open_canvas = W.Button(label="Draw points with the mouse…", width=300,
                                    css_classes=_css("open-canvas-button"))
        self.open_canvas.on_click(self._on_open_canvas)
        self.copy_data.on_click(self._on_copy_data)
        # model
        self.kind = self._link(W.RadioButtonGroup(options=list(tfx.MODEL_KINDS), value=s.kind,
                                                  width=300, css_classes=_css("model-kind")), "kind")
        self.delta = self._link(W.FloatSlider(label="δ (model error)", start=0.0, end=5.0, step=0.05,
                                              value=s.delta, width=300, css_classes=_css("delta-slider")),
                                "delta", throttled=True)
        self.width = self._link(W.IntInput(label="Width", value=s.width, start=4, end=512, width=95,
                                           css_classes=_css("width-input")), "width")
        self.depth = self._link(W.IntInput(label="Depth", value=s.depth, start=1, end=8, width=95,
                                           css_classes=_css("depth-input")), "depth")
        self.train_steps = self._link(W.IntInput(label="Steps", value=s.train_steps, start=10,
                                                 end=100_000, step=100, width=95,
                                                 css_classes=_css("steps-input")), "train_steps")
        self.learning_rate = self._link(W.FloatInput(label="Learning rate", value=s.learning_rate,
                                                     start=1e-5, end=0.1, step=1e-4, width=145,
                                                     format="0.00000"), "learning_rate")
        self.batch_size = self._link(W.IntInput(label="Batch size", value=s.batch_size, start=8,
                                                end=4096, width=145), "batch_size")
        self.train_button = W.Button(label="Train", color="primary", width=145,
                                     css_classes=_css("train-button"))
        self.train_button.on_click(lambda _e: self.state.train())
        self.cancel_button = W.Button(label="Cancel", color="danger", width=145, disabled=True,
                                      css_classes=_css("cancel-button"))
        self.cancel_button.on_click(lambda _e: self.state.cancel())
        self.progress = pn.indicators.Progress(value=0, max=1000, width=300, active=False,
                                               css_classes=_css("train-progress"))
        self.train_message = pn.pane.Markdown("", width=300, css_classes=_css("train-message"),
                                              margin=(0, 10))
        self.snapshot = W.IntSlider(label="Training time", start=0, end=1, value=0, width=300,
                                    show_value=False,
                                    disabled=True, css_classes=_css("snapshot-slider"))
        self.snapshot.param.watch(self._on_snapshot_slider, "value_throttled")
        self.guidance = self._link(W.Select(label="Guidance", options=list(tfx.GUIDANCE_KINDS),
                                            value=s.guidance, width=145), "guidance")
        self.w = self._link(W.FloatSlider(label="w", start=0.0, end=4.0, step=0.1, value=s.w, width=145),
                            "w", throttled=True)
        # sampling
        self.schedule = self._link(W.Select(label="Schedule", options=list(p.schedule.objects),
                                            value=s.schedule, width=145), "schedule")
        self.solver = self._link(W.Select(label="Solver", options=list(p.solver.objects),
                                          value=s.solver, width=145), "solver")
        self.sigma_min = self._link(W.FloatInput(label="σ_min", value=s.sigma_min, start=1e-4, end=10.0,
                                                 step=0.001, width=95), "sigma_min")
        self.sigma_max = self._link(W.FloatInput(label="σ_max", value=s.sigma_max, start=0.1, end=1000.0,
                                                 step=1.0, width=95), "sigma_max")
        self.rho = self._link(W.FloatInput(label="ρ", value=s.rho, start=0.5, end=20.0, step=0.5,
                                           width=95), "rho")
        self.sample_steps = self._link(W.IntInput(label="Sampler steps", value=s.sample_steps, start=2,
                                                  end=400, width=145), "sample_steps")
        self.n_samples = self._link(W.IntInput(label="Samples", value=s.n_samples, start=2, end=5000,
                                               width=145), "n_samples")
        self.show_curves = self._link(W.Checkbox(label="Curves over σ (gap, errors, overlap)",
                                                 value=s.show_curves, width=300), "show_curves")
        # σ: a throttled slider and a player over the sampling grid
        self.sigma_slider = W.IntSlider(label="Noise level σ (the sampling grid, large to small)",
                                        start=0, end=s.sample_steps - 1, show_value=False,
                                        value=s.clamped_sigma_index(), width=460,
                                        css_classes=_css("sigma-slider"))
        self.sigma_slider.param.watch(self._on_sigma_widget, "value_throttled")
        self.player = W.Player(start=0, end=s.sample_steps - 1, value=s.clamped_sigma_index(),
                               interval=250, loop_policy="once", show_value=False, width=260,
                               show_loop_controls=False,
                               visible_buttons=["first", "previous", "pause", "play", "next", "last"],
                               css_classes=_css("sigma-player"))
        self.player.param.watch(self._on_sigma_widget, "value")
        self.sigma_label = pn.pane.HTML("", css_classes=_css("sigma-value"), margin=(12, 10))
        # take-away
        self.png_download = W.FileDownload(callback=self._png, filename="toyflow-explorer.png",
                                           label="Download PNG", width=145, css_classes=_css("png-download"))
        self.json_download = W.FileDownload(callback=self._json, filename="toyflow-run.json",
                                            label="Download JSON", width=145,
                                            css_classes=_css("json-download"))
        self.snippet = W.TextAreaInput(label="Python", value="", height=260, width=300,
                                       css_classes=_css("python-snippet"),
                                       stylesheets=[":host textarea {font-family: monospace; font-size: 11px}"])
        self.command = W.TextAreaInput(label="Command", value="", height=80, width=300,
                                       css_classes=_css("cli-command"),
                                       stylesheets=[":host textarea {font-family: monospace; font-size: 11px}"])
        self.copy_snippet = W.Button(label="Copy Python", width=145)
        self.copy_snippet.js_on_click(args={"src": self.snippet}, code=_COPY_JS)
        self.copy_command = W.Button(label="Copy command", width=145)
        self.copy_command.js_on_click(args={"src": self.command}, code=_COPY_JS)
        # messages
        self.alert = pn.pane.Alert("", alert_type="danger", visible=False, width=1000,
                                   css_classes=_css("error-alert"))
        self.status = pn.pane.HTML("", css_classes=_css("status-text"), margin=(12, 10))
        self.spinner = pn.indicators.LoadingSpinner(value=False, size=24, margin=(12, 5))
        self.headline = pn.pane.HTML("", css_classes=_css("headline"), margin=(10, 10), width=560,
                                     height=70)
        self.legend = pn.pane.HTML(_LEGEND, margin=(0, 10), width=1150, height=24)

        for name in ("error", "status", "busy"):
            s.param.watch(self._update_messages, name)
        self.param.watch(self._update_messages, "notice")
        s.param.watch(self._update_training_widgets, ["train_serial", "kind"])
        s.param.watch(self._update_sigma_widgets, ["sigmas", "sigma_index", "sample_steps"])
        s.param.watch(self._update_headline, "headline_view")
        s.param.watch(self._update_takeaway, list(tfx.INPUT_PARAMS))
        s.param.watch(self._update_visibility, ["kind", "dataset", "granularity", "guidance"])
        self._update_takeaway()
        self._update_training_widgets()
        self._update_messages()

    # -- widget callbacks ------------------------------------------------------------------------
    def _on_sigma_widget(self, event) -> None:
        if event.new is not None and self.state.sigma_index != event.new:
            self.state.sigma_index = int(event.new)

    def _on_snapshot_slider(self, event) -> None:
        n = len(self.state.snapshot_steps)
        if event.new is None or n == 0:
            return
        self.state.snapshot_index = -1 if event.new >= n - 1 else int(event.new)

    def _on_upload(self, event) -> None:
        if not event.new:
            return
        try:
            n = self.state.upload_csv(event.new)
        except ValueError as exc:
            self.notice = f"Upload not used: {exc}"
            return
        self.notice = ""
        self.status.object = f"Using {n} uploaded points."

    def _on_use_drawn(self, _event) -> None:
        stream = getattr(self, "_draw_stream", None)
        data = (stream.data if stream is not None else None) or {}
        xs, ys = list(data.get("x", [])), list(data.get("y", []))
        try:
            pts = np.column_stack([np.asarray(xs, float), np.asarray(ys, float)]) if xs else None
            self.state.use_points(pts)
        except ValueError as exc:
            self.notice = f"Drawn points not used: {exc}"
            return
        self.notice = ""

    def _on_open_canvas(self, _event) -> None:
        if getattr(self, "draw_pane", None) is None:
            self._new_canvas(None)
        self.open_canvas.visible = False

    def _on_copy_data(self, _event) -> None:
        view = self.state.data_view
        if view is not None:
            self._new_canvas(view.dataset.train_x)

    # -- state → widgets -------------------------------------------------------------------------
    def _update_messages(self, *_events) -> None:
        s = self.state
        parts = [m for m in (s.error, self.notice) if m]
        if s.train_status == "failed":
            parts.append(s.train_message)
        self.alert.param.update(object="\n\n".join(parts), visible=bool(parts))
        self.status.object = s.status
        self.spinner.value = bool(s.busy)

    def _update_training_widgets(self, *_events) -> None:
        s = self.state
        running = s.train_status in ("queued", "running")
        self.progress.param.update(value=int(1000 * s.train_progress),
                                   active=s.train_status == "queued")
        self.train_message.object = s.train_message
        self.cancel_button.disabled = not running
        n = len(s.snapshot_steps)
        if n:
            pos = n - 1 if s.snapshot_index < 0 else min(s.snapshot_index, n - 1)
            self.snapshot.param.update(start=0, end=max(n - 1, 1), value=pos, disabled=n < 2,
                                       label=f"Training time: step {s.snapshot_steps[pos]} "
                                             f"(snapshot {pos + 1} of {n})")
        else:
            self.snapshot.param.update(value=0, end=1, disabled=True, label="Training time")
        self._update_messages()

    def _update_sigma_widgets(self, *_events) -> None:
        s = self.state
        end = max(s.sample_steps - 1, 1)
        idx = s.clamped_sigma_index()
        self.sigma_slider.param.update(end=end, value=idx)
        self.player.param.update(end=end, value=idx)
        if s.sigmas is not None and idx < len(s.sigmas):
            self.sigma_label.object = (f"<b>σ = {s.sigmas[idx]:.4g}</b> &nbsp; step {idx + 1} of "
                                       f"{s.sample_steps}")

    def _update_headline(self, *_events) -> None:
        h = self.state.headline_view or {}

        def fmt(v, spec):
            return "—" if v is None or not np.isfinite(v) else format(v, spec)

        cards = [("memorized samples", fmt(h.get("memorized_fraction"), ".1%"),
                  "nearest training point closer than 1/3 of the second-nearest"),
                 ("Fréchet overfit", fmt(h.get("relative_overfit"), ".3g"),
                  "(FD to validation − FD to training) / FD to training"),
                 ("training loss", fmt(h.get("training_loss"), ".4g"), "EDM-weighted loss, recent steps")]
        html = "".join(
            f'<div title="{tip}" style="display:inline-block;margin-right:28px">'
            f'<div style="font-size:12px;color:#555">{name}</div>'
            f'<div style="font-size:24px;font-weight:600">{value}</div></div>'
            for name, value, tip in cards)
        self.headline.object = html

    def _update_takeaway(self, *_events) -> None:
        s = self.state
        try:
            self.snippet.value = s.python_snippet()
            self.command.value = s.cli_command()
        except Exception as exc:  # never let the take-away text break the page
            log.warning("snippet failed: %s", exc)

    def _update_visibility(self, *_events) -> None:
        s = self.state
        learned = s.kind == "learned"
        for w in (self.width, self.depth, self.train_steps, self.learning_rate, self.batch_size,
                  self.progress, self.train_message, self.snapshot, self.train_button,
                  self.cancel_button):
            w.visible = learned
        self.delta.visible = s.kind == "error-prone"
        custom = s.dataset == tfx.CUSTOM
        self.n_train.disabled = custom
        self.n_val.disabled = custom
        self.holdout.visible = custom
        self.k.visible = s.granularity == "kmeans"
        self.condition.visible = s.granularity != "none"
        self.w.visible = s.guidance != "none"
        if learned and not self.loss_box.objects:
            self.loss_box.append(self.loss_pane)
        self.loss_box.visible = learned

    # ------------------------------------------------------------------------------------------
    # views

    def _build_views(self) -> None:
        s = self.state
        field_stream = streams.Params(s, ["field_serial"])
        self.model_map = hv.DynamicMap(self._model_field, streams=[field_stream])
        self.optimal_map = hv.DynamicMap(self._optimal_field, streams=[streams.Params(s, ["field_serial"])])
        self.difference_map = hv.DynamicMap(self._difference, streams=[streams.Params(s, ["field_serial"])])
        ext = s.extent
        lims = dict(xlim=(-ext, ext), ylim=(-ext, ext))
        field_opts = dict(frame_width=FIELD_SIZE, frame_height=FIELD_SIZE, **lims,
                          toolbar="above", active_tools=["wheel_zoom"], tools=[])
        fields = (self.model_map + self.optimal_map + self.difference_map).opts(
            opts.Overlay(**field_opts, show_legend=False),
            opts.VectorField(magnitude="length", rescale_lengths=False, pivot="tail", color="|D(x;σ) − x|",
                             cmap="viridis", line_width=1.1),
            opts.Layout(shared_axes=True, merge_tools=True),
        ).cols(3)
        self.field_pane = pn.pane.HoloViews(fields, css_classes=_css("flow-field"), linked_axes=True,
                                            margin=(0, 5))
        self.trajectory_map = hv.DynamicMap(self._trajectory_plot,
                                            streams=[streams.Params(s, ["trajectory_serial"])])
        self.trajectory_pane = pn.pane.HoloViews(
            self.trajectory_map.opts(opts.Overlay(frame_width=CURVE_H, frame_height=CURVE_H,
                                                  **lims, show_legend=False, toolbar="above",
                                                  active_tools=["wheel_zoom"])),
            css_classes=_css("trajectory-plot"))
        curve_streams = lambda: [streams.Params(s, ["curves_serial"])]  # noqa: E731
        vline = lambda: hv.DynamicMap(self._sigma_line, streams=[streams.Params(s, ["field_serial"])])  # noqa: E731
        curve_opts = (opts.Overlay(frame_width=CURVE_W, frame_height=CURVE_H - 40, logx=True,
                                   legend_position="top_left", toolbar=None, framewise=True,
                                   legend_opts={"background_fill_alpha": 0.6,
                                                "label_text_font_size": "8pt"}),
                      opts.Curve(framewise=True))
        self.gap_pane = pn.pane.HoloViews(
            (hv.DynamicMap(self._gap_plot, streams=curve_streams()) * vline()).opts(*curve_opts),
            css_classes=_css("gap-plot"))
        self.error_pane = pn.pane.HoloViews(
            (hv.DynamicMap(self._error_plot, streams=curve_streams()) * vline()).opts(*curve_opts),
            css_classes=_css("error-plot"))
        self.overlap_pane = pn.pane.HoloViews(
            (hv.DynamicMap(self._overlap_plot, streams=curve_streams()) * vline()).opts(*curve_opts),
            css_classes=_css("overlap-plot"))
        self.loss_map = hv.DynamicMap(self._loss_plot, streams=[streams.Params(s, ["train_serial"])])
        self.loss_pane = pn.pane.HoloViews(
            self.loss_map.opts(opts.Curve(frame_width=CURVE_W, frame_height=CURVE_H - 40, logy=True,
                                          framewise=True, toolbar=None, color="#444")),
            css_classes=_css("loss-plot"))
        # Visibility is toggled on a wrapper (toggling it on a HoloViews pane fails in Panel 1.9).
        # Built on first use (a learned model), so a page that never trains stays light.
        self.loss_box = pn.Column(visible=False)
        self.draw_box = pn.Column()

    def _new_canvas(self, points) -> None:
        """A fresh drawing canvas (HoloViews' point-drawing stream), empty or with ``points``."""
        pts = np.zeros((0, 2)) if points is None else np.asarray(points)
        ext = self.state.extent
        element = hv.Points((pts[:, 0], pts[:, 1]), kdims=["x", "y"]).opts(
            tools=["point_draw"], active_tools=["point_draw"], size=7, color=TRAIN_COLOR,
            frame_width=260, frame_height=260, xlim=(-ext, ext), ylim=(-ext, ext),
            title="click: add · drag: move · Backspace: delete", fontsize={"title": 8})
        self._draw_stream = streams.PointDraw(source=element, num_objects=tfx.MAX_POINTS)
        if getattr(self, "draw_pane", None) is None:
            self.draw_pane = pn.pane.HoloViews(element, css_classes=_css("draw-canvas"))
            self.draw_box.objects = [self.draw_pane, pn.Row(self.use_drawn, self.clear_drawn),
                                     self.copy_data]
        else:
            self.draw_pane.object = element

    # -- element callbacks (run on the event loop when HoloViews redraws) ------------------------
    def _data_points(self, size: float = 6) -> hv.Points:
        """Training (filled) and validation (open) points as one glyph."""
        view = self.state.data_view
        tx = np.zeros((0, 2)) if view is None else view.dataset.train_x
        vx = np.zeros((0, 2)) if view is None else view.dataset.val_x
        xy = np.concatenate([tx, vx]) if len(vx) else tx
        split = np.array(["train"] * len(tx) + ["validation"] * len(vx))
        pts = hv.Points((xy[:, 0], xy[:, 1], split), kdims=["x", "y"], vdims=["set"])
        return pts.opts(size=size, line_width=1.1,
                        color=hv.dim("set").categorize({"train": TRAIN_COLOR, "validation": "#ffffff"}),
                        line_color=hv.dim("set").categorize({"train": "#000000", "validation": VAL_COLOR}))

    def _shared_scale(self):
        s = self.state
        fields = [f for f in (s.field_view, s.optimal_field_view) if f is not None]
        vmax = max((float(np.max(f.magnitude)) for f in fields), default=1.0)
        xs = fields[0].grid.xs if fields else np.linspace(-1, 1, 2)
        spacing = float(xs[1] - xs[0]) if len(xs) > 1 else 1.0
        return vmax, spacing

    def _field_overlay(self, field, title: str, positions=None, with_positions: bool = False):
        vmax, spacing = self._shared_scale()
        ext = self.state.extent
        points = self._data_points()
        if field is None:
            region = _empty_image(ext, "region").opts(cmap=["#ffffff", "#9ecae1"], alpha=0.45, clim=(0, 1))
            vectors = _empty_vectors()
        else:
            region, vectors = _region(field), _vector_field(field, vmax, spacing)
        overlay = region * vectors * points
        if with_positions:
            overlay = overlay * _points(positions, "trajectories at σ").opts(
                color=POSITION_COLOR, size=2.5, alpha=0.7)
        return overlay.opts(title=title)

    def _model_field(self, field_serial=0):
        s = self.state
        f = s.field_view
        name = {"optimal": "optimal D*", "error-prone": f"error-prone δ = {s.delta:g}",
                "learned": "learned MLP"}[s.kind]
        if s.guidance != "none":
            name += f", {s.guidance} w = {s.w:g}"
        if f is None:
            title = f"{name}: {s.status or 'waiting…'}"[:70]
        else:
            title = f"{name}: D(x; σ) − x at σ = {f.sigma:.3g}"
        return self._field_overlay(f, title, s.positions_view, with_positions=True)

    def _optimal_field(self, field_serial=0):
        f = self.state.optimal_field_view
        title = "optimal D*" + ("" if f is None else f" at σ = {f.sigma:.3g}")
        return self._field_overlay(f, title)

    def _difference(self, field_serial=0):
        s = self.state
        f, g = s.field_view, s.optimal_field_view
        label = "‖D − D*‖ / σ"
        if f is None or g is None:
            img = _empty_image(s.extent, label, DIFF_RANGE[0])
            title = label
        else:
            diff = np.linalg.norm(np.asarray(f.denoised) - np.asarray(g.denoised), axis=-1) / f.sigma
            xs, ys = _grid_axes(f)
            same = s.kind == "optimal" and s.guidance == "none"
            title = ("difference: none (the model is D*)" if same else
                     f"difference ‖D − D*‖ / σ (max {float(np.max(diff)):.2g})")
            # A fixed logarithmic colour scale: comparable across σ and models.
            img = hv.Image((xs, ys, np.clip(diff, DIFF_RANGE[0], DIFF_RANGE[1])), kdims=["x", "y"],
                           vdims=[label])
        img = img.opts(cmap="magma", alpha=1.0, colorbar=True, logz=True, clim=DIFF_RANGE,
                       clipping_colors={"NaN": "white"})
        return (img * self._data_points(size=4)).opts(title=title)

    def _sigma_line(self, field_serial=0):
        s = self.state
        sigma = None
        if s.sigmas is not None:
            sigma = float(s.sigmas[min(s.clamped_sigma_index(), len(s.sigmas) - 1)])
        return hv.VLine(sigma if sigma else 1.0).opts(color="black", line_dash="dotted", line_width=1,
                                                      alpha=1.0 if sigma else 0.0)

    def _trajectory_plot(self, trajectory_serial=0):
        t = self.state.trajectory_view
        points = self._data_points()
        if t is None:
            paths = hv.Path([], kdims=["x", "y"])
            mem = _points(None, "memorized")
            novel = _points(None, "novel")
            title = "trajectories and samples"
        else:
            traj = t.trajectory[:, :MAX_PATHS]
            n = traj.shape[1]
            # One path per sample, separated by NaN rows: one glyph, fast to send.
            seg = np.concatenate([traj.transpose(1, 0, 2), np.full((n, 1, 2), np.nan)], axis=1)
            paths = hv.Path([seg.reshape(-1, 2)], kdims=["x", "y"])
            m = np.asarray(t.memorized, bool)
            mem = _points(t.samples[m], "memorized")
            novel = _points(t.samples[~m], "novel")
            title = f"trajectories; samples {100 * m.mean():.0f}% memorized"
        return (paths.opts(color="#888888", alpha=0.25, line_width=0.6) * points
                * novel.opts(color=NOVEL_COLOR, size=3, alpha=0.7)
                * mem.opts(color=MEMORIZED_COLOR, size=4, alpha=0.9)).opts(title=title)

    def _curves(self):
        return self.state.curves_view or {}

    def _gap_plot(self, curves_serial=0):
        c = self._curves()
        model, opt = c.get("model_gap"), c.get("optimal_gap")

        def curve(g, label, **style):
            if g is None:
                return _empty_curve("relative gap", label).opts(**style)
            return hv.Curve((g.sigmas, np.minimum(g.gap, GAP_CAP)), "σ", "relative gap",
                            label=label).opts(**style)

        title = "relative gap (E_val − E_train) / E_train"
        if c and opt is None:
            title = "relative gap: needs validation points"
        return (curve(opt, "optimal D* (capped)", color="#999999", line_dash="dashed")
                * curve(model, "model", color="#d62728", line_width=2)).opts(title=title, fontsize={"title": 9})

    def _error_plot(self, curves_serial=0):
        o = self._curves().get("overlap")
        if o is None:
            a = b = _empty_curve("‖D − D*‖")
        else:
            a = hv.Curve((o.sigmas, o.error_noisy_train), "σ", "‖D − D*‖")
            b = hv.Curve((o.sigmas, o.error_traj), "σ", "‖D − D*‖")
        return (a.relabel("on noisy training samples").opts(color="#d62728", line_width=2)
                * b.relabel("on trajectory states").opts(color="#2c7fb8", line_width=2)).opts(
            title="model vs optimal error", fontsize={"title": 9})

    def _overlap_plot(self, curves_serial=0):
        o = self._curves().get("overlap")
        if o is None:
            c = w = _empty_curve("overlap")
        else:
            c = hv.Curve((o.sigmas, o.overlap), "σ", "overlap")
            w = hv.Curve((o.sigmas, o.traj_max_weight), "σ", "overlap")
        return (c.relabel("NN-distance ratio").opts(color="#6a3d9a", line_width=2)
                * w.relabel("D* max weight (traj.)").opts(color="#999999", line_dash="dashed")
                ).opts(title="trajectory overlap (1 = where noisy training data are)", fontsize={"title": 9})

    def _loss_plot(self, train_serial=0):
        losses = self.state.loss_history
        if losses is None or len(losses) == 0:
            return hv.Curve(([1, 10], [1.0, 1.0]), "step", "loss").opts(title="training loss (not trained yet)")
        y = np.asarray(losses, np.float64)
        win = max(1, len(y) // 100)
        if win > 1:
            y = np.convolve(y, np.ones(win) / win, mode="valid")
        x = np.arange(1, len(y) + 1) + (win - 1)
        return hv.Curve((x, y), "step", "loss").opts(title=f"training loss ({len(losses)} steps)")

    # ------------------------------------------------------------------------------------------
    # downloads

    def _json(self):
        return io.StringIO(self.state.to_json())

    def _png(self):
        """The current view as a PNG (matplotlib, via toyflow.plotting)."""
        from toyflow import plotting

        s = self.state
        try:
            comparison = s.field()
            traj = s.trajectories()
        except tfx.NotReady:
            self.notice = "Nothing to download yet: the model has no snapshot."
            return io.BytesIO()
        except ValueError as exc:
            self.notice = str(exc)
            return io.BytesIO()
        ds = s.data().dataset
        title = {"optimal": "optimal D*", "error-prone": f"δ = {s.delta:g}", "learned": "learned"}[s.kind]
        fig = plotting.plot_field_comparison(
            comparison.model, comparison.reference, train_x=ds.train_x, val_x=ds.val_x,
            trajectories=traj.trajectory[: s.clamped_sigma_index() + 1], samples=traj.samples,
            memorized=traj.memorized, model_title=title)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110)
        buf.seek(0)
        return buf

    # ------------------------------------------------------------------------------------------
    # layout

    def sidebar(self) -> list:
        data_card = pn.Card(
            self.dataset, self.n_train, pn.Row(self.n_val, self.seed), pn.Row(self.granularity, self.k),
            self.condition, self.holdout,
            pn.pane.Markdown("**Your own data**: draw points, or upload a CSV of `x,y[,label]` rows.",
                             margin=(5, 10)),
            self.open_canvas, self.draw_box, self.upload,
            title="Data", collapsed=False, width=330)
        model_card = pn.Card(
            self.kind, self.delta, pn.Row(self.width, self.depth, self.train_steps),
            pn.Row(self.learning_rate, self.batch_size), pn.Row(self.train_button, self.cancel_button),
            self.progress, self.train_message, self.snapshot, pn.Row(self.guidance, self.w),
            title="Model", width=330)
        sampling_card = pn.Card(
            pn.Row(self.schedule, self.solver), pn.Row(self.sigma_min, self.sigma_max, self.rho),
            pn.Row(self.sample_steps, self.n_samples), self.show_curves,
            title="Noise schedule and sampler", width=330)
        takeaway_card = pn.Card(
            pn.Row(self.png_download, self.json_download), self.snippet,
            self.command, pn.Row(self.copy_snippet, self.copy_command),
            title="Take it away", collapsed=True, width=330)
        return [model_card, data_card, sampling_card, takeaway_card]

    def main(self) -> list:
        top = pn.Row(self.sigma_slider, self.player, self.sigma_label, self.spinner, self.status)
        top = pn.Column(top, self.legend)
        rest = pn.Column(pn.Row(self.trajectory_pane, self.gap_pane, self.error_pane, self.overlap_pane),
                         pn.Row(self.headline, self.loss_box))
        self._layout = True
        return [pn.Column(self.alert, top, self.field_pane, rest)]

    def __panel__(self):
        return pn.Row(pn.Column(*self.sidebar(), width=340), pn.Column(*self.main()))

    def template(self) -> pn.template.BootstrapTemplate:
        return pn.template.BootstrapTemplate(
            title="toyflow explorer: why diffusion models generalize although the optimal one memorizes",
            sidebar=self.sidebar(), main=self.main(), sidebar_width=350,
            header_background="#1f3b57")


def _dot(color, hollow=False, size=9):
    fill = "transparent" if hollow else color
    return (f'<span style="display:inline-block;width:{size}px;height:{size}px;border-radius:50%;'
            f'background:{fill};border:1.5px solid {color};margin:0 4px 0 12px"></span>')


_LEGEND = (
    '<div style="font-size:12px;color:#333">'
    f'{_dot(TRAIN_COLOR)}training point{_dot(VAL_COLOR, hollow=True)}validation point'
    f'{_dot(POSITION_COLOR, size=5)}trajectories at this σ'
    '<span style="display:inline-block;width:14px;height:10px;background:#9ecae1;opacity:.7;'
    'margin:0 4px 0 12px"></span>displacement region ‖D(x;σ) − x‖ ≤ σ'
    f'{_dot(MEMORIZED_COLOR)}memorized sample{_dot(NOVEL_COLOR)}novel sample'
    ' &nbsp;·&nbsp; arrows: D(x;σ) − x (colour: length)</div>')


_COPY_JS = """
const text = src.value;
if (navigator.clipboard && window.isSecureContext) {
  navigator.clipboard.writeText(text);
} else {
  const ta = document.createElement('textarea');
  ta.value = text; document.body.appendChild(ta); ta.select();
  try { document.execCommand('copy'); } finally { document.body.removeChild(ta); }
}
"""


def _args_from_command_line(argv) -> dict[str, str]:
    """``name=value`` pairs from ``panel serve app/explorer.py --args name=value ...``."""
    out = {}
    for item in argv:
        if "=" in item:
            name, value = item.split("=", 1)
            out[name.strip().lstrip("-")] = value.strip()
    return out


def create_app(**params) -> pn.template.BootstrapTemplate:
    """One session's page: a new store (background refreshes), its views, cleanup on close."""
    pn.extension()
    state = tfx.ExplorerState(background=True, **params)
    app = ExplorerApp(state)
    # Settings from `--args name=value` and from the URL (?kind=error-prone&delta=1.2).
    pairs = _args_from_command_line(sys.argv[1:]) if pn.state.served else {}
    args = getattr(pn.state, "session_args", None) or {}
    for name, values in args.items():
        if values:
            value = values[-1]
            pairs[name] = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
    if pairs:
        problems = state.set_from_strings(pairs)
        if problems:
            app.notice = "Some settings were ignored: " + "; ".join(problems)
    if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
        # Compute once the page is on screen (the plots exist then); closing the tab ends the
        # session, which cancels its training.
        pn.state.on_session_destroyed(lambda _ctx: state.close())
        if not state.refresh_if_cached():  # a repeat visit arrives with its data
            pn.state.onload(state.request_refresh)
    page = app.template()
    page.explorer = app  # tests and scripts reach the app through the page
    return page


if pn.state.served:
    tfx.enable_compilation_cache()
    create_app().servable(title="toyflow explorer")
