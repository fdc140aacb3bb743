"""One registry pattern for loaders, backends, verifiers, scorers and strategies.

A registry is a dict of name -> class or function; looking up an unknown name raises an error
that names the registry and lists what is known, so a typo in a config is a one-line fix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from ttscale.errors import ConfigError

T = TypeVar("T")


class UnknownNameError(ConfigError, KeyError):
    """Raised for a name that is not registered (a config mistake); str() is the full message."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0])


class Registry(Generic[T]):
    """A named dict of plug-ins with a decorator to add entries."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def add(obj: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = obj
            return obj

        return add

    def get(self, name: str, where: str = "") -> T:
        try:
            return self._entries[name]
        except KeyError:
            at = f" (at {where})" if where else ""
            known = ", ".join(sorted(self._entries)) or "none"
            raise UnknownNameError(f"unknown {self.kind} {name!r}{at}; known: {known}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._entries))

    def names(self) -> list[str]:
        return sorted(self._entries)
