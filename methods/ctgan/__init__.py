"""`ctgan`: the CTGAN library's CTGAN (Xu et al. 2019), wrapped, not rewritten.

Profiles: `cpu` and `paper` use the library defaults (300 epochs, batch 500, dims (256, 256));
`smoke` trains for a couple of epochs. The TabSyn harness's larger CTGAN settings are not known to
have produced the paper's row (spec: tabular_protocol.md §5.2), so we keep the library's.
"""
from __future__ import annotations

import os

import numpy as np
import pandas as pd
import torch

from harness.api import Method, TableMetadata


def show_progress() -> bool:
    """The library's epoch bar, unless `--quiet` (TQDM_DISABLE=1) asked for silence."""
    return os.environ.get("TQDM_DISABLE", "0") != "1"


class _CTGANFamily(Method):
    """Shared wrapper for the ctgan package's CTGAN and TVAE synthesizers."""

    _library_class = ""

    def _make(self):
        raise NotImplementedError

    def fit(self, train: pd.DataFrame, metadata: TableMetadata):
        import ctgan

        metadata.check(train)
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


class CTGANMethod(_CTGANFamily):
    name = "ctgan"
    _library_class = "CTGAN"
    profiles = {"smoke": {"epochs": 2, "batch_size": 50}, "cpu": {}, "paper": {}}

    def __init__(self, epochs: int = 300, batch_size: int = 500, embedding_dim: int = 128,
                 generator_dim: tuple = (256, 256), discriminator_dim: tuple = (256, 256), pac: int = 10,
                 seed: int = 0):
        self.epochs, self.batch_size, self.embedding_dim = epochs, batch_size, embedding_dim
        self.generator_dim, self.discriminator_dim, self.pac, self.seed = generator_dim, discriminator_dim, pac, seed

    def _make(self, cls):
        return cls(epochs=self.epochs, batch_size=self.batch_size, embedding_dim=self.embedding_dim,
                   generator_dim=tuple(self.generator_dim), discriminator_dim=tuple(self.discriminator_dim),
                   pac=self.pac, verbose=show_progress(), enable_gpu=torch.cuda.is_available())
