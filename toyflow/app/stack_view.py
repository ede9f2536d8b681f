"""The σ views in the browser: every frame of a :class:`toyflow.sigma_stack.SigmaStack` goes to
the page once, and the σ slider and the play button switch frames there (Bokeh ``CustomJS``),
with no server round trip. Bokeh only: no Panel, no HoloViews.

Interface (for the served app and the export)::

    from toyflow.app.stack_view import StackView
    view = StackView(stack)            # builds the Bokeh models; nothing is sent anywhere yet
    view.layout                        # one Bokeh layout: controls, the four σ views, curves
                                       #   (pn.pane.Bokeh(view.layout) in Panel; file_html offline)
    view.update(new_stack)             # swap every frame in place (a non-σ input changed); on
                                       #   a server call it on the document's event loop
    view.slider.value                  # the frame index shown (0 = σ_max); the page sets it, the
                                       #   server only hears a small acknowledgement per move
    view.figures                       # {"model", "optimal", "error", "trajectories",
                                       #   "curves:<title>"...}: Bokeh figures

Stable CSS classes (the browser tests rely on them): ``flow-field`` on the learned field figure,
``sigma-slider`` on the σ slider (noUiSlider: its ``.noUi-handle`` takes the keyboard focus and
the arrow keys), ``sigma-play`` on the play toggle, ``sigma-value`` on the σ read-out.

What the page holds: one ``frames`` ColumnDataSource with a single row whose columns are the
stack's frame arrays, flattened and shipped as float16 bit patterns (``uint16``; decoded in the
page through a 65,536-entry table), and one small source per drawn glyph. A σ move decodes one
frame into those sources: the arrows of both fields (colour: ``‖D(x; σ) − x‖`` on one colour bar
shared by both fields, fixed over σ; length: per panel and per frame, the 95th-percentile arrow
spans 0.95 grid cells, capped at 1.5), the displacement region ``‖D(x; σ) − x‖ ≤ σ``, the heat
map ``‖D − D*‖ / σ`` (log colour bar), the trajectory states and the noisy-training cloud, the σ
read-out and a σ marker on the curves. :func:`frame_columns` is the same computation in NumPy
(the first frame, :meth:`StackView.update`, the GIF export).
"""

from __future__ import annotations

import numpy as np
from bokeh.layouts import column, row
from bokeh.models import (
    CheckboxGroup,
    ColorBar,
    ColumnDataSource,
    CustomJS,
    CustomJSTickFormatter,
    Div,
    LinearColorMapper,
    LogColorMapper,
    Select,
    Slider,
    Span,
    Toggle,
)
from bokeh.palettes import Magma256, Plasma256
from bokeh.plotting import figure

from toyflow.sigma_stack import SigmaStack

TRAIN_COLOR = "#d62728"
VAL_COLOR = "#1f77b4"
CLOUD_COLOR = "#f4a582"
POSITION_COLOR = "#111111"
MEMORIZED_COLOR = "#ff7f0e"
NOVEL_COLOR = "#2ca02c"
REGION_COLOR = "#9ecae1"
ARROW_PALETTE = tuple(Plasma256[:215])  # dark blue → orange: no pale yellow on a projector
ERROR_RANGE = (1e-3, 10.0)  # colour range of ‖D − D*‖ / σ (log scale)
FIELD_SIZE = 250  # frame size (px) of each square view (four fit 1024 px in two rows)
ARROW_CELLS = 0.95  # the 95th-percentile arrow spans this many grid cells
ARROW_CAP = 1.5  # longer arrows are drawn at most this many times that length
MAX_PATHS = 200  # trajectories drawn as faint paths (all of them move as points)
GAP_CAP = 10.0
CURVE_WIDTH = 230
SPEEDS = ("5", "10", "20", "30")  # frames per second of play
#: Curves drawn (names as :func:`toyflow.sigma_stack.state_curves` writes them), by figure.
CURVE_GROUPS = (
    (
        "relative gap (E_val − E_train) / E_train",
        (("relative gap: model", "#d62728", "solid"), ("relative gap: D*", "#999999", "dashed")),
    ),
    (
        "model vs optimal error ‖D − D*‖",
        (
            ("‖D − D*‖ on noisy training points", "#d62728", "solid"),
            ("‖D − D*‖ on trajectory states", "#2c7fb8", "solid"),
        ),
    ),
    ("trajectory overlap", (("trajectory overlap", "#6a3d9a", "solid"),)),
)


