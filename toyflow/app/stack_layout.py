"""The σ views' layout and projector mode (Bokeh only: the served page and the offline export).

Layout: each view is a *card* (a title line over a square figure, and a colour bar under the
fields that have one) in a CSS grid whose columns are at least ``GRID_MIN`` px wide and share
what is left (``repeat(auto-fill, minmax(…, 1fr))``). The figures scale with their column
(``sizing_mode="scale_width"``, square frames: no axes, title or toolbar take room from them;
the toolbar sits inside the frame and shows on hover). On a 1024 px screen with the sidebar open
the grid has two columns; at 1600 px four. Titles and colour bars live outside the figures that
repaint on every σ frame, so a frame repaints arrows, points and images only.

Projector mode (the ``projector`` toggle beside play, or ``?projector=1``): thicker arrows and
lines, bigger dots, larger text and wider grid columns, switched in the page by one ``CustomJS``
(no recompute, no server round trip). :class:`Projector` lists every ``(model, property,
normal, projector)`` change once; Python applies the same list for a page that starts in
projector mode.
"""

from __future__ import annotations

from bokeh.layouts import column, row
from bokeh.models import (
    ColorBar,
    Column,
    CustomJS,
    Div,
    GlyphRenderer,
    MultiLine,
    Range1d,
    Scatter,
    Toggle,
)
from bokeh.plotting import figure

GRID_MIN = 250  # px: the narrowest column of the view grid (two columns beside a sidebar at 1024)
GRID_MIN_PROJECTOR = 300
GRID_GAP = "6px 14px"
TITLE_PX = (13, 18)  # card titles: normal, projector
SLIDER_PX = (15, 20)  # the σ read-out
SLIDER_MIN = (270, 400)  # px: the σ slider's narrowest width (its read-out is its title)
CURVE_TEXT_PX = ((12, 11, 11), (16, 14, 14))  # curves: axis label, tick labels, legend
LINE_SCALE = 1.8  # projector: line widths times this
DOT_SCALE = 1.5  # projector: dot sizes times this


def grid_styles(min_px: int) -> dict:
    return {
        "display": "grid",
        "grid-template-columns": f"repeat(auto-fill, minmax({min_px}px, 1fr))",
        "gap": GRID_GAP,
        "align-items": "start",
    }


def title_div(text: str, css: str | None = None) -> Div:
    """A card's title line (HTML text outside the repainting figure; it wraps, never clips)."""
    return Div(
        text=text,
        sizing_mode="stretch_width",
        margin=(2, 4, 0, 4),
        styles={"font-size": f"{TITLE_PX[0]}px", "font-weight": "600", "color": "#333"},
        css_classes=[css] if css else [],
    )


def card(title: Div, *parts) -> Column:
    """One grid cell: the title over the figure (and its colour bar)."""
    return column(title, *parts, sizing_mode="stretch_width")


def view_grid(cards: list) -> Column:
    """The cards in a grid that wraps to the available width."""
    return column(*cards, sizing_mode="stretch_width", styles=grid_styles(GRID_MIN))


def color_bar_figure(mapper, title: str) -> figure:
    """A horizontal colour bar in a figure of its own (it does not repaint with the σ frames)."""
    fig = figure(
        height=58,
        width=250,
        sizing_mode="stretch_width",
        toolbar_location=None,
        tools="",
        min_border=0,
        min_border_left=8,
        min_border_right=14,
        outline_line_color=None,
        x_range=Range1d(0, 1),
        y_range=Range1d(0, 1),
        output_backend="canvas",
    )
    fig.axis.visible = False
    fig.grid.visible = False
    fig.scatter([], [])  # a figure needs a renderer (Bokeh warns about an empty one)
    fig.add_layout(
        ColorBar(
            color_mapper=mapper,
            orientation="horizontal",
            title=title,
            height=10,
            padding=4,
            title_text_font_size="12px",
            major_label_text_font_size="11px",
        ),
        "below",
    )
    return fig


