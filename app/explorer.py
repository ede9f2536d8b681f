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
from functools import partial

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
FIELD_SIZE = 280  # frame size (px) of each field plot
CURVE_W, CURVE_H = 225, 210
DIFF_RANGE = (1e-3, 10.0)  # colour range of ‖D − D*‖ / σ (log scale)
GAP_CAP = 10.0  # relative gaps above this are drawn at the cap (the optimal E_train → 0)
MAX_PATHS = 500
_MONO = ":host textarea {font-family: monospace; font-size: 11px}"

hv.extension("bokeh", logo=False)
# Canvas, not WebGL: our glyph counts are small (≤ 5,000 points, 1,024 arrows), and without a
# GPU (VMs, headless browsers, many classroom machines) WebGL is software-rendered and each
# frame is copied back to the canvas: measured 124 ms of drawImage per σ step in chromium.
hv.renderer("bokeh").webgl = False


def _css(cls: str) -> list[str]:
    return [cls]


# --- elements (pure functions of arrays; HoloViews only) ----------------------------------------
# Every element carries a group of its own, and the groups' options are registered once: a
# redraw builds plain elements and never re-applies options (which costs more than the data).

DIFF_LABEL = "‖D − D*‖ / σ"


def _register_options() -> None:
    ext = 17.5
    field = dict(
        frame_width=FIELD_SIZE,
        frame_height=FIELD_SIZE,
        xlim=(-ext, ext),
        ylim=(-ext, ext),
        toolbar="above",
        active_tools=["wheel_zoom"],
        show_legend=False,
        title="{label}",
    )
    curve = dict(
        frame_width=CURVE_W,
        frame_height=CURVE_H - 60,
        logx=True,
        legend_position="bottom",
        toolbar=None,
        framewise=True,
        title="{label}",
        legend_opts={"background_fill_alpha": 0.6, "label_text_font_size": "8pt"},
        fontsize={"title": 9},
        hooks=[_add_sigma_marker],
    )
    opts.defaults(
        opts.Overlay("Field", **field),
        opts.Overlay("Samples", **dict(field, frame_width=CURVE_H, frame_height=CURVE_H)),
        opts.Overlay("Curves", **curve),
        opts.Points("Train", size=6, line_width=0.6, color=TRAIN_COLOR, line_color="#000000"),
        opts.Points("Validation", size=6, line_width=1.2, color="#ffffff", line_color=VAL_COLOR),
        opts.Path("Trajectories", color="#888888", alpha=0.25, line_width=0.6),
        opts.Points("Novel", color=NOVEL_COLOR, size=3, alpha=0.7),
        opts.Points("Memorized", color=MEMORIZED_COLOR, size=4, alpha=0.9),
        opts.Curve("Model", color="#d62728", line_width=2, framewise=True),
        opts.Curve("Reference", color="#999999", line_dash="dashed", framewise=True),
        opts.Curve("Trajectory", color="#2c7fb8", line_width=2, framewise=True),
        opts.Curve("Overlap", color="#6a3d9a", line_width=2, framewise=True),
        opts.Curve(
            "Loss",
            frame_width=230,
            frame_height=110,
            logy=True,
            framewise=True,
            toolbar=None,
            color="#444444",
            title="{label}",
        ),
    )


def _add_sigma_marker(plot, element) -> None:
    """Hook: a vertical line at the current σ, a Bokeh Span moved directly (no redraw)."""
    from bokeh.models import Span

    fig = plot.state
    if not any(getattr(r, "name", None) == "sigma-marker" for r in fig.center):
        fig.add_layout(
            Span(
                location=1.0,
                dimension="height",
                line_color="black",
                line_dash="dotted",
                line_width=1,
                name="sigma-marker",
                visible=False,
            )
        )


def _empty_image(extent: float, vdim: str, value: float = 0.0, group: str = "Region") -> hv.Image:
    xs = np.linspace(-extent, extent, 2)
    return hv.Image((xs, xs, np.full((2, 2), value)), kdims=["x", "y"], vdims=[vdim], group=group)


def _empty_curve(ydim: str, label: str = "", group: str = "Model") -> hv.Curve:
    """A curve with nothing to draw (on a log σ axis) until the store has computed one."""
    return hv.Curve(([1e-3, 1e2], [np.nan, np.nan]), "σ", ydim, label=label, group=group)


def _points(x, group: str, label: str = "") -> hv.Points:
    x = np.zeros((0, 2)) if x is None else np.asarray(x)
    return hv.Points((x[:, 0], x[:, 1]), kdims=["x", "y"], group=group, label=label)


def _send_now(doc, fn) -> None:
    """Run ``fn`` on the page's event loop and send the changes it makes right away (Panel's
    ``unlocked``), instead of with the next message that happens to go out."""
    from panel.io.document import unlocked
    from panel.io.state import set_curdoc

    with set_curdoc(doc), unlocked():
        fn()


def _field_sources(which: str) -> dict:
    """The ColumnDataSources of one field plot's σ-dependent glyphs."""
    from bokeh.models import ColumnDataSource

    if which == "difference":
        return {"image": ColumnDataSource(_image_columns(None, None))}
    out = {
        "region": ColumnDataSource(_image_columns(None, None)),
        "arrows": ColumnDataSource({k: np.zeros(0) for k in ("x0", "y0", "x1", "y1", "mag")}),
        "heads": ColumnDataSource({k: np.zeros(0) for k in ("x", "y", "angle", "mag")}),
    }
    if which == "model":
        out["positions"] = ColumnDataSource({"x": np.zeros(0), "y": np.zeros(0)})
    return out


