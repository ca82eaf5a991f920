"""`smote`: interpolation between real neighbours with imbalanced-learn's SMOTE, TabSyn's recipe.

Numerics are quantile-normalised, categoricals one-hot encoded. For each class c (classification)
or for the whole table (regression, target treated as a numeric feature and so interpolated too; or no target),
the real rows are stacked against one dummy row of another label and SMOTE is asked for m_c new
rows of the real class, each on a segment between a real row and one of its k nearest neighbours.
One-hot blocks are decoded by arg-max, numerics by the inverse quantile transform. Class shares are
those of the training table. Unlike TabSyn's script, the draw is seeded.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.preprocessing import OneHotEncoder, QuantileTransformer
from tqdm.auto import tqdm

from harness.api import Method, TableMetadata


class SMOTEMethod(Method):
    name = "smote"
    # NaN through the harness's indicator policy (imbalanced-learn refuses NaN); seconds to run
    tags = {**Method.tags, "keep_fitted": False}
    preflight = None
    profiles = {"smoke": {}, "cpu": {}, "gpu": {}, "paper": {}}
    cost = {"smoke": "seconds", "cpu": "seconds (~7 s to sample adult)", "gpu": "seconds (~7 s to sample adult)",
            "paper": "seconds (~7 s to sample adult)"}

    def __init__(self, k_neighbors: int = 5):
        self.k_neighbors = k_neighbors

    def fit(self, train: pd.DataFrame, metadata: TableMetadata, *, work_dir: Path | None = None,
            cache_dir: Path | None = None) -> "SMOTEMethod":
        self._check_input(train, metadata)
        self.meta_ = metadata
        self.train_ = train[metadata.columns].reset_index(drop=True).copy()
        self.fitted_ = True
        return self

    def _encode(self):
        meta, df = self.meta_, self.train_
        by_class = meta.target is not None and meta.task_type != "regression"   # no target: one group
        num = list(meta.numerical)
        cat = [c for c in meta.categorical if not (by_class and c == meta.target)]
        x_num = df[num].to_numpy(float)
        x_num = np.where(np.isnan(x_num), np.nanmean(x_num, axis=0), x_num) if num else x_num
        qt = QuantileTransformer(output_distribution="normal", n_quantiles=max(min(len(df) // 30, 1000), 10),
                                 subsample=int(1e9), random_state=0)
        blocks = [qt.fit_transform(x_num)] if num else []
        ohe = None
        if cat:
            ohe = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
            blocks.append(ohe.fit_transform(df[cat].astype(str)))
        return np.hstack(blocks), qt, ohe, num, cat, by_class

    def sample(self, n: int, *, seed: int = 0) -> pd.DataFrame:
        from imblearn.over_sampling import SMOTE

        self._check_fitted()
        meta = self.meta_
        X, qt, ohe, num, cat, by_class = self._encode()
        rng = np.random.default_rng(seed)
        labels = self.train_[meta.target].astype(str).to_numpy() if by_class else np.zeros(len(X), str)
        classes, counts = np.unique(labels, return_counts=True)
        want = np.floor(n * counts / counts.sum()).astype(int)
        want[np.argsort(-counts)[: n - want.sum()]] += 1          # hand out the rounding remainder
        out_X, out_y = [], []
        for c, m in tqdm(list(zip(classes, want)), desc="smote", leave=False, disable=None):
            if m == 0:
                continue
            Xc = X[labels == c]
            if len(Xc) < 2:    # nothing to interpolate between: repeat the row
                new = Xc[rng.integers(0, len(Xc), m)]
            else:
                dummy = np.zeros((1, X.shape[1]))
                sm = SMOTE(sampling_strategy={0: len(Xc) + m}, k_neighbors=min(self.k_neighbors, len(Xc) - 1),
                           random_state=int(rng.integers(2**31)))
                Xr, _ = sm.fit_resample(np.vstack([Xc, dummy]), np.r_[np.zeros(len(Xc), int), 1])
                new = Xr[len(Xc) + 1:]          # imblearn appends the new rows after the originals
            out_X.append(new)
            out_y += [c] * m
        Xn = np.vstack(out_X)
        df = pd.DataFrame(index=range(len(Xn)))
        if num:
            df[num] = qt.inverse_transform(Xn[:, : len(num)])
        if cat:
            df[cat] = ohe.inverse_transform(_argmax_blocks(Xn[:, len(num):], ohe))
        if by_class:
            df[meta.target] = out_y
        df = df[meta.columns]
        return df.sample(frac=1.0, random_state=int(rng.integers(2**31))).reset_index(drop=True)


def _argmax_blocks(x: np.ndarray, ohe: OneHotEncoder) -> np.ndarray:
    out, start = np.zeros_like(x), 0
    for cats in ohe.categories_:
        block = x[:, start:start + len(cats)]
        out[np.arange(len(x)), start + block.argmax(axis=1)] = 1.0
        start += len(cats)
    return out
