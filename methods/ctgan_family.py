"""What `ctgan` and `tvae` share: one wrapper around the ctgan package's CTGAN and TVAE synthesizers."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from harness.api import Method, TableMetadata


def show_progress() -> bool:
    """The library's epoch bar, unless `--quiet` (TQDM_DISABLE=1) asked for silence."""
    return os.environ.get("TQDM_DISABLE", "0") != "1"


class CTGANFamily(Method):
    """Fit/sample for a ctgan-package synthesizer; a subclass names the class and builds it in `_make`."""

    _library_class = ""

    def _make(self, cls):
        raise NotImplementedError

    def fit(self, train: pd.DataFrame, metadata: TableMetadata, *, work_dir: Path | None = None,
            cache_dir: Path | None = None):
        import ctgan

        self._check_input(train, metadata)
        self.meta_ = metadata
        data = train[metadata.columns].reset_index(drop=True)
        torch.manual_seed(self.seed)
        np.random.seed(self.seed)   # the library draws from the global generators during fit
        model = self._make(getattr(ctgan, self._library_class))
        model.set_random_state(self.seed)
        model.fit(data, discrete_columns=list(metadata.categorical))
        self.model_ = model
        self.fitted_ = True
        return self

    def sample(self, n: int, *, seed: int = 0) -> pd.DataFrame:
        self._check_fitted()
        self.model_.set_random_state(seed)
        df = self.model_.sample(n)
        return df[self.meta_.columns].reset_index(drop=True)

    def extra_record(self) -> dict:
        losses = getattr(self.model_, "loss_values", None) if hasattr(self, "model_") else None
        if losses is None or len(losses) == 0:
            return {}
        last = losses.groupby("Epoch").last() if "Epoch" in losses else losses
        return {"train_loss_last_epoch": last.tail(1).to_dict(orient="records")[0]}
