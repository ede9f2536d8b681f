r"""Static figures (matplotlib) for experiments, the command line and reports.

Every function takes arrays or toyflow results and returns a :class:`matplotlib.figure.Figure`;
:func:`save_figure` writes one atomically (temporary file, then rename). Figures are built on
``matplotlib.figure.Figure`` with the Agg canvas, never through ``pyplot``, so nothing here
touches a global backend or keeps figures alive; matplotlib is imported only when a figure is
drawn, so ``import toyflow`` stays light. The core never imports this module's callers (Panel).

What is drawn:

- flow fields: the displacement ``D(x; σ) − x`` as arrows, the displacement region
  ``‖D(x; σ) − x‖ ≤ σ`` shaded, a model beside the optimal field and the norm of their difference
  ``‖D_model − D*‖ / σ`` as a heat map, with training (filled) and validation (open) points,
  trajectories and samples coloured by whether they are memorized;
- gap curves ``(E_val − E_train) / E_train`` over σ on a log axis, one per setting;
- loss curves (smoothed, log scale);
- ablation grids: rows a hyperparameter, columns training snapshots (tiny-diffusion's unit of
  output), each cell a flow field or a cloud of samples.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

#: Colours used throughout: training points, validation points, memorized / novel samples.
TRAIN_COLOR = "#d62728"
VAL_COLOR = "#1f77b4"
MEMORIZED_COLOR = "#ff7f0e"
NOVEL_COLOR = "#2ca02c"


def _new_figure(width: float, height: float):
    """A pyplot-free figure with an Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _cmap(name: str):
    import matplotlib

    return matplotlib.colormaps[name]


def save_figure(fig, path: str | os.PathLike, *, dpi: int = 110) -> str:
    """Write ``fig`` to ``path`` (format from the suffix, PNG by default) atomically.

    The image is rendered to memory, then written to a temporary file beside ``path`` and
    renamed, so a crash never leaves half an image. Returns the path written.
    """
    from toyflow.training import atomic_write_bytes

    path = os.fspath(path)
    fmt = os.path.splitext(path)[1].lstrip(".").lower() or "png"
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi)
    atomic_write_bytes(path, buf.getvalue())
    return path


# --- building blocks on one axis -------------------------------------------------------------


def _points(ax, train_x=None, val_x=None, *, size: float = 22):
    if train_x is not None and len(train_x):
        t = np.asarray(train_x)
        ax.scatter(
            t[:, 0],
            t[:, 1],
            s=size,
            c=TRAIN_COLOR,
            edgecolors="k",
            linewidths=0.5,
            zorder=5,
            label="train",
        )
    if val_x is not None and len(val_x):
        v = np.asarray(val_x)
        ax.scatter(
            v[:, 0],
            v[:, 1],
            s=size,
            facecolors="none",
            edgecolors=VAL_COLOR,
            linewidths=1.0,
            zorder=5,
            label="validation",
        )


def draw_field(
    ax,
    field,
    *,
    train_x=None,
    val_x=None,
    region: bool = True,
    max_arrows: int = 32,
    title: str | None = None,
    color: str = "0.15",
):
    """Draw a :class:`toyflow.fields.FlowField` on ``ax``: arrows of ``D(x; σ) − x`` (at most
    ``max_arrows`` per side, scaled to the grid spacing), the displacement region shaded."""
    grid = field.grid
    xs, ys = grid.xs, grid.ys
    disp = np.asarray(field.displacement)
    r = grid.resolution
    if region:
        ax.contourf(
            xs, ys, field.region.astype(float), levels=[0.5, 1.5], colors=["#9ecae1"], alpha=0.45
        )
    step = max(1, int(np.ceil(r / max_arrows)))
    sub = slice(None, None, step)
    gx, gy = np.meshgrid(xs[sub], ys[sub])
    u, v = disp[sub, sub, 0], disp[sub, sub, 1]
    # Arrows: direction of the displacement, length proportional to it but capped so the
    # longest arrow spans about two grid cells.
    mag = np.hypot(u, v)
    spacing = float(xs[min(step, r - 1)] - xs[0]) if r > 1 else 1.0
    scale = 2.0 * spacing / max(float(np.max(mag)), 1e-12)
    ax.quiver(
        gx,
        gy,
        u * scale,
        v * scale,
        angles="xy",
        scale_units="xy",
        scale=1.0,
        width=0.004,
        color=color,
    )
    _points(ax, train_x, val_x)
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(ys[0], ys[-1])
    ax.set_aspect("equal")
    ax.set_title(title if title is not None else f"σ = {field.sigma:.3g}", fontsize=9)
    ax.tick_params(labelsize=7)


