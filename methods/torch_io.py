"""Checkpoint files shared by the methods that train for minutes (DiffLM, TabSyn)."""
from __future__ import annotations

import os
from pathlib import Path

import torch


def save(path: Path, state: dict) -> None:
    """Atomic: a kill while writing leaves the previous checkpoint intact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load(path: Path | None) -> dict | None:
    if path is None or not path.exists():
        return None
    return torch.load(path, map_location="cpu", weights_only=False)   # our own file: holds RNG states
