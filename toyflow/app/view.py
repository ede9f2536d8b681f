"""The explorer page: :class:`ExplorerApp` puts the controls and figures of one store on a page,
and :func:`create_app` builds one served session's page.

Per-session state lives in the objects ``create_app`` builds; the only process-wide things (a
bounded training pool, caches) live in :mod:`toyflow.explorer`.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
from functools import partial

import panel as pn
import param

from toyflow import explorer as tfx
from toyflow.app.controls import Controls, sidebar
from toyflow.app.guide import Guide
from toyflow.app.intervention_view import InterventionPanel
from toyflow.app.loop import on_doc
from toyflow.app.plots import LossPlot
from toyflow.app.stack import StackPanel

TITLE = "toyflow explorer: why diffusion models generalize although the optimal one memorizes"
# The header's title shrinks with the window and wraps instead of running off a 1024 px screen.
HEADER_CSS = (
    ".app-header .title {font-size: clamp(15px, 1.9vw, 24px) !important; white-space: normal}"
)


class ExplorerApp(pn.viewable.Viewer):
    """The explorer's page: widgets built from an :class:`~toyflow.explorer.ExplorerState`,
    views that render its outputs. ``template()`` is the served page; the object itself displays
    inline in Jupyter. The widgets are reachable as attributes (``app.train_button``); the σ
    views are ``app.stacks.view`` (a :class:`toyflow.app.stack_view.StackView`)."""

    state = param.ClassSelector(class_=tfx.ExplorerState)
    notice = param.String(default="", doc="Messages of the page itself (uploads, URL settings).")
    # The store's training serial number, copied on the page's event loop: the loss plot watches
    # it, so its redraw runs on the loop (the store publishes from worker threads).
    train_serial = param.Integer(default=0, precedence=-1)
    projector = param.Boolean(
        default=False, doc="Projector mode: larger text, thicker lines, fewer controls."
    )

    def __init__(self, state: tfx.ExplorerState | None = None, **params):
        state = state if state is not None else tfx.ExplorerState(background=True)
        super().__init__(state=state, **params)
        doc = pn.state.curdoc
        self._doc = doc if doc is not None and doc.session_context is not None else None
        self.controls = Controls(self)
        self.loss = LossPlot(self)
        self.stacks = StackPanel(self)
        self.intervention = InterventionPanel(self)  # the claim-3 card, computed when opened
        self.guide = Guide(self)  # presets, texts, glossary; compare mode
        self._expose_parts()
        c = self.controls
        self._watch(c.update_messages, ["error", "status", "busy"])
        self.param.watch(c.update_messages, "notice")
        # snapshot_index too: the training-time label follows the slider (and a script).
        self._watch(c.update_training, ["train_serial", "kind", "snapshot_index"])
        self._watch(c.update_headline, ["headline_view"])
        # The take-away text does not follow σ (the view), so a σ step sends nothing but the view.
        self._watch(c.update_takeaway, [p for p in tfx.INPUT_PARAMS if p != "sigma_index"])
        self._watch(self._update_visibility, ["kind", "dataset", "granularity", "guidance"])
        self._watch(partial(self._copy_serial, "train_serial"), ["train_serial"])
        # New trajectories or curves: a new σ-stack, computed on the store's thread.
        state.param.watch(self.stacks.refresh, ["trajectory_serial", "curves_serial"])
        self._watch(self.stacks.follow_store, ["sigma_index"])
        c.update_takeaway()
        c.update_training()
        c.update_headline()
        self._update_visibility()
        self.param.watch(lambda ev: self.set_projector(ev.new), "projector")
        if self.projector:
            self.set_projector(True)
        self.stacks.refresh(now=True)  # the page is not out yet: its first message has the views

    def _expose_parts(self) -> None:
        """The widgets and figures as attributes of the app (tests and scripts reach them so)."""
        for name, value in vars(self.controls).items():
            if isinstance(value, pn.viewable.Viewable):
                setattr(self, name, value)
        self.field_pane = self.stacks.pane
        self._new_canvas = self.controls.new_canvas
        self._on_use_drawn = self.controls._on_use_drawn

    @property
    def _draw_stream(self):
        return self.controls._draw_stream

    @classmethod
    def from_params(cls, *, result=None, state=None, denoiser=None, **params) -> ExplorerApp:
        """An app over a new (or the given) store; ``result`` opens a TrainResult from a script."""
        pn.extension()
        if state is None:
            # Synchronous refreshes: in a notebook the views are built on the kernel's thread.
            state = tfx.ExplorerState(background=False, **params)
        elif params:
            state.param.update(**params)
        if result is not None:
            state.load_result(result)
        if denoiser is not None:
            state.use_denoiser(denoiser)
        state.refresh()
        return cls(state)

    # -- threads ---------------------------------------------------------------------------------
    def _watch(self, fn, names) -> None:
        """Watch store parameters; ``fn`` runs on the page's event loop."""
        self.state.param.watch(lambda *ev: on_doc(self._doc, partial(fn, *ev)), list(names))

    def _copy_serial(self, name, *_events) -> None:
        value = getattr(self.state, name)
        if getattr(self, name) != value:
            setattr(self, name, value)

    def set_projector(self, on: bool) -> None:
        """Projector mode on or off: the page's controls here, the σ views in the browser (their
        own toggle; set here too when the switch came from elsewhere)."""
        self.projector = bool(on)
        self.controls.set_projector(on)
        view = self.stacks.view
        if view is not None and view.projector.toggle.active != bool(on):
            view.projector.apply(on)

    def _update_visibility(self, *_events) -> None:
        self.controls.update_visibility()
        self.loss.show(self.state.kind == "learned")

    # -- downloads -------------------------------------------------------------------------------
    def _json(self):
        return io.StringIO(self.state.to_json())

    def _shown_stack(self):
        view = self.stacks.view
        if view is None or not self.stacks.holder.visible:
            self.notice = "Nothing to download yet: the σ views are not computed."
            return None
        return view.stack

    def _html(self):
        """The σ views as one self-contained page (BokehJS inline; works offline)."""
        return self._export("html")

    def _gif(self):
        """The σ sweep as a GIF (one frame per σ), for slides."""
        return self._export("gif")

    def _export(self, kind: str):
        from toyflow.app.export import export_gif, export_html

        stack = self._shown_stack()
        if stack is None:
            return io.BytesIO()
        title = f"toyflow: {stack.meta.get('model', 'the σ sweep')}"
        write = export_html if kind == "html" else export_gif
        with tempfile.TemporaryDirectory() as tmp:
            path = write(stack, os.path.join(tmp, f"sweep.{kind}"), title=title)
            with open(path, "rb") as f:
                return io.BytesIO(f.read())

    def _png(self):
        """The σ views at the current σ as a PNG, as the page draws them (arrows, heat map,
        trajectories, curves, legend, headline numbers): toyflow.plotting.plot_stack_frame."""
        from toyflow import plotting
        from toyflow.explorer.curves import headline_items

        stack = self._shown_stack()
        if stack is None:
            return io.BytesIO()
        fig = plotting.plot_stack_frame(
            stack,
            self.state.clamped_sigma_index(),
            headline=headline_items(self.state.headline_view or {}),
        )
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110)
        buf.seek(0)
        return buf

    # -- layout ----------------------------------------------------------------------------------
    def sidebar(self) -> list:
        return [self.guide.card, *sidebar(self.controls, self.loss.box)]

    def main(self) -> list:
        c = self.controls
        # The headline numbers above the views: on a 1024×768 screen they, the σ slider and the
        # learned field are on the first screen; the views wrap to the width (stack_layout).
        top = pn.Column(
            pn.Row(c.spinner, c.status, sizing_mode="stretch_width"),
            c.headline,
            c.legend,
            sizing_mode="stretch_width",
        )
        return [
            pn.Column(
                c.alert,
                top,
                self.stacks.pane,
                self.guide.compare.pane,
                self.intervention.card,
                sizing_mode="stretch_width",
                css_classes=["explorer-main"],
            )
        ]

    def __panel__(self):
        return pn.Row(pn.Column(*self.sidebar(), width=340), pn.Column(*self.main()))

    def template(self) -> pn.template.BootstrapTemplate:
        page = pn.template.BootstrapTemplate(
            title=TITLE,
            sidebar=self.sidebar(),
            main=self.main(),
            sidebar_width=350,
            header_background="#1f3b57",
            # Panel's header spinner would restyle the page twice per σ step; our own spinner
            # beside the σ read-out shows the computations that take long.
            busy_indicator=None,
        )
        page.config.raw_css.append(HEADER_CSS)
        return page