# --- frames: NumPy (the same computation as the page's script) -------------------------------------


def _f16(a) -> np.ndarray:
    """The float16 values the page decodes (float32 NumPy)."""
    return np.asarray(a, np.float16).astype(np.float32)


def arrow_columns(stack: SigmaStack, i: int, which: str) -> dict:
    """Arrows of frame ``i`` of ``"model"`` or ``"optimal"``: segment ends, head angle and the
    length ``mag = ‖D(x; σ) − x‖`` (float32 columns), and the displacement region image."""
    pts = stack.grid.points
    disp = _f16(getattr(stack, which)[i]).reshape(-1, 2)
    mag = np.hypot(disp[:, 0], disp[:, 1]).astype(np.float32)
    ang = np.arctan2(disp[:, 1], disp[:, 0]).astype(np.float32)
    ref = max(float(np.sort(mag)[int(0.95 * (mag.size - 1))]), 1e-30)
    length = _spacing(stack) * ARROW_CELLS * np.minimum(mag / ref, ARROW_CAP)
    r = stack.grid.resolution
    return {
        "arrows": {
            "x0": pts[:, 0],
            "y0": pts[:, 1],
            "x1": (pts[:, 0] + length * np.cos(ang)).astype(np.float32),
            "y1": (pts[:, 1] + length * np.sin(ang)).astype(np.float32),
            "angle": ang,
            "mag": mag,
        },
        "region": (mag <= np.float32(stack.sigmas[i])).astype(np.float32).reshape(r, r),
    }


def frame_columns(stack: SigmaStack, i: int) -> dict:
    """Everything frame ``i`` draws: ``model``/``optimal`` (see :func:`arrow_columns`),
    ``error`` (``(h, h)`` float32, clipped to the colour range), ``positions`` and ``cloud``
    (``{"x", "y"}``) and ``sigma``."""
    i = int(min(max(i, 0), stack.steps - 1))
    pos, cloud = _f16(stack.trajectory[i]), _f16(stack.cloud[i])
    return {
        "model": arrow_columns(stack, i, "model"),
        "optimal": arrow_columns(stack, i, "optimal"),
        "error": np.clip(_f16(stack.error[i]), *ERROR_RANGE),
        "positions": {"x": pos[:, 0], "y": pos[:, 1]},
        "cloud": {"x": cloud[:, 0], "y": cloud[:, 1]},
        "sigma": float(stack.sigmas[i]),
    }


def _spacing(stack: SigmaStack) -> float:
    xs = stack.grid.xs
    return float(xs[1] - xs[0]) if len(xs) > 1 else 1.0


def arrow_color_high(stack: SigmaStack) -> float:
    """Top of the arrow colour bar: the 99th percentile of ``‖D(x; σ) − x‖`` over every frame of
    both fields (one scale for all σ, so colours compare across frames and panels)."""
    mags = [np.linalg.norm(_f16(getattr(stack, w)), axis=-1).ravel() for w in ("model", "optimal")]
    return max(float(np.percentile(np.concatenate(mags), 99)), 1e-6)


def _bits(a) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(a, np.float16).ravel()).view(np.uint16)


def frames_data(stack: SigmaStack) -> dict:
    """The ``frames`` source's one row: the frame arrays as float16 bits and their sizes."""
    return {
        "model": [_bits(stack.model)],
        "optimal": [_bits(stack.optimal)],
        "error": [_bits(stack.error)],
        "traj": [_bits(stack.trajectory)],
        "cloud": [_bits(stack.cloud)],
        "sigmas": [np.asarray(stack.sigmas, np.float64)],
        "r": [stack.grid.resolution],
        "h": [stack.heat_grid.resolution],
        "spacing": [_spacing(stack)],
    }


def shipped_bytes(stack: SigmaStack) -> int:
    """Bytes of frame data a page receives for ``stack`` (before base64)."""
    return int(sum(np.asarray(v[0]).nbytes for v in frames_data(stack).values()))


def _image(grid, values) -> dict:
    xs, ys = grid.xs, grid.ys
    dx = float(xs[1] - xs[0]) if len(xs) > 1 else 1.0
    dy = float(ys[1] - ys[0]) if len(ys) > 1 else 1.0
    return {
        "image": [np.ascontiguousarray(values, np.float32)],
        "x": [float(xs[0]) - dx / 2],
        "y": [float(ys[0]) - dy / 2],
        "dw": [dx * len(xs)],
        "dh": [dy * len(ys)],
    }


