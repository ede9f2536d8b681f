"""Offline exports of the σ views: one self-contained HTML page, and a GIF of the σ sweep.

    from toyflow.app.export import export_html, export_gif
    export_html(stack_or_state, "run.html", title="δ = 1.2")   # BokehJS inline, no network
    export_gif(stack, "sweep.gif", fps=8)                     # one frame per σ (matplotlib)

The page is :class:`toyflow.app.stack_view.StackView` written with ``bokeh.embed.file_html``
and ``bokeh.resources.INLINE``: it loads nothing, runs from ``file://`` and its σ slider and play
button switch frames in the browser. ``toyflow explore --export FILE.html`` writes it from the
command line. The GIF needs no browser: matplotlib draws each frame (the same arrows, heat map
and points as the page, through :func:`toyflow.app.stack_view.frame_columns`) and Pillow writes
the animation.
"""

from __future__ import annotations

import html
import io
import os

import numpy as np

from toyflow.sigma_stack import SigmaStack, stack_for_state

#: Frames per second a GIF may play at.
GIF_FPS = (0.5, 50.0)


def as_stack(stack_or_state, **kwargs) -> SigmaStack:
    """A :class:`SigmaStack`, or the stack of an explorer state's current inputs."""
    if isinstance(stack_or_state, SigmaStack):
        return stack_or_state
    if hasattr(stack_or_state, "sigma_grid") and hasattr(stack_or_state, "trajectories"):
        return stack_for_state(stack_or_state, **kwargs)
    raise ValueError(
        f"expected a SigmaStack or an explorer state, got {type(stack_or_state).__name__}"
    )


def _header(stack: SigmaStack, title: str):
    from bokeh.models import Div

    from toyflow.app import stack_view as sv

    meta = " · ".join(html.escape(v) for k, v in stack.meta.items() if k != "model")
    dot = (
        '<span style="display:inline-block;width:{s}px;height:{s}px;border-radius:50%;'
        'background:{f};border:1.5px solid {c};margin:0 4px 0 12px"></span>'
    )
    legend = (
        f"{dot.format(s=9, f=sv.TRAIN_COLOR, c=sv.TRAIN_COLOR)}training point"
        f"{dot.format(s=9, f='transparent', c=sv.VAL_COLOR)}validation point"
        f"{dot.format(s=6, f=sv.POSITION_COLOR, c=sv.POSITION_COLOR)}trajectory at σ"
        f"{dot.format(s=6, f=sv.MEMORIZED_COLOR, c=sv.MEMORIZED_COLOR)}trajectory that ends "
        "memorized (its sample's nearest training point is closer than 1/3 of the second-nearest)"
        f"{dot.format(s=7, f=sv.CLOUD_COLOR, c=sv.CLOUD_COLOR)}noisy training points y + σε"
        '<span style="display:inline-block;width:14px;height:10px;background:'
        f'{sv.REGION_COLOR};margin:0 4px 0 12px"></span>displacement region ‖D(x;σ) − x‖ ≤ σ'
        "<br>arrows: D(x;σ) − x, where the denoiser pulls a point (colour: its length; length: "
        "scaled per panel)"
    )
    text = (
        f'<h2 style="margin:4px 0">{html.escape(title)}</h2>'
        f'<div style="color:#444;font-size:13px">{html.escape(stack.meta.get("model", ""))}'
        f"{' · ' + meta if meta else ''}</div>"
        f'<div style="font-size:12px;color:#333;margin-top:4px">{legend}</div>'
    )
    return Div(text=text, sizing_mode="stretch_width")


def page_layout(stack: SigmaStack, title: str):
    """The exported page's Bokeh layout: a header (title, settings, legend) over the views."""
    from bokeh.layouts import column

    from toyflow.app.stack_view import StackView

    view = StackView(stack)
    return column(_header(stack, title), view.layout, sizing_mode="stretch_width"), view