def args_from_command_line(argv) -> dict[str, str]:
    """``name=value`` pairs from ``panel serve … --args name=value ...``."""
    out = {}
    for item in argv:
        if "=" in item:
            name, value = item.split("=", 1)
            out[name.strip().lstrip("-")] = value.strip()
    return out


_args_from_command_line = args_from_command_line


def create_app(**params) -> pn.template.BootstrapTemplate:
    """One session's page: a new store (background refreshes), its views, cleanup on close."""
    pn.extension()
    # Settings first, refreshes after: nothing is computed before the page exists.
    state = tfx.ExplorerState(background=True, auto=False, **params)
    # Settings from `--args name=value` and from the URL (?kind=error-prone&delta=1.2).
    pairs = args_from_command_line(sys.argv[1:]) if pn.state.served else {}
    args = getattr(pn.state, "session_args", None) or {}
    for name, values in args.items():
        if values and name in tfx.PLAIN_PARAMS:  # other query arguments belong to Panel/Bokeh
            value = values[-1]
            pairs[name] = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
    from toyflow.app.tour import Tour  # lecture mode: ?tour=N (toyflow/app/tour.py)

    tour = Tour.from_args(args)
    pairs.update(tour.settings() if tour else {})
    # Projector mode (?projector=1, --args projector=1) is the page's, not a store setting.
    projector = str(pairs.pop("projector", "")).strip().lower() in ("1", "true", "yes", "on")
    if args.get("projector"):
        value = args["projector"][-1]
        value = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
        projector = value.strip().lower() in ("1", "true", "yes", "on")
    problems = state.set_from_strings(pairs) if pairs else []
    state.auto = True
    served = pn.state.curdoc is not None and pn.state.curdoc.session_context is not None
    # A visit whose views this process has computed before (another session with the same
    # settings) arrives with them in its first message; otherwise they follow once it is open.
    cached = served and state.refresh_if_cached()
    app = ExplorerApp(state, projector=projector)
    if problems:
        app.notice = "Some settings were ignored: " + "; ".join(problems)
    if served:
        # Closing the tab ends the session, which cancels its training.
        pn.state.on_session_destroyed(lambda _ctx: state.close())
        pn.state.on_session_destroyed(lambda _ctx: app.guide.close())
        if not cached:
            pn.state.onload(state.request_refresh)
    page = tour.page(app) if tour else app.template()
    page.explorer = app  # tests and scripts reach the app through the page
    return page


def serve_main() -> None:
    """What ``panel serve`` runs for each session (the entry file calls this)."""
    from toyflow.app.url import safe_location

    tfx.enable_compilation_cache()
    # The address read so that no query value (5,000 digits, say) can take the session down;
    # the explorer's own checks then report bad values in the page's notice.
    create_app().servable(title="toyflow explorer", location=safe_location())