def draw_difference(
    ax,
    model_field,
    reference_field,
    *,
    train_x=None,
    cmap: str = "magma",
    title: str | None = None,
    vmax: float | None = None,
):
    """Heat map of ``‖D_model − D_ref‖ / σ`` on the grid; returns the image (for a colour bar)."""
    diff = (
        np.linalg.norm(
            np.asarray(model_field.denoised) - np.asarray(reference_field.denoised), axis=-1
        )
        / model_field.sigma
    )
    g = model_field.grid
    im = ax.imshow(
        diff,
        origin="lower",
        extent=(g.xs[0], g.xs[-1], g.ys[0], g.ys[-1]),
        cmap=cmap,
        vmin=0.0,
        vmax=vmax,
        aspect="equal",
    )
    _points(ax, train_x, None, size=12)
    ax.set_title(title if title is not None else "‖D − D*‖ / σ", fontsize=9)
    ax.tick_params(labelsize=7)
    return im


def draw_trajectories(ax, trajectory, *, max_paths: int = 60, color: str = "0.4"):
    """Sampling paths ``trajectory (T+1, n, 2)`` as thin lines (at most ``max_paths``)."""
    traj = np.asarray(trajectory)
    for j in range(min(traj.shape[1], max_paths)):
        ax.plot(traj[:, j, 0], traj[:, j, 1], color=color, lw=0.5, alpha=0.6)


def draw_samples(ax, samples, memorized=None, *, size: float = 5):
    """Samples ``(n, 2)``; with a boolean ``memorized (n,)`` mask, memorized ones in orange."""
    s = np.asarray(samples)
    if memorized is None:
        ax.scatter(s[:, 0], s[:, 1], s=size, c=NOVEL_COLOR, alpha=0.6, linewidths=0)
        return
    m = np.asarray(memorized, bool)
    ax.scatter(s[~m, 0], s[~m, 1], s=size, c=NOVEL_COLOR, alpha=0.6, linewidths=0, label="novel")
    ax.scatter(
        s[m, 0],
        s[m, 1],
        s=size,
        c=MEMORIZED_COLOR,
        alpha=0.8,
        linewidths=0,
        label="memorized",
        zorder=6,
    )


# --- whole figures ---------------------------------------------------------------------------


def plot_field_comparison(
    model_field,
    reference_field=None,
    *,
    train_x=None,
    val_x=None,
    trajectories=None,
    samples=None,
    memorized=None,
    region: bool = True,
    model_title: str = "model",
    reference_title: str = "optimal D*",
):
    """One row: the model's field, the reference (optimal) field, and their difference.

    ``model_field`` / ``reference_field`` are :class:`~toyflow.fields.FlowField` on one grid.
    ``trajectories (T+1, n, 2)`` are drawn on the model panel; ``samples (n, 2)`` (coloured by
    ``memorized (n,)``) get a panel of their own.
    """
    ncols = 1 + (reference_field is not None) * 2 + (samples is not None)
    fig = _new_figure(3.3 * ncols, 3.4)
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    draw_field(
        axes[0],
        model_field,
        train_x=train_x,
        val_x=val_x,
        region=region,
        title=f"{model_title}, σ = {model_field.sigma:.3g}",
    )
    if trajectories is not None:
        draw_trajectories(axes[0], trajectories)
    col = 1
    if reference_field is not None:
        draw_field(
            axes[1],
            reference_field,
            train_x=train_x,
            val_x=val_x,
            region=region,
            title=f"{reference_title}, σ = {reference_field.sigma:.3g}",
        )
        im = draw_difference(axes[2], model_field, reference_field, train_x=train_x)
        fig.colorbar(im, ax=axes[2], shrink=0.8)
        col = 3
    if samples is not None:
        ax = axes[col]
        draw_samples(ax, samples, memorized)
        _points(ax, train_x, val_x)
        lim = model_field.grid.bounds
        ax.set_xlim(lim[0], lim[2])
        ax.set_ylim(lim[1], lim[3])
        ax.set_aspect("equal")
        share = "" if memorized is None else f" ({100 * float(np.mean(memorized)):.0f}% memorized)"
        ax.set_title("samples" + share, fontsize=9)
        ax.tick_params(labelsize=7)
    return fig


