"""The explorer page's guide: preset buttons for the paper's key settings, a reset button, the
"what you are looking at" text of the current model and the glossary, in one sidebar card; and
the compare mode (:mod:`toyflow.app.compare`). The texts and presets are
:mod:`toyflow.explorer.guide`'s; this module only shows them.

Wiring (``toyflow.app.view``): ``app.guide = Guide(app)``; ``app.guide.card`` goes into the
sidebar, ``app.guide.compare.pane`` into the main column, and ``app.guide.close()`` runs when
the session ends.
"""

from __future__ import annotations

import html

import panel as pn

from toyflow.explorer import guide as texts

W = pn.widgets
CARD_WIDTH = 330
#: Height of the scrolling text boxes (the card stays short at 1024×768).
TEXT_HEIGHT = 230
_BOX = {"overflow-y": "auto", "font-size": "13px", "line-height": "1.35"}
#: The model inputs the explanation mentions.
EXPLAINED = ("kind", "delta", "guidance", "w", "granularity")


def explanation_html(inputs) -> str:
    """The explanation of ``inputs``' view as HTML (:func:`toyflow.explorer.guide.explain`)."""
    e = texts.explain(inputs)
    parts = [f"<p><b>{html.escape(e['lead'])}</b></p>"]
    parts += [f"<p><i>{html.escape(n)}</i></p>" for n in e["notes"]]
    parts += [f"<p><b>{html.escape(h)}.</b> {html.escape(t)}</p>" for h, t in e["views"]]
    return "".join(parts)


def glossary_html() -> str:
    """The glossary as a definition list."""
    items = "".join(
        f"<dt style='font-weight:600;margin-top:6px'>{html.escape(t.term)}</dt>"
        f"<dd style='margin-left:8px'>{html.escape(t.meaning)}</dd>"
        for t in texts.GLOSSARY
    )
    return f"<dl style='margin:0'>{items}</dl>"


class Guide:
    """The guide card of one page (and its compare mode), bound to ``app.state``."""

    def __init__(self, app):
        from toyflow.app.compare import Compare

        self.app = app
        self.state = app.state
        self.preset_buttons = {}
        for p in texts.PRESETS:
            b = W.Button(
                label=p.label,
                width=135,
                css_classes=["preset-button", f"preset-{p.name}"],
            )
            b.on_click(lambda _e, name=p.name: self.apply(name))
            self.preset_buttons[p.name] = b
        self.reset_button = W.Button(
            label="Reset to defaults", width=135, css_classes=["reset-button"]
        )
        self.reset_button.on_click(lambda _e: self.reset())
        self.compare = Compare(app)
        self.compare_button = W.Toggle(
            label="Compare two settings", width=135, css_classes=["compare-toggle"]
        )
        self.compare_button.param.watch(lambda e: self.compare.show(e.new), "value")
        self.compare.toggle = self.compare_button
        self.summary = pn.pane.HTML(
            "<i>Each button sets the page to one of the paper's key settings.</i>",
            width=300,
            margin=(0, 10),
            styles={"font-size": "12px"},
            css_classes=["preset-summary"],
        )
        self.explanation = pn.pane.HTML(
            "", width=300, height=TEXT_HEIGHT, styles=_BOX, css_classes=["guide-text"]
        )
        self.glossary = pn.pane.HTML(
            glossary_html(), width=300, height=TEXT_HEIGHT, styles=_BOX, css_classes=["glossary"]
        )
        self.tabs = pn.Tabs(
            ("What you see", self.explanation), ("Glossary", self.glossary), width=310
        )
        buttons = list(self.preset_buttons.values())
        self.card = pn.Card(
            *[pn.Row(*buttons[i : i + 2]) for i in range(0, len(buttons), 2)],
            pn.Row(self.reset_button, self.compare_button),
            self.summary,
            self.tabs,
            title="Guide: key settings and what you see",
            width=CARD_WIDTH,
            css_classes=["guide-card"],
        )
        app._watch(self.update, EXPLAINED)
        self.update()

    def update(self, *_events) -> None:
        """The explanation follows the model kind (and δ, guidance, labels)."""
        try:
            self.explanation.object = explanation_html(self.state)
        except ValueError as exc:  # a kind without texts: say so, keep the page
            self.explanation.object = html.escape(str(exc))

    def apply(self, name: str) -> None:
        """Set the page to the preset ``name`` (one refresh; a learned preset starts training
        unless the model is cached or training)."""
        p = texts.preset(name)
        problems = texts.apply_preset(self.state, name)
        if problems:
            self.app.notice = f"Preset {p.label!r} not applied: " + "; ".join(problems)
            return
        self.app.notice = ""
        self.summary.object = (
            f"<b>{html.escape(p.label)}.</b> {html.escape(p.summary)} "
            f"<span style='color:#666'>(link: ?{html.escape(p.query)})</span>"
        )
        learned = self.state.training.learned()
        if p.train and not learned.snapshots and not learned.training:
            self.state.train()

    def reset(self) -> None:
        """Every input back to its default (trained models stay cached)."""
        texts.reset_inputs(self.state)
        self.app.notice = ""
        self.summary.object = "<i>Every setting is back to its default.</i>"

    def close(self) -> None:
        """The session ended: close the compare mode's second store."""
        self.compare.close()
