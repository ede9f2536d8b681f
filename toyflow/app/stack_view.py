"""The σ views in the browser: every frame of a :class:`toyflow.sigma_stack.SigmaStack` goes to
the page once, and the σ slider and the play button switch frames there (Bokeh ``CustomJS``),
with no server round trip. Bokeh only: no Panel, no HoloViews.

Interface (for the served app and the export)::

    from toyflow.app.stack_view import StackView
    view = StackView(stack)            # builds the Bokeh models; nothing is sent anywhere yet
    view.layout                        # one Bokeh layout: controls, the four σ views, curves,
                                       #   as cards in a grid that wraps to the page's width
                                       #   (toyflow.app.stack_layout; StackView(stack,
                                       #   field_size=200): fixed squares, for other layouts)
                                       #   (pn.pane.Bokeh(view.layout) in Panel; file_html offline)
    view.projector.toggle              # projector mode (thicker lines, larger text), in the page
    view.update(new_stack)             # swap every frame in place (a non-σ input changed); on
                                       #   a server call it on the document's event loop
    view.slider.value                  # the frame index shown (0 = σ_max); the page sets it, the
                                       #   server only hears a small acknowledgement per move
    view.figures                       # {"model", "optimal", "error", "trajectories",
                                       #   "curves:<title>"...}: Bokeh figures

Stable CSS classes (the browser tests rely on them): ``flow-field`` on the learned field figure,
``sigma-slider`` and ``sigma-value`` on the σ slider (noUiSlider: its ``.noUi-handle`` takes the
keyboard focus and the arrow keys; its value text, ``.bk-slider-value``, reads
``σ = 2.81 · step 16 of 40``), ``sigma-play`` on the play toggle, ``sigma-speed`` and
``sigma-loop`` on the speed choice and the loop box, ``projector-toggle`` on the projector
button, ``title-model``, ``title-trajectories``… on the cards' titles.

What the page holds: one ``frames`` ColumnDataSource with a single row whose columns are the
stack's frame arrays, flattened and shipped as float16 bit patterns (``uint16``; decoded in the
page through a 65,536-entry table), and one small source per drawn glyph. A σ move decodes one
frame into those sources: the arrows of both fields, the displacement region
``‖D(x; σ) − x‖ ≤ σ``, the heat map ``‖D − D*‖ / σ`` (log colour bar), the trajectory states
(dark; orange for trajectories whose sample is memorized) and the noisy-training cloud; the
curves' σ markers follow once σ rests for 0.3 s. :func:`frame_columns` and
:func:`arrow_paths` are the same computation in NumPy (the first frame, :meth:`StackView.update`,
the GIF export, the browser test's check).

Arrows, readable on a projector: colour is ``‖D(x; σ) − x‖`` in ``ARROW_BINS`` steps on one
colour bar shared by both fields and fixed over σ (its top is the 99th percentile over all
frames); length is per panel and per frame (the 95th-percentile arrow spans 0.95 grid cells,
longer ones at most 1.5 times that). Each colour step is one line of a ``multi_line`` glyph (shaft and
two barbs per arrow, NaN breaks), one canvas stroke per step: a frame costs a few strokes and
one source per field, not thousands of strokes.
The four square views have no axes (each frame repaints them, and Bokeh's axes cost more than
the arrows); they share their ranges, so pan and zoom move all four.
"""

from __future__ import annotations

import html

import numpy as np
from bokeh.models import (
    CheckboxGroup,
    ColumnDataSource,
    CustomJS,
    CustomJSTickFormatter,
    LinearColorMapper,
    LogColorMapper,
    Select,
    Slider,
    Span,
    Toggle,
)
from bokeh.palettes import Magma256, Plasma256
from bokeh.plotting import figure

from toyflow.app.stack_layout import (
    Projector,
    color_bar_figure,
    curve_text,
    grid_layout,
    projector_items,
)
from toyflow.sigma_stack import (
    ARROW_BINS,
    ARROW_CAP,
    ARROW_CELLS,
    CURVE_GROUPS,
    CURVE_LEGENDS,
    GAP_CAP,
    GAP_TICKS,
    SigmaStack,
    arrow_lengths,
    gap_axis,
)

