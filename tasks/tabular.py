"""The five UCI tables of the paper, read and split as DiffLM's own code does (Table 5 sizes).

Split schemes (`split=`):
- "difflm" (default): sklearn train_test_split 80/10/10, random_state=42; Adult: 90/10 of adult.data
  as train/val and the official adult.test as test. These are the paper's Table 5 sizes.
- "tabsyn": TabSyn's 90/10 train/test (seeded shuffle from 1234, no validation split; Adult official
  split; Magic drops its first row as TabSyn's header="infer" does). Use it to check our numbers
  against the baseline rows of Table 1, which were made on this split.
Beijing: rows whose target pm2.5 is missing are dropped *after* splitting under "difflm" (the split
sizes stay those of Table 5 and every method trains on the same 33,406 rows with a target) and
before splitting under "tabsyn" (as TabSyn does).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from harness.api import DataError, Splits, TableMetadata
from tasks import data as rawdata

ADULT_COLUMNS = ["age", "workclass", "fnlwgt", "education", "education.num", "marital.status",
                 "occupation", "relationship", "race", "sex", "capital.gain", "capital.loss",
                 "hours.per.week", "native.country", "income"]
MAGIC_COLUMNS = ["Length", "Width", "Size", "Conc", "Conc1", "Asym", "M3Long", "M3Trans", "Alpha",
                 "Dist", "class"]


@dataclass(frozen=True)
class TableSpec:
    name: str
    target: str
    task_type: str
    categorical: tuple[str, ...]   # every other column is numerical
    read: callable


def _read_adult(paths) -> tuple[pd.DataFrame, pd.DataFrame]:
    kw = dict(header=None, names=ADULT_COLUMNS, skipinitialspace=True)
    train = pd.read_csv(paths["adult.data"], **kw)
    test = pd.read_csv(paths["adult.test"], skiprows=1, **kw)   # line 1 is "|1x3 Cross validator"
    test["income"] = test["income"].str.rstrip(".")
    return train, test


def _read_default(paths) -> pd.DataFrame:
    path = next(iter(paths.values()))
    if path.suffix == ".xls":
        df = pd.read_excel(path, sheet_name="Data", header=1)   # needs xlrd
    else:
        df = pd.read_csv(path, header=1)
    return df.drop(columns=["ID"])


def _read_magic(paths) -> pd.DataFrame:
    return pd.read_csv(paths["magic04.data"], header=None, names=MAGIC_COLUMNS)


def _read_shoppers(paths) -> pd.DataFrame:
    return pd.read_csv(paths["online_shoppers_intention.csv"])


def _read_beijing(paths) -> pd.DataFrame:
    return pd.read_csv(paths["PRSA_data_2010.1.1-2014.12.31.csv"]).drop(columns=["No"])


SPECS = {
    "adult": TableSpec("adult", "income", "binclass",
                       ("workclass", "education", "marital.status", "occupation", "relationship", "race",
                        "sex", "native.country", "income"), _read_adult),
    "default": TableSpec("default", "default payment next month", "binclass",
                         ("SEX", "EDUCATION", "MARRIAGE", "PAY_0", "PAY_2", "PAY_3", "PAY_4", "PAY_5",
                          "PAY_6", "default payment next month"), _read_default),
    "magic": TableSpec("magic", "class", "binclass", ("class",), _read_magic),
    "shoppers": TableSpec("shoppers", "Revenue", "binclass",
                          ("Month", "OperatingSystems", "Browser", "Region", "TrafficType", "VisitorType",
                           "Weekend", "Revenue"), _read_shoppers),
    # Table 5 of the paper calls Beijing classification; the data and Table 1 (RMSE) say regression.
    "beijing": TableSpec("beijing", "pm2.5", "regression", ("year", "month", "day", "hour", "cbwd"),
                         _read_beijing),
}


def canonical_category(series: pd.Series) -> pd.Series:
    """One spelling per category: 1, 1.0 and '1' -> '1'; True/TRUE -> 'True' (spec pitfall 8)."""
    s = series
    if s.dtype == bool:
        return s.map({True: "True", False: "False"})
    if pd.api.types.is_float_dtype(s) and s.dropna().eq(s.dropna().round()).all():
        s = s.astype("Int64")
    out = s.astype("string").str.strip()
    out = out.replace({"TRUE": "True", "FALSE": "False", "true": "True", "false": "False"})
    return out.astype(object).where(out.notna(), np.nan)


def finalize(df: pd.DataFrame, categorical) -> pd.DataFrame:
    df = df.copy()
    for c in df.columns:
        if c in categorical:
            df[c] = canonical_category(df[c])
        else:
            df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    return df


def build_metadata(train: pd.DataFrame, categorical, target: str, task_type: str) -> TableMetadata:
    cats = [c for c in train.columns if c in categorical]
    return TableMetadata(
        columns=list(train.columns), numerical=[c for c in train.columns if c not in categorical],
        categorical=cats, target=target, task_type=task_type,
        categories={c: sorted(train[c].dropna().unique().tolist()) for c in cats})


def difflm_split(df: pd.DataFrame):
    train, rest = train_test_split(df, test_size=0.2, random_state=42)
    val, test = train_test_split(rest, test_size=0.5, random_state=42)
    return train, val, test


def tabsyn_split(df: pd.DataFrame, categorical, target):
    """TabSyn's process_dataset.py: shuffle with seed 1234 (+1 until every categorical feature's
    categories all appear in train), first 90% train, last 10% test."""
    n = len(df)
    n_train = int(0.9 * n)
    features = [c for c in categorical if c != target]
    seed = 1234
    while True:
        idx = np.arange(n)
        np.random.RandomState(seed).shuffle(idx)   # same stream as np.random.seed(seed); shuffle
        train, test = df.iloc[idx[:n_train]], df.iloc[idx[n_train:]]
        if all(set(df[c].unique()) <= set(train[c].unique()) for c in features):
            return train, None, test
        seed += 1


def load_uci(name: str, split: str = "difflm", limit: int | None = None) -> Splits:
    spec = SPECS[name]
    paths = rawdata.locate(name)
    info = {"split": split, "files": {k: str(v) for k, v in paths.items()}}
    if name == "adult":
        full, official_test = (finalize(d, spec.categorical) for d in _read_adult(paths))
        if split == "difflm":
            train, val = train_test_split(full, test_size=0.1, random_state=42)
        elif split == "tabsyn":
            train, val = full, None
        else:
            raise DataError(f"unknown split {split!r}")
        test = official_test
    else:
        df = finalize(spec.read(paths), spec.categorical)
        if split == "difflm":
            train, val, test = difflm_split(df)
        elif split == "tabsyn":
            if name == "magic":
                df = df.iloc[1:]          # TabSyn's header="infer" eats the first data row
            if name == "beijing":
                df = df[df[spec.target].notna()]
            train, val, test = tabsyn_split(df, spec.categorical, spec.target)
        else:
            raise DataError(f"unknown split {split!r}")
    info["split_sizes"] = {"train": len(train), "val": 0 if val is None else len(val), "test": len(test)}
    if name == "beijing":   # evaluation needs a target: drop missing pm2.5 from every part
        keep = lambda d: None if d is None else d[d[spec.target].notna()]
        info["dropped_missing_target"] = {k: int(d[spec.target].isna().sum())
                                          for k, d in (("train", train), ("val", val), ("test", test))
                                          if d is not None}
        train, val, test = keep(train), keep(val), keep(test)
    train, test = train.reset_index(drop=True), test.reset_index(drop=True)
    val = None if val is None else val.reset_index(drop=True)
    if limit:
        train = train.sample(n=min(limit, len(train)), random_state=0).reset_index(drop=True)
        test = test.sample(n=min(limit, len(test)), random_state=0).reset_index(drop=True)
        val = None if val is None else val.sample(n=min(limit, len(val)), random_state=0).reset_index(drop=True)
        info["limit"] = limit
    meta = build_metadata(train, spec.categorical, spec.target, spec.task_type)
    info["sizes"] = {"train": len(train), "val": 0 if val is None else len(val), "test": len(test)}
    return Splits(train, val, test, meta.check(train), info)
