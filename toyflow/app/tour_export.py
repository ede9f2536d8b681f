"""The lecture tour as one offline page: ``toyflow tour --export tour.html``.

Each step of :data:`toyflow.explorer.tour.STEPS` gets the σ-stack of its preset
(:func:`toyflow.sigma_stack.stack_for_state`; steps whose presets differ only in ``sigma_index``
share one stack), shown by a :class:`toyflow.app.stack_view.StackView` with its own σ slider and
play button. Back / Next buttons (and PageDown / PageUp, ArrowRight / ArrowLeft, as presentation
clickers send) switch steps in the page: a step shows its view at its σ, its title and text.
The page is written like :func:`toyflow.app.export.export_html`'s (BokehJS inline): no server,
no network. Bokeh only (the served tour, :mod:`toyflow.app.tour`, reuses :data:`KEYS_JS` and
:func:`step_html`).
"""

from __future__ import annotations

import html
import os
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence

from toyflow.explorer.tour import STEPS, TourStep
from toyflow.sigma_stack import SigmaStack

#: Keyboard navigation of a tour page (served or exported): PageDown / ArrowRight press the
#: button with class ``tour-next``, PageUp / ArrowLeft the one with ``tour-back``. The arrows are
#: left to a focused σ slider handle (``.noUi-handle``), and no key is taken from a text field.
#: Buttons live in shadow roots (Bokeh 3), so the search descends into them.
KEYS_JS = r"""
(function () {
  if (window.__toyflow_tour_keys) return;
  window.__toyflow_tour_keys = true;
  function find(root, sel) {
    const hit = root.querySelector(sel);
    if (hit) return hit;
    for (const el of root.querySelectorAll("*")) {
      if (el.shadowRoot) { const h = find(el.shadowRoot, sel); if (h) return h; }
    }
    return null;
  }
  function focused() {
    let el = document.activeElement;
    while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
    return el;
  }
  function press(name) {
    const host = find(document, ".tour-" + name);
    if (!host) return false;
    const b = (host.shadowRoot && host.shadowRoot.querySelector("button")) ||
              host.querySelector("button") || host;
    if (!b.disabled) b.click();
    return true;
  }
  window.addEventListener("keydown", function (ev) {
    if (ev.altKey || ev.ctrlKey || ev.metaKey || ev.shiftKey) return;
    const k = ev.key;
    const next = k === "PageDown" || k === "ArrowRight", back = k === "PageUp" || k === "ArrowLeft";
    if (!next && !back) return;
    const el = focused();
    if (el && (/^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName) || el.isContentEditable)) return;
    const handle = el && el.classList && el.classList.contains("noUi-handle");
    if (handle && k.startsWith("Arrow")) return;  // the σ slider keeps its arrow keys
    if (press(next ? "next" : "back")) { ev.preventDefault(); ev.stopPropagation(); }
  }, true);
})();
"""

#: Text sizes of a tour page (projector: readable from the back of a room at 1024 × 768).
TITLE_PX, TEXT_PX = 26, 18
WIDTH = 1000

_NAV_JS = r"""
const n = titles.length, cur = counter.tags.length ? counter.tags[0] : 0;
const i = Math.max(0, Math.min(n - 1, cur + delta));
if (i === cur && delta !== 0) return;
const v = view_of[i];
for (let k = 0; k < views.length; k++) {
  if (k !== v && plays[k].active) plays[k].active = false;
  views[k].visible = k === v;
}
sliders[v].value = sigma_of[i];
for (let c = 0; c < cards[v].length; c++) {
  const card = cards[v][c];
  card.styles = {...card.styles, order: String(orders[i][c])};
}
title.text = titles[i];
text.text = texts[i];
counter.text = '<span class="tour-count">' + (i + 1) + " / " + n + "</span>";
counter.tags = [i];
back.disabled = i === 0;
next.disabled = i === n - 1;
"""


def step_html(step: TourStep) -> str:
    """A step's text as HTML (class ``tour-body``): escaped, with `code` spans."""
    body = re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(step.text))
    return f'<div class="tour-body">{body}</div>'


def counter_html(number: int, count: int) -> str:
    return f'<span class="tour-count">{number} / {count}</span>'


def title_html(step: TourStep) -> str:
    return f'<span style="font-size:{TITLE_PX}px;font-weight:600">{html.escape(step.title)}</span>'


def _quiet(_message: str) -> None:
    """The default progress logger: says nothing."""


def state_for(step: TourStep, overrides: Mapping[str, str] | None = None, *, log=_quiet):
    """An explorer state set to ``step``'s preset (then ``overrides``), its learned model trained
    (or loaded from the caches) with progress lines sent to ``log``."""
    from toyflow.explorer import ExplorerState

    state = ExplorerState(auto=False, disk_cache=True)
    problems = state.set_from_strings({**step.preset, **(overrides or {})})
    if problems:
        raise ValueError(f"tour step {step.title!r}: " + "; ".join(problems))
    if state.kind == "learned":
        job = state.train()  # None: trained before (the explorer's caches)
        if job is not None:
            t0, last = time.perf_counter(), -1.0
            while not job.wait(1.0):
                if job.progress - last >= 0.1:
                    last = job.progress
                    log(f"  training {step.title!r}: {100 * job.progress:.0f}%")
            if job.status != "done":
                raise FloatingPointError(f"training {job.status}: {job.error or 'no result'}")
            log(f"  trained in {time.perf_counter() - t0:.1f} s")
    if state.error:
        raise ValueError(state.error)
    return state


