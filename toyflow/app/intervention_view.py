"""The explorer page's "Intervention" card: claim 3 tested by intervening on the sampler.

Everything shown is computed by :mod:`toyflow.explorer.intervention` (on the shared compute
pool, through an :class:`~toyflow.explorer.intervention.InterventionRunner`); this module only
draws it, with Bokeh figures whose sources are updated in place on the page's event loop:

- the hybrid sampler's samples at σ_switch (D* above it, the model below; or the band form) and
  the memorized fractions: the hybrid's, the model's own, fresh data's;
- noisy training samples injected at the page's σ, their paths under the model and under its
  twin (a model of the same kind on a disjoint training set), the model's own trajectories from
  that σ, and the memorized share after injection for both;
- over σ: memorized share after injection and of the hybrid sweep, the copy ratio, the
  two-sample classifier AUC, and the model's gap curve.

The card computes when it is opened (or on "Run intervention") and follows the store (new
model, σ) while open. Stable CSS classes for tests: ``intervention-card``, ``intervention-run``,
``intervention-fractions``, ``intervention-status``, ``intervention-twin``,
``intervention-samples``, ``intervention-paths``, ``intervention-curves``.
"""

from __future__ import annotations

import numpy as np
import panel as pn
from bokeh.models import ColumnDataSource, Span
from bokeh.plotting import figure

from toyflow.app.loop import on_doc
from toyflow.app.stack_view import GAP_CAP, MEMORIZED_COLOR, TRAIN_COLOR, VAL_COLOR
from toyflow.explorer.intervention import InterventionRunner

MODEL_COLOR = "#d62728"
TWIN_COLOR = "#1f77b4"
OWN_COLOR = "#999999"
SQUARE = 250
CURVE = dict(width=310, height=230)
#: Curves over σ, by figure: (title, y-axis type, legend place, [(name, colour, dash)]).
CURVES = (
    (
        "memorized after injection at σ / hybrid switching at σ",
        "linear",
        "center_left",
        (
            ("noisy train → model", MODEL_COLOR, "solid"),
            ("noisy train → twin", TWIN_COLOR, "solid"),
            ("noisy validation → model", "#2ca02c", "solid"),
            ("hybrid: D* above σ", "#9467bd", "dashed"),
            ("band: D* just below σ", "#8c564b", "dotted"),
        ),
    ),
    (
        "copy ratio ‖D − D*‖² / ‖D_twin − D*‖²",
        "log",
        "bottom_left",
        (("trajectory states", MODEL_COLOR, "solid"), ("noisy train", TWIN_COLOR, "solid")),
    ),
    (
        "AUC: states vs noisy training samples",
        "linear",
        "bottom_left",
        (("trajectory states", MODEL_COLOR, "solid"), ("noisy validation", "#2ca02c", "solid")),
    ),
    ("gap (E_val − E_train) / E_train", "linear", "top_left", (("model", "#d62728", "solid"),)),
)


def _square(title: str, css: str):
    f = figure(
        width=SQUARE,
        height=SQUARE,
        title=title,
        match_aspect=True,
        toolbar_location=None,
        x_range=(-17.5, 17.5),
        y_range=(-17.5, 17.5),
        css_classes=[css],
    )
    f.axis.visible = False
    f.grid.visible = False
    return f


def _paths(arr, n_max: int = 40) -> dict:
    """``(T, n, 2)`` paths as multi_line columns."""
    a = np.asarray(arr)[:, :n_max]
    return {
        "xs": [a[:, j, 0] for j in range(a.shape[1])],
        "ys": [a[:, j, 1] for j in range(a.shape[1])],
    }


def _pct(v) -> str:
    return "—" if v is None or not np.isfinite(v) else f"{v:.1%}"


