"""Epoch-level resume for TabSyn's two training loops (a cpu run is ~35 min; a kill should not cost it all).

A checkpoint holds everything the next epoch depends on — weights, Adam, the LR scheduler, β, the EMA, the
history, the best-so-far state and both random generators — so a resumed fit gives the same weights, bit
for bit, as one that was never stopped. It is written atomically every `every_s` seconds and once when
the loop ends, and it is only read back if its key (params + training data) matches.
"""
from __future__ import annotations

import time
from pathlib import Path

from methods import torch_io


SAVE_EVERY_S = 300.0   # a kill loses at most this much training (tests set 0: a save every epoch)


class EpochCheckpoint:
    def __init__(self, path: Path, key: str, every_s: float | None = None):
        self.path, self.key = Path(path), key
        self.every_s = SAVE_EVERY_S if every_s is None else every_s
        self.last = time.monotonic()

    def load(self) -> dict | None:
        """The saved loop state, or None (nothing saved, or saved for other params or data)."""
        state = torch_io.load(self.path)
        return state if state is not None and state.get("key") == self.key else None

    def save(self, state_fn, *, final: bool = False) -> None:
        """Save state_fn() if `every_s` has passed since the last save, or always when `final`."""
        if final or time.monotonic() - self.last >= self.every_s:
            torch_io.save(self.path, {"key": self.key, **state_fn()})
            self.last = time.monotonic()