def tour_stacks(
    steps: Sequence[TourStep] = STEPS,
    overrides: Mapping[str, str] | None = None,
    *,
    log: Callable[[str], None] = _quiet,
) -> tuple[list[SigmaStack], list[int]]:
    """The σ-stacks of a tour (one per distinct preset, σ aside) and each step's stack index."""
    from toyflow.sigma_stack import stack_for_state

    stacks: list[SigmaStack] = []
    index: dict[tuple, int] = {}
    view_of = []
    for n, step in enumerate(steps, 1):
        key = step.view_key()
        if key not in index:
            t0 = time.perf_counter()
            log(f"step {n}/{len(steps)}: {step.title}")
            stack = stack_for_state(state_for(step, overrides, log=log))
            index[key] = len(stacks)
            stacks.append(stack)
            log(f"  σ-stack in {time.perf_counter() - t0:.1f} s ({stack.nbytes / 1e6:.2f} MB)")
        view_of.append(index[key])
    return stacks, view_of


def tour_layout(steps: Sequence[TourStep], stacks: Sequence[SigmaStack], view_of: Sequence[int]):
    """The tour page's Bokeh layout: navigation, title, text and one σ view per stack (the
    first step's shown)."""
    from bokeh.layouts import column, row
    from bokeh.models import Button, CustomJS, Div

    from toyflow.app.stack_layout import focus_orders, set_focus
    from toyflow.app.stack_view import StackView

    if not steps or len(view_of) != len(steps):
        raise ValueError("a tour needs at least one step and one view index per step")
    views = [StackView(s) for s in stacks]
    first = steps[0]
    boxes = [
        column(v.layout, visible=k == view_of[0], sizing_mode="stretch_width")
        for k, v in enumerate(views)
    ]
    views[view_of[0]].slider.value = min(first.sigma_index, stacks[view_of[0]].steps - 1)
    views[view_of[0]].update(stacks[view_of[0]])
    set_focus(views[view_of[0]], first.focus)
    title = Div(text=title_html(first), width=WIDTH - 330, css_classes=["tour-title"])
    text = Div(
        text=step_html(first),
        width=WIDTH,
        css_classes=["tour-text"],
        styles={"font-size": f"{TEXT_PX}px", "line-height": "1.35"},
    )
    counter = Div(
        text=counter_html(1, len(steps)),
        tags=[0],
        width=70,
        css_classes=["tour-counter"],
        styles={"font-size": f"{TITLE_PX - 4}px", "color": "#555"},
    )
    style = {"font-size": "16px"}
    back = Button(label="◀ Back", width=90, disabled=True, css_classes=["tour-back"], styles=style)
    nxt = Button(
        label="Next ▶",
        width=90,
        disabled=len(steps) < 2,
        css_classes=["tour-next"],
        button_type="primary",
        styles=style,
    )
    args = {
        "titles": [title_html(s) for s in steps],
        "texts": [step_html(s) for s in steps],
        "view_of": list(view_of),
        "sigma_of": [
            min(s.sigma_index, stacks[v].steps - 1) for s, v in zip(steps, view_of, strict=True)
        ],
        "views": boxes,
        "cards": [list(v.cards.values()) for v in views],
        "orders": [
            list(focus_orders(views[v], s.focus).values())
            for s, v in zip(steps, view_of, strict=True)
        ],
        "sliders": [v.slider for v in views],
        "plays": [v.play for v in views],
        "title": title,
        "text": text,
        "counter": counter,
        "back": back,
        "next": nxt,
    }
    back.js_on_click(CustomJS(args={**args, "delta": -1}, code=_NAV_JS))
    nxt.js_on_click(CustomJS(args={**args, "delta": 1}, code=_NAV_JS))
    nav = row(counter, title, back, nxt, styles={"align-items": "center"})
    return column(nav, text, *boxes, name="tour", sizing_mode="stretch_width")


def tour_page(layout, title: str) -> str:
    """The offline page of ``layout`` (BokehJS inline) with the tour's keyboard script."""
    from toyflow.app.export import _offline_page

    page = _offline_page(layout, title)
    script = f"<script>{KEYS_JS}</script>\n"
    cut = page.rfind("</body>")
    return page[:cut] + script + page[cut:] if cut >= 0 else page + script


def export_tour(
    path,
    steps: Sequence[TourStep] = STEPS,
    *,
    overrides: Mapping[str, str] | None = None,
    title: str = "toyflow: a guided tour",
    log: Callable[[str], None] = _quiet,
) -> str:
    """Write the whole tour as one self-contained page to ``path``; returns the path.
    ``overrides`` (URL keys) apply to every step (small settings for tests)."""
    if not isinstance(title, str) or not title.strip():
        raise ValueError("title must be a non-empty string")
    folder = os.path.dirname(os.path.abspath(os.fspath(path)))
    if not os.path.isdir(folder):  # said before minutes of work, not after
        raise ValueError(f"no folder {folder!r} to write the tour page into")
    stacks, view_of = tour_stacks(steps, overrides, log=log)
    page = tour_page(tour_layout(steps, stacks, view_of), title)
    path = os.fspath(path)
    with open(path + ".part", "w", encoding="utf-8") as f:
        f.write(page)
    os.replace(path + ".part", path)
    log(f"wrote {path} ({len(page) / 1e6:.1f} MB, {len(stacks)} σ-stacks for {len(steps)} steps)")
    return path


def stderr_log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
