"""The σ control of the explorer page: the index into the sampling grid, with its σ read-out."""

from __future__ import annotations

import panel as pn


class SigmaControl:
    """A throttled σ slider and a player over the sampling grid, bound to ``state.sigma_index``.

    Key presses reach the server one by one while the page may be a few presses ahead; the store's
    echo of an older index is therefore never written back to the widget it came from."""

    def __init__(self, state):
        self.state = s = state
        W = pn.widgets
        self._at: dict[int, int] = {}  # id(widget) -> the index its page side shows
        self.slider = W.IntSlider(
            label="Noise level σ (the sampling grid, large to small)",
            start=0,
            end=s.sample_steps - 1,
            show_value=False,
            value=s.clamped_sigma_index(),
            width=460,
            css_classes=["sigma-slider"],
        )
        self.slider.param.watch(self._on_widget, "value_throttled")
        self.player = W.Player(
            start=0,
            end=s.sample_steps - 1,
            value=s.clamped_sigma_index(),
            interval=250,
            loop_policy="once",
            show_value=False,
            width=260,
            show_loop_controls=False,
            visible_buttons=["first", "previous", "pause", "play", "next", "last"],
            css_classes=["sigma-player"],
        )
        self.player.param.watch(self._on_widget, "value")
        self.label = pn.pane.HTML("", css_classes=["sigma-value"], margin=(12, 10))

    def _on_widget(self, event) -> None:
        if event.new is None:
            return
        self._at[id(event.obj)] = int(event.new)
        if self.state.sigma_index != event.new:
            self.state.sigma_index = int(event.new)

    def update(self, *_events) -> None:
        """The grid or the index changed: move the widgets (not to an index they reported)."""
        s = self.state
        end = max(s.sample_steps - 1, 1)
        idx = s.clamped_sigma_index()
        for widget in (self.slider, self.player):
            changes = {"end": end} if widget.end != end else {}
            if self._at.get(id(widget)) != idx:
                changes["value"] = idx
                self._at[id(widget)] = idx
            if changes:
                widget.param.update(**changes)
        try:
            sigma = s.current_sigma()
        except ValueError:  # σ_min ≥ σ_max: the alert says so
            return
        self.label.object = f"<b>σ = {sigma:.4g}</b> &nbsp; step {idx + 1} of {s.sample_steps}"

    def widgets(self) -> list:
        return [self.slider, self.player, self.label]
