"""`real`: the reference row. Returns the training rows themselves (shuffled by seed), so its MLE is
"train on real train", its ρ is 0 and its DCR is the copy ceiling."""
from __future__ import annotations

import numpy as np
import pandas as pd

from harness.api import Method, TableMetadata


class RealMethod(Method):
    name = "real"
    profiles = {"smoke": {}, "cpu": {}, "paper": {}}

    def __init__(self):
        pass

    def fit(self, train: pd.DataFrame, metadata: TableMetadata) -> "RealMethod":
        metadata.check(train)
        self.train_ = train[metadata.columns].copy()
        self.fitted_ = True
        return self

    def sample(self, n: int, *, seed: int = 0) -> pd.DataFrame:
        self._check_fitted()
        rng = np.random.default_rng(seed)
        m = len(self.train_)
        idx = np.concatenate([rng.permutation(m)[: min(n, m)], rng.integers(0, m, max(0, n - m))])
        return self.train_.iloc[idx].reset_index(drop=True)
