"""Plot elements of the explorer page: colours, sizes, HoloViews options, and the Bokeh glyphs
of the σ-dependent field layers (pure functions of arrays; no state, no science)."""

from __future__ import annotations

import holoviews as hv
import numpy as np
from holoviews import opts

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
MONO = ":host textarea {font-family: monospace; font-size: 11px}"

hv.extension("bokeh", logo=False)
# Canvas, not WebGL: our glyph counts are small (≤ 5,000 points, 1,024 arrows), and without a
# GPU (VMs, headless browsers, many classroom machines) WebGL is software-rendered and each
# frame is copied back to the canvas: measured 124 ms of drawImage per σ step in chromium.
hv.renderer("bokeh").webgl = False


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
        hooks=[add_sigma_marker],
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


def add_sigma_marker(plot, element):
    """Hook: a vertical line at the current σ, a Bokeh Span moved directly (no redraw).
    Returns the figure's Span (added once)."""
    from bokeh.models import Span

    fig = plot.state
    for r in fig.center:
        if getattr(r, "name", None) == "sigma-marker":
            return r
    span = Span(
        location=1.0,
        dimension="height",
        line_color="black",
        line_dash="dotted",
        line_width=1,
        name="sigma-marker",
        visible=False,
    )
    fig.add_layout(span)
    return span


def empty_curve(ydim: str, label: str = "", group: str = "Model") -> hv.Curve:
    """A curve with nothing to draw (on a log σ axis) until the store has computed one."""
    return hv.Curve(([1e-3, 1e2], [np.nan, np.nan]), "σ", ydim, label=label, group=group)


def points_element(x, group: str, label: str = "") -> hv.Points:
    x = np.zeros((0, 2)) if x is None else np.asarray(x)
    return hv.Points((x[:, 0], x[:, 1]), kdims=["x", "y"], group=group, label=label)


def field_sources(which: str) -> dict:
    """The ColumnDataSources of one field plot's σ-dependent glyphs."""
    from bokeh.models import ColumnDataSource

    if which == "difference":
        return {"image": ColumnDataSource(image_columns(None, None))}
    out = {
        "region": ColumnDataSource(image_columns(None, None)),
        "arrows": ColumnDataSource({k: np.zeros(0) for k in ("x0", "y0", "x1", "y1", "mag")}),
        "heads": ColumnDataSource({k: np.zeros(0) for k in ("x", "y", "angle", "mag")}),
    }
    if which == "model":
        out["positions"] = ColumnDataSource({"x": np.zeros(0), "y": np.zeros(0)})
    return out


def image_columns(grid, values) -> dict:
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


def arrow_columns(field, vmax: float) -> dict:
    """Arrows of ``D(x; σ) − x`` (segments and triangle heads) and the displacement region.

    Lengths are scaled so that the longest arrow of the fields shown spans about 1.8 grid cells;
    the colour is the length relative to that longest arrow (0–1).
    """
    if field is None:
        z = np.zeros(0)
        return {
            "region": image_columns(None, None),
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
        "region": image_columns(field.grid, field.region.astype(np.float64)),
        "arrows": {"x0": pts[:, 0], "y0": pts[:, 1], "x1": x1, "y1": y1, "mag": rel},
        "heads": {"x": x1, "y": y1, "angle": angle - np.pi / 2, "mag": rel},
    }


def attach_field_glyphs(fig, sources: dict, which: str) -> None:
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


def _dot(color, hollow=False, size=9):
    fill = "transparent" if hollow else color
    return (
        f'<span style="display:inline-block;width:{size}px;height:{size}px;border-radius:50%;'
        f'background:{fill};border:1.5px solid {color};margin:0 4px 0 12px"></span>'
    )


LEGEND = (
    '<div style="font-size:12px;color:#333">'
    f"{_dot(TRAIN_COLOR)}training point{_dot(VAL_COLOR, hollow=True)}validation point"
    f"{_dot(POSITION_COLOR, size=5)}trajectories at this σ"
    '<span style="display:inline-block;width:14px;height:10px;background:#9ecae1;opacity:.7;'
    'margin:0 4px 0 12px"></span>displacement region ‖D(x;σ) − x‖ ≤ σ'
    f"{_dot(MEMORIZED_COLOR)}memorized sample{_dot(NOVEL_COLOR)}novel sample"
    " &nbsp;·&nbsp; arrows: D(x;σ) − x (colour: length)</div>"
)


COPY_JS = """
const text = src.value;
if (navigator.clipboard && window.isSecureContext) {
  navigator.clipboard.writeText(text);
} else {
  const ta = document.createElement('textarea');
  ta.value = text; document.body.appendChild(ta); ta.select();
  try { document.execCommand('copy'); } finally { document.body.removeChild(ta); }
}
"""
