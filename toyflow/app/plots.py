"""The training-loss plot of the explorer page (the σ views are in :mod:`toyflow.app.stack`)."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import panel as pn
from holoviews import streams


class LossPlot:
    """The loss over training steps, redrawn when the store publishes training progress."""

    def __init__(self, app):
        self.state = app.state
        self.map = hv.DynamicMap(self.plot, streams=[streams.Params(app, ["train_serial"])])
        self.pane = pn.pane.HoloViews(self.map, css_classes=["loss-plot"])
        # Built on first use (a learned model), so a page that never trains stays light.
        # Visibility is toggled on a wrapper (toggling it on a HoloViews pane fails in Panel 1.9).
        self.box = pn.Column(visible=False)

    def show(self, learned: bool) -> None:
        if learned and not self.box.objects:
            self.box.append(self.pane)
        self.box.visible = learned

    def plot(self, train_serial=0):
        losses = self.state.loss_history
        if losses is None or len(losses) == 0:
            # No line before training (a flat line would look like a measured loss); the axis
            # gets a range of its own, so the log scale has no zero to warn about.
            return hv.Curve(
                ([], []), "step", "loss", group="Loss", label="training loss (not trained yet)"
            ).opts(xlim=(0, 1), ylim=(0.01, 1))
        y = np.asarray(losses, np.float64)
        win = max(1, len(y) // 100)
        if win > 1:
            y = np.convolve(y, np.ones(win) / win, mode="valid")
        x = np.arange(1, len(y) + 1) + (win - 1)
        # Ranges of its own: the untrained plot's placeholder ranges must not stay.
        lo, hi = float(np.min(y)), float(np.max(y))
        return hv.Curve(
            (x, y), "step", "loss", group="Loss", label=f"training loss ({len(losses)} steps)"
        ).opts(xlim=(float(x[0]), float(x[-1]) + 1), ylim=(lo / 1.1, hi * 1.1))
