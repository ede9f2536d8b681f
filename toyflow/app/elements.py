"""Small pieces of the explorer page: colours, the legend, the loss plot's options, scripts."""

from __future__ import annotations

import holoviews as hv
from holoviews import opts

from toyflow.app import stack_view as sv

TRAIN_COLOR = sv.TRAIN_COLOR
MONO = ":host textarea {font-family: monospace; font-size: 11px}"

hv.extension("bokeh", logo=False)
# Canvas, not WebGL: our glyph counts are small, and without a GPU (VMs, headless browsers, many
# classroom machines) WebGL is software-rendered and each frame is copied back to the canvas.
hv.renderer("bokeh").webgl = False

opts.defaults(
    opts.Curve(
        "Loss",
        # width and height, not frame sizes: Bokeh's W-1005 wants both on a fixed-size figure.
        width=300,
        height=170,
        logy=True,
        framewise=True,
        toolbar=None,
        color="#444444",
        title="{label}",
    ),
)


def _dot(color, hollow=False, size=9):
    fill = "transparent" if hollow else color
    return (
        f'<span style="display:inline-block;width:{size}px;height:{size}px;border-radius:50%;'
        f'background:{fill};border:1.5px solid {color};margin:0 4px 0 12px"></span>'
    )


def legend_html() -> str:
    """The legend of the σ views' points and layers (the colours of :mod:`toyflow.app.stack_view`)."""
    return (
        '<div style="font-size:12px;color:#333">'
        f"{_dot(sv.TRAIN_COLOR)}training point{_dot(sv.VAL_COLOR, hollow=True)}validation point"
        f"{_dot(sv.POSITION_COLOR, size=5)}trajectories at this σ"
        f"{_dot(sv.CLOUD_COLOR, size=7)}noisy training points y + σε"
        f"{_dot(sv.MEMORIZED_COLOR)}memorized sample"
        f'<span style="display:inline-block;width:14px;height:10px;background:{sv.REGION_COLOR};'
        'opacity:.7;margin:0 4px 0 12px"></span>displacement region ‖D(x;σ) − x‖ ≤ σ'
        " &nbsp;·&nbsp; arrows: D(x;σ) − x (colour: length)</div>"
    )


COPY_JS = """
const text = src.value;
if (navigator.clipboard && window.isSecureContext) {
  navigator.clipboard.writeText(text);
} else {
  const ta = document.createElement('textarea');
  ta.value = text; document.body.appendChild(ta); ta.select();
  try { document.execCommand('copy'); } finally { document.body.removeChild(ta); }
}
"""
