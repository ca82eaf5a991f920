"""`csv`: any user table. Column types are inferred (SDV's heuristic) and can be overridden.

Split: 80/10/10 with sklearn's train_test_split, random_state=42 (the DiffLM scheme).
Every problem with the input is a DataError: the CLI prints one line and exits 2.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from tasks.base import TabularTask
from harness.api import DataError, Splits
from tasks.tabular import build_metadata, difflm_split, finalize


def infer_categorical(df: pd.DataFrame) -> list[str]:
    """Object/bool columns, and whole non-negative numbers with few distinct values (SDV's rule)."""
    out = []
    limit = min(round(len(df) / 10), 10)
    for c in df.columns:
        s = df[c].dropna()
        if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            out.append(c)
        elif (s == s.round()).all() and (s >= 0).all() and s.nunique() <= limit:
            out.append(c)
    return out


class CSVTask(TabularTask):
    name = "csv"
    user_data = True          # a user's private table: never archived with the project unless asked

    def __init__(self, data: str | None = None, target: str | None = None, task_type: str | None = None,
                 categorical: list[str] | None = None, numerical: list[str] | None = None, **kw):
        super().__init__(**kw)
        self.data, self.target, self.task_type = data, target, task_type
        self.categorical, self.numerical = categorical or [], numerical or []

    def config(self) -> dict:
        return {**super().config(), "data": self.data, "target": self.target, "task_type": self.task_type,
                "categorical": self.categorical, "numerical": self.numerical}

    def load(self) -> Splits:
        if not self.data:
            raise DataError("the csv task needs --data PATH")
        if not self.target:
            raise DataError("the csv task needs --target COLUMN")
        path = Path(self.data)
        if not path.is_file():
            raise DataError(f"data file not found: {path}")
        try:
            df = pd.read_csv(path)
        except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as e:
            raise DataError(f"cannot read {path} as CSV: {e}") from e
        if df.empty:
            raise DataError(f"{path} has no data rows")
        if self.target not in df.columns:
            raise DataError(f"target column {self.target!r} not in {path} (columns: {', '.join(map(str, df.columns))})")
        empty = [c for c in df.columns if df[c].isna().all()]
        if empty:
            raise DataError(f"column(s) with no values at all: {', '.join(map(str, empty))}")
        for c in self.categorical + self.numerical:
            if c not in df.columns:
                raise DataError(f"column {c!r} given as an override is not in {path}")
        cats = (set(infer_categorical(df)) | set(self.categorical)) - set(self.numerical)
        task_type = self.task_type or ("regression" if self.target not in cats
                                       else "binclass" if df[self.target].nunique() == 2 else "multiclass")
        if task_type == "regression":
            cats.discard(self.target)
            if not pd.api.types.is_numeric_dtype(df[self.target]):
                raise DataError(f"regression target {self.target!r} is not numeric")
        else:
            cats.add(self.target)
        df = finalize(df, cats).dropna(subset=[self.target])
        if len(df) < 20:
            raise DataError(f"{path} has {len(df)} usable rows; at least 20 are needed for an 80/10/10 split")
        train, val, test = difflm_split(df)
        train, val, test = (d.reset_index(drop=True) for d in (train, val, test))
        meta = build_metadata(train, cats, self.target, task_type)
        info = {"split": "difflm (80/10/10, random_state=42)", "file": str(path),
                "sizes": {"train": len(train), "val": len(val), "test": len(test)}}
        return Splits(train, val, test, meta.check(train), info)