TRAIN_COLOR = "#d62728"
VAL_COLOR = "#1f77b4"
CLOUD_COLOR = "#b2abd2"  # light purple: apart from the orange of memorized trajectories
POSITION_COLOR = "#111111"
MEMORIZED_COLOR = "#ff7f0e"
REGION_COLOR = "#9ecae1"
ARROW_PALETTE = tuple(Plasma256[:215])  # dark blue → orange: no pale yellow on a projector
FIELD_SIZE = 250  # starting size (px) of each square view (responsive) or its frame (fixed)
ARROW_COLORS = tuple(
    ARROW_PALETTE[round(k * (len(ARROW_PALETTE) - 1) / (ARROW_BINS - 1))] for k in range(ARROW_BINS)
)
HEAD = 0.3  # head barbs, as a fraction of the drawn arrow's length
HEAD_ANGLE = 0.45  # radians between the shaft and each barb
MAX_PATHS = 100  # trajectories drawn as faint paths (all of them move as points)
CURVE_WIDTH = 230
SPEEDS = ("5", "10", "20", "30")  # frames per second of play


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
    length = arrow_lengths(mag, _spacing(stack))
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


def arrow_paths(arrows: dict, high: float) -> list[dict]:
    """The arrows as ``ARROW_BINS`` polylines, one per colour step (step ``k``: ``mag`` in
    ``[k, k + 1) · high / ARROW_BINS``, the last step open). Each arrow is six points: shaft
    start, tip, left barb, tip, right barb, NaN (a break)."""
    x0, y0, x1, y1 = (np.asarray(arrows[k], np.float64) for k in ("x0", "y0", "x1", "y1"))
    ang = np.asarray(arrows["angle"], np.float64)
    mag = np.asarray(arrows["mag"], np.float32)
    step = np.minimum(np.floor(mag / np.float64(high) * ARROW_BINS), ARROW_BINS - 1).astype(int)
    head = HEAD * np.hypot(x1 - x0, y1 - y0)
    lx, ly = x1 - head * np.cos(ang - HEAD_ANGLE), y1 - head * np.sin(ang - HEAD_ANGLE)
    rx, ry = x1 - head * np.cos(ang + HEAD_ANGLE), y1 - head * np.sin(ang + HEAD_ANGLE)
    nan = np.full_like(x0, np.nan)
    xs = np.stack([x0, x1, lx, x1, rx, nan], 1).astype(np.float32)
    ys = np.stack([y0, y1, ly, y1, ry, nan], 1).astype(np.float32)
    return [{"x": xs[step == k].ravel(), "y": ys[step == k].ravel()} for k in range(ARROW_BINS)]


def frame_columns(stack: SigmaStack, i: int) -> dict:
    """Everything frame ``i`` draws: ``model``/``optimal`` (see :func:`arrow_columns`),
    ``error`` (``(h, h)`` float32, clipped to the colour range), ``positions`` /
    ``positions_mem`` (the states of trajectories that end novel / memorized) and ``cloud``
    (``{"x", "y"}``) and ``sigma``."""
    i = int(min(max(i, 0), stack.steps - 1))
    pos, cloud = _f16(stack.trajectory[i]), _f16(stack.cloud[i])
    mem = _memorized(stack)
    return {
        "model": arrow_columns(stack, i, "model"),
        "optimal": arrow_columns(stack, i, "optimal"),
        "error": np.clip(_f16(stack.error[i]), *stack.error_range),
        "positions": {"x": pos[~mem, 0], "y": pos[~mem, 1]},
        "positions_mem": {"x": pos[mem, 0], "y": pos[mem, 1]},
        "cloud": {"x": cloud[:, 0], "y": cloud[:, 1]},
        "sigma": float(stack.sigmas[i]),
    }


def _memorized(stack: SigmaStack) -> np.ndarray:
    n = stack.samples.shape[0]
    return np.zeros(n, bool) if stack.memorized is None else np.asarray(stack.memorized, bool)


def _spacing(stack: SigmaStack) -> float:
    xs = stack.grid.xs
    return float(xs[1] - xs[0]) if len(xs) > 1 else 1.0


