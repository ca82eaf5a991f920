"""Missing values in tables: one policy for every method that does not handle them itself.

A method says what it does with NaN through its tag `missing_values`: "native" (it is given the table as
it is: `real` copies rows, GReaT writes a missing value as "None" and reads it back) or "indicator" (the
default): the runner encodes the training table with `MissingPolicy` before `fit` and decodes what
`sample` returns. The ctgan package stops on a NaN in a continuous column (CTGAN) or crashes in `sample`
(TVAE), imbalanced-learn refuses NaN, and TabSyn/DiffLM's row texts have no place for one; SDV's
synthesizers handle nulls through RDT by a learned null column (`missing_value_generation="from_column"`),
and this is that scheme, done once here for all of them:

- a numerical column with NaN in train: NaN -> the column's training median, plus a categorical column
  `<col>__missing` ("1" where the value was missing, else "0") that the generator learns with the others;
  decoding sets the value to NaN where the generated indicator is "1", so nulls come back at the rate (and
  with the links to other columns) the generator learned — the record compares that rate with train's;
- a categorical column with NaN: NaN -> the category "__nan__", a level like any other, mapped back to NaN.

Columns without NaN in train are left alone, so a table without any NaN passes through unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from harness.api.metadata import TableMetadata

NAN_TOKEN = "__nan__"
INDICATOR_SUFFIX = "__missing"
MISSING, PRESENT = "1", "0"


def handling(method_or_class) -> str:
    """What a method does with NaN: "native" or "indicator" (the default, when its tags do not say)."""
    return method_or_class.tags.get("missing_values", "indicator")


def _unused(name: str, taken: set) -> str:
    out, i = name, 1
    while out in taken:
        out, i = f"{name}{i}", i + 1
    return out


@dataclass
class MissingPolicy:
    """Fit on the training table (`fit`); `encode` any table with the same columns, `decode` a sampled one."""

    source: TableMetadata                                   # the task's metadata
    metadata: TableMetadata                                 # what the method is given
    fills: dict[str, float] = field(default_factory=dict)   # numerical column -> training median
    indicators: dict[str, str] = field(default_factory=dict)  # numerical column -> its indicator column
    tokens: dict[str, str] = field(default_factory=dict)    # categorical column -> its NaN category

    @classmethod
    def fit(cls, train: pd.DataFrame, meta: TableMetadata) -> "MissingPolicy":
        taken = set(meta.columns)
        fills, indicators, tokens = {}, {}, {}
        columns, categorical = [], list(meta.categorical)
        categories = {c: list(v) for c, v in meta.categories.items()}
        for c in meta.columns:
            columns.append(c)
            if not train[c].isna().any():
                continue
            if c in meta.numerical:
                median = float(np.nanmedian(train[c].to_numpy(float))) if train[c].notna().any() else 0.0
                fills[c] = median
                ind = indicators[c] = _unused(f"{c}{INDICATOR_SUFFIX}", taken)
                taken.add(ind)
                columns.append(ind)               # right after its column: row texts keep them together
                categorical.append(ind)
                categories[ind] = [PRESENT, MISSING]
            else:
                token = tokens[c] = _unused(NAN_TOKEN, set(categories.get(c, [])))
                categories[c] = sorted([*categories.get(c, []), token])
        encoded = TableMetadata(columns=columns, numerical=list(meta.numerical),
                                categorical=[c for c in columns if c in set(categorical)], target=meta.target,
                                task_type=meta.task_type, categories=categories)
        return cls(meta, encoded, fills, indicators, tokens)

    @property
    def active(self) -> bool:
        return bool(self.fills or self.tokens)

    def encode(self, df: pd.DataFrame) -> pd.DataFrame:
        if not self.active:
            return df
        out = df[self.source.columns].copy()
        for c, fill in self.fills.items():
            missing = out[c].isna()
            out[self.indicators[c]] = np.where(missing, MISSING, PRESENT).astype(object)
            out[c] = out[c].fillna(fill)
        for c, token in self.tokens.items():
            out[c] = out[c].astype(object).where(out[c].notna(), token)
        return out[self.metadata.columns]

    def decode(self, df: pd.DataFrame) -> pd.DataFrame:
        """A sampled table in the method's columns -> the task's columns, NaN where the method said so."""
        if not self.active:
            return df
        lacking = [c for c in self.metadata.columns if c not in df.columns]
        if lacking:
            raise ValueError(f"sampled table lacks the columns {lacking} the missing-value policy added")
        out = df.copy()
        for c, ind in self.indicators.items():
            flag = out[ind].astype(str).str.strip().isin([MISSING, "1.0", "True"])
            out[c] = pd.to_numeric(out[c], errors="coerce").astype(float).mask(flag.to_numpy())
        for c, token in self.tokens.items():
            out[c] = out[c].astype(object).where(out[c].astype(str) != token, np.nan)
        return out[self.source.columns].reset_index(drop=True)

    def describe(self) -> dict:
        return {"policy": "indicator" if self.active else "none needed",
                "numerical_imputed": {c: {"median": f, "indicator": self.indicators[c]} for c, f in self.fills.items()},
                "categorical_token": dict(self.tokens)}


def missing_rates(train: pd.DataFrame, synthetic: pd.DataFrame, columns: list[str]) -> dict:
    """Per column with NaN in train or in the synthetic table: the share of missing cells in each."""
    out = {}
    for c in columns:
        real = float(train[c].isna().mean()) if c in train else 0.0
        syn = float(synthetic[c].isna().mean()) if c in synthetic and len(synthetic) else 0.0
        if real or syn:
            out[c] = {"train": round(real, 4), "synthetic": round(syn, 4)}
    return out


def method_inputs(method_or_class, train, metadata):
    """(train, metadata, policy) as a method is to be given them: encoded by the policy unless the method
    handles NaN itself, the data is not a table, or the table has no NaN (policy None: nothing to undo)."""
    if not isinstance(train, pd.DataFrame) or handling(method_or_class) == "native":
        return train, metadata, None
    policy = MissingPolicy.fit(train, metadata)
    if not policy.active:
        return train, metadata, None
    return policy.encode(train), policy.metadata, policy
