"""``toyflow serve``: the page's address is printed, and ``--show`` on a machine without a
display is dropped with a message (Panel would silently open nothing)."""

from __future__ import annotations

import subprocess

from toyflow import cli


def _serve(monkeypatch, capsys, options, env):
    calls = []
    monkeypatch.setattr(subprocess, "call", lambda cmd: calls.append(cmd) or 0)
    for name in ("DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(cli.sys, "platform", "linux")
    assert cli.serve(options) == 0
    return calls[0], capsys.readouterr().out


def test_headless_show_is_dropped_and_explained(monkeypatch, capsys):
    cmd, out = _serve(monkeypatch, capsys, ["--show", "--port", "5007"], {})
    assert "http://localhost:5007/explorer" in out
    assert "No browser opened" in out and "DISPLAY" in out
    assert "--show" not in cmd and cmd[-2:] == ["--port", "5007"]


def test_show_kept_where_there_is_a_display(monkeypatch, capsys):
    cmd, out = _serve(monkeypatch, capsys, ["--show"], {"DISPLAY": ":0"})
    assert "http://localhost:5006/explorer" in out and "No browser" not in out
    assert "--show" in cmd
