"""`real`: the reference row. Returns the training data itself, shuffled by seed (and resampled with
replacement beyond its size): for a table its MLE is "train on real train", its ρ is 0 and its DCR is the
copy ceiling. Works on every modality: rows of a table, or text, code and JSON records."""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd

from harness.api import MODALITIES, Data, Metadata, Method


class RealMethod(Method):
    name = "real"
    modalities = frozenset(MODALITIES)
    # copies rows, NaN included; seconds to run, so neither a preflight nor a kept model
    tags = {**Method.tags, "missing_values": "native", "keep_fitted": False}
    preflight = None
    profiles = {"smoke": {}, "cpu": {}, "gpu": {}, "paper": {}}
    cost = {"smoke": "seconds", "cpu": "seconds", "gpu": "seconds", "paper": "seconds"}

    def __init__(self):
        pass

    def fit(self, train: Data, metadata: Metadata, *, work_dir: Path | None = None,
            cache_dir: Path | None = None) -> "RealMethod":
        self._check_input(train, metadata)
        self.train_ = train[metadata.columns].copy() if isinstance(train, pd.DataFrame) else list(train)
        self.fitted_ = True
        return self

    def sample(self, n: int, *, seed: int = 0) -> Data:
        self._check_fitted()
        rng = np.random.default_rng(seed)
        m = len(self.train_)
        idx = np.concatenate([rng.permutation(m)[: min(n, m)], rng.integers(0, m, max(0, n - m))])
        if isinstance(self.train_, pd.DataFrame):
            return self.train_.iloc[idx].reset_index(drop=True)
        return [copy.deepcopy(self.train_[i]) for i in idx]     # a caller may edit a dict without touching ours
