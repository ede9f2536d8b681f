"""What every experiment shares: the registry, its settings, progress, and the result files.

An experiment is declared once::

    @dataclasses.dataclass(frozen=True)
    class GapVsDelta(Settings):
        n_train: int = 10
        n_noise: int = 50
        QUICK = dict(n_noise=10)            # what quick mode changes

    @experiment("gap-vs-delta", "relative gap over σ ...", family="paper", settings=GapVsDelta)
    def gap_vs_delta(s: GapVsDelta, progress) -> Outcome:
        ...

The decorator registers it in :data:`EXPERIMENTS` and returns the public function
``fn(*, quick=False, outdir=None, progress=None, **overrides) -> dict``, which builds the
settings (the defaults, or :meth:`Settings.quick`, with ``overrides`` replaced; all validated
at construction), runs the body and returns the *tidy result*::

    {"name", "description", "paper", "quick", "config",   # what was run
     "arrays":   {name: nested lists},                      # everything the figure plots
     "shapes":   {name: [dimension names]},                 # the documented shapes ...
     "dims":     {dimension name: size},                    # ... and their sizes in this run
     "headline": {name: number or string},                  # the numbers a report quotes
     "checks":   {name: bool},                              # qualitative claims, as measured
     "wall_time", "toyflow_version"}

With ``outdir`` it writes ``outdir/NAME.json`` and ``outdir/NAME.png`` atomically. Progress is
reported as ``progress(done, total, message)`` with ``done`` possibly fractional (training
steps inside one unit of work); the CLI turns it into a tqdm bar.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

import numpy as np

from toyflow._json import dumps, write_json
from toyflow._validation import check_float, check_int
from toyflow.registry import Registry

ProgressFn = Callable[[float, float, str], Any]
FAMILIES = ("paper", "learned", "images")
S = TypeVar("S", bound="Settings")


# --- settings ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Settings:
    """Base of every experiment's frozen settings dataclass.

    Construction validates every field: whole numbers (fields whose default is an ``int``) must
    be ≥ 1, or ≥ 0 for seeds; numbers must be finite and ≥ 0; lists become tuples. Subclasses add
    cross-field checks in :meth:`check` and say what quick mode changes as a class keyword,
    ``class Mine(Settings, quick=dict(steps=100))`` (merged along the class hierarchy).
    """

    QUICK: ClassVar[Mapping[str, Any]] = {}
    #: The field that counts the Monte-Carlo draws the standard errors are over (``n_noise``
    #: for gap curves); ``draws=N`` (``--draws N``, ``--set draws=N``) sets it.
    DRAWS: ClassVar[str | None] = None

    def __init_subclass__(
        cls,
        quick: Mapping[str, Any] | None = None,
        draws: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        cls.QUICK = {**cls.QUICK, **(quick or {})}
        if draws is not None:
            cls.DRAWS = draws

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value, default = getattr(self, f.name), f.default
            if isinstance(value, list):
                value = tuple(value)
            if value is None and default is None:
                pass
            elif isinstance(default, bool):
                if not isinstance(value, (bool, np.bool_)):
                    raise ValueError(f"setting {f.name} must be true or false, got {value!r}")
                value = bool(value)
            elif isinstance(default, int):
                value = check_int(value, f.name, 0 if "seed" in f.name else 1, 10**9)
            elif isinstance(default, float):
                value = check_float(value, f.name, 0.0)
            elif isinstance(default, tuple):
                if not isinstance(value, tuple) or not value:
                    raise ValueError(f"setting {f.name} must be a non-empty list, got {value!r}")
            object.__setattr__(self, f.name, value)
        self.check()

    def check(self) -> None:
        """Cross-field checks of a subclass (raise ``ValueError``)."""

    @classmethod
    def quick(cls: type[S]) -> S:
        """The shrunk variant: well under a minute on 2 CPU cores."""
        return cls(**cls.QUICK)

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def _alias(cls, name: str) -> str:
        """``draws`` stands for the field named by :attr:`DRAWS`."""
        return cls.DRAWS if name == "draws" and cls.DRAWS else name

    def replace(self: S, **changes: Any) -> S:
        """A copy with ``changes`` (an unknown name raises ``ValueError`` naming the valid ones;
        ``draws`` sets the field named by :attr:`DRAWS`)."""
        if "draws" in changes and self.DRAWS:
            if self.DRAWS in changes:
                raise ValueError(f"give draws or {self.DRAWS}, not both")
            changes[self.DRAWS] = changes.pop("draws")
        unknown = sorted(set(changes) - set(self.names()))
        if unknown:
            raise ValueError(
                f"unknown setting(s) {', '.join(unknown)}; valid: {', '.join(sorted(self.names()))}"
            )
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.names()}

    @classmethod
    def parse(cls, name: str, text: str) -> Any:
        """A setting's value from command-line text, typed like its default (lists: commas)."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        name = cls._alias(name)
        if name not in fields:
            raise ValueError(f"unknown setting {name!r}; valid: {', '.join(sorted(fields))}")
        default = fields[name].default
        if isinstance(default, tuple):
            kind = type(default[0]) if default else str
            return tuple(_parse_one(kind, t.strip(), name) for t in text.split(",") if t.strip())
        if default is None and text.lower() in ("none", "null", ""):
            return None
        if default is None and "," in text:
            return tuple(_parse_one(None, t.strip(), name) for t in text.split(",") if t.strip())
        return _parse_one(None if default is None else type(default), text, name)


