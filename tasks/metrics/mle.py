"""Machine-learning efficiency: XGBoost trained on synthetic rows, scored on the real test split.

Protocol of TabSyn's eval/mle/mle.py (which DiffLM wraps), seeded and run once per seed:
1/9 of the training table is held out (seeded), each of the 36 grid configurations is fit on the
other 8/9 and scored on the held-out part, the best one (by AUC, or by RMSE for regression) is
refit on the 8/9 part and scored once on the real test set. Regression targets are ln(clip(y, 1, 20000)).

`mode="clean"` (default) also log-transforms the validation targets and keeps per-column numerics;
`mode="faithful"` keeps TabSyn's two quirks (raw-unit validation targets, one shared min/max that
sends every Default numeric through ln(max(x, 0.01))). DiffLM's best-of-100 is `best_of` > 1,
labelled as such in every record (`protocol`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import mean_squared_error, roc_auc_score
from sklearn.model_selection import ParameterGrid
from sklearn.preprocessing import OneHotEncoder

from harness.api import TableMetadata, cpu_threads

GRID = {"n_estimators": [10, 50, 100], "min_child_weight": [1, 10], "max_depth": [5, 10, 20],
        "gamma": [0.0, 1.0]}


class MLEFailure(ValueError):
    """The synthetic table cannot train a model (e.g. a single class): counted as a failure."""


def _features(train: pd.DataFrame, test: pd.DataFrame, meta: TableMetadata, mode: str):
    feats = [c for c in meta.columns if c != meta.target]
    blocks_tr, blocks_te = [], []
    cmin = cmax = None
    for c in feats:
        if c in meta.categorical:
            enc = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
            blocks_tr.append(enc.fit_transform(train[[c]].astype(str)))
            blocks_te.append(enc.transform(test[[c]].astype(str)))
        else:
            xtr, xte = train[c].to_numpy(float), test[c].to_numpy(float)
            if mode == "faithful":   # TabSyn: one (cmin, cmax), taken from the first numeric column
                if not cmin and not cmax:
                    cmin, cmax = np.nanmin(xtr), np.nanmax(xtr)
                if cmin >= 0 and cmax >= 1000:
                    xtr, xte = np.log(np.maximum(xtr, 0.01)), np.log(np.maximum(xte, 0.01))
                else:
                    xtr, xte = (xtr - cmin) / (cmax - cmin) * 5, (xte - cmin) / (cmax - cmin) * 5
            blocks_tr.append(xtr[:, None])
            blocks_te.append(xte[:, None])
    return np.hstack(blocks_tr).astype(np.float32), np.hstack(blocks_te).astype(np.float32)


def _auc(y_true, proba, n_classes):
    if n_classes == 2:
        return roc_auc_score(y_true, proba[:, 1])
    return roc_auc_score(y_true, proba, multi_class="ovr", labels=list(range(n_classes)))


SMALL = 10_000   # rows: below this, one XGBoost thread (n_jobs=None)


def mle(train: pd.DataFrame, test: pd.DataFrame, meta: TableMetadata, *, seed: int = 0,
        mode: str = "clean", best_of: int = 1, n_jobs: int | None = None, progress=None) -> dict:
    """Returns {"mle": value, "mle_metric": "auc"|"rmse_log", "mle_config": {...}, "protocol": ...}.
    n_jobs None: one thread below SMALL rows, else all cores. On 2 cores shared with a training job, the grid
    on 2,700 adult rows took 590 s with 2 threads (OpenMP threads spinning against busy cores; torch imported
    in the same process makes it worse) and 7.9 s with one, same AUC and config: the hist method gives the
    same trees for any thread count, and a small table gains nothing from threads."""
    import xgboost as xgb

    if n_jobs is None:          # an executor's allotment (harness.api.cpu_threads) caps "all cores"
        n_jobs = 1 if len(train) < SMALL else (cpu_threads() or -1)

    train = train.dropna(subset=[meta.target]).reset_index(drop=True)
    test = test.dropna(subset=[meta.target]).reset_index(drop=True)
    if len(train) < 10:
        raise MLEFailure(f"only {len(train)} usable training rows")
    regression = meta.task_type == "regression"
    if regression:
        ytr = np.log(np.clip(train[meta.target].to_numpy(float), 1, 20000))
        yte = np.log(np.clip(test[meta.target].to_numpy(float), 1, 20000))
        y_raw = train[meta.target].to_numpy(float)
    else:
        classes = sorted(test[meta.target].astype(str).unique())
        syn_classes = set(train[meta.target].astype(str).unique())
        if not set(classes) <= syn_classes:
            lacking = sorted(set(classes) - syn_classes)     # a short message: a table may have thousands
            raise MLEFailure(f"synthetic data lacks {len(lacking)} of the test's {len(classes)} classes, e.g. "
                             f"{lacking[:5]}")
        classes = sorted(syn_classes | set(classes))
        index = {c: i for i, c in enumerate(classes)}
        ytr = train[meta.target].astype(str).map(index).to_numpy()
        yte = test[meta.target].astype(str).map(index).to_numpy()
    Xtr_all, Xte = _features(train, test, meta, mode)

    results = []
    for rep in range(best_of):
        rng = np.random.default_rng([seed, rep])
        perm = rng.permutation(len(train))
        n_val = int(len(train) / 9)
        val_idx, fit_idx = perm[:n_val], perm[n_val:]
        Xf, Xv, yf, yv = Xtr_all[fit_idx], Xtr_all[val_idx], ytr[fit_idx], ytr[val_idx]
        if regression and mode == "faithful":
            yv = y_raw[val_idx]           # TabSyn's bug: raw-unit validation targets
        if not regression and len(np.unique(yf)) < 2:
            raise MLEFailure("synthetic training part has a single class")
        best, best_cfg = None, None
        for cfg in ParameterGrid(GRID):
            model = _model(xgb, regression, cfg, seed, n_jobs)
            model.fit(Xf, yf)
            if regression:
                score = -np.sqrt(mean_squared_error(yv, model.predict(Xv)))
            else:
                if len(np.unique(yv)) < 2:
                    score = 0.0      # AUC undefined on a one-class holdout: keep the first config
                else:
                    score = _auc(yv, model.predict_proba(Xv), len(classes))
            if best is None or score > best:
                best, best_cfg = score, cfg
            if progress is not None:
                progress.update(1)
        model = _model(xgb, regression, best_cfg, seed, n_jobs).fit(Xf, yf)   # refit on 8/9, as TabSyn
        if regression:
            value = float(np.sqrt(mean_squared_error(yte, model.predict(Xte))))
        else:
            value = float(_auc(yte, model.predict_proba(Xte), len(classes)))
        results.append((value, best_cfg))
    pick = min if regression else max
    value, cfg = pick(results, key=lambda r: r[0])
    return {"mle": value, "mle_metric": "rmse_log" if regression else "auc", "mle_config": cfg,
            "mle_protocol": f"{mode}, best_of={best_of}" + (" (optimistic, as in the DiffLM paper)" if best_of > 1 else ""),
            "mle_all": [r[0] for r in results]}


def _model(xgb, regression, cfg, seed, n_jobs):
    common = dict(tree_method="hist", random_state=seed, n_jobs=n_jobs, **cfg)
    if regression:
        return xgb.XGBRegressor(objective="reg:squarederror", **common)
    return xgb.XGBClassifier(**common)


def n_fits(best_of: int = 1) -> int:
    return len(ParameterGrid(GRID)) * best_of
