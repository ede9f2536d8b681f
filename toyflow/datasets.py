r"""2D point-cloud data sets at one common scale (points within radius ≈ 10).

Every generator draws its training and validation points from the *same* distribution with an
explicit ``seed`` (``np.random.default_rng(seed)``; nothing is random at import time), and gives
each point a *coarse label*: the mixture component, arm, moon or quadrant it came from. A plot over
``[−17.5, 17.5]²`` (the paper's flow-field window) shows every data set whole.

=================  ===========================================================  ==================
name               distribution (u ~ U(0, 1), ε ~ N(0, I))                      coarse label
=================  ===========================================================  ==================
circle             ``R (cos θ, sin θ)``. ``layout="symmetric"`` (the paper's):  quadrant of θ (4)
                   ``θ_i = 2π (i / (2 n_train) + 0.01)``, even ``i`` train,
                   the first ``n_val`` odd ``i`` validation. ``"random"``:
                   θ ~ U(0, 2π)
moons              ``6 ((cos πu, sin πu) − c)`` or ``6 ((1 − cos πu, ½ − sin πu)  moon (2)
                   − c)``, ``c = (½, ¼)``, plus ``noise · ε``
swiss_roll         ``t = 1.5π (1 + 2u)``, ``(10 / 4.5π) t (cos t, sin t) +      quarter of u (4)
                   noise · ε``
gaussian_mixture   ``μ_k + std · ε``, k uniform; means on a ``√K × √K`` grid     component (K)
                   over ``[−6, 6]²`` or a ring of radius 8
checkerboard       uniform on the dark squares of a ``board × board`` board     square
                   over ``[−7, 7]²``
spiral             arm ``a``: ``r = 10 (0.15 + 0.85 u)``, ``θ = 2π a / arms +    arm
                   2π · turns · u``; ``r (cos θ, sin θ) + noise · ε``
pinwheel           arm ``a``: ``f = (1 + radial_std ε₁, tangential_std ε₂)``,   arm
                   rotated by ``2π a / arms + rate · exp(f₁)``, times 5
=================  ===========================================================  ==================

The paper's toy data (Kollmann & Kaiser 2026, read from the authors' code) is
``make_dataset("circle", 10)``: 20 equidistant angles on the circle of radius 10, alternately 10
training and 10 validation points. ``from_points`` and
``load_csv`` wrap points a person drew or uploaded.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import numpy as np

from toyflow._json import jsonable
from toyflow._validation import as_labels, as_points, check_float, check_int, dense_labels, lookup
from toyflow.registry import Registry

MAX_POINTS = 1_000_000
MAX_CSV_ROWS = 100_000
_MAX_SEED = 2**63 - 1


class Split(Protocol):
    """The one data-set protocol, for points (:class:`Dataset`) and images
    (:class:`toyflow.images.ImageDataset`): training and validation arrays of shape
    ``(n, *event_shape)`` with optional integer labels of shape ``(n,)``."""

    name: str

    @property
    def train_x(self) -> np.ndarray: ...
    @property
    def val_x(self) -> np.ndarray: ...
    @property
    def train_labels(self) -> np.ndarray | None: ...
    @property
    def val_labels(self) -> np.ndarray | None: ...
    @property
    def n_train(self) -> int: ...
    @property
    def n_val(self) -> int: ...
    @property
    def event_shape(self) -> tuple[int, ...]: ...


def holdout(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted indices ``(keep, hold)``: ``round(val_fraction · n)`` of ``n`` items held out for
    validation (at most ``n − 1``: one stays for training), by a permutation drawn with
    ``np.random.default_rng(seed)``. The one split rule for points and images."""
    n_hold = min(round(val_fraction * n), n - 1)
    perm = np.random.default_rng(check_int(seed, "seed", 0, _MAX_SEED)).permutation(n)
    return np.sort(perm[n_hold:]), np.sort(perm[:n_hold])


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
    """A training and a validation set of 2D points with coarse labels.

    train_x: ``(n_train, 2)`` float32;  val_x: ``(n_val, 2)`` float32 (``n_val`` may be 0).
    train_coarse: ``(n_train,)`` int32;  val_coarse: ``(n_val,)`` int32.
    params: the parameters that made it (incl. ``seed``, ``n_train``, ``n_val``).
    coarse_classes: how many coarse classes the generator has (``None``: inferred from labels).
    label_names: the user's label values where ``from_points`` renumbered them to ``0..k−1``
      (``label_names[c]`` is the name of class ``c``); ``None`` where labels are their own names.
    """

    name: str
    train_x: np.ndarray
    val_x: np.ndarray
    train_coarse: np.ndarray
    val_coarse: np.ndarray
    params: dict
    coarse_classes: int | None = None
    label_names: tuple | None = None

    def __post_init__(self):
        # Normalise dtypes and check that the shapes agree.
        train_x = as_points(self.train_x, "train_x", dim=2)
        empty = np.size(self.val_x) == 0
        val_x = as_points(
            np.zeros((0, 2)) if empty else self.val_x, "val_x", dim=2, allow_empty=True
        )
        train_c = as_labels(self.train_coarse, train_x.shape[0], "train_coarse")
        val_c = as_labels(
            np.zeros(0, np.int32) if np.size(self.val_coarse) == 0 else self.val_coarse,
            val_x.shape[0],
            "val_coarse",
        )
        for field, value in (
            ("train_x", train_x),
            ("val_x", val_x),
            ("train_coarse", train_c),
            ("val_coarse", val_c),
            ("params", dict(self.params)),
        ):
            object.__setattr__(self, field, value)

    @property
    def n_train(self) -> int:
        return int(self.train_x.shape[0])

    @property
    def n_val(self) -> int:
        return int(self.val_x.shape[0])

    @property
    def event_shape(self) -> tuple[int]:
        return (2,)

    @property
    def train_labels(self) -> np.ndarray:
        """The coarse labels (the :class:`Split` protocol's name for them)."""
        return self.train_coarse

    @property
    def val_labels(self) -> np.ndarray:
        return self.val_coarse

    @property
    def num_coarse(self) -> int:
        """Number of coarse classes (labels lie in ``[0, num_coarse)``)."""
        seen = max(int(self.train_coarse.max(initial=0)), int(self.val_coarse.max(initial=0))) + 1
        return max(seen, self.coarse_classes or 0)

    def to_dict(self) -> dict:
        """JSON-friendly copy (lists of floats and ints)."""
        return {
            "name": self.name,
            "train_x": self.train_x.tolist(),
            "val_x": self.val_x.tolist(),
            "train_coarse": self.train_coarse.tolist(),
            "val_coarse": self.val_coarse.tolist(),
            "num_coarse": self.num_coarse,
            "params": jsonable(self.params),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Dataset:
        """Inverse of ``to_dict``."""
        return cls(
            name=d["name"],
            train_x=np.asarray(d["train_x"], np.float32).reshape(-1, 2),
            val_x=np.asarray(d["val_x"], np.float32).reshape(-1, 2),
            train_coarse=np.asarray(d["train_coarse"], np.int32),
            val_coarse=np.asarray(d["val_coarse"], np.int32),
            params=dict(d.get("params", {})),
            coarse_classes=d.get("num_coarse"),
        )


class _Draw(NamedTuple):
    """What a generator returns: the points, their coarse labels and the resolved parameters."""

    train_x: np.ndarray
    val_x: np.ndarray
    train_coarse: np.ndarray
    val_coarse: np.ndarray
    num_coarse: int
    params: dict


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """A registry entry: ``fn(rng, n_train, n_val, **params) -> _Draw`` and its extra parameters."""

    name: str
    description: str
    fn: Callable[..., _Draw]
    defaults: dict


#: The 2D data sets (name → generator and its default parameters).
DATASETS: Registry[DatasetSpec] = Registry("data set")


def _register(name: str, description: str, **defaults):
    def wrap(fn):
        DATASETS.add(name, DatasetSpec(name, description, fn, dict(defaults)))
        return fn

    return wrap


def _split(x: np.ndarray, coarse: np.ndarray, n_train: int, num_coarse: int, params: dict) -> _Draw:
    """Split i.i.d. draws into the first ``n_train`` (train) and the rest (validation)."""
    return _Draw(x[:n_train], x[n_train:], coarse[:n_train], coarse[n_train:], num_coarse, params)


def _choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    return lookup({c: c for c in choices}, value, name)


def _polar(r: np.ndarray, theta: np.ndarray) -> np.ndarray:
    return np.stack([r * np.cos(theta), r * np.sin(theta)], axis=-1)


# --- generators --------------------------------------------------------------------------


@_register(
    "circle",
    "circle of radius 10; 'symmetric' = the paper's equidistant alternating split",
    radius=10.0,
    layout="symmetric",
)
def _circle(rng, n_train, n_val, *, radius, layout):
    radius = check_float(radius, "radius", 0.0, 1e3, lo_open=True)
    layout = _choice(layout, "circle layout", ("symmetric", "random"))
    if layout == "symmetric":
        if n_val > n_train:
            raise ValueError(
                f"the symmetric circle alternates training and validation angles, so "
                f"n_val ({n_val}) must be <= n_train ({n_train})"
            )
        # 2·n_train equidistant angles, rotated by 0.01 of a turn (the authors' code rotates by
        # 0.01·2π rad): even ones train, odd ones validation.
        total = 2 * n_train
        theta = 2 * np.pi * (np.arange(total, dtype=np.float64) / total + 0.01)
        train_t, val_t = theta[0::2], theta[1::2][:n_val]
    else:
        theta = rng.uniform(0.0, 2 * np.pi, size=n_train + n_val)
        train_t, val_t = theta[:n_train], theta[n_train:]
    quadrant = lambda t: np.minimum((np.mod(t, 2 * np.pi) // (np.pi / 2)).astype(np.int64), 3)
    return _Draw(
        _polar(radius, train_t),
        _polar(radius, val_t),
        quadrant(train_t),
        quadrant(val_t),
        4,
        {"radius": radius, "layout": layout},
    )


@_register("moons", "two interleaved half-moons", noise=0.5)
def _moons(rng, n_train, n_val, *, noise):
    noise = check_float(noise, "noise", 0.0, 10.0)
    n = n_train + n_val
    moon = rng.integers(0, 2, size=n)
    t = np.pi * rng.uniform(size=n)
    upper = np.stack([np.cos(t), np.sin(t)], -1)
    lower = np.stack([1 - np.cos(t), 0.5 - np.sin(t)], -1)
    x = 6.0 * (np.where(moon[:, None] == 0, upper, lower) - np.array([0.5, 0.25]))
    x = x + noise * rng.standard_normal((n, 2))
    return _split(x, moon, n_train, 2, {"noise": noise})


@_register("swiss_roll", "2D swiss roll (spiral of 1.5 turns)", noise=0.3)
def _swiss_roll(rng, n_train, n_val, *, noise):
    noise = check_float(noise, "noise", 0.0, 10.0)
    n = n_train + n_val
    u = rng.uniform(size=n)
    t = 1.5 * np.pi * (1 + 2 * u)
    x = (10.0 / (4.5 * np.pi)) * _polar(t, t) + noise * rng.standard_normal((n, 2))
    coarse = np.minimum((4 * u).astype(np.int64), 3)
    return _split(x, coarse, n_train, 4, {"noise": noise})


@_register(
    "gaussian_mixture",
    "equal-weight Gaussians on a square grid or a ring",
    layout="grid",
    n_components=None,
    std=0.5,
)
def _gaussian_mixture(rng, n_train, n_val, *, layout, n_components, std):
    layout = _choice(layout, "gaussian_mixture layout", ("grid", "ring"))
    if n_components is None:
        n_components = 9 if layout == "grid" else 8
    n_components = check_int(n_components, "n_components", 1, 1024)
    std = check_float(std, "std", 0.0, 10.0, lo_open=True)
    if layout == "grid":
        side = math.isqrt(n_components)
        if side * side != n_components:
            raise ValueError(
                f"a grid mixture needs a perfect square n_components (4, 9, 16, ...), "
                f"got {n_components}"
            )
        ticks = np.linspace(-6.0, 6.0, side) if side > 1 else np.zeros(1)
        gx, gy = np.meshgrid(ticks, ticks, indexing="xy")
        means = np.stack([gx.ravel(), gy.ravel()], -1)
    else:
        angles = 2 * np.pi * np.arange(n_components) / n_components
        means = _polar(8.0, angles) if n_components > 1 else np.zeros((1, 2))
    n = n_train + n_val
    comp = rng.integers(0, n_components, size=n)
    x = means[comp] + std * rng.standard_normal((n, 2))
    return _split(
        x, comp, n_train, n_components, {"layout": layout, "n_components": n_components, "std": std}
    )


@_register("checkerboard", "uniform on the dark squares of a checkerboard over [-7, 7]^2", board=4)
def _checkerboard(rng, n_train, n_val, *, board):
    board = check_int(board, "board", 2, 32)
    # Dark squares: (row + col) even; the coarse label indexes them row by row.
    rows, cols = np.nonzero((np.add.outer(np.arange(board), np.arange(board)) % 2) == 0)
    n = n_train + n_val
    square = rng.integers(0, rows.size, size=n)
    side = 14.0 / board
    cell = np.stack([cols[square], rows[square]], -1) + rng.uniform(size=(n, 2))
    x = side * cell - 7.0
    return _split(x, square, n_train, int(rows.size), {"board": board})


@_register("spiral", "spiral with several arms", arms=3, turns=1.0, noise=0.3)
def _spiral(rng, n_train, n_val, *, arms, turns, noise):
    arms = check_int(arms, "arms", 1, 64)
    turns = check_float(turns, "turns", 0.0, 10.0)
    noise = check_float(noise, "noise", 0.0, 10.0)
    n = n_train + n_val
    arm = rng.integers(0, arms, size=n)
    u = rng.uniform(size=n)
    theta = 2 * np.pi * arm / arms + 2 * np.pi * turns * u
    x = _polar(10.0 * (0.15 + 0.85 * u), theta) + noise * rng.standard_normal((n, 2))
    return _split(x, arm, n_train, arms, {"arms": arms, "turns": turns, "noise": noise})


@_register(
    "pinwheel",
    "pinwheel (Johnson et al. 2016) with curved arms",
    arms=5,
    radial_std=0.3,
    tangential_std=0.1,
    rate=0.25,
)
def _pinwheel(rng, n_train, n_val, *, arms, radial_std, tangential_std, rate):
    arms = check_int(arms, "arms", 1, 64)
    radial_std = check_float(radial_std, "radial_std", 0.0, 1.0)
    tangential_std = check_float(tangential_std, "tangential_std", 0.0, 1.0)
    rate = check_float(rate, "rate", -2.0, 2.0)
    n = n_train + n_val
    arm = rng.integers(0, arms, size=n)
    f = rng.standard_normal((n, 2)) * np.array([radial_std, tangential_std])
    f[:, 0] += 1.0
    angle = 2 * np.pi * arm / arms + rate * np.exp(f[:, 0])
    cos, sin = np.cos(angle), np.sin(angle)
    x = 5.0 * np.stack([cos * f[:, 0] - sin * f[:, 1], sin * f[:, 0] + cos * f[:, 1]], -1)
    return _split(
        x,
        arm,
        n_train,
        arms,
        {"arms": arms, "radial_std": radial_std, "tangential_std": tangential_std, "rate": rate},
    )


# --- public API --------------------------------------------------------------------------


def dataset_names() -> list[str]:
    """Names of the registered generators, in registry order."""
    return list(DATASETS)


def make_dataset(
    name: str, n_train: int = 10, n_val: int | None = None, *, seed: int = 0, **params
) -> Dataset:
    """Draw ``n_train`` training and ``n_val`` (default ``n_train``) validation points.

    ``params`` override the generator's ``DATASETS[name].defaults``; anything else raises.

    >>> ds = make_dataset("circle", 10)          # the paper's symmetric circle, 10 + 10 points
    >>> ds.train_x.shape, ds.val_x.shape, ds.num_coarse
    ((10, 2), (10, 2), 4)
    """
    spec = DATASETS[name]
    n_train = check_int(n_train, "n_train", 1, MAX_POINTS)
    n_val = n_train if n_val is None else check_int(n_val, "n_val", 0, MAX_POINTS)
    seed = check_int(seed, "seed", 0, _MAX_SEED)
    unknown = sorted(set(params) - set(spec.defaults))
    if unknown:
        accepted = ", ".join(spec.defaults) or "none"
        raise ValueError(
            f"unknown parameter(s) {', '.join(unknown)} for data set {name!r}; accepted: {accepted}"
        )
    draw = spec.fn(np.random.default_rng(seed), n_train, n_val, **{**spec.defaults, **params})
    used = {**draw.params, "seed": seed, "n_train": n_train, "n_val": n_val}
    return Dataset(
        name=name,
        train_x=np.asarray(draw.train_x, np.float32).reshape(n_train, 2),
        val_x=np.asarray(draw.val_x, np.float32).reshape(n_val, 2),
        train_coarse=np.asarray(draw.train_coarse, np.int32),
        val_coarse=np.asarray(draw.val_coarse, np.int32),
        params=used,
        coarse_classes=int(draw.num_coarse),
    )


def from_points(
    train_x,
    val_x=None,
    train_labels=None,
    *,
    name: str = "custom",
    val_fraction: float = 0.0,
    seed: int = 0,
) -> Dataset:
    """Wrap user-supplied 2D points (drawn with the mouse, uploaded) as a ``Dataset``.

    train_x: ``(n, 2)``; val_x: ``(m, 2)`` or ``None``. Without ``val_x``, ``val_fraction`` of the
    points (chosen with ``seed``) is held out for validation; with 0 the validation set is empty.
    Coarse labels are ``train_labels`` (ints ≥ 0) or zeros; points in an explicit ``val_x`` get
    the label of their nearest training point.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    x = as_points(train_x, "train_x", dim=2)
    if x.shape[0] > MAX_POINTS:
        raise ValueError(f"train_x has {x.shape[0]} points; at most {MAX_POINTS} are supported")
    labels, names = _user_labels(train_labels, x.shape[0])
    val_fraction = check_float(val_fraction, "val_fraction", 0.0, 1.0)
    seed = check_int(seed, "seed", 0, _MAX_SEED)
    if val_fraction >= 1.0:
        raise ValueError(
            f"val_fraction must be < 1 (some points must stay for training), got {val_fraction}"
        )
    if val_x is not None:
        if val_fraction > 0:
            raise ValueError("give either val_x or val_fraction, not both")
        val = as_points(val_x, "val_x", dim=2, allow_empty=True)
        if val.shape[0] > MAX_POINTS:
            raise ValueError(f"val_x has {val.shape[0]} points; at most {MAX_POINTS} are supported")
        train, train_c = x, labels
        val_c = labels[_nearest(val, x)] if val.shape[0] else np.zeros(0, np.int32)
    else:
        # Hold out a random val_fraction of the points, keeping at least one for training.
        keep, hold = holdout(x.shape[0], val_fraction, seed)
        train, train_c, val, val_c = x[keep], labels[keep], x[hold], labels[hold]
    params = {
        "seed": seed,
        "n_train": int(train.shape[0]),
        "n_val": int(val.shape[0]),
        "val_fraction": val_fraction,
    }
    return Dataset(
        name=name,
        train_x=train,
        val_x=val.reshape(-1, 2),
        train_coarse=train_c,
        val_coarse=np.asarray(val_c, np.int32),
        params=params,
        label_names=names,
    )


def _user_labels(train_labels, n: int) -> tuple[np.ndarray, tuple | None]:
    """Labels of user data as class indices, with the user's names where they had to change.

    Values that already are class indices (``0 ≤ label < MAX_CLASSES``) are kept; larger ones
    (``2_000_000_000``, ``2**40``) are renumbered to ``0..k−1`` in increasing order of value, and their
    original values returned for display, so no label value can make a per-class table huge.
    """
    if train_labels is None:
        return np.zeros(n, np.int32), None
    try:
        checked = as_labels(train_labels, n, "train_labels")
        assert checked is not None  # not None for labels that are given
        return checked, None
    except ValueError:
        raw = np.asarray(train_labels)
        if raw.ndim == 0:
            raw = np.full((n,), raw)
        numeric = raw.dtype != bool and np.issubdtype(raw.dtype, np.number)
        if raw.ndim != 1 or raw.shape[0] != n or not numeric or not np.all(raw >= 0):
            raise  # wrong shape, not numbers, or negative: the check's own message stands
        codes, names = dense_labels(raw)
        return codes, tuple(names.tolist())


def _nearest(queries: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Index of the nearest row of ``points`` for each query (exact, float64, in blocks)."""
    out = np.empty(queries.shape[0], np.int64)
    p = points.astype(np.float64)
    block = max(1, 1_000_000 // max(p.shape[0], 1))
    for start in range(0, queries.shape[0], block):
        q = queries[start : start + block].astype(np.float64)
        out[start : start + block] = np.argmin(
            ((q[:, None, :] - p[None, :, :]) ** 2).sum(-1), axis=1
        )
    return out


def load_csv(text_or_path: str | os.PathLike | bytes, *, name: str = "upload") -> Dataset:
    """Read rows ``x,y`` or ``x,y,label`` (an optional header line first) as training data.

    A ``str`` holding a newline or a comma is the file's content; any other ``str`` or path-like
    is a file name. Blank lines and lines starting with ``#`` are skipped. The validation set is
    empty. Raises ``ValueError`` naming the line of a malformed row, a non-finite number or a
    negative/fractional label, and for no rows or more than 100 000.
    """
    text = _read_text(text_or_path)
    xs: list[tuple[float, float]] = []
    labels: list[int] = []
    width = None
    header_allowed = True
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip().lstrip("\ufeff")
        if not line or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split(",")]
        try:
            values = [float(f) for f in fields]
        except ValueError:
            values = None
        if values is None and header_allowed and not any(_is_number(f) for f in fields):
            header_allowed = False  # the first row may be a header such as "x,y,label"
            continue
        header_allowed = False
        if values is None or len(fields) not in (2, 3):
            raise ValueError(
                f"line {lineno}: expected 'x,y' or 'x,y,label' with numbers, got {raw!r}"
            )
        if width is not None and len(fields) != width:
            raise ValueError(
                f"line {lineno}: has {len(fields)} columns but earlier rows have {width}"
            )
        width = len(fields)
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"line {lineno}: numbers must be finite, got {raw!r}")
        if width == 3:
            label = values[2]
            if not (0 <= label < 2**31 and label == int(label)):
                raise ValueError(
                    f"line {lineno}: label must be a whole number in [0, 2^31), got {fields[2]!r}"
                )
            labels.append(int(label))
        xs.append((values[0], values[1]))
        if len(xs) > MAX_CSV_ROWS:
            raise ValueError(
                f"line {lineno}: the file has more than {MAX_CSV_ROWS} rows, "
                f"the most an upload may hold"
            )
    if not xs:
        raise ValueError("the CSV holds no data rows; expected at least one line 'x,y'")
    x = np.asarray(xs, np.float64)
    if not np.all(np.isfinite(x.astype(np.float32))):
        raise ValueError("coordinates must fit in float32 (|value| < 3.4e38)")
    return from_points(x, np.zeros((0, 2), np.float32), labels if width == 3 else None, name=name)


def _is_number(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


def _read_text(text_or_path) -> str:
    if isinstance(text_or_path, bytes):
        return text_or_path.decode("utf-8-sig", errors="replace")
    if isinstance(text_or_path, str) and ("\n" in text_or_path or "," in text_or_path):
        return text_or_path
    if isinstance(text_or_path, (str, os.PathLike)):
        try:
            with open(text_or_path, encoding="utf-8-sig") as fh:
                return fh.read()
        except OSError as exc:
            raise ValueError(
                f"cannot read CSV file {os.fspath(text_or_path)!r}: {exc.strerror}"
            ) from exc
    raise ValueError(
        f"load_csv expects CSV text, bytes or a file path, got {type(text_or_path).__name__}"
    )