def _parse_one(kind: type | None, text: str, name: str) -> Any:
    if kind is bool:
        if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"setting {name} must be true or false, got {text!r}")
        return text.lower() in ("true", "1", "yes")
    if kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            raise ValueError(f"setting {name} must be a {kind.__name__}, got {text!r}") from None
    if kind is None:  # no typed default: a number if it reads as one
        for k in (int, float):
            try:
                return k(text)
            except ValueError:
                pass
    return text


# --- the registry -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A registry entry: ``fn`` runs it (``fn(*, quick, outdir, progress, **overrides)``),
    ``settings`` is its settings dataclass, ``family`` is ``"paper"``, ``"learned"`` or
    ``"images"``; ``figure(result)`` redraws its PNG from a result."""

    name: str
    description: str
    fn: Callable[..., dict[str, Any]]
    family: str
    settings: type[Settings]
    figure_name: str

    @property
    def paper(self) -> bool:
        """The paper's own (analytic) experiments."""
        return self.family == "paper"

    @property
    def is_2d(self) -> bool:
        return self.family in ("paper", "learned")

    @property
    def figure(self) -> Callable[[dict[str, Any]], Any]:
        draw: Callable[[dict[str, Any]], Any] = getattr(
            sys.modules[self.fn.__module__], self.figure_name
        )
        return draw

    def __call__(self, **kwargs: Any) -> dict[str, Any]:
        return self.fn(**kwargs)


#: Every experiment, 2D and image, in registry order; the CLI, ``examples/`` and the README
#: table read it.
EXPERIMENTS: Registry[Experiment] = Registry("experiment")


@dataclasses.dataclass
class Outcome:
    """What an experiment body measured: ``arrays`` maps a name to ``(values, shape)`` where
    the shape lists dimension names (keys of ``dims``) or fixed sizes; ``config`` adds derived
    settings to the recorded configuration."""

    arrays: Mapping[str, tuple[Any, Any]]
    dims: Mapping[str, int]
    headline: Mapping[str, Any]
    checks: Mapping[str, Any] = dataclasses.field(default_factory=dict[str, Any])
    config: Mapping[str, Any] = dataclasses.field(default_factory=dict[str, Any])


def experiment(
    name: str, description: str, *, family: str, settings: type[Settings]
) -> Callable[[Callable[[Any, ProgressFn | None], Outcome]], Callable[..., dict[str, Any]]]:
    """Register ``body(settings, progress) -> Outcome`` as experiment ``name`` (see the module
    docstring); its figure is ``figure_<name>`` of the same module."""
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")

    def wrap(body: Callable[[Any, ProgressFn | None], Outcome]) -> Callable[..., dict[str, Any]]:
        @functools.wraps(body)
        def run(
            *,
            quick: bool = False,
            outdir: str | os.PathLike[str] | None = None,
            progress: ProgressFn | None = None,
            **overrides: Any,
        ) -> dict[str, Any]:
            try:
                s = (settings.quick() if quick else settings()).replace(**overrides)
            except ValueError as exc:
                raise ValueError(f"experiment {name!r}: {exc}") from None
            started = time.perf_counter()
            out = body(s, progress)
            result = make_result(
                name,
                description,
                paper=family == "paper",
                quick=quick,
                config={**s.to_dict(), **out.config},
                arrays={k: v for k, (v, _) in out.arrays.items()},
                shapes={k: spec for k, (_, spec) in out.arrays.items()},
                dims=out.dims,
                headline=out.headline,
                checks=out.checks,
                started=started,
            )
            return write_result(result, outdir, EXPERIMENTS[name].figure)

        run.__annotations__ = {}
        EXPERIMENTS.add(
            name,
            Experiment(name, description, run, family, settings, "figure_" + body.__name__),
        )
        return run

    return wrap


