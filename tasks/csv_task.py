"""`csv`: any user table, read as it comes (tasks/csv_read.py: encoding, delimiter, decimal commas, missing
markers), with column roles guessed and overridable (tasks/csv_roles.py: identifiers dropped, dates made
numerical, constant and high-cardinality columns noted) and column types inferred (SDV's heuristic).

Split: 80/10/10 with sklearn's train_test_split, random_state=42 (the DiffLM scheme).
Every problem with the input is a DataError raised in `load`, before any fit: the CLI prints one line and
exits 2. That includes a target the task type cannot use (`check_target`): a class label with one class, a
binclass target with more than two, a "class" that is a continuous number, classes too rare to be in both
train and test. What was guessed goes to `info["notes"]`: the screen and the record.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from harness.api import DataError, Option, Splits
from tasks.base import TabularTask
from tasks.csv_read import read_table
from tasks.csv_roles import assign_roles, note_high_cardinality
from tasks.tabular import build_metadata, difflm_split, finalize

MIN_CLASS_ROWS = 10        # a class needs ~10 rows for the 10 % test split to hold one
MAX_NUMERIC_CLASSES = 50   # a numeric "class" label with more distinct values is a continuous target
SHOWN = 5                  # values an error message lists


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


def _some(values) -> str:
    values = [str(v) for v in values]
    return ", ".join(repr(v) for v in values[:SHOWN]) + (f", … ({len(values):,} in all)" if len(values) > SHOWN else "")


def check_target(y: pd.Series, target: str, task_type: str, given: bool) -> None:
    """The target fits its task type, or a one-line DataError that says what to do instead."""
    y = y.dropna()
    counts = y.value_counts()
    how = f"--task-type {task_type}" if given else f"inferred task type {task_type}"
    if task_type == "regression":
        if len(counts) < 2:
            raise DataError(f"target {target!r} has a single value ({_some(counts.index)}): nothing to predict")
        return
    if pd.api.types.is_numeric_dtype(y) and len(counts) > MAX_NUMERIC_CLASSES:
        raise DataError(f"target {target!r} ({how}) is a number with {len(counts):,} distinct values, not a class "
                        f"label: use --task-type regression")
    if len(counts) < 2:
        raise DataError(f"target {target!r} has a single class ({_some(counts.index)}): a classifier has nothing "
                        f"to learn; pick another target")
    if task_type == "binclass" and len(counts) != 2:
        raise DataError(f"target {target!r} ({how}) has {len(counts):,} classes, binclass needs exactly 2: "
                        f"use --task-type multiclass" + (" or regression" if pd.api.types.is_numeric_dtype(y) else ""))
    if task_type == "multiclass" and len(counts) < 3:
        raise DataError(f"target {target!r} ({how}) has 2 classes, multiclass needs at least 3: use --task-type binclass")
    rare = counts[counts < MIN_CLASS_ROWS]
    if len(rare):
        raise DataError(f"target {target!r}: {len(rare):,} class(es) with fewer than {MIN_CLASS_ROWS} rows "
                        f"({', '.join(f'{k!r}: {v}' for k, v in list(rare.items())[:SHOWN])}"
                        f"{', …' if len(rare) > SHOWN else ''}), too few to be in both train and test: "
                        f"merge or drop them" + (", or use --task-type regression" if pd.api.types.is_numeric_dtype(y)
                                                 else ""))


class CSVTask(TabularTask):
    name = "csv"
    version = 2               # 2: delimiter/encoding detection, column roles, target checks
    user_data = True          # a user's private table: never archived with the project unless asked

    options = (
        Option("data", help="the user's CSV file"),
        Option("target", help="the target column (required)"),
        Option("task_type", choices=("binclass", "multiclass", "regression"), help="default: inferred from the target"),
        Option("categorical", "names", "force these columns categorical"),
        Option("numerical", "names", "force these columns numerical"),
        Option("sep", help="the delimiter (default: detected among , ; tab |)"),
        Option("encoding", help="the file's encoding (default: detected; BOM, UTF-8, cp1252, latin-1)"),
        Option("drop", "names", "leave these columns out"),
    )

    def __init__(self, data: str | None = None, target: str | None = None, task_type: str | None = None,
                 categorical: list[str] | None = None, numerical: list[str] | None = None, sep: str | None = None,
                 encoding: str | None = None, drop: list[str] | None = None, **kw):
        super().__init__(**kw)
        self.data, self.target, self.task_type = data, target, task_type
        self.categorical, self.numerical = categorical or [], numerical or []
        self.sep, self.encoding, self.drop = sep, encoding, drop or []

    def config(self) -> dict:
        out = {**super().config(), "data": self.data, "target": self.target, "task_type": self.task_type,
               "categorical": self.categorical, "numerical": self.numerical}
        # only when given, so that a run without them keeps its job ids
        out.update({k: v for k, v in (("sep", self.sep), ("encoding", self.encoding), ("drop", self.drop)) if v})
        return out

    def load(self) -> Splits:
        if not self.data:
            raise DataError("the csv task needs --data PATH")
        if not self.target:
            raise DataError("the csv task needs --target COLUMN")
        path = Path(self.data)
        if not path.is_file():
            raise DataError(f"data file not found: {path}")
        df, read, notes = read_table(path, sep=self.sep, encoding=self.encoding)
        if df.empty:
            raise DataError(f"{path} has no data rows")
        if self.target not in df.columns:
            raise DataError(f"target column {self.target!r} not in {path} (columns: {', '.join(map(str, df.columns))}; "
                            f"delimiter read: {read['sep']!r}, --sep sets it)")
        empty = [c for c in df.columns if df[c].isna().all() and c not in self.drop]
        if empty:
            raise DataError(f"column(s) with no values at all: {', '.join(map(str, empty))} (--drop them)")
        df, roles, role_notes = assign_roles(df, self.target, categorical=self.categorical, numerical=self.numerical,
                                             drop=self.drop)
        notes += role_notes
        if len(df.columns) < 2:
            raise DataError(f"no column left besides the target {self.target!r}")
        cats = (set(infer_categorical(df)) | set(self.categorical)) - set(self.numerical)
        given = self.task_type is not None
        task_type = self.task_type or ("regression" if self.target not in cats
                                       else "binclass" if df[self.target].nunique() == 2 else "multiclass")
        if task_type == "regression":
            cats.discard(self.target)
            if not pd.api.types.is_numeric_dtype(df[self.target]):
                raise DataError(f"regression target {self.target!r} is not numeric")
        else:
            cats.add(self.target)
        check_target(df[self.target], self.target, task_type, given)
        n_missing_target = int(df[self.target].isna().sum())
        if n_missing_target:
            notes.append(f"{n_missing_target:,} row(s) without a target value dropped")
        df = finalize(df, cats).dropna(subset=[self.target])
        note_high_cardinality(df, [c for c in df.columns if c in cats], roles, notes)
        if len(df) < 20:
            raise DataError(f"{path} has {len(df)} usable rows; at least 20 are needed for an 80/10/10 split")
        train, val, test = (d.reset_index(drop=True) for d in difflm_split(df))
        if task_type != "regression":
            lost = sorted(set(test[self.target]) - set(train[self.target]))
            if lost or test[self.target].nunique() < 2:
                raise DataError(f"target {self.target!r}: after the 80/10/10 split the test part has "
                                f"{'classes missing from train: ' + _some(lost) if lost else 'a single class'}; "
                                f"the table is too small or its classes too rare")
        meta = build_metadata(train, cats, self.target, task_type)
        info = {"split": "difflm (80/10/10, random_state=42)", "file": str(path),
                "sizes": {"train": len(train), "val": len(val), "test": len(test)},
                "read": read, "columns": roles, "notes": notes,
                "missing_cells_train": {c: int(n) for c, n in train.isna().sum().items() if n}}
        return Splits(train, val, test, meta.check(train), info)
