"""A tabular task: load -> Splits, score(synthetic) -> MLE, ρ and DCR. Shared by the UCI tables and user CSVs."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from harness.api import Option, Scores, Splits, TableMetadata, Task
from tasks.metrics import dcr as dcr_metric
from tasks.metrics import density, mle as mle_metric
from tasks.tabular import canonical_category


class TabularTask(Task):
    modality = "table"
    family = "tabular"
    report = "tasks.reports.tabular:sections"
    headline = ("mle", "rho")
    label_defaults = {"split": "difflm", "mle_mode": "clean", "mle_best_of": 1, "limit": None}
    scoring_options = ("mle_mode", "mle_best_of")

    options = (
        Option("split", choices=("difflm", "tabsyn"),
               help="difflm = the paper's Table 5 split (default); tabsyn = TabSyn's 90/10 split"),
        Option("mle_mode", choices=("clean", "faithful"), help="the MLE grid as we run it (clean) or as the "
               "DiffLM code ran it (faithful)"),
        Option("mle_best_of", "int", ">1 reproduces DiffLM's optimistic best-of-N MLE (labelled in every table)"),
        Option("limit", "int", "use at most this many rows/records per split"))

    def __init__(self, split: str = "difflm", mle_mode: str = "clean", mle_best_of: int = 1,
                 limit: int | None = None):
        self.split, self.mle_mode, self.mle_best_of, self.limit = split, mle_mode, mle_best_of, limit

    def metrics(self, metadata: TableMetadata) -> dict[str, bool]:
        return {"mle": metadata.task_type != "regression", "rho": False, "dcr_share_closer_to_train": False,
                "dcr_exact_copy_rate": False}

    def clean_synthetic(self, synthetic: pd.DataFrame, meta: TableMetadata) -> tuple[pd.DataFrame, dict]:
        """Canonical dtypes; rows with a missing target or an unknown target class are dropped and counted."""
        df = synthetic[meta.columns].copy()
        out_of_range = {}
        for c in meta.columns:
            df[c] = canonical_category(df[c]) if c in meta.categorical else pd.to_numeric(df[c], errors="coerce")
            if c not in meta.categorical:
                # a generator may write 1e39 or inf: beyond float32 the metrics' models cannot take it, so it
                # becomes missing (XGBoost, ρ and DCR handle NaN) and is counted
                huge = df[c].notna() & ~(df[c].abs() <= np.finfo(np.float32).max)
                if huge.any():
                    out_of_range[c] = int(huge.sum())
                    df.loc[huge, c] = np.nan
        bad = df[meta.target].isna()
        if meta.task_type != "regression":
            bad |= ~df[meta.target].isin(meta.categories[meta.target])
        unknown = {c: int((~df[c].isin(meta.categories[c]) & df[c].notna()).sum()) for c in meta.categorical}
        return df[~bad].reset_index(drop=True), {"n_synthetic": len(df), "n_dropped_bad_target": int(bad.sum()),
                                                 "unknown_category_cells": unknown, "out_of_range_cells": out_of_range}

    def score(self, synthetic: pd.DataFrame, splits: Splits, *, seed: int = 0, work_dir: Path | None = None,
              cache_dir: Path | None = None, quiet: bool = False) -> Scores:
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
        # distance arrays (keys starting with "_") are an artifact, not metrics
        arrays = {k.lstrip("_"): metrics.pop(k) for k in [k for k in metrics if k.startswith("_")]}
        artifacts = {}
        if arrays and work_dir is not None:
            Path(work_dir).mkdir(parents=True, exist_ok=True)
            np.savez_compressed(Path(work_dir) / "dcr.npz", **arrays)
            artifacts["dcr_arrays"] = Path(work_dir) / "dcr.npz"
        return Scores(metrics, artifacts)
