"""Offline exports of the σ views: a self-contained HTML page, a GIF with one frame per σ, the
``toyflow explore --export`` command, and the StackView's frames and in-place update."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

import toyflow
from toyflow import cli
from toyflow.app import stack_view as sv
from toyflow.app.export import export_gif, export_html
from toyflow.sigma_stack import build_stack

STEPS = 6


def _stack(circle, delta=1.2, steps=STEPS, n=20):
    opt = toyflow.OptimalDenoiser(circle.train_x)
    model = toyflow.ErrorProneDenoiser(opt, delta)
    samples, traj, sig = toyflow.sample(model, n, steps=steps, return_trajectory=True)
    mem = toyflow.metrics.memorized_mask(np.asarray(samples), circle.train_x)
    return build_stack(
        model,
        opt,
        circle.train_x,
        sig,
        traj,
        val_x=circle.val_x,
        memorized=mem,
        resolution=8,
        heat_resolution=10,
        curves={"relative gap: model": np.linspace(0, 1, steps)},
        meta={"model": f"error-prone δ = {delta}"},
    )


NETWORK = re.compile(
    r"""<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=\s*["']?(https?:)?//""", re.I
)


def test_html_is_self_contained(circle, tmp_path):
    path = export_html(_stack(circle), tmp_path / "page.html", title="δ = 1.2 <test>")
    text = open(path, encoding="utf-8").read()
    assert NETWORK.search(text) is None, NETWORK.search(text).group(0)
    assert not re.search(r"@import\s+url\(\s*['\"]?https?:", text)
    # BokehJS is inline: the library's own code, not a <script src=...>
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", text, re.S)
    assert max(len(s) for s in scripts) > 500_000
    assert "Bokeh" in text and 'src="' not in "".join(re.findall(r"<script[^>]*>", text))
    for cls in ("flow-field", "sigma-slider", "sigma-play", "sigma-value"):
        assert cls in text
    assert "δ = 1.2 &lt;test&gt;" in text  # the title is escaped


def test_gif_has_one_frame_per_sigma(circle, tmp_path):
    stack = _stack(circle)
    path = export_gif(stack, tmp_path / "sweep.gif", fps=5, size=(8, 2.4), dpi=50)
    with Image.open(path) as im:
        assert im.format == "GIF"
        assert im.n_frames == stack.steps == STEPS
        assert im.info["duration"] == 200
        im.seek(0)
        first = np.asarray(im.convert("RGB"), np.int16)
        im.seek(STEPS - 1)
        last = np.asarray(im.convert("RGB"), np.int16)
    assert np.abs(first - last).mean() > 1.0  # the sweep moves


def test_export_rejects_bad_input(circle, tmp_path):
    with pytest.raises(ValueError, match="SigmaStack or an explorer state"):
        export_html(object(), tmp_path / "x.html")
    stack = _stack(circle)
    with pytest.raises(ValueError, match="fps"):
        export_gif(stack, tmp_path / "x.gif", fps=0)
    with pytest.raises(ValueError, match="title"):
        export_html(stack, tmp_path / "x.html", title=" ")
    with pytest.raises(ValueError, match="SigmaStack"):
        sv.StackView("not a stack")


def test_frame_columns_follow_the_stack(circle):
    stack = _stack(circle)
    for i in (0, STEPS - 1):
        cols = sv.frame_columns(stack, i)
        disp = stack.model[i].astype(np.float32).reshape(-1, 2)
        a = cols["model"]["arrows"]
        np.testing.assert_allclose(a["mag"], np.linalg.norm(disp, axis=1), rtol=1e-6)
        # arrows point along D(x; σ) − x; the region is ‖D − x‖ ≤ σ
        seg = np.stack([a["x1"] - a["x0"], a["y1"] - a["y0"]], 1)
        cos = np.sum(seg * disp, 1) / np.maximum(np.linalg.norm(seg, axis=1) * a["mag"], 1e-12)
        assert np.all(cos[a["mag"] > 1e-3] > 0.999)
        assert np.array_equal(
            cols["model"]["region"].ravel(), a["mag"] <= np.float32(stack.sigmas[i])
        )
        mem = stack.memorized
        np.testing.assert_allclose(
            cols["positions"]["x"], stack.trajectory[i][~mem, 0].astype(np.float32)
        )
        np.testing.assert_allclose(
            cols["positions_mem"]["y"], stack.trajectory[i][mem, 1].astype(np.float32)
        )
        # the colour steps hold every arrow once: shaft start, tip, barbs, a break
        paths = sv.arrow_paths(a, sv.arrow_color_high(stack))
        assert sum(p["x"].size for p in paths) == 6 * a["mag"].size
        starts = np.concatenate([p["x"].reshape(-1, 6)[:, 0] for p in paths])
        assert sorted(starts.tolist()) == sorted(a["x0"].tolist())
        assert cols["sigma"] == stack.sigmas[i]


def test_update_swaps_the_data_in_place(circle):
    view = sv.StackView(_stack(circle))
    frames, arrows = view.frames, view.arrows["model"]
    view.slider.value = 4
    other = _stack(circle, delta=0.3, steps=4)
    view.update(other)
    assert view.frames is frames and view.arrows["model"] is arrows  # the same Bokeh models
    assert view.slider.end == 3 and view.slider.value == 3  # clamped to the new grid
    assert len(view.frames.data["sigmas"][0]) == 4
    np.testing.assert_array_equal(
        view.frames.data["model"][0], other.model.astype(np.float16).ravel().view(np.uint16)
    )
    want = sv.arrow_paths(sv.frame_columns(other, 3)["model"]["arrows"], sv.arrow_color_high(other))
    for xs, path in zip(view.arrows["model"].data["xs"], want):
        np.testing.assert_array_equal(xs, path["x"])
    assert sv.shipped_bytes(other) < other.nbytes + 100


def test_cli_explore_export(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TOYFLOW_CACHE", str(tmp_path / "cache"))
    html, gif = tmp_path / "run.html", tmp_path / "run.gif"
    code = cli.main(
        [
            "explore",
            "--export",
            str(html),
            "--gif",
            str(gif),
            "--kind",
            "error-prone",
            "--delta",
            "0.9",
            "--sample-steps",
            "5",
            "--n-samples",
            "16",
            "--resolution",
            "8",
            "--fps",
            "4",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert "error-prone δ = 0.9" in html.read_text(encoding="utf-8")
    with Image.open(gif) as im:
        assert im.n_frames == 5
    assert cli.main(["explore"]) == 2
    assert cli.main(["explore", "--export", str(html), "--delta", "many"]) == 2
    assert "delta" in capsys.readouterr().err
