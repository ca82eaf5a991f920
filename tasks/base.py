"""A tabular task: load -> Splits, score(synthetic) -> metrics. Shared by the UCI tables and user CSVs."""
from __future__ import annotations

import time

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from harness.api import TableMetadata
from tasks.metrics import dcr as dcr_metric
from tasks.metrics import density, mle as mle_metric
from tasks.tabular import Splits, canonical_category


class TabularTask:
    name = ""
    version = 1
    modality = "table"

    def __init__(self, split: str = "difflm", mle_mode: str = "clean", mle_best_of: int = 1,
                 limit: int | None = None):
        self.split, self.mle_mode, self.mle_best_of, self.limit = split, mle_mode, mle_best_of, limit

    def config(self) -> dict:
        return {"split": self.split, "mle_mode": self.mle_mode, "mle_best_of": self.mle_best_of,
                "limit": self.limit}

    def load(self) -> Splits:
        raise NotImplementedError

    def higher_is_better(self, meta: TableMetadata) -> dict:
        return {"mle": meta.task_type != "regression", "rho": False, "dcr_share_closer_to_train": False,
                "dcr_exact_copy_rate": False, "valid_rate": True}

    def clean_synthetic(self, synthetic: pd.DataFrame, meta: TableMetadata) -> tuple[pd.DataFrame, dict]:
        """Canonical dtypes; rows with a missing target or an unknown target class are dropped and counted."""
        df = synthetic[meta.columns].copy()
        for c in meta.columns:
            df[c] = canonical_category(df[c]) if c in meta.categorical else pd.to_numeric(df[c], errors="coerce")
        bad = df[meta.target].isna()
        if meta.task_type != "regression":
            bad |= ~df[meta.target].isin(meta.categories[meta.target])
        unknown = {c: int((~df[c].isin(meta.categories[c]) & df[c].notna()).sum()) for c in meta.categorical}
        return df[~bad].reset_index(drop=True), {"n_synthetic": len(df), "n_dropped_bad_target": int(bad.sum()),
                                                 "unknown_category_cells": unknown}

    def score(self, synthetic: pd.DataFrame, splits: Splits, *, seed: int = 0, quiet: bool = False) -> dict:
        meta = splits.metadata
        syn, info = self.clean_synthetic(synthetic, meta)
        metrics: dict = dict(info)
        timings = {}
        with tqdm(total=mle_metric.n_fits(self.mle_best_of), desc=f"{self.name}: MLE grid", disable=quiet,
                  leave=False) as bar:
            t = time.perf_counter()
            try:
                metrics.update(mle_metric.mle(syn, splits.test, meta, seed=seed, mode=self.mle_mode,
                                              best_of=self.mle_best_of, progress=bar))
            except mle_metric.MLEFailure as e:
                metrics.update(mle=float("nan"), mle_error=str(e))
            timings["mle"] = time.perf_counter() - t
        t = time.perf_counter()
        metrics.update(density.rho(splits.train, syn, meta))
        timings["rho"] = time.perf_counter() - t
        with tqdm(total=len(syn), desc=f"{self.name}: DCR", disable=quiet, leave=False) as bar:
            t = time.perf_counter()
            metrics.update(dcr_metric.dcr(splits.train, splits.test, syn, meta, progress=bar))
            timings["dcr"] = time.perf_counter() - t
        metrics["score_timings_s"] = timings
        return metrics


def describe_splits(splits: Splits) -> dict:
    m = splits.metadata
    return {"n_train": len(splits.train), "n_val": 0 if splits.val is None else len(splits.val),
            "n_test": len(splits.test), "target": m.target, "task_type": m.task_type,
            "n_numerical": len(m.numerical), "n_categorical": len(m.categorical), **splits.info}


def frame_hash(df: pd.DataFrame) -> str:
    return format(int(pd.util.hash_pandas_object(df, index=False).sum()) & (2**64 - 1), "016x")