def plot_field_grid(
    fields: Sequence[Sequence[Any]],
    *,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    train_x=None,
    val_x=None,
    difference_row: Sequence[tuple[Any, Any]] | None = None,
    title: str | None = None,
):
    """A grid of flow fields (rows e.g. denoisers, columns σ), optionally with a last row of
    difference heat maps ``difference_row[j] = (model_field, reference_field)``."""
    rows = len(fields) + (difference_row is not None)
    cols = max(len(r) for r in fields)
    fig = _new_figure(3.0 * cols, 3.0 * rows)
    axes = fig.subplots(rows, cols, squeeze=False)
    for i, row in enumerate(fields):
        for j, f in enumerate(row):
            lab = None
            if row_labels is not None or col_labels is not None:
                parts = [
                    row_labels[i] if row_labels else None,
                    col_labels[j] if col_labels else None,
                ]
                lab = ", ".join(p for p in parts if p)
            draw_field(axes[i, j], f, train_x=train_x, val_x=val_x, title=lab)
    if difference_row is not None:
        for j, (m, r) in enumerate(difference_row):
            im = draw_difference(
                axes[-1, j], m, r, train_x=train_x, title=f"‖D − D*‖ / σ, σ = {m.sigma:.3g}"
            )
            fig.colorbar(im, ax=axes[-1, j], shrink=0.8)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def draw_gap_curves(
    ax,
    sigmas,
    gaps,
    labels: Sequence[str] | None = None,
    *,
    cmap: str = "viridis",
    ylabel: str = "relative gap (E_val − E_train) / E_train",
    mark_peaks: bool = True,
    legend_title: str | None = None,
    errors=None,
):
    """Gap curves ``gaps (k, T)`` over ``sigmas (T,)`` on a log-x axis (one colour per row);
    ``errors (k, T)`` (standard errors) draws a ± band around each."""
    s = np.asarray(sigmas, float)
    g = np.atleast_2d(np.asarray(gaps, float))
    colors = _cmap(cmap)(np.linspace(0.0, 0.9, max(len(g), 1)))
    for i, row in enumerate(g):
        lab = labels[i] if labels is not None else None
        ax.plot(s, row, color=colors[i], lw=1.4, label=lab)
        if errors is not None:
            _band(ax, s, row, np.atleast_2d(np.asarray(errors, float))[i], colors[i])
        if mark_peaks and np.any(np.isfinite(row)):
            k = int(np.nanargmax(row))
            ax.plot(s[k], row[k], "o", color=colors[i], ms=3)
    ax.set_xscale("log")
    ax.axhline(0.0, color="0.5", lw=0.6)
    ax.set_xlabel("σ")
    ax.set_ylabel(ylabel, fontsize=8)
    ax.tick_params(labelsize=7)
    if labels is not None:
        ax.legend(fontsize=6, title=legend_title, title_fontsize=7, ncol=2 if len(g) > 6 else 1)


def _band(ax, x, y, se, color) -> None:
    """A ± ``se`` band around ``y`` (NaN errors draw nothing)."""
    e = np.nan_to_num(np.asarray(se, float))
    ax.fill_between(x, y - e, y + e, color=color, alpha=0.2, lw=0)


