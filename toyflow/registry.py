"""One small registry type for every family of named things: data sets, noise schedules,
solvers, label schemes, experiments.

A :class:`Registry` is a read-only mapping from name to entry, filled once at import time with
:meth:`Registry.add` or the :meth:`Registry.register` decorator. Looking up a name that is not
there raises :class:`UnknownName`, which is both a ``ValueError`` (the project's rule for bad
input) and a ``KeyError`` (so ``name in registry`` and ``registry.get(name)`` behave like a
dict's); its message lists the valid names.

    >>> from toyflow.registry import Registry
    >>> colours = Registry("colour")
    >>> colours.add("red", (1, 0, 0))
    (1, 0, 0)
    >>> colours["blue"]
    Traceback (most recent call last):
    ...
    toyflow.registry.UnknownName: unknown colour 'blue'; valid names: red
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class UnknownName(KeyError, ValueError):
    """A name that a registry does not hold (the message lists the valid ones)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown name"


class Registry(Mapping[str, T], Generic[T]):
    """Named entries of one family, in the order they were added; names are unique."""

    def __init__(self, what: str, entries: Mapping[str, T] | None = None) -> None:
        self.what = what
        self._entries: dict[str, T] = {}
        for name, entry in (entries or {}).items():
            self.add(name, entry)

    def add(self, name: str, entry: T) -> T:
        """Add ``entry`` under ``name`` (a second entry of the same name raises ``ValueError``)."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"a {self.what} name must be a non-empty string, got {name!r}")
        if name in self._entries:
            raise ValueError(f"{self.what} {name!r} is already registered")
        self._entries[name] = entry
        return entry

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of :meth:`add`: ``@REGISTRY.register("name")`` above the entry."""

        def wrap(entry: T) -> T:
            return self.add(name, entry)

        return wrap

    def __getitem__(self, name: Any) -> T:
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise UnknownName(
                f"unknown {self.what} {name!r}; valid names: {', '.join(sorted(self._entries))}"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.what!r}: {', '.join(self._entries)})"


def bucket(n: int) -> int:
    """The padded size for ``n`` rows: 8, or the next of ``2^e`` and ``3·2^(e−1)`` (so at most
    1.5 n). Compiled kernels see only the bucket, so data sets of growing size, a K slider or a
    sweep over subsets rarely recompile. The one bucketing rule of toyflow."""
    n = int(n)
    if n <= 8:
        return 8
    p = 1 << (n - 1).bit_length()
    return 3 * p // 4 if n <= 3 * p // 4 else p