class InterventionPanel:
    """The card of one page: widgets bound to an :class:`InterventionRunner`, Bokeh figures."""

    def __init__(self, app):
        self.app = app
        self.state = app.state
        self.runner = r = InterventionRunner(app.state)
        # The card's contents are built when it is first opened: most visitors never open it,
        # and a page's first message (and the server's time per session) stays small.
        self.built = False
        self.card = pn.Card(
            pn.pane.HTML("<i>Open this card to run the intervention.</i>"),
            title="Intervention: where is memorization decided? (claim 3)",
            collapsed=True,
            css_classes=["intervention-card"],
            sizing_mode="stretch_width",
        )
        self.card.param.watch(self._on_open, "collapsed")
        r.param.watch(lambda *_e: on_doc(app._doc, self._update), ["serial"])
        s = self.state
        s.param.watch(self._follow, ["trajectory_serial", "sigma_index"])
        s.param.watch(lambda *_e: on_doc(app._doc, self._on_grid), ["sigmas", "kind"])
        if app._doc is not None:
            pn.state.on_session_destroyed(lambda _ctx: r.close())

    def build(self) -> None:
        """The card's widgets and figures (once, when the card is first opened)."""
        if self.built:
            return
        r = self.runner
        W = pn.widgets
        self.run_button = W.Button(
            label="Run intervention",
            color="primary",
            width=160,
            css_classes=["intervention-run"],
        )
        self.run_button.on_click(lambda _e: r.run())
        self.twin_button = W.Button(
            label="Train the twin", width=130, css_classes=["intervention-twin"]
        )
        self.twin_button.on_click(self._on_train_twin)
        self.cancel_button = W.Button(label="Cancel twin", width=110)
        self.cancel_button.on_click(lambda _e: r.cancel_twin())
        self.switch = W.IntSlider.from_param(
            r.param.switch_index, name="σ_switch (grid step)", start=0, end=self._last(), width=260
        )
        self.band = W.IntInput.from_param(
            r.param.band_steps, name="band steps (0: hybrid)", width=140
        )
        self.spinner = pn.indicators.LoadingSpinner(value=False, size=22, margin=(10, 5))
        self.status = pn.pane.HTML("", css_classes=["intervention-status"], margin=(8, 5))
        self.twin_progress = pn.indicators.Progress(value=0, max=100, width=200, visible=False)
        self.fractions = pn.pane.HTML("", css_classes=["intervention-fractions"], min_height=60)
        self._figures()
        help_text = (
            "<small>Hybrid: D* of the training set above σ_switch, the model at and below it "
            "(band form: D* only inside the band of steps from σ_switch down). Injection: noisy "
            "training samples at the page's σ, integrated to 0 by the model and by its twin, the "
            "same kind of model on a disjoint training set of the same size. Dashed lines: the "
            "page's σ; dotted: σ_switch.</small>"
        )
        controls = pn.Row(
            self.run_button, self.switch, self.band, self.twin_button, self.cancel_button
        )
        self.card.objects = [
            pn.pane.HTML(help_text),
            controls,
            pn.Row(self.spinner, self.status, self.twin_progress),
            self.fractions,
            pn.FlexBox(*self.panes),
        ]
        self.built = True
        self._on_grid()
        self._update()

    # -- figures --------------------------------------------------------------------------------
    def _figures(self) -> None:
        self.src = {k: ColumnDataSource({"x": [], "y": []}) for k in ("train", "val", "hyb", "mem")}
        self.lines = {k: ColumnDataSource({"xs": [], "ys": []}) for k in ("model", "twin", "own")}
        self.starts = ColumnDataSource({"x": [], "y": []})
        self.ends = {k: ColumnDataSource({"x": [], "y": []}) for k in ("model", "twin")}
        fs = _square("hybrid samples at σ_switch", "intervention-samples")
        fs.scatter("x", "y", source=self.src["hyb"], size=4, color="#111111", alpha=0.6)
        fs.scatter("x", "y", source=self.src["mem"], size=5, color=MEMORIZED_COLOR)
        fp = {}
        for key, title, color in (
            ("model", "injected → model (grey: its own)", MODEL_COLOR),
            ("twin", "injected → twin", TWIN_COLOR),
        ):
            f = _square(title, "intervention-paths")
            if key == "model":
                own = self.lines["own"]
                f.multi_line("xs", "ys", source=own, color=OWN_COLOR, alpha=0.5, line_width=1.5)
            f.multi_line("xs", "ys", source=self.lines[key], color=color, alpha=0.8, line_width=2)
            f.scatter("x", "y", source=self.ends[key], size=4, color=color)
            f.scatter("x", "y", source=self.starts, size=6, color="#111111", marker="x")
            fp[key] = f
        for f in (fs, *fp.values()):
            f.scatter("x", "y", source=self.src["train"], size=7, color=TRAIN_COLOR)
            f.scatter("x", "y", source=self.src["val"], size=7, color=VAL_COLOR, fill_color=None)
        self.curve_src: dict[str, ColumnDataSource] = {}
        self.marks: list[tuple[Span, Span]] = []
        curve_figs = []
        for title, y_type, place, lines in CURVES:
            f = figure(
                **CURVE,
                title=title,
                x_axis_type="log",
                y_axis_type=y_type,
                x_axis_label="σ",
                toolbar_location=None,
                css_classes=["intervention-curves"],
            )
            f.title.text_font_size = "10px"
            for name, color, dash in lines:
                src = self.curve_src[f"{title}:{name}"] = ColumnDataSource({"x": [], "y": []})
                f.line("x", "y", source=src, color=color, line_dash=dash, legend_label=name)
            here = Span(dimension="height", line_color="#444", line_dash="dashed", location=1.0)
            switch = Span(
                dimension="height", line_color="#9467bd", line_dash="dotted", location=1.0
            )
            f.add_layout(here)
            f.add_layout(switch)
            self.marks.append((here, switch))
            f.legend.location = place
            f.legend.label_text_font_size = "8px"
            f.legend.background_fill_alpha = 0.6
            f.legend.spacing = 0
            f.legend.padding = 2
            curve_figs.append(f)
        self.figs = [fs, fp["model"], fp["twin"], *curve_figs]
        self.panes = [pn.pane.Bokeh(f, margin=(4, 6)) for f in self.figs]

    # -- events ---------------------------------------------------------------------------------
    def _last(self) -> int:
        return max(1, int(self.state.sample_steps) - 1)

    def _on_grid(self, *_e) -> None:
        if not self.built:
            return
        self.switch.end = self._last()
        learned = self.state.kind == "learned"
        self.twin_button.visible = self.cancel_button.visible = learned
        self._show_switch()

    def _on_open(self, event) -> None:
        if not event.new:  # opened: build the contents, compute on demand
            self.build()
            self.runner.run()

    def _follow(self, *_e) -> None:
        """A new model or σ while the card is open: the runner recomputes (cached parts stay)."""
        if not self.card.collapsed:
            self.runner.request()

    def _on_train_twin(self, _e) -> None:
        try:
            self.runner.train_twin()
        except ValueError as exc:
            self.status.object = f"<span style='color:#a00'>{exc}</span>"

    # -- drawing (the page's event loop) ----------------------------------------------------------
    def _show_switch(self) -> None:
        try:
            s_sw, lo = self.runner.switch_levels()
        except ValueError:
            return
        band = "" if lo is None else f", band [{lo:.3g}, {s_sw:.3g}]"
        self.switch.name = f"σ_switch = {s_sw:.3g}{band}, grid step"
        for _here, switch in self.marks:
            switch.location = s_sw

    def _update(self) -> None:
        if not self.built:
            return
        r = self.runner
        self.spinner.value = r.status == "running"
        color = "#a00" if r.status == "failed" else "#333"
        pct = f" ({r.progress:.0%})" if r.status == "running" else ""
        self.status.object = f"<span style='color:{color}'>{r.message}{pct}</span>"
        self.twin_progress.visible = r.twin_status in ("queued", "running")
        self.twin_progress.value = int(100 * r.twin_progress)
        if r.twin_message:
            self.status.object += f"<br><small>{r.twin_message}</small>"
        self._show_switch()
        self._draw_hybrid(r.hybrid_view)
        self._draw_curves(r.curves_view)
        self._draw_injection(r.injection_view)
        self._show_fractions()

    def _draw_hybrid(self, h) -> None:
        if h is None:
            return
        ds = self.state.data().dataset
        self.src["train"].data = {"x": ds.train_x[:, 0], "y": ds.train_x[:, 1]}
        self.src["val"].data = {"x": ds.val_x[:, 0], "y": ds.val_x[:, 1]}
        keep, mem = h.samples[~h.memorized], h.samples[h.memorized]
        self.src["hyb"].data = {"x": keep[:, 0], "y": keep[:, 1]}
        self.src["mem"].data = {"x": mem[:, 0], "y": mem[:, 1]}

    def _draw_injection(self, inj) -> None:
        if inj is None:
            return
        for key, paths in (("model", inj.model_paths), ("twin", inj.twin_paths)):
            self.lines[key].data = _paths(paths)
            self.ends[key].data = {"x": paths[-1, :, 0], "y": paths[-1, :, 1]}
        self.lines["own"].data = _paths(inj.own_paths)
        self.starts.data = {"x": inj.starts[:, 0], "y": inj.starts[:, 1]}
        for here, _switch in self.marks:
            here.location = inj.sigma

    def _draw_curves(self, c) -> None:
        if c is None:
            return
        values = {
            "noisy train → model": c.injected_train,
            "noisy train → twin": c.injected_twin,
            "noisy validation → model": c.injected_val,
            "hybrid: D* above σ": c.hybrid,
            "band: D* just below σ": c.band,
        }
        for pair, (title, _y, _place, lines) in enumerate(CURVES):
            for name, _color, _dash in lines:
                y = self._curve_values(pair, name, values, c)
                src = self.curve_src[f"{title}:{name}"]
                src.data = (
                    {"x": [], "y": []} if y is None else {"x": c.sigmas, "y": np.asarray(y, float)}
                )

    @staticmethod
    def _curve_values(which: int, name: str, values: dict, c):
        if which == 0:
            ps = values[name]
            return None if ps is None else ps.mean
        if which == 1:
            ps = c.copy_trajectory if name == "trajectory states" else c.copy_train
            return np.maximum(ps.mean, 1e-6)  # the optimal model copies exactly: ratio 0
        if which == 2:
            auc = c.auc if name == "trajectory states" else c.auc_fresh
            return None if auc is None else auc.auc
        return None if c.gap is None else np.clip(c.gap, -GAP_CAP, GAP_CAP)

    def _show_fractions(self) -> None:
        r = self.runner
        h, inj = r.hybrid_view, r.injection_view
        if h is None:
            self.fractions.object = ""
            return
        form = "band" if h.band_lo is not None else "hybrid"
        cards = [
            (f"{form} at σ_switch = {h.sigma_switch:.3g}", _pct(h.fraction)),
            ("the model alone", _pct(h.model_fraction)),
            ("fresh data (validation)", _pct(h.baseline)),
        ]
        if inj is not None:
            cards += [
                (f"injected at σ = {inj.sigma:.3g} → model", _pct(inj.model_memorized[0])),
                ("→ twin", _pct(inj.twin_memorized[0])),
            ]
        head = (
            "<div style='font-size:12px;color:#555'>memorized samples (nearest training point "
            "closer than 1/3 of the second-nearest)</div>"
        )
        self.fractions.object = head + "".join(
            f'<div style="display:inline-block;margin-right:22px">'
            f'<div style="font-size:12px;color:#555">{name}</div>'
            f'<div style="font-size:20px;font-weight:600">{value}</div></div>'
            for name, value in cards
        )


__all__ = ["InterventionPanel"]