def _fmt(sigma: float) -> str:
    return f"{sigma:.3g}"


# The page's frame switch: decode frame i of `frames` into the drawn sources. Mirrors
# frame_columns; runs on every slider change and when the server swaps the frames.
_DRAW_JS = r"""
const d = frames.data;
if (!d.model || d.model.length === 0) return;
let L = window.__toyflow_f16;
if (L === undefined) {  // float16 bits -> float32 values, built once per page
  L = new Float32Array(65536);
  for (let b = 0; b < 65536; b++) {
    const s = (b & 0x8000) ? -1 : 1, e = (b >> 10) & 0x1f, f = b & 0x3ff;
    L[b] = e === 0 ? s * f * 5.960464477539063e-8
         : e === 31 ? (f ? NaN : s * Infinity)
         : s * (1 + f / 1024) * Math.pow(2, e - 15);
  }
  window.__toyflow_f16 = L;
}
const sig = d.sigmas[0], S = sig.length;
const i = Math.max(0, Math.min(S - 1, Math.round(slider.value)));
const sigma = sig[i], r2 = d.r[0] * d.r[0], h2 = d.h[0] * d.h[0], sp = d.spacing[0];
function field(key, arrows, region) {
  const q = d[key][0], off = i * r2 * 2, x0 = arrows.data.x0, y0 = arrows.data.y0;
  const mag = new Float32Array(r2), ang = new Float32Array(r2);
  for (let k = 0; k < r2; k++) {
    const dx = L[q[off + 2 * k]], dy = L[q[off + 2 * k + 1]];
    mag[k] = Math.hypot(dx, dy);
    ang[k] = Math.atan2(dy, dx);
  }
  const sorted = Float32Array.from(mag).sort();
  const ref = Math.max(sorted[Math.floor(0.95 * (r2 - 1))], 1e-30);
  const x1 = new Float32Array(r2), y1 = new Float32Array(r2);
  const img = region.data.image[0];
  for (let k = 0; k < r2; k++) {
    const len = sp * ARROW_CELLS * Math.min(mag[k] / ref, ARROW_CAP);
    x1[k] = x0[k] + len * Math.cos(ang[k]);
    y1[k] = y0[k] + len * Math.sin(ang[k]);
    img[k] = mag[k] <= Math.fround(sigma) ? 1 : 0;
  }
  arrows.data = {x0: x0, y0: y0, x1: x1, y1: y1, angle: ang, mag: mag};
  region.change.emit();
}
field("model", arrows_model, region_model);
field("optimal", arrows_optimal, region_optimal);
const e = d.error[0], eo = i * h2, img = heat.data.image[0];
for (let k = 0; k < h2; k++) img[k] = Math.min(Math.max(L[e[eo + k]], ERR_LO), ERR_HI);
heat.change.emit();
function points(key, src) {
  const q = d[key][0], n = q.length / (2 * S), off = i * n * 2;
  const x = new Float32Array(n), y = new Float32Array(n);
  for (let k = 0; k < n; k++) { x[k] = L[q[off + 2 * k]]; y[k] = L[q[off + 2 * k + 1]]; }
  src.data = {x: x, y: y};
}
points("traj", positions);
points("cloud", cloud);
readout.text = "σ = " + Number(sigma.toPrecision(3)) + "  ·  step " + (i + 1) + " of " + S;
for (const m of markers) m.location = sigma;
"""

_PLAY_JS = r"""
const me = cb_obj;
const looping = () => loop.active.includes(0);
clearTimeout(me.__toyflow_timer);
if (!me.active) { me.label = "▶ play"; return; }
me.label = "⏸ pause";
if (slider.value >= slider.end && !looping()) slider.value = slider.start;
const tick = () => {
  if (!me.active) return;
  let v = slider.value + 1;
  if (v > slider.end) {
    if (!looping()) { me.active = false; return; }
    v = slider.start;
  }
  slider.value = v;
  me.__toyflow_timer = setTimeout(tick, 1000 / Number(speed.value));
};
me.__toyflow_timer = setTimeout(tick, 1000 / Number(speed.value));
"""