def plot_gap_curves(
    sigmas,
    gaps,
    labels: Sequence[str] | None = None,
    *,
    title: str | None = None,
    cmap: str = "viridis",
    legend_title: str | None = None,
    summary: tuple[Sequence[float], Sequence[float], str, str] | None = None,
    errors=None,
    summary_errors=None,
):
    """Relative gap over σ (log x) for several settings; ``summary = (x, y, xlabel, ylabel)``
    adds a second panel (e.g. peak gap against δ); ``errors`` / ``summary_errors`` are
    standard errors drawn as bands / error bars."""
    fig = _new_figure(9.0 if summary else 5.5, 3.8)
    axes = fig.subplots(1, 2 if summary else 1, squeeze=False)[0]
    draw_gap_curves(
        axes[0], sigmas, gaps, labels, cmap=cmap, legend_title=legend_title, errors=errors
    )
    if title:
        axes[0].set_title(title, fontsize=10)
    if summary:
        x, y, xl, yl = summary
        axes[1].errorbar(
            np.asarray(x, float),
            np.asarray(y, float),
            yerr=None if summary_errors is None else np.asarray(summary_errors, float),
            fmt="o-",
            color="k",
            ms=4,
            capsize=2,
        )
        axes[1].set_xlabel(xl)
        axes[1].set_ylabel(yl)
        axes[1].tick_params(labelsize=7)
    return fig


def _smooth(y: np.ndarray, window: int) -> np.ndarray:
    if window <= 1 or y.size < window:
        return y
    kernel = np.ones(window) / window
    return np.convolve(y, kernel, mode="valid")