def export_html(stack_or_state, path, *, title: str = "toyflow: the σ sweep", **kwargs) -> str:
    """Write one self-contained HTML page (BokehJS inline) to ``path``; returns the path.
    ``stack_or_state`` is a :class:`SigmaStack` or an explorer state (``kwargs`` then go to
    :func:`toyflow.sigma_stack.stack_for_state`)."""
    stack = as_stack(stack_or_state, **kwargs)
    if not isinstance(title, str) or not title.strip():
        raise ValueError("title must be a non-empty string")
    layout, _ = page_layout(stack, title)
    page = _offline_page(layout, title)
    path = os.fspath(path)
    tmp = path + ".part"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(page)
    os.replace(tmp, path)
    return path


def _offline_page(layout, title: str) -> str:
    """The page of ``bokeh.embed.file_html(layout, INLINE)`` with BokehJS inline and nothing else.

    Bokeh adds the ``__javascript__``/``__css__`` files of every model class registered in the
    process, used or not; once Panel is imported that includes its ESM shim as a relative
    ``<script src=...>``, which a page opened from a USB stick cannot load. The σ page draws
    plain Bokeh models only, so the bundle keeps just its inline code.
    """
    from bokeh.embed.bundle import bundle_for_objs_and_resources
    from bokeh.embed.elements import html_page_for_render_items
    from bokeh.embed.util import OutputDocumentFor, standalone_docs_json_and_render_items
    from bokeh.resources import INLINE

    with OutputDocumentFor([layout]) as doc:
        docs_json, render_items = standalone_docs_json_and_render_items([layout])
        bundle = bundle_for_objs_and_resources([doc], INLINE)
        bundle.js_files = []
        bundle.css_files = []
        return html_page_for_render_items(bundle, docs_json, render_items, title=title)