class StackView:
    """Bokeh figures and controls over a :class:`SigmaStack` (see the module docstring)."""

    def __init__(self, stack: SigmaStack, *, field_size: int = FIELD_SIZE, speed: str = "10"):
        if not isinstance(stack, SigmaStack):
            raise ValueError(f"StackView takes a SigmaStack, got {type(stack).__name__}")
        if speed not in SPEEDS:
            raise ValueError(f"speed must be one of {', '.join(SPEEDS)} frames/s, got {speed!r}")
        self.field_size = int(field_size)
        self.stack = stack
        self._make_sources()
        self._make_controls(speed)
        self._make_figures()
        self._connect()
        self.update(stack)
        self.layout = self._layout()

    # -- models --------------------------------------------------------------------------------
    def _make_sources(self) -> None:
        cols = ("x0", "y0", "x1", "y1", "angle", "mag")
        empty = {k: np.zeros(0, np.float32) for k in cols}
        self.frames = ColumnDataSource({}, name="sigma-frames")
        self.arrows = {
            w: ColumnDataSource(dict(empty), name=f"arrows-{w}") for w in ("model", "optimal")
        }
        blank = {"image": [np.zeros((1, 1), np.float32)], "x": [0], "y": [0], "dw": [1], "dh": [1]}
        self.regions = {
            w: ColumnDataSource(dict(blank), name=f"region-{w}") for w in ("model", "optimal")
        }
        self.heat = ColumnDataSource(dict(blank), name="error-heat")
        xy = {"x": np.zeros(0, np.float32), "y": np.zeros(0, np.float32)}
        self.positions = ColumnDataSource(dict(xy), name="positions")
        self.cloud = ColumnDataSource(dict(xy), name="noisy-cloud")
        self.train = ColumnDataSource(dict(xy), name="train-points")
        self.val = ColumnDataSource(dict(xy), name="val-points")
        self.paths = ColumnDataSource(dict(xy), name="trajectory-paths")
        self.memorized = ColumnDataSource(dict(xy), name="memorized-samples")
        self.novel = ColumnDataSource(dict(xy), name="novel-samples")
        self.curves = ColumnDataSource({"sigma": np.zeros(0)}, name="curves")
        self.arrow_mapper = LinearColorMapper(palette=ARROW_PALETTE, low=0.0, high=1.0)
        self.error_mapper = LogColorMapper(
            palette=Magma256, low=ERROR_RANGE[0], high=ERROR_RANGE[1]
        )

    def _make_controls(self, speed: str) -> None:
        self.slider = Slider(
            start=0,
            end=1,
            value=0,
            step=1,
            title="noise level",
            width=420,
            css_classes=["sigma-slider"],
            format=CustomJSTickFormatter(
                args={"frames": self.frames},
                code="const s = frames.data.sigmas[0]; const i = Math.round(tick);"
                "return s && i < s.length ? 'σ = ' + Number(s[i].toPrecision(3)) : String(tick);",
            ),
        )
        self.readout = Div(
            text="", css_classes=["sigma-value"], width=200, styles={"font-size": "15px"}
        )
        self.play = Toggle(label="▶ play", active=False, width=90, css_classes=["sigma-play"])
        self.loop = CheckboxGroup(labels=["loop"], active=[0], css_classes=["sigma-loop"])
        self.speed = Select(
            title="frames/s",
            options=list(SPEEDS),
            value=speed,
            width=80,
            css_classes=["sigma-speed"],
        )

    def _square(self, name: str, title: str):
        """A square view over the field window; the four share their ranges (pan and zoom
        together)."""
        s = self.field_size
        return figure(
            title=title,
            frame_width=s,
            frame_height=s,
            x_range=self.x_range,
            y_range=self.y_range,
            tools="pan,wheel_zoom,reset,save",
            active_scroll="wheel_zoom",
            toolbar_location="above",
            output_backend="canvas",
            name=name,
        )

    def _field_figure(self, which: str, title: str):
        fig = self._square(f"field-{which}", title)
        fig.image(
            image="image",
            x="x",
            y="y",
            dw="dw",
            dh="dh",
            source=self.regions[which],
            color_mapper=LinearColorMapper(palette=["#ffffff", REGION_COLOR], low=0, high=1),
            global_alpha=0.5,
        )
        color = {"field": "mag", "transform": self.arrow_mapper}
        src = self.arrows[which]
        fig.segment("x0", "y0", "x1", "y1", source=src, line_color=color, line_width=1.6)
        fig.scatter(
            "x1",
            "y1",
            angle="angle",
            marker="triangle",
            size=4,
            source=src,
            color=color,
            angle_units="rad",
        )
        self._data_points(fig, size=6)
        return fig

    def _make_figures(self) -> None:
        from bokeh.models import Range1d

        self.x_range, self.y_range = Range1d(-1, 1), Range1d(-1, 1)
        model = self._field_figure("model", "learned field")
        model.css_classes = ["flow-field"]
        model.scatter("x", "y", source=self.positions, size=2.5, color=POSITION_COLOR, alpha=0.6)
        optimal = self._field_figure("optimal", "optimal D*")
        optimal.add_layout(
            ColorBar(
                color_mapper=self.arrow_mapper,
                title="arrow colour: ‖D(x;σ) − x‖ (both fields)",
                width=10,
                title_text_font_size="11px",
            ),
            "right",
        )
        error = self._square("field-error", "difference ‖D − D*‖ / σ")
        error.image(
            image="image",
            x="x",
            y="y",
            dw="dw",
            dh="dh",
            source=self.heat,
            color_mapper=self.error_mapper,
        )
        error.add_layout(
            ColorBar(
                color_mapper=self.error_mapper,
                title="‖D − D*‖ / σ",
                width=10,
                title_text_font_size="11px",
            ),
            "right",
        )
        self._data_points(error, size=4)
        traj = self._square("trajectory-view", "trajectories at σ")
        traj.line("x", "y", source=self.paths, color="#888888", alpha=0.25, line_width=0.6)
        for src, color, alpha, size in (
            (self.novel, NOVEL_COLOR, 0.35, 2.5),  # the samples (σ = 0), under the moving points
            (self.memorized, MEMORIZED_COLOR, 0.35, 2.5),
            (self.cloud, CLOUD_COLOR, 0.8, 3.5),
            (self.positions, POSITION_COLOR, 0.7, 3),
        ):
            traj.scatter("x", "y", source=src, size=size, color=color, alpha=alpha)
        self._data_points(traj, size=6)
        traj.css_classes = ["stack-trajectories"]
        self.figures = {"model": model, "optimal": optimal, "error": error, "trajectories": traj}
        self.markers = []
        for title, lines in CURVE_GROUPS:
            fig = figure(
                title=title,
                width=CURVE_WIDTH,
                height=250,
                x_axis_type="log",
                x_axis_label="σ",
                tools="",
                toolbar_location=None,
                output_backend="canvas",
            )
            fig.title.text_font_size = "11px"
            for name, color, dash in lines:
                fig.line(
                    "sigma",
                    name,
                    source=self.curves,
                    color=color,
                    line_dash=dash,
                    line_width=2,
                    legend_label=name.split(": ")[-1],
                )
            fig.legend.label_text_font_size = "9px"
            fig.legend.background_fill_alpha = 0.6
            fig.legend.spacing = 0
            fig.legend.padding = 3
            marker = Span(location=1.0, dimension="height", line_color="black", line_dash="dotted")
            fig.add_layout(marker)
            self.markers.append(marker)
            self.figures[f"curves:{title}"] = fig

    def _data_points(self, fig, size: float) -> None:
        fig.scatter(
            "x",
            "y",
            source=self.val,
            size=size,
            fill_color="#ffffff",
            line_color=VAL_COLOR,
            line_width=1.4,
        )
        fig.scatter(
            "x",
            "y",
            source=self.train,
            size=size,
            fill_color=TRAIN_COLOR,
            line_color="#000000",
            line_width=0.6,
        )

    def _connect(self) -> None:
        draw = CustomJS(
            args={
                "frames": self.frames,
                "slider": self.slider,
                "arrows_model": self.arrows["model"],
                "arrows_optimal": self.arrows["optimal"],
                "region_model": self.regions["model"],
                "region_optimal": self.regions["optimal"],
                "heat": self.heat,
                "positions": self.positions,
                "cloud": self.cloud,
                "readout": self.readout,
                "markers": self.markers,
                "ARROW_CELLS": ARROW_CELLS,
                "ARROW_CAP": ARROW_CAP,
                "ERR_LO": ERROR_RANGE[0],
                "ERR_HI": ERROR_RANGE[1],
            },
            code=_DRAW_JS,
        )
        self.slider.js_on_change("value", draw)
        self.frames.js_on_change("data", draw)
        self.play.js_on_change(
            "active",
            CustomJS(
                args={"slider": self.slider, "loop": self.loop, "speed": self.speed}, code=_PLAY_JS
            ),
        )

    def _layout(self):
        f = self.figures
        controls = row(
            self.slider,
            self.readout,
            self.play,
            self.speed,
            self.loop,
            styles={"align-items": "center"},
        )
        fields = row(f["model"], f["optimal"], f["error"])
        self._curve_figures = [v for k, v in f.items() if k.startswith("curves:")]
        self._sync_curve_visibility()
        lower = row(f["trajectories"], *self._curve_figures)
        return column(controls, fields, lower, name="sigma-stack-view")

    # -- data ----------------------------------------------------------------------------------
    def update(self, stack: SigmaStack) -> None:
        """Show ``stack``: every source is replaced in place (same Bokeh models, so a served page
        keeps its zoom and its slider), the frame index is kept when it still exists."""
        if not isinstance(stack, SigmaStack):
            raise ValueError(f"update takes a SigmaStack, got {type(stack).__name__}")
        self.stack = stack
        i = int(min(max(self.slider.value, 0), stack.steps - 1))
        cols = frame_columns(stack, i)
        for w in ("model", "optimal"):
            self.arrows[w].data = cols[w]["arrows"]
            self.regions[w].data = _image(stack.grid, cols[w]["region"])
        self.heat.data = _image(stack.heat_grid, cols["error"])
        xmin, ymin, xmax, ymax = stack.grid.bounds
        pad = _spacing(stack) / 2
        self.x_range.update(start=xmin - pad, end=xmax + pad)
        self.y_range.update(start=ymin - pad, end=ymax + pad)
        self.positions.data = cols["positions"]
        self.cloud.data = cols["cloud"]
        self.arrow_mapper.high = arrow_color_high(stack)
        self.train.data = {"x": stack.train_x[:, 0], "y": stack.train_x[:, 1]}
        self.val.data = {"x": stack.val_x[:, 0], "y": stack.val_x[:, 1]}
        self.paths.data = _paths(stack)
        mem = np.zeros(stack.samples.shape[0], bool) if stack.memorized is None else stack.memorized
        smp = np.asarray(stack.samples, np.float32)
        self.memorized.data = {"x": smp[mem, 0], "y": smp[mem, 1]}
        self.novel.data = {"x": smp[~mem, 0], "y": smp[~mem, 1]}
        self.curves.data = _curve_columns(stack)
        model = stack.meta.get("model", "model")
        self.figures["model"].title.text = model
        self.readout.text = f"σ = {_fmt(cols['sigma'])}  ·  step {i + 1} of {stack.steps}"
        for m in self.markers:
            m.location = cols["sigma"]
        self.slider.update(end=max(stack.steps - 1, 1), value=i, disabled=stack.steps < 2)
        # Last: the page redraws the current frame from the new frames (the script above).
        self.frames.data = frames_data(stack)
        if hasattr(self, "_curve_figures"):
            self._sync_curve_visibility()

    def _sync_curve_visibility(self) -> None:
        for (_, lines), fig in zip(CURVE_GROUPS, self._curve_figures):
            fig.visible = any(name in self.stack.curves for name, _, _ in lines)


