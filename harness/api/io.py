"""Small shared I/O for every plugin: atomic JSON and torch writes, and one resumable-checkpoint helper.

A kill while writing never leaves a half-written file: each write goes to a temporary file in the same
folder and is moved into place with os.replace.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

SAVE_EVERY_S = 300.0   # default: a kill loses at most this much training


def write_json_atomic(path: Path, obj) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True, default=_jsonable)
        f.write("\n")
    os.replace(tmp, path)


def _jsonable(x):
    if hasattr(x, "item"):
        return x.item()
    if isinstance(x, (set, tuple)):
        return list(x)
    return str(x)


def torch_save(path: Path, state) -> None:
    """torch.save to a temporary file, then an atomic rename: a kill never leaves a torn file."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def torch_load(path: Path | None) -> dict | None:
    if path is None or not Path(path).exists():
        return None
    import torch

    return torch.load(path, map_location="cpu", weights_only=False)   # our own file: holds RNG states


class Interval:
    """True once every `every_s` seconds (0: always): when a periodic save is due."""

    def __init__(self, every_s: float):
        self.every_s, self.last = every_s, time.monotonic()

    def due(self) -> bool:
        if time.monotonic() - self.last >= self.every_s:
            self.last = time.monotonic()
            return True
        return False


class Checkpoint:
    """A training loop's whole state in one file, keyed: `load()` returns it only if it was saved under the
    same key (params + data), so a changed configuration never resumes from a stale file. `save(state_fn)`
    writes state_fn() when `every_s` has passed (or always with final=True), so a loop can call it each
    epoch at no cost. Used by DiffLM's and TabSyn's loops; GReaT's Trainer callback uses `Interval`."""

    def __init__(self, path: Path | None, key: str, every_s: float | None = None):
        self.path, self.key = (None if path is None else Path(path)), key
        self.interval = Interval(SAVE_EVERY_S if every_s is None else every_s)

    def load(self) -> dict | None:
        state = torch_load(self.path)
        return state if state is not None and state.get("key") == self.key else None

    def save(self, state_fn, *, final: bool = False) -> None:
        if self.path is None:
            return
        if self.interval.due() or final:
            torch_save(self.path, {"key": self.key, **state_fn()})


def read_json(path: Path):
    return json.loads(Path(path).read_text())


def save_object(path: Path, obj) -> None:
    """Any picklable object (a fitted method with its torch modules), written atomically."""
    torch_save(path, obj)


def load_object(path: Path):
    import torch

    return torch.load(path, weights_only=False)   # our own file (save_object); tensors back on their device