def _image_columns(grid, values) -> dict:
    """An Image glyph's columns for ``values (r, r)`` on ``grid`` (cell-centred pixels)."""
    if grid is None:
        return {"image": [np.zeros((1, 1))], "x": [0.0], "y": [0.0], "dw": [0.0], "dh": [0.0]}
    xs, ys = grid.xs, grid.ys
    dx = float(xs[1] - xs[0]) if len(xs) > 1 else 1.0
    dy = float(ys[1] - ys[0]) if len(ys) > 1 else 1.0
    return {
        "image": [np.asarray(values, np.float64)],
        "x": [float(xs[0]) - dx / 2],
        "y": [float(ys[0]) - dy / 2],
        "dw": [dx * len(xs)],
        "dh": [dy * len(ys)],
    }


def _arrow_columns(field, vmax: float) -> dict:
    """Arrows of ``D(x; σ) − x`` (segments and triangle heads) and the displacement region.

    Lengths are scaled so that the longest arrow of the fields shown spans about 1.8 grid cells;
    the colour is the length relative to that longest arrow (0–1).
    """
    if field is None:
        z = np.zeros(0)
        return {
            "region": _image_columns(None, None),
            "arrows": {"x0": z, "y0": z, "x1": z, "y1": z, "mag": z},
            "heads": {"x": z, "y": z, "angle": z, "mag": z},
        }
    pts = field.grid.points
    disp = np.asarray(field.displacement, np.float64).reshape(-1, 2)
    xs = field.grid.xs
    spacing = float(xs[1] - xs[0]) if len(xs) > 1 else 1.0
    rel = np.hypot(disp[:, 0], disp[:, 1]) / max(vmax, 1e-30)
    angle = np.arctan2(disp[:, 1], disp[:, 0])
    x1 = pts[:, 0] + 1.8 * spacing * rel * np.cos(angle)
    y1 = pts[:, 1] + 1.8 * spacing * rel * np.sin(angle)
    return {
        "region": _image_columns(field.grid, field.region.astype(np.float64)),
        "arrows": {"x0": pts[:, 0], "y0": pts[:, 1], "x1": x1, "y1": y1, "mag": rel},
        "heads": {"x": x1, "y": y1, "angle": angle - np.pi / 2, "mag": rel},
    }


def _attach_field_glyphs(fig, sources: dict, which: str) -> None:
    """Add our σ-dependent glyphs to a HoloViews-made figure (once): the region and the heat map
    under HoloViews' data points, arrows and trajectory positions."""
    from bokeh.models import ColorBar, LinearColorMapper, LogColorMapper
    from bokeh.palettes import Magma256, Viridis256
    from bokeh.transform import linear_cmap

    under, over = [], []
    if which == "difference":
        mapper = LogColorMapper(palette=Magma256, low=DIFF_RANGE[0], high=DIFF_RANGE[1])
        under.append(
            fig.image(
                image="image",
                x="x",
                y="y",
                dw="dw",
                dh="dh",
                source=sources["image"],
                color_mapper=mapper,
            )
        )
        fig.add_layout(ColorBar(color_mapper=mapper, title=DIFF_LABEL, width=10), "right")
    else:
        region = LinearColorMapper(palette=["#ffffff", "#9ecae1"], low=0, high=1)
        under.append(
            fig.image(
                image="image",
                x="x",
                y="y",
                dw="dw",
                dh="dh",
                source=sources["region"],
                color_mapper=region,
                global_alpha=0.45,
            )
        )
        color = linear_cmap("mag", Viridis256, 0.0, 1.0)
        under.append(
            fig.segment(
                "x0", "y0", "x1", "y1", source=sources["arrows"], line_color=color, line_width=1.1
            )
        )
        under.append(
            fig.scatter(
                "x",
                "y",
                angle="angle",
                marker="triangle",
                size=4.5,
                source=sources["heads"],
                color=color,
            )
        )
        if "positions" in sources:
            over.append(
                fig.scatter(
                    "x", "y", size=2.5, color=POSITION_COLOR, alpha=0.7, source=sources["positions"]
                )
            )
    others = [r for r in fig.renderers if r not in under and r not in over]
    fig.renderers = under + others + over
    sources["figure"] = fig


_register_options()


