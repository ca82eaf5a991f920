"""Name -> object registry with lazy "module:Attr" placeholders (lm-eval style).

Listing names imports nothing; `get` imports only the named backend, so
`harness list` stays fast even when a method needs torch or an LLM.
"""
from __future__ import annotations

import difflib
import importlib
from importlib.metadata import EntryPoint, entry_points


class Registry:
    def __init__(self, kind: str, entry_point_group: str | None = None):
        self.kind = kind
        self._targets: dict[str, object] = {}
        self._loaded: dict[str, object] = {}
        self._group = entry_point_group
        self._plugins_added = False

    def add(self, name: str, target) -> None:
        """Register `target` (an object, a "module:Attr" string or an EntryPoint)."""
        old = self._targets.get(name)
        if old is not None and _describe(old) != _describe(target):
            raise ValueError(f"{self.kind} {name!r} is already registered to {_describe(old)}")
        self._targets[name] = target

    def register(self, name: str):
        def deco(obj):
            self.add(name, obj)
            return obj
        return deco

    def _add_plugins(self) -> None:
        if self._plugins_added or not self._group:
            return
        self._plugins_added = True
        for ep in entry_points(group=self._group):
            if ep.name not in self._targets:   # built-ins win; a clash is ignored, not fatal
                self._targets[ep.name] = ep

    def names(self) -> list[str]:
        self._add_plugins()
        return sorted(self._targets)

    def target(self, name: str) -> str:
        self._add_plugins()
        return _describe(self._targets[name])

    def get(self, name: str):
        self._add_plugins()
        if name in self._loaded:
            return self._loaded[name]
        if name not in self._targets:
            close = difflib.get_close_matches(name, self._targets, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise KeyError(f"unknown {self.kind} {name!r}{hint} available: {', '.join(self.names())}")
        target = self._targets[name]
        if isinstance(target, EntryPoint):
            obj = target.load()
        elif isinstance(target, str):
            module, _, attr = target.partition(":")
            obj = getattr(importlib.import_module(module), attr)
        else:
            obj = target
        self._loaded[name] = obj
        return obj


def _describe(target) -> str:
    if isinstance(target, EntryPoint):
        return target.value
    if isinstance(target, str):
        return target
    return f"{target.__module__}:{getattr(target, '__qualname__', repr(target))}"