# --- progress -----------------------------------------------------------------------------------


class Reporter:
    """Counts units of work and forwards them to a ``progress(done, total, message)`` callback."""

    def __init__(self, progress: ProgressFn | None, total: float, name: str):
        self.progress = progress
        self.total = float(max(total, 1))
        self.name = name
        self.done = 0.0

    def advance(self, units: float = 1.0, message: str = "") -> None:
        self.done = min(self.total, self.done + units)
        if self.progress is not None:
            self.progress(self.done, self.total, message or self.name)

    def training(self, units: float = 1.0, message: str = "training") -> Callable[[Any], None]:
        """A training callback (``toyflow.Progress``) that advances by ``units`` over the run."""
        start = self.done

        def callback(p: Any) -> None:
            self.done = min(self.total, start + units * p.fraction)
            if self.progress is not None:
                self.progress(self.done, self.total, f"{message} {p.step}/{p.total}")

        return callback

    def finish_training(self, units: float, start: float) -> None:
        """Make sure a training's units are counted even if it stopped early."""
        self.done = min(self.total, max(self.done, start + units))


# --- results ------------------------------------------------------------------------------------


def check_shapes(
    arrays: Mapping[str, Any], shapes: Mapping[str, Any], dims: Mapping[str, int]
) -> None:
    """Raise ``AssertionError`` if an array does not have its documented shape."""
    for key, spec in shapes.items():
        want = tuple(int(dims[d]) if isinstance(d, str) else int(d) for d in spec)
        got = np.shape(arrays[key])
        if got != want:
            raise AssertionError(
                f"array {key!r} has shape {got}, documented {tuple(spec)} = {want}"
            )


def make_result(
    name: str,
    description: str,
    *,
    paper: bool,
    quick: bool,
    config: Mapping[str, Any],
    arrays: Mapping[str, Any],
    shapes: Mapping[str, Any],
    dims: Mapping[str, int],
    headline: Mapping[str, Any],
    checks: Mapping[str, bool] | None = None,
    started: float | None = None,
) -> dict[str, Any]:
    """Assemble the tidy result dictionary (arrays as NumPy; :func:`write_result` makes JSON)."""
    from toyflow import __version__

    arrays = {k: np.asarray(v) for k, v in arrays.items()}
    check_shapes(arrays, shapes, dims)
    return {
        "name": name,
        "description": description,
        "paper": bool(paper),
        "quick": bool(quick),
        "config": dict(config),
        "arrays": arrays,
        "shapes": {k: list(v) for k, v in shapes.items()},
        "dims": {k: int(v) for k, v in dims.items()},
        "headline": dict(headline),
        "checks": {k: bool(v) for k, v in (checks or {}).items()},
        "wall_time": None if started is None else round(time.perf_counter() - started, 3),
        "toyflow_version": __version__,
    }


def result_json(result: Mapping[str, Any]) -> str:
    """The result as strict JSON text (no NaN: non-finite numbers become ``null``)."""
    return dumps(result)


def write_result(
    result: dict[str, Any],
    outdir: str | os.PathLike[str] | None,
    figure: Callable[[dict[str, Any]], Any] | None = None,
) -> dict[str, Any]:
    """Write ``NAME.json`` (and ``NAME.png`` from ``figure(result)``) into ``outdir``, atomically.

    Adds ``result["files"]`` with the paths written. Returns ``result``.
    """
    if outdir is None:
        return result
    outdir = os.fspath(outdir)
    os.makedirs(outdir, exist_ok=True)
    files = {}
    if figure is not None:
        from toyflow.plotting import save_figure

        png = os.path.join(outdir, f"{result['name']}.png")
        save_figure(figure(result), png)
        files["png"] = png
    path = os.path.join(outdir, f"{result['name']}.json")
    files["json"] = path
    result["files"] = files
    write_json(path, result)
    return result


def load_result(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a ``NAME.json`` written by an experiment, arrays back as NumPy (``null`` → NaN)."""
    with open(path) as f:
        result: dict[str, Any] = json.load(f)
    arrays = {}
    for k, v in result["arrays"].items():
        try:
            arrays[k] = np.asarray(v, dtype=float)
        except (TypeError, ValueError):
            arrays[k] = np.asarray(v)
    result["arrays"] = arrays
    return result