class ExplorerApp(pn.viewable.Viewer):
    """The explorer's page: widgets built from an :class:`~toyflow.explorer.ExplorerState`,
    views that render its outputs. ``template()`` is the served page; the object itself displays
    inline in Jupyter."""

    state = param.ClassSelector(class_=tfx.ExplorerState)
    notice = param.String(default="", doc="Messages of the page itself (uploads, URL settings).")
    # The store's serial numbers, copied on the page's event loop: the plots watch these, so
    # every redraw runs on the loop and its messages go out at once (the store publishes from
    # worker threads).
    data_serial = param.Integer(default=0, precedence=-1)
    trajectory_serial = param.Integer(default=0, precedence=-1)
    curves_serial = param.Integer(default=0, precedence=-1)
    train_serial = param.Integer(default=0, precedence=-1)

    def __init__(self, state: tfx.ExplorerState | None = None, **params):
        state = state if state is not None else tfx.ExplorerState(background=True)
        super().__init__(state=state, **params)
        doc = pn.state.curdoc
        self._doc = doc if doc is not None and doc.session_context is not None else None
        self._layout = None
        self._defer_lower = False  # create_app defers the lower figures of a served page
        self._build_widgets()
        self._build_views()
        self._update_visibility()
        self._update_sigma_widgets()

    @classmethod
    def from_params(cls, *, result=None, state=None, **params) -> ExplorerApp:
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
        self.dataset = self._link(
            W.Select(label="Data set", options=list(p.dataset.objects), value=s.dataset, width=300),
            "dataset",
        )
        self.n_train = self._link(
            W.IntInput(
                label="Training points (data density, 4–5000)",
                value=s.n_train,
                start=4,
                end=tfx.MAX_POINTS,
                step=1,
                width=300,
                css_classes=_css("n-train-input"),
            ),
            "n_train",
        )
        self.n_val = self._link(
            W.IntInput(
                label="Validation points", value=s.n_val, start=0, end=tfx.MAX_POINTS, width=145
            ),
            "n_val",
        )
        self.seed = self._link(
            W.IntInput(label="Seed", value=s.seed, start=0, end=2**31 - 1, width=145), "seed"
        )
        self.granularity = self._link(
            W.Select(
                label="Labels", options=list(p.granularity.objects), value=s.granularity, width=145
            ),
            "granularity",
        )
        self.k = self._link(
            W.IntInput(label="K (k-means)", value=s.k, start=1, end=tfx.MAX_POINTS, width=145), "k"
        )
        self.condition = self._link(
            W.IntInput(
                label="Sample label (−1: all)",
                value=s.condition,
                start=-1,
                end=tfx.MAX_POINTS - 1,
                width=145,
            ),
            "condition",
        )
        self.holdout = self._link(
            W.FloatSlider(
                label="Held-out share of your points",
                start=0.0,
                end=0.9,
                step=0.05,
                value=s.holdout,
                width=300,
            ),
            "holdout",
            throttled=True,
        )
        self.upload = W.FileInput(
            accept=".csv,text/csv,text/plain", width=300, css_classes=_css("csv-upload")
        )
        self.upload.param.watch(self._on_upload, "value")
        self.use_drawn = W.Button(
            label="Use drawn points",
            color="primary",
            width=145,
            css_classes=_css("use-drawn-button"),
        )
        self.use_drawn.on_click(self._on_use_drawn)
        self.clear_drawn = W.Button(label="Clear canvas", width=145)
        self.clear_drawn.on_click(lambda _e: self._new_canvas(None))
        self.copy_data = W.Button(label="Start from current data", width=300)
        self.open_canvas = W.Button(
            label="Draw points with the mouse…", width=300, css_classes=_css("open-canvas-button")
        )
        self.open_canvas.on_click(self._on_open_canvas)
        self.copy_data.on_click(self._on_copy_data)
        # model
        self.kind = self._link(
            W.RadioButtonGroup(
                options=list(tfx.MODEL_KINDS),
                value=s.kind,
                width=300,
                css_classes=_css("model-kind"),
            ),
            "kind",
        )
        self.delta = self._link(
            W.FloatSlider(
                label="δ (model error)",
                start=0.0,
                end=5.0,
                step=0.05,
                value=s.delta,
                width=300,
                css_classes=_css("delta-slider"),
            ),
            "delta",
            throttled=True,
        )
        self.width = self._link(
            W.IntInput(
                label="Width",
                value=s.width,
                start=4,
                end=512,
                width=95,
                css_classes=_css("width-input"),
            ),
            "width",
        )
        self.depth = self._link(
            W.IntInput(
                label="Depth",
                value=s.depth,
                start=1,
                end=8,
                width=95,
                css_classes=_css("depth-input"),
            ),
            "depth",
        )
        self.train_steps = self._link(
            W.IntInput(
                label="Steps",
                value=s.train_steps,
                start=10,
                end=100_000,
                step=100,
                width=95,
                css_classes=_css("steps-input"),
            ),
            "train_steps",
        )
        self.learning_rate = self._link(
            W.FloatInput(
                label="Learning rate",
                value=s.learning_rate,
                start=1e-5,
                end=0.1,
                step=1e-4,
                width=145,
                format="0.00000",
            ),
            "learning_rate",
        )
        self.batch_size = self._link(
            W.IntInput(label="Batch size", value=s.batch_size, start=8, end=4096, width=145),
            "batch_size",
        )
        self.train_button = W.Button(
            label="Train", color="primary", width=145, css_classes=_css("train-button")
        )
        self.train_button.on_click(lambda _e: self.state.train())
        self.cancel_button = W.Button(
            label="Cancel",
            color="danger",
            width=145,
            disabled=True,
            css_classes=_css("cancel-button"),
        )
        self.cancel_button.on_click(lambda _e: self.state.cancel())
        self.progress = pn.indicators.Progress(
            value=0, max=1000, width=300, active=False, css_classes=_css("train-progress")
        )
        self.train_message = pn.pane.Markdown(
            "", width=300, css_classes=_css("train-message"), margin=(0, 10)
        )
        self.snapshot = W.IntSlider(
            label="Training time",
            start=0,
            end=1,
            value=0,
            width=300,
            show_value=False,
            disabled=True,
            css_classes=_css("snapshot-slider"),
        )
        self.snapshot.param.watch(self._on_snapshot_slider, "value_throttled")
        self.guidance = self._link(
            W.Select(
                label="Guidance", options=list(tfx.GUIDANCE_KINDS), value=s.guidance, width=145
            ),
            "guidance",
        )
        self.w = self._link(
            W.FloatSlider(label="w", start=0.0, end=4.0, step=0.1, value=s.w, width=145),
            "w",
            throttled=True,
        )
        # sampling
        self.schedule = self._link(
            W.Select(
                label="Schedule", options=list(p.schedule.objects), value=s.schedule, width=145
            ),
            "schedule",
        )
        self.solver = self._link(
            W.Select(label="Solver", options=list(p.solver.objects), value=s.solver, width=145),
            "solver",
        )
        self.sigma_min = self._link(
            W.FloatInput(
                label="σ_min", value=s.sigma_min, start=1e-4, end=10.0, step=0.001, width=95
            ),
            "sigma_min",
        )
        self.sigma_max = self._link(
            W.FloatInput(
                label="σ_max", value=s.sigma_max, start=0.1, end=1000.0, step=1.0, width=95
            ),
            "sigma_max",
        )
        self.rho = self._link(
            W.FloatInput(label="ρ", value=s.rho, start=0.5, end=20.0, step=0.5, width=95), "rho"
        )
        self.sample_steps = self._link(
            W.IntInput(label="Sampler steps", value=s.sample_steps, start=2, end=400, width=145),
            "sample_steps",
        )
        self.n_samples = self._link(
            W.IntInput(label="Samples", value=s.n_samples, start=2, end=5000, width=145),
            "n_samples",
        )
        self.show_curves = self._link(
            W.Checkbox(
                label="Curves over σ (gap, errors, overlap)", value=s.show_curves, width=300
            ),
            "show_curves",
        )
        # σ: a throttled slider and a player over the sampling grid
        self._sigma_at: dict[int, int] = {}  # id(widget) -> the index its page side shows
        self.sigma_slider = W.IntSlider(
            label="Noise level σ (the sampling grid, large to small)",
            start=0,
            end=s.sample_steps - 1,
            show_value=False,
            value=s.clamped_sigma_index(),
            width=460,
            css_classes=_css("sigma-slider"),
        )
        self.sigma_slider.param.watch(self._on_sigma_widget, "value_throttled")
        self.player = W.Player(
            start=0,
            end=s.sample_steps - 1,
            value=s.clamped_sigma_index(),
            interval=250,
            loop_policy="once",
            show_value=False,
            width=260,
            show_loop_controls=False,
            visible_buttons=["first", "previous", "pause", "play", "next", "last"],
            css_classes=_css("sigma-player"),
        )
        self.player.param.watch(self._on_sigma_widget, "value")
        self.sigma_label = pn.pane.HTML("", css_classes=_css("sigma-value"), margin=(12, 10))
        # take-away
        self.png_download = W.FileDownload(
            callback=self._png,
            filename="toyflow-explorer.png",
            label="Download PNG",
            width=145,
            css_classes=_css("png-download"),
        )
        self.json_download = W.FileDownload(
            callback=self._json,
            filename="toyflow-run.json",
            label="Download JSON",
            width=145,
            css_classes=_css("json-download"),
        )
        self.snippet = W.TextAreaInput(
            label="Python",
            value="",
            height=260,
            width=300,
            css_classes=_css("python-snippet"),
            stylesheets=[_MONO],
        )
        self.command = W.TextAreaInput(
            label="Commands",
            value="",
            height=130,
            width=300,
            css_classes=_css("cli-command"),
            stylesheets=[_MONO],
        )
        self.copy_snippet = W.Button(label="Copy Python", width=145)
        self.copy_snippet.js_on_click(args={"src": self.snippet}, code=_COPY_JS)
        self.copy_command = W.Button(label="Copy command", width=145)
        self.copy_command.js_on_click(args={"src": self.command}, code=_COPY_JS)
        # messages
        self.alert = pn.pane.Alert(
            "", alert_type="danger", visible=False, width=1000, css_classes=_css("error-alert")
        )
        self.status = pn.pane.HTML("", css_classes=_css("status-text"), margin=(12, 10))
        self.spinner = pn.indicators.LoadingSpinner(value=False, size=24, margin=(12, 5))
        self.headline = pn.pane.HTML(
            "", css_classes=_css("headline"), margin=(10, 10), width=560, height=70
        )
        self.legend = pn.pane.HTML(_LEGEND, margin=(0, 10), width=1150, height=24)

        self._watch(self._update_messages, ["error", "status", "busy"])
        self.param.watch(self._update_messages, "notice")
        self._watch(self._update_training_widgets, ["train_serial", "kind"])
        self._watch(self._update_sigma_widgets, ["sigmas", "sigma_index", "sample_steps"])
        self._watch(self._update_headline, ["headline_view"])
        # The take-away text does not follow σ (the view), so a σ step sends nothing but the view.
        self._watch(self._update_takeaway, [p for p in tfx.INPUT_PARAMS if p != "sigma_index"])
        self._watch(self._update_visibility, ["kind", "dataset", "granularity", "guidance"])
        for name in ("data_serial", "trajectory_serial", "curves_serial", "train_serial"):
            self._watch(partial(self._copy_serial, name), [name])
        self._update_takeaway()
        self._update_training_widgets()
        self._update_messages()

    # -- threads ---------------------------------------------------------------------------------
    def _on_loop(self, fn) -> None:
        """Run ``fn`` now if this thread may change the page, else on the page's event loop, and
        send what it changes at once."""
        doc = self._doc
        if doc is not None and not pn.state._unblocked(doc):
            doc.add_next_tick_callback(partial(_send_now, doc, fn))
        else:
            fn()

    def _watch(self, fn, names) -> None:
        """Watch store parameters; ``fn`` runs on the page's event loop (see _on_loop)."""
        self.state.param.watch(lambda *events: self._on_loop(partial(fn, *events)), list(names))

    def _copy_serial(self, name, *_events) -> None:
        value = getattr(self.state, name)
        if getattr(self, name) != value:
            setattr(self, name, value)

    # -- widget callbacks ------------------------------------------------------------------------
    def _on_sigma_widget(self, event) -> None:
        if event.new is None:
            return
        # Remember where this widget's browser side is, so the store's echo of an older index
        # (the page may be a few key presses ahead of the server) is never sent back to it.
        self._sigma_at[id(event.obj)] = int(event.new)
        if self.state.sigma_index != event.new:
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
        self.progress.param.update(
            value=int(1000 * s.train_progress), active=s.train_status == "queued"
        )
        self.train_message.object = s.train_message
        self.cancel_button.disabled = not running
        n = len(s.snapshot_steps)
        if n:
            pos = n - 1 if s.snapshot_index < 0 else min(s.snapshot_index, n - 1)
            self.snapshot.param.update(
                start=0,
                end=max(n - 1, 1),
                value=pos,
                disabled=n < 2,
                label=f"Training time: step {s.snapshot_steps[pos]} (snapshot {pos + 1} of {n})",
            )
        else:
            self.snapshot.param.update(value=0, end=1, disabled=True, label="Training time")
        self._update_messages()

    def _update_sigma_widgets(self, *_events) -> None:
        s = self.state
        end = max(s.sample_steps - 1, 1)
        idx = s.clamped_sigma_index()
        for widget in (self.sigma_slider, self.player):
            changes = {"end": end} if widget.end != end else {}
            if self._sigma_at.get(id(widget)) != idx:
                changes["value"] = idx
                self._sigma_at[id(widget)] = idx
            if changes:
                widget.param.update(**changes)
        try:
            sigmas = s.sigma_grid()
        except ValueError:  # σ_min ≥ σ_max: the alert says so
            return
        self.sigma_label.object = (
            f"<b>σ = {sigmas[idx]:.4g}</b> &nbsp; step {idx + 1} of {s.sample_steps}"
        )

    def _update_headline(self, *_events) -> None:
        h = self.state.headline_view or {}

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
        html = "".join(
            f'<div title="{tip}" style="display:inline-block;margin-right:28px">'
            f'<div style="font-size:12px;color:#555">{name}</div>'
            f'<div style="font-size:24px;font-weight:600">{value}</div></div>'
            for name, value, tip in cards
        )
        self.headline.object = html

    def _update_takeaway(self, *_events) -> None:
        s = self.state
        try:
            self.snippet.value = s.python_snippet()
            cli = s.toyflow_command()
            self.command.value = f"# this view, served:\n{s.cli_command()}\n" + (
                f"# the run from the command line:\n{cli}\n" if cli else ""
            )
        except Exception as exc:  # never let the take-away text break the page
            log.warning("snippet failed: %s", exc)

    def _update_visibility(self, *_events) -> None:
        s = self.state
        learned = s.kind == "learned"
        for w in (
            self.width,
            self.depth,
            self.train_steps,
            self.learning_rate,
            self.batch_size,
            self.progress,
            self.train_message,
            self.snapshot,
            self.train_button,
            self.cancel_button,
        ):
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
        self._points_cache: dict = {}
        params = lambda *names: [streams.Params(self, list(names))]
        # The three field plots: HoloViews draws the figures, axes and data points (redrawn when
        # the data change); the σ-dependent glyphs are Bokeh glyphs of our own (added by a hook)
        # whose sources _push_fields replaces directly: a σ step sends new columns, nothing else.
        self._glyphs: dict[str, list[dict]] = {"model": [], "optimal": [], "difference": []}
        self.model_map = hv.DynamicMap(
            lambda data_serial=0: self._field_frame("model"), streams=params("data_serial")
        ).opts(hooks=[self._hook("model")])
        self.optimal_map = hv.DynamicMap(
            lambda data_serial=0: self._field_frame("optimal"), streams=params("data_serial")
        ).opts(hooks=[self._hook("optimal")])
        self.difference_map = hv.DynamicMap(
            lambda data_serial=0: self._field_frame("difference"), streams=params("data_serial")
        ).opts(hooks=[self._hook("difference")])
        self._watch(self._push_fields, ["field_serial"])
        # Options live in the elements' groups (see _register_options): an .opts() call here
        # would re-apply options to every frame. Layout plots share axes and tools by default.
        fields = (self.model_map + self.optimal_map + self.difference_map).cols(3)
        self.field_pane = pn.pane.HoloViews(
            fields, css_classes=_css("flow-field"), linked_axes=True, margin=(0, 5)
        )
        self.trajectory_map = hv.DynamicMap(
            self._trajectory_plot, streams=params("trajectory_serial", "data_serial")
        )
        self.trajectory_pane = pn.pane.HoloViews(
            self.trajectory_map, css_classes=_css("trajectory-plot")
        )
        self.gap_pane = pn.pane.HoloViews(
            hv.DynamicMap(self._gap_plot, streams=params("curves_serial")),
            css_classes=_css("gap-plot"),
        )
        self.error_pane = pn.pane.HoloViews(
            hv.DynamicMap(self._error_plot, streams=params("curves_serial")),
            css_classes=_css("error-plot"),
        )
        self.overlap_pane = pn.pane.HoloViews(
            hv.DynamicMap(self._overlap_plot, streams=params("curves_serial")),
            css_classes=_css("overlap-plot"),
        )
        self.curve_panes = [self.gap_pane, self.error_pane, self.overlap_pane]
        self._watch(self._move_sigma_markers, ["curves_serial"])
        self.loss_map = hv.DynamicMap(self._loss_plot, streams=params("train_serial"))
        self.loss_pane = pn.pane.HoloViews(self.loss_map, css_classes=_css("loss-plot"))
        # Built on first use (a learned model), so a page that never trains stays light.
        # Visibility is toggled on a wrapper (toggling it on a HoloViews pane fails in Panel 1.9).
        self.loss_box = pn.Column(visible=False)
        self.draw_box = pn.Column()

    def _move_sigma_markers(self, *_events) -> None:
        """Move the curves' σ markers (Bokeh Spans): one property each, no plot redraw."""
        s = self.state
        if s.sigmas is None:
            return
        sigma = float(s.sigmas[min(s.clamped_sigma_index(), len(s.sigmas) - 1)])
        spans = []
        for pane in self.curve_panes:
            for ref, (_plot, _root) in list(getattr(pane, "_plots", {}).items()):
                fig = getattr(_plot, "state", None)
                for r in getattr(fig, "center", []):
                    if getattr(r, "name", None) == "sigma-marker":
                        spans.append(r)
        for span in spans:
            doc = span.document
            update = lambda sp=span: sp.update(location=sigma, visible=True)
            if doc is not None and doc.session_context is not None and not pn.state._unblocked(doc):
                doc.add_next_tick_callback(partial(_send_now, doc, update))
            else:
                update()

    def _new_canvas(self, points) -> None:
        """A fresh drawing canvas (HoloViews' point-drawing stream), empty or with ``points``."""
        pts = np.zeros((0, 2)) if points is None else np.asarray(points)
        ext = self.state.extent
        element = hv.Points((pts[:, 0], pts[:, 1]), kdims=["x", "y"]).opts(
            tools=["point_draw"],
            active_tools=["point_draw"],
            size=7,
            color=TRAIN_COLOR,
            frame_width=260,
            frame_height=260,
            xlim=(-ext, ext),
            ylim=(-ext, ext),
            title="click: add · drag: move · Backspace: delete",
            fontsize={"title": 8},
        )
        self._draw_stream = streams.PointDraw(source=element, num_objects=tfx.MAX_POINTS)
        if getattr(self, "draw_pane", None) is None:
            self.draw_pane = pn.pane.HoloViews(element, css_classes=_css("draw-canvas"))
            self.draw_box.objects = [
                self.draw_pane,
                pn.Row(self.use_drawn, self.clear_drawn),
                self.copy_data,
            ]
        else:
            self.draw_pane.object = element

    # -- element callbacks (run on the event loop when HoloViews redraws) ------------------------
    def _data_points(self, size: float | None = None) -> list:
        """Training (filled) and validation (open) points; the same elements are returned until
        the data change, so redraws skip re-sending them."""
        view = self.state.data_view
        key = (id(view), size)
        hit = self._points_cache.get(key)
        if hit is not None and hit[0] is view:
            return hit[1]
        tx = np.zeros((0, 2)) if view is None else view.dataset.train_x
        vx = np.zeros((0, 2)) if view is None else view.dataset.val_x
        layers = [_points(tx, "Train"), _points(vx, "Validation")]
        if size is not None:
            layers = [p.opts(size=size) for p in layers]
        self._points_cache = {k: v for k, v in self._points_cache.items() if v[0] is view}
        self._points_cache[key] = (view, layers)
        return layers

    def _titles(self) -> dict[str, str]:
        s = self.state
        f, g = s.field_view, s.optimal_field_view
        name = {
            "optimal": "optimal D*",
            "error-prone": f"error-prone δ = {s.delta:g}",
            "learned": "learned MLP",
        }[s.kind]
        if s.guidance != "none":
            name += f", {s.guidance} w = {s.w:g}"
        model = (
            f"{name}: {s.status or 'waiting…'}"[:60]
            if f is None
            else f"{name} at σ = {f.sigma:.3g}"
        )
        optimal = "optimal D*" + ("" if g is None else f" at σ = {g.sigma:.3g}")
        if f is None or g is None:
            diff = DIFF_LABEL
        elif s.kind == "optimal" and s.guidance == "none":
            diff = "difference: none (the model is D*)"
        else:
            d = np.linalg.norm(np.asarray(f.denoised) - np.asarray(g.denoised), axis=-1) / f.sigma
            diff = f"difference ‖D − D*‖ / σ (max {float(np.max(d)):.2g})"
        return {"model": model, "optimal": optimal, "difference": diff}

    def _field_frame(self, which: str) -> hv.Overlay:
        """What HoloViews draws of a field plot: the data points (and the title)."""
        size = 4 if which == "difference" else None
        return hv.Overlay(self._data_points(size=size), group="Field", label=self._titles()[which])

    def _hook(self, which: str):
        """HoloViews hook: give a new field figure its own σ-dependent glyphs (once)."""

        def hook(plot, element):
            fig = plot.state
            if any(g["figure"] is fig for g in self._glyphs[which]):
                return
            sources = _field_sources(which)
            _attach_field_glyphs(fig, sources, which)
            self._glyphs[which].append(sources)
            self._fill(self._field_columns(), self._titles(), [sources], which)

        return hook

    def _field_columns(self) -> dict[str, dict[str, dict]]:
        """New columns of every σ-dependent glyph (plain NumPy; see _field_sources)."""
        s = self.state
        f, g = s.field_view, s.optimal_field_view
        fields = [x for x in (f, g) if x is not None]
        vmax = max((float(np.max(x.magnitude)) for x in fields), default=1.0)
        out = {"model": _arrow_columns(f, vmax), "optimal": _arrow_columns(g, vmax)}
        pos = s.positions_view if f is not None else None
        out["model"]["positions"] = {
            "x": np.zeros(0) if pos is None else pos[:, 0],
            "y": np.zeros(0) if pos is None else pos[:, 1],
        }
        if f is None or g is None:
            out["difference"] = {"image": _image_columns(None, None)}
        else:
            d = np.linalg.norm(np.asarray(f.denoised) - np.asarray(g.denoised), axis=-1) / f.sigma
            out["difference"] = {"image": _image_columns(f.grid, np.clip(d, *DIFF_RANGE))}
        return out

    @staticmethod
    def _fill(cols, titles, glyph_sets, which) -> None:
        for sources in glyph_sets:
            for name, data in cols[which].items():
                sources[name].data = data
            fig = sources["figure"]
            if fig.title is not None:
                fig.title.text = titles[which]

    def _push_fields(self, *_events) -> None:
        """σ moved (or the model changed): replace the glyphs' columns, on each page's event
        loop (the store publishes from a worker thread)."""
        if not any(self._glyphs.values()):
            return
        cols, titles = self._field_columns(), self._titles()
        by_doc: dict = {}
        for which, sets in self._glyphs.items():
            for sources in sets:
                by_doc.setdefault(sources["figure"].document, []).append((which, sources))
        for doc, items in by_doc.items():

            def apply(items=items):
                for which, sources in items:
                    self._fill(cols, titles, [sources], which)

            if doc is not None and doc.session_context is not None and not pn.state._unblocked(doc):
                doc.add_next_tick_callback(partial(_send_now, doc, apply))
            else:
                apply()
        self._move_sigma_markers()

    def _trajectory_plot(self, trajectory_serial=0, data_serial=0):
        t = self.state.trajectory_view
        if t is None:
            paths = hv.Path([], kdims=["x", "y"], group="Trajectories")
            mem, novel = _points(None, "Memorized"), _points(None, "Novel")
            title = "trajectories and samples"
        else:
            traj = t.trajectory[:, :MAX_PATHS]
            n = traj.shape[1]
            # One path per sample, separated by NaN rows: one glyph, fast to send.
            seg = np.concatenate([traj.transpose(1, 0, 2), np.full((n, 1, 2), np.nan)], axis=1)
            paths = hv.Path([seg.reshape(-1, 2)], kdims=["x", "y"], group="Trajectories")
            m = np.asarray(t.memorized, bool)
            mem, novel = _points(t.samples[m], "Memorized"), _points(t.samples[~m], "Novel")
            title = f"samples: {100 * m.mean():.0f}% memorized"
        return hv.Overlay([paths, *self._data_points(), novel, mem], group="Samples", label=title)

    def _curves(self):
        return self.state.curves_view or {}

    def _gap_plot(self, curves_serial=0):
        c = self._curves()
        model, opt = c.get("model_gap"), c.get("optimal_gap")

        # The optimal denoiser's gap grows without bound as σ → 0 (its training error → 0):
        # draw it capped just above the model's largest gap, so the model's curve stays readable.
        cap = GAP_CAP
        if model is not None and model is not opt:
            cap = max(2.0 * float(np.nanmax(model.gap)), 0.1)

        def curve(g, label, group):
            if g is None:
                return _empty_curve("relative gap", label, group)
            return hv.Curve(
                (g.sigmas, np.minimum(g.gap, cap)), "σ", "relative gap", label=label, group=group
            )

        title = "relative gap (E_val − E_train) / E_train"
        if c and opt is None:
            title = "relative gap: needs validation points"
        return hv.Overlay(
            [curve(opt, "optimal D* (capped)", "Reference"), curve(model, "model", "Model")],
            group="Curves",
            label=title,
        )

    def _error_plot(self, curves_serial=0):
        o = self._curves().get("overlap")
        if o is None:
            a = _empty_curve("‖D − D*‖", "noisy training samples", "Model")
            b = _empty_curve("‖D − D*‖", "trajectory states", "Trajectory")
        else:
            a = hv.Curve(
                (o.sigmas, o.error_noisy_train),
                "σ",
                "‖D − D*‖",
                group="Model",
                label="noisy training samples",
            )
            b = hv.Curve(
                (o.sigmas, o.error_traj),
                "σ",
                "‖D − D*‖",
                group="Trajectory",
                label="trajectory states",
            )
        return hv.Overlay([a, b], group="Curves", label="model vs optimal error")

    def _overlap_plot(self, curves_serial=0):
        o = self._curves().get("overlap")
        if o is None:
            c = _empty_curve("overlap", "NN-distance ratio", "Overlap")
            w = _empty_curve("overlap", "D* max weight (traj.)", "Reference")
        else:
            c = hv.Curve(
                (o.sigmas, o.overlap), "σ", "overlap", group="Overlap", label="NN-distance ratio"
            )
            w = hv.Curve(
                (o.sigmas, o.traj_max_weight),
                "σ",
                "overlap",
                group="Reference",
                label="D* max weight (traj.)",
            )
        return hv.Overlay([c, w], group="Curves", label="trajectory overlap")

    def _loss_plot(self, train_serial=0):
        losses = self.state.loss_history
        if losses is None or len(losses) == 0:
            return hv.Curve(
                ([1, 10], [1.0, 1.0]),
                "step",
                "loss",
                group="Loss",
                label="training loss (not trained yet)",
            )
        y = np.asarray(losses, np.float64)
        win = max(1, len(y) // 100)
        if win > 1:
            y = np.convolve(y, np.ones(win) / win, mode="valid")
        x = np.arange(1, len(y) + 1) + (win - 1)
        return hv.Curve(
            (x, y), "step", "loss", group="Loss", label=f"training loss ({len(losses)} steps)"
        )

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
        title = {"optimal": "optimal D*", "error-prone": f"δ = {s.delta:g}", "learned": "learned"}[
            s.kind
        ]
        fig = plotting.plot_field_comparison(
            comparison.model,
            comparison.reference,
            train_x=ds.train_x,
            val_x=ds.val_x,
            trajectories=traj.trajectory[: s.clamped_sigma_index() + 1],
            samples=traj.samples,
            memorized=traj.memorized,
            model_title=title,
        )
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110)
        buf.seek(0)
        return buf

    # ------------------------------------------------------------------------------------------
    # layout

    def sidebar(self) -> list:
        data_card = pn.Card(
            self.dataset,
            self.n_train,
            pn.Row(self.n_val, self.seed),
            pn.Row(self.granularity, self.k),
            self.condition,
            self.holdout,
            pn.pane.Markdown(
                "**Your own data**: draw points, or upload a CSV of `x,y[,label]` rows.",
                margin=(5, 10),
            ),
            self.open_canvas,
            self.draw_box,
            self.upload,
            title="Data",
            collapsed=False,
            width=330,
        )
        model_card = pn.Card(
            self.kind,
            self.delta,
            pn.Row(self.width, self.depth, self.train_steps),
            pn.Row(self.learning_rate, self.batch_size),
            pn.Row(self.train_button, self.cancel_button),
            self.progress,
            self.train_message,
            self.loss_box,
            self.snapshot,
            pn.Row(self.guidance, self.w),
            title="Model",
            width=330,
        )
        sampling_card = pn.Card(
            pn.Row(self.schedule, self.solver),
            pn.Row(self.sigma_min, self.sigma_max, self.rho),
            pn.Row(self.sample_steps, self.n_samples),
            self.show_curves,
            title="Noise schedule and sampler",
            width=330,
        )
        takeaway_card = pn.Card(
            pn.Row(self.png_download, self.json_download),
            self.snippet,
            self.command,
            pn.Row(self.copy_snippet, self.copy_command),
            title="Take it away",
            collapsed=True,
            width=330,
        )
        return [model_card, data_card, sampling_card, takeaway_card]

    def main(self) -> list:
        top = pn.Row(self.sigma_slider, self.player, self.sigma_label, self.spinner, self.status)
        top = pn.Column(top, self.legend)
        lower = [self.trajectory_pane, *self.curve_panes]
        if self._defer_lower:
            # A served page goes out with the fields only; the trajectory and curve figures
            # follow once the page is on screen (show_lower_plots): the browser draws the
            # first view while the server builds the rest.
            lower = [
                pn.pane.HTML(
                    "<i>drawing the trajectories and curves…</i>", height=330, margin=(20, 10)
                )
            ]
        self.lower_row = pn.Row(*lower)
        rest = pn.Column(self.lower_row, self.headline)
        self._layout = True
        return [pn.Column(self.alert, top, self.field_pane, rest)]

    def show_lower_plots(self) -> None:
        """Put the trajectory and curve figures on a page served with them deferred."""
        if self._defer_lower:
            self._defer_lower = False
            self.lower_row.objects = [self.trajectory_pane, *self.curve_panes]
            self._move_sigma_markers()

    def __panel__(self):
        return pn.Row(pn.Column(*self.sidebar(), width=340), pn.Column(*self.main()))

    def template(self) -> pn.template.BootstrapTemplate:
        return pn.template.BootstrapTemplate(
            title="toyflow explorer: why diffusion models generalize although the optimal one memorizes",
            sidebar=self.sidebar(),
            main=self.main(),
            sidebar_width=350,
            header_background="#1f3b57",
            # Panel's header spinner would restyle the page twice per σ step; our own spinner
            # beside the σ read-out shows the computations that take long.
            busy_indicator=None,
        )


