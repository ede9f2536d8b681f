"""The explorer page's figures: the three field plots (learned, optimal, difference) and the
trajectory, curve and loss plots, drawn from the store's published outputs.

The field plots: HoloViews draws the figures, axes and data points (redrawn when the data
change); the σ-dependent glyphs are Bokeh glyphs of our own (added by a hook) whose sources
:meth:`FieldPlots.push` replaces directly: a σ step sends new columns, nothing else.
"""

from __future__ import annotations

import holoviews as hv
import numpy as np
import panel as pn
from holoviews import streams

from toyflow.app.elements import (
    DIFF_LABEL,
    DIFF_RANGE,
    GAP_CAP,
    MAX_PATHS,
    add_sigma_marker,
    arrow_columns,
    attach_field_glyphs,
    empty_curve,
    field_sources,
    image_columns,
    points_element,
)
from toyflow.app.loop import on_doc


class FieldPlots:
    """The three field plots of one page, and their σ-dependent glyphs (``glyphs``)."""

    def __init__(self, app):
        self.app = app
        self.state = app.state
        self._points_cache: dict = {}
        self.glyphs: dict[str, list[dict]] = {"model": [], "optimal": [], "difference": []}
        maps = []
        for which in ("model", "optimal", "difference"):
            dmap = hv.DynamicMap(
                lambda data_serial=0, which=which: self.frame(which),
                streams=[streams.Params(app, ["data_serial"])],
            ).opts(hooks=[self._hook(which)])
            maps.append(dmap)
        self.model_map, self.optimal_map, self.difference_map = maps
        # Options live in the elements' groups (see elements.register_options): an .opts() call
        # here would re-apply options to every frame. Layout plots share axes and tools.
        self.pane = pn.pane.HoloViews(
            (maps[0] + maps[1] + maps[2]).cols(3),
            css_classes=["flow-field"],
            linked_axes=True,
            margin=(0, 5),
        )

    def data_points(self, size: float | None = None) -> list:
        """Training (filled) and validation (open) points; the same elements are returned until
        the data change, so redraws skip re-sending them."""
        view = self.state.data_view
        key = (id(view), size)
        hit = self._points_cache.get(key)
        if hit is not None and hit[0] is view:
            return hit[1]
        tx = np.zeros((0, 2)) if view is None else view.dataset.train_x
        vx = np.zeros((0, 2)) if view is None else view.dataset.val_x
        layers = [points_element(tx, "Train"), points_element(vx, "Validation")]
        if size is not None:
            layers = [p.opts(size=size) for p in layers]
        self._points_cache = {k: v for k, v in self._points_cache.items() if v[0] is view}
        self._points_cache[key] = (view, layers)
        return layers

    def titles(self) -> dict[str, str]:
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

    def frame(self, which: str) -> hv.Overlay:
        """What HoloViews draws of a field plot: the data points (and the title)."""
        size = 4 if which == "difference" else None
        return hv.Overlay(self.data_points(size=size), group="Field", label=self.titles()[which])

    def _hook(self, which: str):
        """HoloViews hook: give a new field figure its own σ-dependent glyphs (once)."""

        def hook(plot, element):
            fig = plot.state
            if any(g["figure"] is fig for g in self.glyphs[which]):
                return
            sources = field_sources(which)
            attach_field_glyphs(fig, sources, which)
            self.glyphs[which].append(sources)
            self._fill(self.columns(), self.titles(), sources, which)

        return hook

    def columns(self) -> dict[str, dict[str, dict]]:
        """New columns of every σ-dependent glyph (plain NumPy; see elements.field_sources)."""
        s = self.state
        f, g = s.field_view, s.optimal_field_view
        fields = [x for x in (f, g) if x is not None]
        vmax = max((float(np.max(x.magnitude)) for x in fields), default=1.0)
        out = {"model": arrow_columns(f, vmax), "optimal": arrow_columns(g, vmax)}
        pos = s.positions_view if f is not None else None
        out["model"]["positions"] = {
            "x": np.zeros(0) if pos is None else pos[:, 0],
            "y": np.zeros(0) if pos is None else pos[:, 1],
        }
        if f is None or g is None:
            out["difference"] = {"image": image_columns(None, None)}
        else:
            d = np.linalg.norm(np.asarray(f.denoised) - np.asarray(g.denoised), axis=-1) / f.sigma
            out["difference"] = {"image": image_columns(f.grid, np.clip(d, *DIFF_RANGE))}
        return out

    @staticmethod
    def _fill(cols, titles, sources, which) -> None:
        for name, data in cols[which].items():
            sources[name].data = data
        fig = sources["figure"]
        if fig.title is not None:
            fig.title.text = titles[which]

    def push(self, *_events) -> None:
        """σ moved (or the model changed): replace the glyphs' columns, on each page's event
        loop (the store publishes from a worker thread)."""
        if not any(self.glyphs.values()):
            return
        cols, titles = self.columns(), self.titles()
        by_doc: dict = {}
        for which, sets in self.glyphs.items():
            for sources in sets:
                by_doc.setdefault(sources["figure"].document, []).append((which, sources))
        for doc, items in by_doc.items():

            def apply(items=items):
                for which, sources in items:
                    self._fill(cols, titles, sources, which)

            on_doc(doc, apply)