def arrow_color_high(stack: SigmaStack) -> float:
    """Top of the arrow colour bar: the 99th percentile of ``‖D(x; σ) − x‖`` over every frame of
    both fields (one scale for all σ, so colours compare across frames and panels)."""
    return stack.arrow_color_high()


def _bits(a) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(a, np.float16).ravel()).view(np.uint16)


def frames_data(stack: SigmaStack) -> dict:
    """The ``frames`` source's one row: the frame arrays as float16 bits, the arrow grid's
    points, sizes and the top of the arrow colour scale."""
    return {
        "grid": [np.ascontiguousarray(stack.grid.points, np.float32).ravel()],
        "high": [arrow_color_high(stack)],
        "err_range": [np.asarray(stack.error_range, np.float64)],
        "model": [_bits(stack.model)],
        "optimal": [_bits(stack.optimal)],
        "error": [_bits(stack.error)],
        "traj": [_bits(stack.trajectory)],
        "mem": [_memorized(stack).astype(np.uint8)],
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


#: The slider's value text: σ of the frame and its step (``σ = 2.81 · step 16 of 40``).
_READOUT_JS = """
const s = frames.data.sigmas ? frames.data.sigmas[0] : null, i = Math.round(tick);
return s && i < s.length ? "σ = " + Number(s[i].toPrecision(3)) + " · step " + (i + 1) + " of " + s.length
                         : String(tick);
"""


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
const grid = d.grid[0], high = d.high[0], K = bins_model.data.xs.length;
function field(key, bins, region) {
  const q = d[key][0], off = i * r2 * 2;
  const mag = new Float32Array(r2), ux = new Float32Array(r2), uy = new Float32Array(r2);
  for (let k = 0; k < r2; k++) {  // length and direction (no trigonometry per frame)
    const dx = L[q[off + 2 * k]], dy = L[q[off + 2 * k + 1]], m = Math.hypot(dx, dy);
    mag[k] = m;
    ux[k] = m > 0 ? dx / m : 1;
    uy[k] = m > 0 ? dy / m : 0;
  }
  const hc = Math.cos(HEAD_ANGLE), hs = Math.sin(HEAD_ANGLE);
  const sorted = Float32Array.from(mag).sort();
  const ref = Math.max(sorted[Math.floor(0.95 * (r2 - 1))], 1e-30);
  const step = new Int32Array(r2), count = new Int32Array(K);
  const img = region.data.image[0];
  for (let k = 0; k < r2; k++) {
    step[k] = Math.min(Math.floor(mag[k] / high * K), K - 1);
    count[step[k]]++;
    img[k] = mag[k] <= Math.fround(sigma) ? 1 : 0;
  }
  const xs = [], ys = [], fill = new Int32Array(K);
  for (let b = 0; b < K; b++) {
    xs.push(new Float32Array(6 * count[b]));
    ys.push(new Float32Array(6 * count[b]));
  }
  for (let k = 0; k < r2; k++) {
    const x0 = grid[2 * k], y0 = grid[2 * k + 1], c = ux[k], s = uy[k];
    const len = sp * ARROW_CELLS * Math.min(mag[k] / ref, ARROW_CAP);
    const x1 = x0 + len * c, y1 = y0 + len * s, hd = HEAD * len;
    // barbs: the direction turned by ∓HEAD_ANGLE, pointing back from the tip
    const lc = c * hc + s * hs, ls = s * hc - c * hs, rc = c * hc - s * hs, rs = s * hc + c * hs;
    const b = step[k], o = 6 * fill[b]++, X = xs[b], Y = ys[b];
    X[o] = x0; X[o + 1] = x1; X[o + 2] = x1 - hd * lc; X[o + 3] = x1; X[o + 4] = x1 - hd * rc;
    Y[o] = y0; Y[o + 1] = y1; Y[o + 2] = y1 - hd * ls; Y[o + 3] = y1; Y[o + 4] = y1 - hd * rs;
    X[o + 5] = NaN; Y[o + 5] = NaN;
  }
  bins.data = {xs: xs, ys: ys, color: bins.data.color};
  region.change.emit();
}
field("model", bins_model, region_model);
field("optimal", bins_optimal, region_optimal);
const e = d.error[0], eo = i * h2, img = heat.data.image[0];
const elo = d.err_range[0][0], ehi = d.err_range[0][1];
for (let k = 0; k < h2; k++) img[k] = Math.min(Math.max(L[e[eo + k]], elo), ehi);
heat.change.emit();
function points(key, src) {
  const q = d[key][0], n = q.length / (2 * S), off = i * n * 2;
  const x = new Float32Array(n), y = new Float32Array(n);
  for (let k = 0; k < n; k++) { x[k] = L[q[off + 2 * k]]; y[k] = L[q[off + 2 * k + 1]]; }
  src.data = {x: x, y: y};
}
// trajectory states, split by where each trajectory ends (memorized sample or not)
const tq = d.traj[0], n = tq.length / (2 * S), to = i * n * 2, mem = d.mem[0];
let nm = 0;
for (let k = 0; k < n; k++) nm += mem[k];
const px = new Float32Array(n - nm), py = new Float32Array(n - nm);
const mx = new Float32Array(nm), my = new Float32Array(nm);
for (let k = 0, a = 0, b = 0; k < n; k++) {
  const x = L[tq[to + 2 * k]], y = L[tq[to + 2 * k + 1]];
  if (mem[k]) { mx[b] = x; my[b++] = y; } else { px[a] = x; py[a++] = y; }
}
positions.data = {x: px, y: py};
positions_mem.data = {x: mx, y: my};
points("cloud", cloud);
// The curves' σ markers follow once σ rests for 0.3 s (each marker move repaints three curve
// figures: while σ plays or is scrubbed, the views get the whole frame).
const mk = window.__toyflow_markers || (window.__toyflow_markers = {timer: 0});
clearTimeout(mk.timer);
mk.timer = setTimeout(() => {
  const j = Math.max(0, Math.min(S - 1, Math.round(slider.value)));
  for (const m of markers) m.location = d.sigmas[0][j];
}, 300);
"""

_PLAY_JS = r"""
// Play: advance one frame whenever 1/speed seconds have passed, checked every animation frame,
// so a frame that takes long to draw delays the next one by no more than its own cost.
const me = cb_obj;
const looping = () => loop.active.includes(0);
cancelAnimationFrame(me.__toyflow_raf);
if (!me.active) { me.label = "▶ play"; return; }
me.label = "⏸ pause";
if (slider.value >= slider.end && !looping()) slider.value = slider.start;
let last = performance.now();
const tick = (now) => {
  if (!me.active) return;
  if (now - last >= 1000 / Number(speed.value) - 4) {
    last = now;
    let v = slider.value + 1;
    if (v > slider.end) {
      if (!looping()) { me.active = false; return; }
      v = slider.start;
    }
    slider.value = v;
  }
  me.__toyflow_raf = requestAnimationFrame(tick);
};
me.__toyflow_raf = requestAnimationFrame(tick);
"""


def square_view(name: str, title: str, size: int, x_range, y_range, responsive: bool = False):
    """A square view over the field window; the four views share their ranges (pan and zoom
    together). ``responsive``: the figure scales with its column (``size`` is the starting
    width), its title is left to a line above it (:mod:`toyflow.app.stack_layout`) and its
    toolbar sits inside the frame, so the frame stays square."""
    sizes = (
        dict(sizing_mode="scale_width", width=size, height=size, toolbar_inner=True)
        if responsive
        else dict(frame_width=size, frame_height=size)
    )
    fig = figure(
        title=title,
        x_range=x_range,
        y_range=y_range,
        tools="pan,wheel_zoom,reset,save",
        active_scroll="wheel_zoom",
        toolbar_location="above",
        output_backend="canvas",
        name=name,
        min_border=4,
        **sizes,
    )
    if responsive:
        fig.title.visible = False
        fig.toolbar.autohide = True
    # No axes or grid lines: every frame repaints each view, and axes (tick labels measured,
    # CSS colours resolved) cost more than the arrows. The window is the field grid's.
    fig.axis.visible = False
    fig.grid.visible = False
    fig.outline_line_color = "#bbbbbb"
    return fig


class StackView:
    """Bokeh figures and controls over a :class:`SigmaStack` (see the module docstring)."""

    def __init__(
        self,
        stack: SigmaStack,
        *,
        field_size: int | None = None,
        speed: str = "10",
        projector: bool = False,
    ):
        if not isinstance(stack, SigmaStack):
            raise ValueError(f"StackView takes a SigmaStack, got {type(stack).__name__}")
        if speed not in SPEEDS:
            raise ValueError(f"speed must be one of {', '.join(SPEEDS)} frames/s, got {speed!r}")
        # No size: the views scale with the page (a grid of cards); a size: fixed square frames.
        self.responsive = field_size is None
        self.field_size = FIELD_SIZE if field_size is None else int(field_size)
        self.stack = stack
        self.titles: dict = {}  # card titles of the responsive layout, by figure name
        self.cards: dict = {}  # the layout's cards (title, figure, colour bar), by figure name
        self.projector = Projector(projector)
        self._make_sources()
        self._make_controls(speed)
        self._make_figures()
        self._connect()
        self.update(stack)
        self.layout = self._layout()
        projector_items(self)

    # -- models --------------------------------------------------------------------------------
    def _make_sources(self) -> None:
        xy = {"x": np.zeros(0, np.float32), "y": np.zeros(0, np.float32)}
        self.frames = ColumnDataSource({}, name="sigma-frames")
        # One multi_line source per field: line k is colour step k's polyline (NaN breaks).
        self.arrows = {
            w: ColumnDataSource(_arrow_lines([xy] * ARROW_BINS), name=f"arrows-{w}")
            for w in ("model", "optimal")
        }
        blank = {"image": [np.zeros((1, 1), np.float32)], "x": [0], "y": [0], "dw": [1], "dh": [1]}
        self.regions = {
            w: ColumnDataSource(dict(blank), name=f"region-{w}") for w in ("model", "optimal")
        }
        self.heat = ColumnDataSource(dict(blank), name="error-heat")
        self.positions = ColumnDataSource(dict(xy), name="positions")
        self.cloud = ColumnDataSource(dict(xy), name="noisy-cloud")
        self.train = ColumnDataSource(dict(xy), name="train-points")
        self.val = ColumnDataSource(dict(xy), name="val-points")
        self.paths = ColumnDataSource(dict(xy), name="trajectory-paths")
        self.positions_mem = ColumnDataSource(dict(xy), name="positions-memorized")
        self.curves = ColumnDataSource({"sigma": np.zeros(0)}, name="curves")
        self.arrow_mapper = LinearColorMapper(palette=ARROW_COLORS, low=0.0, high=1.0)
        self.error_mapper = LogColorMapper(palette=Magma256, low=1e-3, high=1.0)

    def _make_controls(self, speed: str) -> None:
        self.slider = Slider(
            start=0,
            end=1,
            value=0,
            step=1,
            title="noise level",
            width=520,
            # The σ read-out is the slider's own value text: a Div's new text would make Bokeh
            # lay the page out again on every frame (measured: most of a frame's time).
            css_classes=["sigma-slider", "sigma-value"],
            styles={"font-size": "15px"},
            format=CustomJSTickFormatter(
                args={"frames": self.frames},
                code=_READOUT_JS,
            ),
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

    def _square_view(self, name: str, title: str):
        return square_view(
            name, title, self.field_size, self.x_range, self.y_range, self.responsive
        )

    def _field_figure(self, which: str, title: str):
        fig = self._square_view(f"field-{which}", title)
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
        fig.multi_line(
            "xs",
            "ys",
            source=self.arrows[which],
            line_color="color",
            line_width=1.6,
            line_join="bevel",  # cheaper to rasterize than round joins, the same at this size
        )
        self._data_points(fig, size=6)
        return fig

    def _make_figures(self) -> None:
        from bokeh.models import Range1d

        self.x_range, self.y_range = Range1d(-1, 1), Range1d(-1, 1)
        model = self._field_figure("model", "learned field")
        model.css_classes = ["flow-field"]
        optimal = self._field_figure("optimal", "optimal D*")
        # The colour bars are figures of their own: the σ frames do not repaint them.
        self.color_bars = {
            "optimal": color_bar_figure(self.arrow_mapper, "arrow colour: ‖D(x;σ) − x‖ (both)"),
            "error": color_bar_figure(self.error_mapper, "‖D − D*‖ / σ"),
        }
        error = self._square_view("field-error", "difference ‖D − D*‖ / σ")
        error.image(
            image="image",
            x="x",
            y="y",
            dw="dw",
            dh="dh",
            source=self.heat,
            color_mapper=self.error_mapper,
        )
        self._data_points(error, size=4)
        traj = self._square_view("trajectory-view", "trajectories at σ")
        traj.line("x", "y", source=self.paths, color="#888888", alpha=0.25, line_width=0.6)
        for src, color, alpha, size in (
            (self.cloud, CLOUD_COLOR, 0.8, 5),
            (self.positions, POSITION_COLOR, 0.6, 5),
            (self.positions_mem, MEMORIZED_COLOR, 0.8, 5),
        ):
            # Fill only: an outline per dot doubles the canvas work of 1000 dots per frame.
            traj.scatter(
                "x", "y", source=src, size=size, fill_color=color, line_color=None, alpha=alpha
            )
        self._data_points(traj, size=6)
        traj.css_classes = ["stack-trajectories"]
        self.figures = {"model": model, "optimal": optimal, "error": error, "trajectories": traj}
        self.markers = []
        self.curve_lines: dict = {}  # curve name → its line renderer
        self.sigma_range = Range1d(1e-3, 100.0)
        for title, lines in CURVE_GROUPS:
            fig = figure(
                title=title,
                width=CURVE_WIDTH,
                height=250,
                sizing_mode="scale_width" if self.responsive else None,
                x_range=self.sigma_range,  # explicit: a curve of NaN gives a log axis no range
                x_axis_type="log",
                x_axis_label="σ",
                tools="",
                toolbar_location=None,
                output_backend="canvas",
            )
            fig.title.text_font_size = "13px"
            for name, color, dash in lines:
                self.curve_lines[name] = fig.line(
                    "sigma",
                    name,
                    source=self.curves,
                    color=color,
                    line_dash=dash,
                    line_width=2,
                    legend_label=CURVE_LEGENDS.get(name, name.split(": ")[-1]),
                )
            if title.startswith("gap"):
                _gap_axis(fig)
            curve_text(fig)
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
                "bins_model": self.arrows["model"],
                "bins_optimal": self.arrows["optimal"],
                "region_model": self.regions["model"],
                "region_optimal": self.regions["optimal"],
                "heat": self.heat,
                "positions": self.positions,
                "positions_mem": self.positions_mem,
                "cloud": self.cloud,
                "markers": self.markers,
                "ARROW_CELLS": ARROW_CELLS,
                "ARROW_CAP": ARROW_CAP,
                "HEAD": HEAD,
                "HEAD_ANGLE": HEAD_ANGLE,
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
        """The σ controls over a grid of cards (:func:`toyflow.app.stack_layout.grid_layout`)."""
        self._curve_figures = [v for k, v in self.figures.items() if k.startswith("curves:")]
        return grid_layout(self)

    def _set_title(self, name: str, text: str) -> None:
        self.figures[name].title.text = text
        if name in self.titles:
            self.titles[name].text = html.escape(text)

    # -- data ----------------------------------------------------------------------------------
    def update(self, stack: SigmaStack) -> None:
        """Show ``stack``: every source is replaced in place (same Bokeh models, so a served page
        keeps its zoom and its slider), the frame index is kept when it still exists."""
        if not isinstance(stack, SigmaStack):
            raise ValueError(f"update takes a SigmaStack, got {type(stack).__name__}")
        self.stack = stack
        i = int(min(max(self.slider.value, 0), stack.steps - 1))
        cols = frame_columns(stack, i)
        high = arrow_color_high(stack)
        self.arrow_mapper.high = high
        self.error_mapper.update(low=stack.error_range[0], high=stack.error_range[1])
        for w in ("model", "optimal"):
            self.arrows[w].data = _arrow_lines(arrow_paths(cols[w]["arrows"], high))
            self.regions[w].data = _image(stack.grid, cols[w]["region"])
        self.heat.data = _image(stack.heat_grid, cols["error"])
        xmin, ymin, xmax, ymax = stack.grid.bounds
        pad = _spacing(stack) / 2
        self.x_range.update(start=xmin - pad, end=xmax + pad)
        self.y_range.update(start=ymin - pad, end=ymax + pad)
        self.positions.data = cols["positions"]
        self.positions_mem.data = cols["positions_mem"]
        self.cloud.data = cols["cloud"]
        self.train.data = {"x": stack.train_x[:, 0], "y": stack.train_x[:, 1]}
        self.val.data = {"x": stack.val_x[:, 0], "y": stack.val_x[:, 1]}
        self.paths.data = _paths(stack)
        traj_title = "trajectories at σ"
        if stack.memorized is not None:
            traj_title += f": {stack.memorized_text()}"
        self._set_title("trajectories", traj_title)
        self.curves.data = _curve_columns(stack)
        lo, hi = float(np.min(stack.sigmas)), float(np.max(stack.sigmas))
        self.sigma_range.update(start=lo / 1.5, end=hi * 1.5)
        model = stack.meta.get("model", "model")
        self._set_title("model", model)
        for m in self.markers:
            m.location = cols["sigma"]
        self.slider.update(end=max(stack.steps - 1, 1), value=i, disabled=stack.steps < 2)
        # Last: the page redraws the current frame from the new frames (the script above).
        self.frames.data = frames_data(stack)
        if hasattr(self, "_curve_figures"):
            self._sync_curve_visibility()

    def _sync_curve_visibility(self) -> None:
        sync_visibility(self)


def sync_visibility(view: StackView) -> None:
    """Show the curves, legend entries, fields and cards the view's stack has."""
    for (_, lines), fig in zip(CURVE_GROUPS, view._curve_figures):
        fig.visible = any(name in view.stack.curves for name, _, _ in lines)
        for name, _, _ in lines:  # an absent curve leaves the legend too
            view.curve_lines[name].visible = name in view.stack.curves
        for item in fig.legend.items:
            item.visible = any(r.visible for r in item.renderers)
    # The model is D* itself: its field is the optimal one and the difference is zero.
    for name in ("optimal", "error"):
        view.figures[name].visible = view.stack.compare
    for name, c in getattr(view, "cards", {}).items():  # the responsive layout's cells
        c.visible = view.figures[name].visible


def _arrow_lines(paths: list[dict]) -> dict:
    """A multi_line source's columns from :func:`arrow_paths` (one line per colour step)."""
    return {
        "xs": [np.asarray(p["x"], np.float32) for p in paths],
        "ys": [np.asarray(p["y"], np.float32) for p in paths],
        "color": list(ARROW_COLORS),
    }


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


def _gap_axis(fig) -> None:
    """The gap figure's y axis: :func:`toyflow.sigma_stack.gap_axis` positions labelled with
    gap values, a zero line, and the cap for D*'s unbounded gap."""
    from bokeh.models import FixedTicker

    pos = [float(v) for v in gap_axis(np.asarray(GAP_TICKS))]
    fig.yaxis.ticker = FixedTicker(ticks=pos)
    fig.yaxis.major_label_overrides = {p: f"{t:g}" for p, t in zip(pos, GAP_TICKS)}
    fig.add_layout(Span(location=0.0, dimension="width", line_color="#444444", line_width=1))
    top = float(gap_axis(GAP_CAP))
    fig.add_layout(Span(location=top, dimension="width", line_color="#bbbbbb", line_dash="dotted"))
    fig.y_range.update(start=float(gap_axis(GAP_TICKS[0])), end=top * 1.04)


def _curve_columns(stack: SigmaStack) -> dict:
    """One column per known curve (NaN where the stack has none); the gaps on the gap axis
    (:func:`toyflow.sigma_stack.gap_axis`: capped at GAP_CAP, where D*'s gap, unbounded as
    σ → 0, is drawn as off scale)."""
    out = {"sigma": np.asarray(stack.sigmas, np.float64)}
    nan = np.full(stack.steps, np.nan)
    for _, lines in CURVE_GROUPS:
        for name, _, _ in lines:
            v = np.asarray(stack.curves.get(name, nan), np.float64)
            out[name] = gap_axis(v) if name.startswith("relative gap") else v
    return out
