"""Column roles of a user's table, decided before any model sees it, each said in a note for the record.

The rules follow SDV's metadata detection (`Metadata.detect_from_dataframe`: an `id` sdtype for key-like
columns, `datetime` for columns that parse as dates, high-cardinality text kept apart from categoricals);
SDV itself is not a dependency, so they are written out here:
- identifier: a column named like one ("id", "user_id", "CustomerID", "uuid", "index") whose values are all
  distinct, or a text column with (nearly) one value per row → dropped: no generator can learn it, and as a
  categorical it would get one level per row (the one-hot DCR took 40 s instead of 2 s on such a column);
- datetime: text that parses as dates → seconds since 1970-01-01 (UTC), a numerical column;
- constant: one value → kept, noted (it carries no information);
- high cardinality: a categorical with more than HIGH_CARDINALITY levels → kept, warned (generators one-hot
  it; the DCR compares its codes directly, so scoring stays fast).
`--categorical`, `--numerical` and `--drop` override each guess; the target is never dropped.
"""
from __future__ import annotations

import re
import warnings

import pandas as pd

from harness.api import DataError

ID_NAME = re.compile(r"(^|[_\s.\-])(id|uuid|guid|index)$|^(id|uuid|guid|index|row_?id|key)$|[a-z0-9]I[dD]$",
                     re.IGNORECASE)
DATE_LIKE = re.compile(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$"
                       r"|^\d{1,2}[- ][A-Za-z]{3,9}[- ]\d{2,4}$|^[A-Za-z]{3,9} \d{1,2},? \d{4}$")
MIN_ROWS_FOR_UNIQUE = 20        # below this, "every value distinct" says nothing
NEARLY_UNIQUE = 0.9             # a text column with more distinct values than this share of its rows
HIGH_CARDINALITY = 1000
DATE_SHARE = 0.95               # share of a sample of values that must look like and parse as dates


def _looks_like_id(name: str, s: pd.Series) -> str | None:
    values = s.dropna()
    if len(values) < MIN_ROWS_FOR_UNIQUE:
        return None
    distinct = values.nunique()
    named = bool(ID_NAME.search(str(name).strip()))
    if named and distinct == len(s):
        return "an identifier (named like one, every value distinct)"
    if s.dtype == object and distinct == len(values):
        return "an identifier (text, every value distinct)"
    if s.dtype == object and distinct > NEARLY_UNIQUE * len(values):
        return f"identifier-like or free text ({distinct:,} distinct values in {len(values):,} rows)"
    return None


def _as_datetime(s: pd.Series) -> pd.Series | None:
    """Seconds since the epoch (float, NaN where missing) if the text column holds dates, else None."""
    values = s.dropna().astype(str).str.strip()
    if values.empty:
        return None
    probe = values.sample(n=min(200, len(values)), random_state=0)
    if probe.str.match(DATE_LIKE).mean() < DATE_SHARE:
        return None
    text = s.astype(str).str.strip().where(s.notna())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")      # pandas warns when it guesses a format or parses element by element
        # one format for the whole column, month or day first (01/02/2020), whichever reads more values
        tries = [pd.to_datetime(text, errors="coerce", utc=True, dayfirst=d) for d in (False, True)]
        parsed = max(tries, key=lambda t: t.notna().sum())
        if parsed.notna().sum() < DATE_SHARE * len(values):
            parsed = pd.to_datetime(text, errors="coerce", utc=True, format="mixed")
    if parsed.notna().sum() < DATE_SHARE * len(values):
        return None
    seconds = (parsed - pd.Timestamp("1970-01-01", tz="UTC")) / pd.Timedelta(seconds=1)
    return seconds.astype(float)


def assign_roles(df: pd.DataFrame, target: str, *, categorical: list[str], numerical: list[str],
                 drop: list[str]) -> tuple[pd.DataFrame, dict, list[str]]:
    """(table with dropped/converted columns, {"dropped": {col: why}, "datetime": [...], "constant": [...],
    "high_cardinality": {col: levels}}, notes). Overrides are checked here: every DataError is one line."""
    for flag, cols in (("--categorical", categorical), ("--numerical", numerical), ("--drop", drop)):
        unknown = [c for c in cols if c not in df.columns]
        if unknown:
            raise DataError(f"{flag}: column(s) not in the file: {', '.join(map(repr, unknown))} "
                            f"(columns: {', '.join(map(str, df.columns))})")
    if target in drop:
        raise DataError(f"--drop: {target!r} is the target")
    both = sorted(set(categorical) & set(numerical))
    if both:
        raise DataError(f"column(s) given both as --categorical and --numerical: {', '.join(both)}")
    roles: dict = {"dropped": {c: "--drop" for c in drop}, "datetime": [], "constant": [], "high_cardinality": {}}
    notes = [f"column {c!r} dropped (--drop)" for c in drop]
    df = df.drop(columns=list(drop))
    for c in list(df.columns):
        # dates first: a timestamp column has one distinct value per row too, and is no identifier
        seconds = _as_datetime(df[c]) if df[c].dtype == object and c not in categorical else None
        if seconds is not None:
            df[c] = seconds
            roles["datetime"].append(c)
            notes.append(f"column {c!r}: dates, converted to seconds since 1970-01-01 UTC (numerical; "
                         f"--drop {c} drops it)")
        elif c in numerical and df[c].dtype == object:
            bad = df[c].dropna().astype(str)
            bad = bad[pd.to_numeric(bad, errors="coerce").isna()]
            raise DataError(f"--numerical {c}: {len(bad):,} value(s) are not numbers, e.g. "
                            f"{', '.join(map(repr, bad.unique()[:3]))}")
        elif c != target and c not in categorical and c not in numerical:
            why = _looks_like_id(c, df[c])
            if why:
                df = df.drop(columns=[c])
                roles["dropped"][c] = why
                notes.append(f"column {c!r} dropped: {why} (--categorical {c} keeps it)")
                continue
        distinct = df[c].nunique(dropna=True)
        if distinct == 1 and c != target:
            roles["constant"].append(c)
            notes.append(f"column {c!r} is constant ({df[c].dropna().iloc[0]!r}): kept, it carries no information")
    return df, roles, notes


def note_high_cardinality(df: pd.DataFrame, categorical, roles: dict, notes: list[str]) -> None:
    for c in categorical:
        levels = df[c].nunique(dropna=True)
        if levels > HIGH_CARDINALITY:
            roles["high_cardinality"][c] = int(levels)
            notes.append(f"column {c!r} is categorical with {levels:,} levels: generators one-hot encode it "
                         f"(slow, memory-hungry); --drop {c} or --numerical {c} if that is not what it is")