def draw_loss_curves(
    ax,
    losses,
    labels: Sequence[str] | None = None,
    *,
    smooth: int | None = None,
    cmap: str = "viridis",
):
    """Training losses ``(M, steps)`` (or a list of 1-D arrays), smoothed with a moving average."""
    rows = (
        [np.asarray(losses, float)]
        if np.ndim(losses) == 1
        else [np.asarray(r, float) for r in losses]
    )
    colors = _cmap(cmap)(np.linspace(0.0, 0.9, max(len(rows), 1)))
    for i, row in enumerate(rows):
        w = smooth if smooth is not None else max(1, row.size // 100)
        y = _smooth(row, w)
        x = np.arange(y.size) + (w + 1) / 2
        ax.plot(x, y, color=colors[i], lw=1.0, label=None if labels is None else labels[i])
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("loss (EDM-weighted)")
    ax.tick_params(labelsize=7)
    if labels is not None:
        ax.legend(fontsize=6)


def plot_loss_curves(
    losses,
    labels: Sequence[str] | None = None,
    *,
    smooth: int | None = None,
    title: str | None = None,
):
    """Loss curves as a figure (see :func:`draw_loss_curves`)."""
    fig = _new_figure(5.5, 3.5)
    ax = fig.subplots()
    draw_loss_curves(ax, losses, labels, smooth=smooth)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def plot_ablation_grid(
    cells: Sequence[Sequence[Any]],
    *,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    train_x=None,
    val_x=None,
    memorized: Sequence[Sequence[Any]] | None = None,
    title: str | None = None,
    extent: float | Sequence[float] = 17.5,
    header: Sequence[Callable[[Any], Any]] = (),
    cell_titles=None,
):
    """Ablation grid: rows a hyperparameter, columns snapshots (or any second setting).

    Each cell is a :class:`~toyflow.fields.FlowField` (drawn as arrows) or samples ``(n, 2)``
    (drawn as points, coloured by ``memorized[i][j]`` when given). ``header`` is a list of
    functions ``f(ax)`` drawing summary panels (gap curves, headline numbers) in a row above
    the grid. ``extent`` is a half-width or ``(xmin, xmax, ymin, ymax)`` for sample cells;
    ``cell_titles[i][j]`` overrides the column label as a cell's title.
    """
    rows, cols = len(cells), max(len(r) for r in cells)
    cell = 2.3
    head = 3.0 if header else 0.0
    fig = _new_figure(max(cell * cols + 0.6, 3.4 * len(header)), cell * rows + 0.5 + head)
    if header:
        top, bottom = fig.subfigures(2, 1, height_ratios=[head, cell * rows + 0.3])
        head_axes = top.subplots(1, len(header), squeeze=False)[0]
        for ax, draw in zip(head_axes, header):
            draw(ax)
    else:
        bottom = fig
    axes = bottom.subplots(rows, cols, squeeze=False)
    e = np.asarray(extent, float)
    box = (-float(e), float(e), -float(e), float(e)) if e.ndim == 0 else tuple(e.tolist())
    for i, row in enumerate(cells):
        for j in range(cols):
            ax = axes[i, j]
            if j >= len(row):
                ax.set_visible(False)
                continue
            item = row[j]
            if hasattr(item, "grid"):
                draw_field(ax, item, train_x=train_x, val_x=val_x, max_arrows=20, title="")
            else:
                mem = None if memorized is None else memorized[i][j]
                draw_samples(ax, item, None if mem is None else np.asarray(mem, bool), size=3)
                _points(ax, train_x, val_x, size=8)
                ax.set_xlim(box[0], box[1])
                ax.set_ylim(box[2], box[3])
                ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            if cell_titles is not None:
                ax.set_title(cell_titles[i][j], fontsize=7)
            elif i == 0:
                ax.set_title(col_labels[j], fontsize=8)
            if j == 0:
                ax.set_ylabel(row_labels[i], fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def plot_samples(
    samples,
    train_x=None,
    val_x=None,
    memorized=None,
    *,
    title: str | None = None,
    extent: float | None = 17.5,
):
    """Samples coloured by memorized (orange) or novel (green), with the data."""
    fig = _new_figure(4.2, 4.2)
    ax = fig.subplots()
    draw_samples(ax, samples, memorized)
    _points(ax, train_x, val_x)
    if extent is not None:
        ax.set_xlim(-extent, extent)
        ax.set_ylim(-extent, extent)
    ax.set_aspect("equal")
    share = "" if memorized is None else f" ({100 * float(np.mean(memorized)):.0f}% memorized)"
    ax.set_title((title or "samples") + share, fontsize=10)
    ax.legend(fontsize=7, loc="upper right")
    return fig


def plot_lines(
    x,
    series: Mapping[str, Any],
    *,
    xlabel: str,
    ylabel: str = "",
    title: str | None = None,
    logx: bool = False,
    logy: bool = False,
    ax=None,
    markers: bool = True,
    label_x_values: bool = False,
    errors: Mapping[str, Any] | None = None,
):
    """Several named series over a shared ``x`` (a small helper for headline panels);
    ``label_x_values`` puts a tick at every ``x`` (for widths, sizes, weights); ``errors``
    maps a series name to its standard errors, drawn as a ± band."""
    fig = None
    if ax is None:
        fig = _new_figure(5.0, 3.5)
        ax = fig.subplots()
    xv = np.asarray(x, float)
    for name, y in series.items():
        yv = np.asarray(y, float)
        (line,) = ax.plot(xv, yv, "o-" if markers else "-", ms=3, lw=1.2, label=name)
        if errors is not None and name in errors:
            _band(ax, xv, yv, errors[name], line.get_color())
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    if label_x_values:
        ax.set_xticks(xv, [f"{v:g}" for v in xv])
        ax.minorticks_off()
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.tick_params(labelsize=7)
    if title:
        ax.set_title(title, fontsize=9)
    if series:
        ax.legend(fontsize=6)
    return fig if fig is not None else ax.figure


def panel_figure(
    n_panels: int, *, ncols: int | None = None, width: float = 4.0, height: float = 3.3
):
    """An empty figure with ``n_panels`` axes in a grid; returns ``(fig, axes_list)``."""
    ncols = ncols or min(n_panels, 3)
    nrows = -(-n_panels // ncols)
    fig = _new_figure(width * ncols, height * nrows)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel().tolist()
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    return fig, axes[:n_panels]


def draw_on(ax, fn: Callable[..., Any], *args, **kwargs):
    """Call a ``draw_*`` helper on ``ax`` (for composing panels)."""
    return fn(ax, *args, **kwargs)


# --- one frame of a σ-stack, as the explorer's page draws it -------------------------------------

#: Colours of the σ views (the page's): noisy training cloud, trajectory states, region shade.
CLOUD_COLOR = "#b2abd2"
POSITION_COLOR = "#111111"
REGION_COLOR = "#9ecae1"


def _stack_arrows(ax, stack, i: int, which: str, norm, cmap) -> None:
    """Frame ``i`` of ``"model"`` / ``"optimal"``: the displacement region shaded and the
    arrows scaled per panel (:func:`toyflow.sigma_stack.arrow_lengths`), coloured by length."""
    from matplotlib.colors import ListedColormap

    from toyflow.sigma_stack import arrow_lengths

    pts = stack.grid.points
    disp = np.asarray(getattr(stack, which)[i], np.float32).reshape(-1, 2)
    mag = np.hypot(disp[:, 0], disp[:, 1])
    length = arrow_lengths(mag, stack.spacing)
    unit = disp / np.maximum(mag, 1e-30)[:, None]
    r = stack.grid.resolution
    region = (mag <= np.float32(stack.sigmas[i])).reshape(r, r).astype(float)
    ax.imshow(
        region,
        origin="lower",
        extent=_box(stack.grid),
        cmap=ListedColormap(["#ffffff", REGION_COLOR]),
        vmin=0,
        vmax=1,
        alpha=0.5,
        interpolation="nearest",
    )
    ax.quiver(
        pts[:, 0],
        pts[:, 1],
        unit[:, 0] * length,
        unit[:, 1] * length,
        mag,
        cmap=cmap,
        norm=norm,
        angles="xy",
        scale_units="xy",
        scale=1.0,
        width=0.004,
        headwidth=3.5,
        headlength=4,
    )


def _box(grid) -> tuple[float, float, float, float]:
    xmin, ymin, xmax, ymax = grid.bounds
    r = grid.resolution
    px = (xmax - xmin) / (2 * max(r - 1, 1))
    py = (ymax - ymin) / (2 * max(r - 1, 1))
    return (xmin - px, xmax + px, ymin - py, ymax + py)


def _square(ax, stack, title: str) -> None:
    _points(ax, stack.train_x, stack.val_x, size=14)
    box = _box(stack.grid)
    ax.set_xlim(box[0], box[1])
    ax.set_ylim(box[2], box[3])
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)


def _stack_curves(ax, stack, i: int, title: str, lines) -> None:
    """One curve group over σ (log x) with the frame's σ marked; gaps on the gap axis."""
    from toyflow.sigma_stack import CURVE_LEGENDS, GAP_CAP, GAP_TICKS, gap_axis

    s = np.asarray(stack.sigmas, float)
    is_gap = title.startswith("gap")
    for name, color, dash in lines:
        if name not in stack.curves:
            continue
        v = np.asarray(stack.curves[name], float)
        label = CURVE_LEGENDS.get(name, name.split(": ")[-1])
        ax.plot(
            s,
            gap_axis(v) if is_gap else v,
            color=color,
            lw=1.6,
            label=label,
            ls="--" if dash == "dashed" else "-",
        )
    if is_gap:
        pos = gap_axis(np.asarray(GAP_TICKS))
        ax.set_yticks(pos, [f"{t:g}" for t in GAP_TICKS])
        ax.axhline(0.0, color="#444444", lw=0.8)
        top = float(gap_axis(GAP_CAP))
        ax.axhline(top, color="#bbbbbb", lw=0.8, ls=":")
        ax.set_ylim(float(pos[0]), top * 1.04)
    ax.axvline(s[i], color="k", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_xlabel("σ", fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=6, loc="best")


def plot_stack_frame(stack, i: int, *, headline: Sequence[tuple[str, str, str]] = ()):
    """Frame ``i`` of a :class:`toyflow.sigma_stack.SigmaStack` as the explorer's page shows it:
    the model's field (and, when ``stack.compare``, D*'s field and the heat map
    ``‖D − D*‖ / σ`` on the stack's fixed log colour range), the trajectory states at σ with the
    noisy training cloud, the curves over σ with the frame's σ marked, a legend and the
    ``headline`` texts ``(name, value, detail)``. Arrows: colour is ``‖D(x; σ) − x‖`` on one
    colour bar for both fields, length scaled per panel — as on the page."""
    import matplotlib
    from matplotlib.colors import ListedColormap, LogNorm, Normalize
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from toyflow.sigma_stack import ARROW_BINS, CURVE_GROUPS

    i = int(min(max(int(i), 0), stack.steps - 1))
    sigma = float(stack.sigmas[i])
    groups = [(t, ls) for t, ls in CURVE_GROUPS if any(n in stack.curves for n, _, _ in ls)]
    top_n = 4 if stack.compare else 2
    fig = _new_figure(3.4 * 4, 3.3 + 2.9)
    top, bottom = fig.subfigures(2, 1, height_ratios=[3.3, 2.9])
    axes = top.subplots(1, top_n, squeeze=True)
    # The page's arrow palette: Plasma up to 214/255 (no pale yellow), in ARROW_BINS steps.
    plasma = matplotlib.colormaps["plasma"]
    cmap = ListedColormap([plasma(k / (ARROW_BINS - 1) * 214 / 255) for k in range(ARROW_BINS)])
    norm = Normalize(0.0, stack.arrow_color_high())
    model = stack.meta.get("model", "model")
    _stack_arrows(axes[0], stack, i, "model", norm, cmap)
    _square(axes[0], stack, f"{model}, σ = {sigma:.3g}")
    if stack.compare:
        _stack_arrows(axes[1], stack, i, "optimal", norm, cmap)
        _square(axes[1], stack, "optimal D*")
        top.colorbar(
            matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap),
            ax=axes[:2].tolist(),
            shrink=0.8,
            label="arrow colour: ‖D(x;σ) − x‖",
        )
        lo, hi = stack.error_range
        err = np.clip(np.asarray(stack.error[i], np.float32), lo, hi)
        heat = axes[2].imshow(
            err,
            origin="lower",
            extent=_box(stack.heat_grid),
            cmap="magma",
            norm=LogNorm(lo, hi),
            interpolation="nearest",
        )
        _square(axes[2], stack, "difference ‖D − D*‖ / σ")
        top.colorbar(heat, ax=axes[2], shrink=0.8)
    else:
        top.colorbar(
            matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap),
            ax=axes[0],
            shrink=0.8,
            label="‖D(x;σ) − x‖",
        )
    traj = axes[-1]
    cloud = np.asarray(stack.cloud[i], np.float32)
    pos = np.asarray(stack.trajectory[i], np.float32)
    mem = np.zeros(pos.shape[0], bool) if stack.memorized is None else np.asarray(stack.memorized)
    traj.scatter(cloud[:, 0], cloud[:, 1], s=3, c=CLOUD_COLOR, alpha=0.8, linewidths=0)
    traj.scatter(pos[~mem, 0], pos[~mem, 1], s=3, c=POSITION_COLOR, alpha=0.6, linewidths=0)
    traj.scatter(pos[mem, 0], pos[mem, 1], s=3, c=MEMORIZED_COLOR, alpha=0.8, linewidths=0)
    share = stack.memorized_text()
    _square(traj, stack, "trajectories at σ" + (f": {share}" if share else ""))
    n_bottom = len(groups) + 1
    low = bottom.subplots(1, n_bottom, squeeze=False)[0]
    for ax, (title, lines) in zip(low, groups):
        _stack_curves(ax, stack, i, title, lines)
    info = low[-1]
    info.axis("off")
    text = [stack.meta.get("data", ""), stack.meta.get("sampler", "")]
    for name, value, detail, *_ in headline:
        text.append(f"{name}: {value}" + (f"  ({detail})" if detail else ""))
    info.text(0, 1, "\n".join(t for t in text if t), va="top", fontsize=7, wrap=True)
    marks = [
        Line2D([], [], ls="", marker="o", mfc=TRAIN_COLOR, mec="k", label="training point"),
        Line2D([], [], ls="", marker="o", mfc="white", mec=VAL_COLOR, label="validation point"),
        Line2D([], [], ls="", marker=".", color=POSITION_COLOR, label="trajectory at σ"),
        Line2D([], [], ls="", marker=".", color=MEMORIZED_COLOR, label="… ending memorized"),
        Line2D([], [], ls="", marker=".", color=CLOUD_COLOR, label="noisy training y + σε"),
        Patch(color=REGION_COLOR, alpha=0.5, label="region ‖D(x;σ) − x‖ ≤ σ"),
    ]
    info.legend(handles=marks, loc="lower left", fontsize=7, frameon=False)
    return fig