def _dot(color, hollow=False, size=9):
    fill = "transparent" if hollow else color
    return (
        f'<span style="display:inline-block;width:{size}px;height:{size}px;border-radius:50%;'
        f'background:{fill};border:1.5px solid {color};margin:0 4px 0 12px"></span>'
    )


_LEGEND = (
    '<div style="font-size:12px;color:#333">'
    f"{_dot(TRAIN_COLOR)}training point{_dot(VAL_COLOR, hollow=True)}validation point"
    f"{_dot(POSITION_COLOR, size=5)}trajectories at this σ"
    '<span style="display:inline-block;width:14px;height:10px;background:#9ecae1;opacity:.7;'
    'margin:0 4px 0 12px"></span>displacement region ‖D(x;σ) − x‖ ≤ σ'
    f"{_dot(MEMORIZED_COLOR)}memorized sample{_dot(NOVEL_COLOR)}novel sample"
    " &nbsp;·&nbsp; arrows: D(x;σ) − x (colour: length)</div>"
)


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
    # Settings first, refreshes after: nothing is computed before the page exists.
    state = tfx.ExplorerState(background=True, auto=False, **params)
    # Settings from `--args name=value` and from the URL (?kind=error-prone&delta=1.2).
    pairs = _args_from_command_line(sys.argv[1:]) if pn.state.served else {}
    args = getattr(pn.state, "session_args", None) or {}
    for name, values in args.items():
        if values and name in tfx.PLAIN_PARAMS:  # other query arguments belong to Panel/Bokeh
            value = values[-1]
            pairs[name] = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
    problems = state.set_from_strings(pairs) if pairs else []
    state.auto = True
    app = ExplorerApp(state)
    if problems:
        app.notice = "Some settings were ignored: " + "; ".join(problems)
    if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
        # Compute once the page is on screen (the plots exist then); closing the tab ends the
        # session, which cancels its training.
        pn.state.on_session_destroyed(lambda _ctx: state.close())
        if not state.refresh_if_cached():  # a repeat visit arrives with its data
            pn.state.onload(state.request_refresh)
        app._defer_lower = True
        pn.state.onload(app.show_lower_plots)
    page = app.template()
    page.explorer = app  # tests and scripts reach the app through the page
    return page


if pn.state.served:
    tfx.enable_compilation_cache()
    create_app().servable(title="toyflow explorer")
