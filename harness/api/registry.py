"""Name -> plugin registry with lazy "module:Attr" placeholders (lm-eval style).

Listing names imports nothing; `get` imports only the named plugin, so `harness list` stays fast even
when a method needs torch or an LLM. Third-party packages add plugins through an entry-point group
(`difflm_bench.methods`, `difflm_bench.tasks`); a plugin whose name is already taken, or whose object is
not a subclass of the registry's base class, is rejected with an error that names both.
"""
from __future__ import annotations

import difflib
import importlib
from importlib.metadata import EntryPoint, entry_points


class PluginError(ValueError):
    """A plugin that cannot be registered or loaded (name clash, wrong base class)."""


class Registry:
    def __init__(self, kind: str, entry_point_group: str | None = None, base: type | None = None):
        self.kind, self.base = kind, base
        self._targets: dict[str, object] = {}
        self._loaded: dict[str, object] = {}
        self._group = entry_point_group
        self._plugins_added = False

    def add(self, name: str, target) -> None:
        """Register `target` (an object, a "module:Attr" string or an EntryPoint)."""
        old = self._targets.get(name)
        if old is not None and _describe(old) != _describe(target):
            raise PluginError(f"{self.kind} {name!r} is already registered to {_describe(old)}; "
                              f"cannot register it again to {_describe(target)}")
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
            self.add(ep.name, ep)       # a clash with a built-in or another plugin raises PluginError

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
            raise KeyError(f"unknown {self.kind} {name!r} (available: {', '.join(self.names())}){hint}")
        target = self._targets[name]
        if isinstance(target, EntryPoint):
            obj = target.load()
        elif isinstance(target, str):
            module, _, attr = target.partition(":")
            obj = getattr(importlib.import_module(module), attr)
        else:
            obj = target
        if self.base is not None and not (isinstance(obj, type) and issubclass(obj, self.base)):
            raise PluginError(f"{self.kind} {name!r} ({_describe(target)}) is not a subclass of "
                              f"{self.base.__module__}.{self.base.__name__}")
        self._loaded[name] = obj
        return obj


def _describe(target) -> str:
    if isinstance(target, EntryPoint):
        return target.value
    if isinstance(target, str):
        return target
    return f"{target.__module__}:{getattr(target, '__qualname__', repr(target))}"