def _paths(stack: SigmaStack) -> dict:
    """Up to MAX_PATHS trajectories, σ_max to the sample, as one NaN-separated line."""
    t = np.concatenate(
        [np.asarray(stack.trajectory, np.float32), np.asarray(stack.samples, np.float32)[None]],
        axis=0,
    )[:, :MAX_PATHS]
    n = t.shape[1]
    seg = np.concatenate([t.transpose(1, 0, 2), np.full((n, 1, 2), np.nan, np.float32)], axis=1)
    seg = seg.reshape(-1, 2)
    return {"x": seg[:, 0], "y": seg[:, 1]}


def _curve_columns(stack: SigmaStack) -> dict:
    """One column per known curve (NaN where the stack has none); the D* gap is capped just
    above the model's largest gap (it grows without bound as σ → 0)."""
    out = {"sigma": np.asarray(stack.sigmas, np.float64)}
    nan = np.full(stack.steps, np.nan)
    model_gap = stack.curves.get("relative gap: model")
    cap = GAP_CAP
    if model_gap is not None and np.isfinite(model_gap).any():
        cap = max(2.0 * float(np.nanmax(model_gap)), 0.1)
    for _, lines in CURVE_GROUPS:
        for name, _, _ in lines:
            v = np.asarray(stack.curves.get(name, nan), np.float64)
            out[name] = np.minimum(v, cap) if name.startswith("relative gap") else v
    return out