def _gif_frames(stack: SigmaStack, title: str, size: tuple[float, float], dpi: int):
    """Yield one Pillow image per σ (matplotlib, Agg; artists updated in place)."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import LineCollection
    from matplotlib.colors import LogNorm, Normalize
    from matplotlib.figure import Figure
    from PIL import Image

    from toyflow.app import stack_view as sv

    # A figure of its own on the Agg canvas: no pyplot state, whatever backend is in use.
    fig = Figure(figsize=size, dpi=dpi, layout="constrained")
    canvas = FigureCanvasAgg(fig)
    axes = fig.subplots(1, 4)
    xmin, ymin, xmax, ymax = stack.grid.bounds
    pad = (xmax - xmin) / (2 * (stack.grid.resolution - 1))
    box = (xmin - pad, xmax + pad, ymin - pad, ymax + pad)
    hx0, hy0, hx1, hy1 = stack.heat_grid.bounds
    hpad = (hx1 - hx0) / (2 * max(stack.heat_grid.resolution - 1, 1))
    hbox = (hx0 - hpad, hx1 + hpad, hy0 - hpad, hy1 + hpad)
    high = sv.arrow_color_high(stack)
    norm = Normalize(0.0, high)
    cmap = matplotlib.colors.ListedColormap(list(sv.ARROW_COLORS))
    cols = sv.frame_columns(stack, 0)
    arts = {}
    titles = (stack.meta.get("model", "model"), "optimal D*")
    for ax, which, name in zip(axes[:2], ("model", "optimal"), titles):
        a = cols[which]["arrows"]
        region = ax.imshow(
            cols[which]["region"],
            origin="lower",
            extent=box,
            cmap="Blues",
            vmin=0,
            vmax=2.5,
            interpolation="nearest",
            alpha=0.6,
        )
        lc = LineCollection([], linewidths=1.1, joinstyle="round")
        ax.add_collection(lc)
        arts[which] = (region, lc)
        ax.set_title(name, fontsize=9)
    fig.colorbar(
        matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap),
        ax=axes[1],
        shrink=0.8,
        label="‖D(x;σ) − x‖",
    )
    heat = axes[2].imshow(
        cols["error"],
        origin="lower",
        extent=hbox,
        cmap="magma",
        norm=LogNorm(*stack.error_range),
        interpolation="nearest",
    )
    axes[2].set_title("‖D − D*‖ / σ", fontsize=9)
    fig.colorbar(heat, ax=axes[2], shrink=0.8)
    cloud = axes[3].scatter([], [], s=3, c=sv.CLOUD_COLOR, alpha=0.7, label="noisy training")
    pos = axes[3].scatter([], [], s=3, c=sv.POSITION_COLOR, alpha=0.6, label="trajectories")
    pos_mem = axes[3].scatter(
        [], [], s=3, c=sv.MEMORIZED_COLOR, alpha=0.8, label="ending memorized"
    )
    axes[3].set_title("trajectories and noisy data", fontsize=9)
    for ax in axes:
        ax.scatter(
            stack.train_x[:, 0],
            stack.train_x[:, 1],
            s=14,
            c=sv.TRAIN_COLOR,
            edgecolors="black",
            linewidths=0.4,
            zorder=3,
        )
        if stack.val_x.shape[0]:
            ax.scatter(
                stack.val_x[:, 0],
                stack.val_x[:, 1],
                s=14,
                facecolors="white",
                edgecolors=sv.VAL_COLOR,
                linewidths=1.0,
                zorder=3,
            )
        ax.set_xlim(box[0], box[1])
        ax.set_ylim(box[2], box[3])
        ax.set_aspect("equal")
        ax.set_xticks([])  # ticks cost most of a frame's drawing; the window is the grid's
        ax.set_yticks([])
    axes[3].legend(fontsize=7, loc="upper left", markerscale=2)
    suptitle = fig.suptitle("", fontsize=10)
    for i in range(stack.steps):
        cols = sv.frame_columns(stack, i)
        for which in ("model", "optimal"):
            region, lc = arts[which]
            a = cols[which]["arrows"]
            region.set_data(cols[which]["region"])
            # the page's arrows: one polyline (shaft, barbs) per arrow, coloured by its step
            lines, colors = [], []
            for color, path in zip(sv.ARROW_COLORS, sv.arrow_paths(a, high)):
                pts = np.stack([path["x"], path["y"]], 1).reshape(-1, 6, 2)[:, :5]
                lines.append(pts)
                colors += [color] * pts.shape[0]
            lc.set_segments(list(np.concatenate(lines)))
            lc.set_color(colors)
        heat.set_data(cols["error"])
        cloud.set_offsets(np.stack([cols["cloud"]["x"], cols["cloud"]["y"]], 1))
        pos.set_offsets(np.stack([cols["positions"]["x"], cols["positions"]["y"]], 1))
        pos_mem.set_offsets(np.stack([cols["positions_mem"]["x"], cols["positions_mem"]["y"]], 1))
        suptitle.set_text(f"{title}    σ = {cols['sigma']:.3g}  (step {i + 1} of {stack.steps})")
        canvas.draw()
        if i == 0:  # lay the figure out once: every frame has the same boxes
            fig.set_layout_engine("none")
        rgba = np.asarray(canvas.buffer_rgba())
        yield Image.fromarray(rgba[..., :3].copy())


def export_gif(
    stack_or_state,
    path,
    *,
    fps: float = 8.0,
    title: str = "toyflow: the σ sweep",
    size: tuple[float, float] = (13.0, 3.6),
    dpi: int = 80,
    loop: bool = True,
    **kwargs,
) -> str:
    """Write a GIF of the σ sweep (one frame per σ, from σ_max down) to ``path``; returns it."""
    stack = as_stack(stack_or_state, **kwargs)
    try:
        fps = float(fps)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"fps must be a number, got {fps!r}") from exc
    if not GIF_FPS[0] <= fps <= GIF_FPS[1]:
        raise ValueError(f"fps must be between {GIF_FPS[0]} and {GIF_FPS[1]}, got {fps}")
    frames = [
        im.quantize(colors=255, method=2, dither=0) for im in _gif_frames(stack, title, size, dpi)
    ]
    buf = io.BytesIO()
    extra = {"loop": 0} if loop else {}  # Pillow: loop=0 repeats forever; no loop plays once
    frames[0].save(
        buf,
        format="GIF",
        save_all=True,
        append_images=frames[1:],
        duration=round(1000 / fps),
        optimize=False,
        disposal=1,
        **extra,
    )
    path = os.fspath(path)
    with open(path + ".part", "wb") as f:
        f.write(buf.getvalue())
    os.replace(path + ".part", path)
    return path
