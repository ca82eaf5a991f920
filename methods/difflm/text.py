"""A table row as text and back: the paper's format is a JSON object with keys in column order.

`row_to_text` writes what DiffLM's data prep writes (json.dumps, default separators, integers as
integers, floats as Python's shortest repr). `parse_record` is the strict inverse used to filter
generations: it returns a typed row, or the reason it is invalid (the paper's "parse -> filter").
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass

import pandas as pd

from harness.api import TableMetadata


def _plain(value, numeric: bool):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if numeric:
        v = float(value)
        return int(v) if v.is_integer() and abs(v) < 2**53 else v
    return str(value)


def row_to_text(row: dict, meta: TableMetadata) -> str:
    obj = {c: _plain(row[c], c in meta.numerical) for c in meta.columns}
    return json.dumps(obj, ensure_ascii=False)


def frame_to_texts(df: pd.DataFrame, meta: TableMetadata) -> list[str]:
    return [row_to_text(r, meta) for r in df[meta.columns].to_dict(orient="records")]


@dataclass
class Parsed:
    row: dict | None
    reason: str | None = None     # None when valid

    @property
    def ok(self) -> bool:
        return self.reason is None


def parse_record(text: str, meta: TableMetadata, *, allow_missing_values: bool = False) -> Parsed:
    """Strict parse: a JSON object with exactly the table's keys, numbers that are numbers, known categories."""
    text = text.strip()
    end = text.rfind("}")
    if not text.startswith("{") or end < 0:
        return Parsed(None, "not a JSON object")
    try:
        obj = json.loads(text[: end + 1])
    except json.JSONDecodeError as e:
        return Parsed(None, f"invalid JSON: {e.msg}")
    if not isinstance(obj, dict):
        return Parsed(None, "not a JSON object")
    missing = [c for c in meta.columns if c not in obj]
    extra = [k for k in obj if k not in meta.columns]
    if missing:
        return Parsed(None, f"missing key {missing[0]!r}")
    if extra:
        return Parsed(None, f"extra key {extra[0]!r}")
    row = {}
    for c in meta.columns:
        v = obj[c]
        if v is None:
            if not allow_missing_values:
                return Parsed(None, f"null value for {c!r}")
            row[c] = None
        elif c in meta.numerical:
            if isinstance(v, bool):
                return Parsed(None, f"bad number for {c!r}: {v!r}")
            try:
                x = float(v)
            except (TypeError, ValueError):
                return Parsed(None, f"bad number for {c!r}: {v!r}")
            if math.isnan(x) or math.isinf(x):
                return Parsed(None, f"bad number for {c!r}: {v!r}")
            row[c] = x
        else:
            s = _category_string(v)
            if s not in meta.categories[c]:
                return Parsed(None, f"unknown category for {c!r}: {s!r}")
            row[c] = s
    return Parsed(row)


def _category_string(v) -> str:
    """Same canonical spelling the tasks use: JSON true -> 'True', 1.0 -> '1'."""
    if isinstance(v, bool):
        return "True" if v else "False"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    s = str(v).strip()
    return {"true": "True", "false": "False", "TRUE": "True", "FALSE": "False"}.get(s, s)
