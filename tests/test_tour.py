"""The lecture tour: its steps are valid explorer presets, its texts quote docs/results.md, the
served tour reads ?tour=N, and a tiny tour exports as one page holding every step's data."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from toyflow.explorer import ExplorerState
from toyflow.explorer.model import PLAIN_PARAMS
from toyflow.explorer.tour import STEPS, TourStep, input_defaults, parse_number, step

ROOT = Path(__file__).resolve().parents[1]
#: Small settings for exports in tests (every step keeps its own data and model kind).
TINY = {"resolution": "8", "n_samples": "24", "sample_steps": "8", "show_curves": "false"}


def test_eight_steps_each_a_valid_preset():
    assert len(STEPS) == 8
    assert len({s.title for s in STEPS}) == 8
    for n, s in enumerate(STEPS, 1):
        state = ExplorerState(auto=False, disk_cache=False)
        assert state.set_from_strings(dict(s.preset)) == [], n
        assert state.clamped_sigma_index() == s.sigma_index, n  # σ index inside the grid
        # the full settings (defaults, then the preset) are valid too and name every input
        full = s.settings()
        assert set(full) == {k for k, v in input_defaults().items() if v is not None}
        assert set(full) <= set(PLAIN_PARAMS)
        assert ExplorerState(auto=False, disk_cache=False).set_from_strings(full) == []


def test_step_sigma_is_the_one_the_text_names():
    """Step 2 shows σ ≈ 2.8, step 3 σ ≈ 0.63, step 1 σ ≈ 28 (the 40-step EDM grid)."""
    import toyflow

    grid = np.asarray(toyflow.sampling_sigmas("edm", 40))
    assert grid[STEPS[0].sigma_index] == pytest.approx(27.8, abs=0.05)
    assert grid[STEPS[1].sigma_index] == pytest.approx(2.82, abs=0.005)
    assert grid[STEPS[2].sigma_index] == pytest.approx(0.625, abs=0.001)
    assert "step 26" in STEPS[1].text and grid[25] == pytest.approx(0.625, abs=0.001)


def test_texts_quote_results_md():
    """Every number in a step's text is in docs/results.md or in the step's own preset (or is
    one of the grid's ends, 80 and 0.002; "step N" names a slider position)."""
    results = (ROOT / "docs" / "results.md").read_text()
    numbers_in_results = set(re.findall(r"\d+(?:\.\d+)?", results.replace("\u202f", " ")))
    for n, s in enumerate(STEPS, 1):
        assert len(s.text.split(". ")) >= 2, n  # a few sentences, not a label
        own = set(s.preset.values()) | {"80", "0.002"}
        text = re.sub(r"step \d+", "", s.text.replace("12 000", "12000"))  # slider steps
        for num in re.findall(r"\d+(?:\.\d+)?", text):
            assert num in numbers_in_results or num in own or num == "12000", (n, num)
    # the key numbers of the argument are there
    assert "100 %" in STEPS[1].text
    assert "44.6 %" in STEPS[2].text and "43 %" in STEPS[2].text
    assert "0.926" in STEPS[3].text and "1.09" in STEPS[3].text
    assert "0.511" in STEPS[4].text and "14.3 %" in STEPS[4].text and "7.7 %" in STEPS[4].text
    assert "2–3 points" in STEPS[5].text and "35 %" in STEPS[5].text
    assert "0.668" in STEPS[6].text and "3.797" in STEPS[6].text


def test_step_numbers_and_bad_steps():
    assert step(1) is STEPS[0] and step("8") is STEPS[7]
    for bad in ("0", "9", "-1", "x", "²", "", "1.5", "1" * 5000):
        with pytest.raises(ValueError, match="tour step"):
            parse_number(bad)
    with pytest.raises(ValueError, match="sigma_index"):
        TourStep("t", "some text.", {"kind": "optimal"})
    with pytest.raises(ValueError):
        TourStep(" ", "text", {"sigma_index": "1"})
    with pytest.raises(TypeError):
        STEPS[0].preset["kind"] = "learned"  # type: ignore[index]


def test_steps_sharing_a_preset_share_a_view():
    assert STEPS[0].view_key() == STEPS[1].view_key()
    assert STEPS[4].view_key() == STEPS[5].view_key() == STEPS[7].view_key()
    assert len({s.view_key() for s in STEPS}) == 5
    assert [s.learned for s in STEPS] == [False] * 4 + [True, True, False, True]


def test_served_tour_reads_the_query():
    from toyflow.app.tour import Tour

    assert Tour.from_args({}) is None and Tour.from_args({"kind": [b"optimal"]}) is None
    t = Tour.from_args({"tour": [b"3"]})
    assert t is not None and t.number == 3 and not t.problem
    assert t.settings()["kind"] == "error-prone" and t.settings()["delta"] == "1.6"
    assert "3 / 8" in t.counter.object and STEPS[2].title in t.title.object
    bad = Tour.from_args({"tour": [b"12"]})
    assert bad is not None and bad.number == 1 and "from 1 to 8" in bad.problem
    # the query's other explorer keys hold for every step, except σ (each step sets its own)
    small = Tour.from_args({"tour": [b"5"], "train_steps": [b"100"], "sigma_index": [b"3"]})
    assert small is not None and small.settings()["train_steps"] == "100"
    assert small.settings()["sigma_index"] == STEPS[4].preset["sigma_index"]
    t.go(99)  # clamped; no app yet: only the widgets follow
    assert t.number == 8 and t.next.disabled and not t.back.disabled
    t.go(0)
    assert t.number == 1 and t.back.disabled


def test_export_tiny_tour(tmp_path):
    from toyflow.app.tour_export import export_tour, tour_stacks

    steps = [STEPS[0], STEPS[1], STEPS[2]]
    stacks, view_of = tour_stacks(steps, TINY)
    assert view_of == [0, 0, 1]  # steps 1 and 2 differ only in σ: one stack
    assert stacks[0].meta["model"] != stacks[1].meta["model"]
    assert stacks[0].resolution == 8 and stacks[0].steps == 8
    # the optimal and the δ field differ (step 3 is not step 1 again)
    assert not np.allclose(stacks[0].model, stacks[1].model)

    lines = []
    path = export_tour(
        tmp_path / "tour.html", [STEPS[0], STEPS[2]], overrides=TINY, log=lines.append
    )
    page = Path(path).read_text()
    assert page.count('"sigma-frames"') == 2  # one σ-stack per step, both in the page
    for s in (STEPS[0], STEPS[2]):
        assert s.title in page
    assert "error-prone \\u03b4 = 1.6" in page  # step 3's model title (JSON-escaped δ)
    assert "toyflow_tour_keys" in page
    assert "<script src" not in page.replace('<script src="data:', "")  # nothing to fetch
    assert any(line.startswith("wrote") for line in lines)


def test_cli_tour_checks_before_work(tmp_path, capsys):
    from toyflow.cli import main

    assert main(["tour", "--export", str(tmp_path / "no" / "t.html"), "--steps", "1"]) == 2
    assert "no folder" in capsys.readouterr().err
    assert main(["tour", "--export", str(tmp_path / "t.html"), "--steps", "1,9"]) == 2
    assert "tour step" in capsys.readouterr().err
    assert not (tmp_path / "t.html").exists()


def test_focus_puts_the_steps_views_first():
    """A step's focus orders the page's view cards: the named ones first, in the given order;
    "model" names the field, not the "model vs optimal" curves."""
    from types import SimpleNamespace

    from toyflow.app.stack_layout import focus_orders
    from toyflow.explorer.tour import FOCUS_NAMES

    names = ["model", "optimal", "error", "trajectories", "curves:gap (E_val − E_train) / E_train"]
    names += ["curves:model vs optimal error ‖D − D*‖", "curves:trajectory overlap"]
    view = SimpleNamespace(cards=dict.fromkeys(names))
    orders = focus_orders(view, ("gap", "model"))
    first = sorted(names, key=lambda n: orders[n])[:2]
    assert first == ["curves:gap (E_val − E_train) / E_train", "model"]
    assert orders["curves:model vs optimal error ‖D − D*‖"] == 0
    assert focus_orders(view, ()) == dict.fromkeys(names, 0)
    for s in STEPS:
        assert set(s.focus) <= set(FOCUS_NAMES)
        for word in s.focus:  # every focus word names a card of the page
            assert any(o < 0 for o in focus_orders(view, (word,)).values()), word
    with pytest.raises(ValueError, match="unknown views"):
        TourStep("t", "some text. More.", {"sigma_index": "1"}, focus=("nowhere",))