class Projector:
    """The projector toggle and the property changes it makes (see the module docstring)."""

    def __init__(self, active: bool = False):
        self.toggle = Toggle(
            label="projector", active=False, width=100, css_classes=["projector-toggle"]
        )
        self.items: list[tuple] = []  # (model, property, normal value, projector value)
        self._start = bool(active)

    def add(self, model, prop: str, normal, big) -> None:
        self.items.append((model, prop, normal, big))

    def add_figure(self, fig) -> None:
        """Every line and dot of ``fig`` scaled for the projector."""
        for r in fig.renderers:
            if not isinstance(r, GlyphRenderer):
                continue
            g = r.glyph
            # Not Line: its width is a plain number in Python but a value spec in BokehJS, and
            # the page's change would come back to the server as a patch it rejects.
            if isinstance(g, MultiLine) and isinstance(g.line_width, (int, float)):
                self.add(g, "line_width", g.line_width, round(g.line_width * LINE_SCALE, 2))
            elif isinstance(g, Scatter) and isinstance(g.size, (int, float)):
                self.add(g, "size", g.size, round(g.size * DOT_SCALE, 2))

    def add_curve_text(self, fig) -> None:
        (a0, t0, l0), (a1, t1, l1) = CURVE_TEXT_PX
        for ax in (*fig.xaxis, *fig.yaxis):
            self.add(ax, "axis_label_text_font_size", f"{a0}px", f"{a1}px")
            self.add(ax, "major_label_text_font_size", f"{t0}px", f"{t1}px")
        for leg in fig.legend:
            self.add(leg, "label_text_font_size", f"{l0}px", f"{l1}px")

    def add_styles(self, model, key: str, normal: str, big: str) -> None:
        base = dict(model.styles)
        self.add(model, "styles", {**base, key: normal}, {**base, key: big})

    def finish(self) -> Toggle:
        """Wire the toggle (after every ``add``) and apply the starting mode."""
        models, props, normal, big = (list(v) for v in zip(*self.items)) if self.items else [[]] * 4
        self.toggle.js_on_change(
            "active",
            CustomJS(
                args={"models": models, "props": props, "normal": normal, "big": big},
                code="""
const on = cb_obj.active;
for (let k = 0; k < models.length; k++) models[k][props[k]] = on ? big[k] : normal[k];
""",
            ),
        )
        self.apply(self._start)
        return self.toggle

    def apply(self, on: bool) -> None:
        """The same changes in Python (a page built in projector mode)."""
        for model, prop, normal, big in self.items:
            setattr(model, prop, big if on else normal)
        self.toggle.active = bool(on)


def curve_text(fig) -> None:
    """A curve figure's axis and legend text at the normal size (readable at 1600 px)."""
    axis_px, tick_px, legend_px = CURVE_TEXT_PX[0]
    for ax in (*fig.xaxis, *fig.yaxis):
        ax.axis_label_text_font_size = f"{axis_px}px"
        ax.major_label_text_font_size = f"{tick_px}px"
    for leg in fig.legend:
        leg.label_text_font_size = f"{legend_px}px"


def projector_items(view) -> None:
    """Register what projector mode changes on a :class:`~toyflow.app.stack_view.StackView`
    (its figures' glyphs, curve text, card titles, the σ read-out, the grid) and wire the
    toggle."""
    p = view.projector
    for name, fig in view.figures.items():
        p.add_figure(fig)
        if name.startswith("curves:"):
            p.add_curve_text(fig)
            p.add(fig.title, "text_font_size", "13px", "17px")
    for div in view.titles.values():
        p.add_styles(div, "font-size", f"{TITLE_PX[0]}px", f"{TITLE_PX[1]}px")
    p.add_styles(view.slider, "font-size", f"{SLIDER_PX[0]}px", f"{SLIDER_PX[1]}px")
    p.add(view.slider, "min_width", SLIDER_MIN[0], SLIDER_MIN[1])  # the read-out fits beside play
    grid = getattr(view, "grid", None)
    if grid is not None:
        columns = "grid-template-columns"
        p.add_styles(
            grid,
            columns,
            grid_styles(GRID_MIN)[columns],
            grid_styles(GRID_MIN_PROJECTOR)[columns],
        )
    p.finish()


def grid_layout(view):
    """A :class:`~toyflow.app.stack_view.StackView`'s layout: the σ controls (they wrap too)
    over the grid of cards; sets ``view.titles``, ``view.cards`` and ``view.grid``."""
    view.slider.update(width=None, sizing_mode="stretch_width")
    controls = row(
        view.slider,
        view.play,
        view.speed,
        view.loop,
        view.projector.toggle,
        sizing_mode="stretch_width",
        styles={"align-items": "center", "flex-wrap": "wrap", "column-gap": "6px"},
    )
    view.cards = {}
    for name, fig in view.figures.items():
        parts = [fig, view.color_bars[name]] if name in view.color_bars else [fig]
        if name.startswith("curves:"):  # the curves keep their titles (they seldom repaint)
            view.cards[name] = card(*parts)
        else:
            view.titles[name] = title_div(fig.title.text, css=f"title-{name}")
            view.cards[name] = card(view.titles[name], *parts)
    view._sync_curve_visibility()
    view.grid = view_grid(list(view.cards.values()))
    return column(controls, view.grid, sizing_mode="stretch_width", name="sigma-stack-view")


def focus_orders(view, focus) -> dict:
    """CSS ``order`` of each card of ``view`` so that the views named in ``focus`` come first
    (``"gap"`` names the curve figure whose title starts with it; ``"trajectories"``,
    ``"model"``… the σ views), in the order given; the others keep theirs."""
    rank: dict[str, int] = {}
    for k, word in enumerate(focus):
        for name in getattr(view, "cards", {}):
            curve = name.startswith("curves:") and word not in view.cards
            if name == word or (curve and name[len("curves:") :].startswith(word)):
                rank.setdefault(name, k - len(focus))
    return {name: rank.get(name, 0) for name in getattr(view, "cards", {})}


def set_focus(view, focus) -> None:
    """Put the cards named in ``focus`` first (Python side: a served page, an export's start)."""
    for name, order in focus_orders(view, focus).items():
        card_model = view.cards[name]
        card_model.styles = {**card_model.styles, "order": str(order)}
