"""A table row as the GReaT LM reads it ("col is value, ...", be-great's format) and back.

Numbers are written by us (integers without ".0", at most `digits` significant digits, no exponent), and
categories / column names are made parser-safe ("," and " is " would split a row, "None" reads as
missing), so the LM sees short, unambiguous texts; be-great would write "age is 39.0" and full float reprs.
Dotted names such as adult's "education.num" pass through unchanged (be-great's legacy parser splits only
on "," and " is "; only its guided sampler treats "." as a delimiter, and we do not use it).
Missing values: be-great would write a float NaN as "nan" and a missing category as "None"; we write both
as "None" (which its parser maps back to None) and accept a missing value in a sampled row only in a
column that had missing values in training.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.api import TableMetadata

MISSING = "None"          # be-great's text for a missing value (its parser maps "None" back to None)
PLACEHOLDER = "placeholder"  # be-great's parser marks a column the text never mentioned with this


def safe_text(text: str) -> str:
    """A column name or category the way the LM sees it: be-great's parser splits a row on "," and
    each "col is value" on " is ", and reads the value "None" as missing."""
    out = str(text).replace(",", ";").replace(" is ", " is_ ").replace("\n", " ").strip()
    return out + "_" if out in (MISSING, PLACEHOLDER, "") else out


def format_number(v: float, digits: int) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return MISSING
    v = float(v)
    if v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return np.format_float_positional(v, precision=digits, unique=True, fractional=False, trim="-")


@dataclass
class RowText:
    meta: TableMetadata
    col_enc: dict[str, str]                 # column -> its parser-safe name
    cat_enc: dict[str, dict[str, str]]      # categorical column -> {value: parser-safe text}
    cat_dec: dict[str, dict[str, str]]
    nullable: list[str]                     # columns that had a missing value in training
    digits: int = 7

    @classmethod
    def fit(cls, data: pd.DataFrame, meta: TableMetadata, digits: int) -> "RowText":
        col_enc = {c: safe_text(c) for c in meta.columns}
        if len(set(col_enc.values())) != len(meta.columns):
            raise ValueError(f"great: column names collide once made parser-safe: {col_enc}")
        cat_enc, cat_dec = {}, {}
        for c in meta.categorical:
            values = sorted(set(meta.categories.get(c, [])) | set(data[c].dropna().astype(str)))
            enc = {v: safe_text(v) for v in values}
            if len(set(enc.values())) != len(enc):
                raise ValueError(f"great: categories of {c!r} collide once made parser-safe")
            cat_enc[c], cat_dec[c] = enc, {e: v for v, e in enc.items()}
        nullable = sorted(c for c in meta.columns if data[c].isna().any())
        return cls(meta, col_enc, cat_enc, cat_dec, nullable, digits)

    def encode_frame(self, df: pd.DataFrame) -> pd.DataFrame:
        """The frame as the strings the LM reads, in be-great's missing-value convention."""
        out = {}
        for c in self.meta.columns:
            if c in self.meta.numerical:
                out[self.col_enc[c]] = [format_number(v, self.digits) for v in df[c].to_numpy(float)]
            else:
                enc = self.cat_enc[c]
                out[self.col_enc[c]] = [MISSING if pd.isna(v) else enc[str(v)] for v in df[c]]
        return pd.DataFrame(out).astype(object)

    def parse(self, row: dict) -> tuple[dict | None, str]:
        """One row of be-great's parser output -> (typed row, "") or (None, why it is invalid)."""
        meta, out = self.meta, {}
        for c in meta.columns:
            v = row.get(self.col_enc[c])
            if v is None or (isinstance(v, float) and math.isnan(v)):
                if c not in self.nullable:
                    return None, "missing value"
                out[c] = np.nan
                continue
            v = str(v).strip()
            if v == PLACEHOLDER:
                return None, "column not generated"
            if c in meta.numerical:
                try:
                    x = float(v)
                except ValueError:
                    return None, "not a number"
                if not math.isfinite(x):
                    return None, "not a number"
                out[c] = x
            else:
                if v not in self.cat_dec[c]:
                    return None, "unknown category"
                out[c] = self.cat_dec[c][v]
        return out, ""
