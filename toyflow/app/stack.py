"""The σ views of the served page: a :class:`toyflow.app.stack_view.StackView` fed with the
σ-stack of the session's store.

When the data, model, sampler or guidance change (the store publishes new trajectories or
curves), the stack is computed once (:func:`toyflow.sigma_stack.stack_for_state`, on the store's
worker thread) and shipped to the page; the σ slider and play then switch frames in the browser.
A σ move only tells the server the new index (the store's ``sigma_index`` follows without
recomputing anything, for the downloads). Stacks are shared by the sessions of a process: twenty
students opening the same default page compute it once.
"""

from __future__ import annotations

import dataclasses
import logging
import threading

import panel as pn
import param

from toyflow.app.loop import on_doc
from toyflow.explorer.cache import LRU

log = logging.getLogger("toyflow.app")

#: Stacks of this process by the plain values (and trained-model token) they depend on.
STACK_CACHE = LRU(32)
# One stack computed at a time per process: sessions opened together with the same settings wait
# for the first one's stack instead of each computing it (the work is CPU-bound anyway).
_BUILD_LOCK = threading.Lock()


def clear_stack_cache() -> None:
    STACK_CACHE.clear()


class StackPanel:
    """One page's σ views: built on the first stack, updated in place afterwards."""

    def __init__(self, app):
        self.app = app
        self.state = app.state
        self.view = None  # the StackView, once the first stack exists
        self.focus: tuple[str, ...] = ()  # views shown first (set_focus)
        self.key = None
        self.waiting = pn.pane.HTML(
            "<i>computing the σ views…</i>", height=60, margin=(20, 10), css_classes=["stack-wait"]
        )
        # Holds the Bokeh pane of the view (visibility toggles here). Stretched: the view's grid
        # of cards takes the page's width, also when it arrives after the page (a trained model).
        self.holder = pn.Column(sizing_mode="stretch_width")
        self.pane = pn.Column(self.waiting, self.holder, margin=(0, 5), sizing_mode="stretch_width")

    # -- server side -------------------------------------------------------------------------------
    def stack_key(self):
        """The cache key of the current inputs' stack (``None`` when no model is ready)."""
        from toyflow.explorer import NotReady

        s = self.state
        try:
            _, model_key = s.compute.model()
            label = s.compute.field_label()
        except (NotReady, ValueError):
            return None
        # Curves only once they are this model's (new trajectories are published before the
        # curves: the previous model's curves must not land under this model's key).
        curves = s.show_curves and s.curves_view is not None
        curves = curves and s.curves_view is s.summaries.cached_curves(model_key)
        return (s.compute.traj_key(model_key), s.resolution, float(s.extent), label, curves)

    def refresh(self, *_events, now: bool = False) -> None:
        """The store published new trajectories or curves: compute (or fetch) the stack on this
        thread, then show it on the page's event loop (``now``: at once, for a page that is
        still being built, so its first message already holds the views)."""
        s = self.state
        apply = (lambda fn: fn()) if now else (lambda fn: on_doc(self.app._doc, fn))
        if s.trajectory_view is None:  # a learned model before its first snapshot
            apply(self._show_waiting)
            return
        key = self.stack_key()
        if key is None or key == self.key:
            return
        try:
            stack = self._stack(key)
        except Exception as exc:  # the store's views stay; the alert says why
            log.warning("σ-stack failed: %s", exc)
            s.error = f"The σ views could not be computed: {exc}"
            return
        self.key = key
        apply(lambda: self._show(stack))

    def _stack(self, key):
        hit = STACK_CACHE.get(key)
        if hit is not None:
            return hit
        with _BUILD_LOCK:
            return self._build(key)

    def _build(self, key):
        from toyflow.sigma_stack import stack_for_state, state_curves

        hit = STACK_CACHE.get(key)
        if hit is not None:
            return hit
        s = self.state
        if key[-1]:  # with curves: the frames of the stack without them, plus the curves
            base = STACK_CACHE.get((*key[:-1], False))
            if base is None:
                base = STACK_CACHE.put((*key[:-1], False), stack_for_state(s, with_curves=False))
            curves = state_curves(s.curves_view, base.steps)
            return STACK_CACHE.put(key, dataclasses.replace(base, curves=curves))
        return STACK_CACHE.put(key, stack_for_state(s, with_curves=False))

    # -- page side (the event loop) ---------------------------------------------------------------
    def _show_waiting(self) -> None:
        self.waiting.object = f"<i>{self.state.status or 'computing the σ views…'}</i>"
        self.waiting.visible = True
        self.holder.visible = False
        self.key = None

    def new_view(self, stack):
        """The view of the first stack (a subclass may build another layout of it)."""
        from toyflow.app.stack_view import StackView

        return StackView(stack, projector=bool(getattr(self.app, "projector", False)))

    def _show(self, stack) -> None:
        idx = min(self.state.clamped_sigma_index(), stack.steps - 1)
        if self.view is None:
            self.view = self.new_view(stack)
            if idx:
                self.view.slider.value = idx
                self.view.update(stack)
            self.view.slider.on_change("value", self._on_slider)
            self.view.projector.toggle.on_change("active", self._on_projector)
            self.holder.objects = [pn.pane.Bokeh(self.view.layout, sizing_mode="stretch_width")]
        else:
            self.view.update(stack)
        self.set_focus(self.focus)
        self.waiting.visible = False
        self.holder.visible = True

    def set_focus(self, focus) -> None:
        """Show the views named in ``focus`` first (the tour's step is about them)."""
        from toyflow.app.stack_layout import set_focus

        self.focus = tuple(focus)
        if self.view is not None:
            set_focus(self.view, self.focus)

    def follow_store(self, *_events) -> None:
        """σ set on the store (a script, a notebook): move the page's slider there."""
        view, idx = self.view, self.state.clamped_sigma_index()
        if view is not None and view.slider.value != idx and idx <= view.slider.end:
            view.slider.value = idx

    def _on_projector(self, _attr, _old, new) -> None:
        """The page's projector toggle: the page's controls follow (the views changed already)."""
        if hasattr(self.app, "set_projector") and self.app.projector != bool(new):
            on_doc(self.app._doc, lambda: self.app.set_projector(bool(new)))

    def _on_slider(self, _attr, _old, new) -> None:
        """The page moved σ: the store follows quietly (no refresh: the page has every frame)."""
        s = self.state
        with param.parameterized.discard_events(s):
            s.sigma_index = int(new)