class SummaryPlots:
    """The trajectory plot, the three curve plots over σ (with a σ marker) and the loss plot."""

    def __init__(self, app, fields: FieldPlots):
        self.app = app
        self.state = app.state
        self.fields = fields

        self.spans: list = []  # the curves' σ markers (Bokeh Spans), one per rendered figure

        def dmap(fn, *names, hooks=()):
            out = hv.DynamicMap(fn, streams=[streams.Params(app, list(names))])
            return out.opts(hooks=list(hooks)) if hooks else out

        self.trajectory_map = dmap(self.trajectory_plot, "trajectory_serial", "data_serial")
        self.trajectory_pane = pn.pane.HoloViews(
            self.trajectory_map, css_classes=["trajectory-plot"]
        )
        self.gap_pane = pn.pane.HoloViews(
            dmap(self.gap_plot, "curves_serial", hooks=[self._marker_hook]),
            css_classes=["gap-plot"],
        )
        self.error_pane = pn.pane.HoloViews(
            dmap(self.error_plot, "curves_serial", hooks=[self._marker_hook]),
            css_classes=["error-plot"],
        )
        self.overlap_pane = pn.pane.HoloViews(
            dmap(self.overlap_plot, "curves_serial", hooks=[self._marker_hook]),
            css_classes=["overlap-plot"],
        )
        self.curve_panes = [self.gap_pane, self.error_pane, self.overlap_pane]
        self.loss_map = dmap(self.loss_plot, "train_serial")
        self.loss_pane = pn.pane.HoloViews(self.loss_map, css_classes=["loss-plot"])
        # Built on first use (a learned model), so a page that never trains stays light.
        # Visibility is toggled on a wrapper (toggling it on a HoloViews pane fails in Panel 1.9).
        self.loss_box = pn.Column(visible=False)

    def show_loss(self, learned: bool) -> None:
        if learned and not self.loss_box.objects:
            self.loss_box.append(self.loss_pane)
        self.loss_box.visible = learned

    def _marker_hook(self, plot, element) -> None:
        """HoloViews hook of the curve plots: a σ marker on each new figure, remembered."""
        span = add_sigma_marker(plot, element)
        if all(span is not x for x in self.spans):
            self.spans.append(span)
            sigma = self._sigma()
            if sigma is not None:
                span.update(location=sigma, visible=True)

    def _sigma(self) -> float | None:
        try:
            return self.state.current_sigma()
        except ValueError:  # σ_min ≥ σ_max: the alert says so
            return None

    def move_sigma_markers(self, *_events) -> None:
        """Move the curves' σ markers (Bokeh Spans): one property each, no plot redraw."""
        sigma = self._sigma()
        if sigma is None:
            return
        for span in list(self.spans):
            on_doc(span.document, lambda sp=span: sp.update(location=sigma, visible=True))

    def trajectory_plot(self, trajectory_serial=0, data_serial=0):
        t = self.state.trajectory_view
        if t is None:
            paths = hv.Path([], kdims=["x", "y"], group="Trajectories")
            mem, novel = points_element(None, "Memorized"), points_element(None, "Novel")
            title = "trajectories and samples"
        else:
            traj = t.trajectory[:, :MAX_PATHS]
            n = traj.shape[1]
            # One path per sample, separated by NaN rows: one glyph, fast to send.
            seg = np.concatenate([traj.transpose(1, 0, 2), np.full((n, 1, 2), np.nan)], axis=1)
            paths = hv.Path([seg.reshape(-1, 2)], kdims=["x", "y"], group="Trajectories")
            m = np.asarray(t.memorized, bool)
            mem = points_element(t.samples[m], "Memorized")
            novel = points_element(t.samples[~m], "Novel")
            title = f"samples: {100 * m.mean():.0f}% memorized"
        layers = [paths, *self.fields.data_points(), novel, mem]
        return hv.Overlay(layers, group="Samples", label=title)

    def _curves(self):
        return self.state.curves_view or {}

    def gap_plot(self, curves_serial=0):
        c = self._curves()
        model, opt = c.get("model_gap"), c.get("optimal_gap")
        # The optimal denoiser's gap grows without bound as σ → 0 (its training error → 0):
        # draw it capped just above the model's largest gap, so the model's curve stays readable.
        cap = GAP_CAP
        if model is not None and model is not opt:
            cap = max(2.0 * float(np.nanmax(model.gap)), 0.1)

        def curve(g, label, group):
            if g is None:
                return empty_curve("relative gap", label, group)
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

    def error_plot(self, curves_serial=0):
        o = self._curves().get("overlap")
        y = "‖D − D*‖"
        if o is None:
            a = empty_curve(y, "noisy training samples", "Model")
            b = empty_curve(y, "trajectory states", "Trajectory")
        else:
            a = hv.Curve(
                (o.sigmas, o.error_noisy_train),
                "σ",
                y,
                group="Model",
                label="noisy training samples",
            )
            b = hv.Curve(
                (o.sigmas, o.error_traj), "σ", y, group="Trajectory", label="trajectory states"
            )
        return hv.Overlay([a, b], group="Curves", label="model vs optimal error")

    def overlap_plot(self, curves_serial=0):
        o = self._curves().get("overlap")
        if o is None:
            c = empty_curve("overlap", "NN-distance ratio", "Overlap")
            w = empty_curve("overlap", "D* max weight (traj.)", "Reference")
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

    def loss_plot(self, train_serial=0):
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
