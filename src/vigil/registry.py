"""Explicit `kind -> "module:Class"` registries, imported lazily.

No discovery by folder name: a kind exists because a line here says so, a duplicate kind fails at
start-up, and importing vigil does not import every adapter's dependencies."""

from __future__ import annotations

import importlib
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class UnknownKind(LookupError):
    pass


class Registry(Generic[T]):
    def __init__(self, what: str, entries: dict[str, str] | None = None) -> None:
        self.what = what
        self._entries: dict[str, str] = {}
        for kind, target in (entries or {}).items():
            self.add(kind, target)

    def add(self, kind: str, target: str) -> None:
        if kind in self._entries:
            raise ValueError(f"duplicate {self.what} kind {kind!r}: already {self._entries[kind]!r}")
        if ":" not in target:
            raise ValueError(f"{self.what} kind {kind!r}: target {target!r} must be 'module:Class'")
        self._entries[kind] = target

    def kinds(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, kind: object) -> bool:
        return kind in self._entries

    def load(self, kind: str) -> Any:
        try:
            target = self._entries[kind]
        except KeyError:
            raise UnknownKind(
                f"unknown {self.what} kind {kind!r}; known kinds: {', '.join(self.kinds())}"
            ) from None
        module_name, _, attr = target.partition(":")
        return getattr(importlib.import_module(module_name), attr)

    def create(self, kind: str, *args: Any, **kwargs: Any) -> T:
        return self.load(kind)(*args, **kwargs)
