"""Reading a user's CSV as it comes: encoding (BOM, UTF-8, cp1252, latin-1), delimiter, decimal commas,
numbers with a few non-numeric markers ("?", "-") that mean "missing". Each guess is said in the notes
that go to the record and the screen, and `--sep` / `--encoding` override the first two.

pandas' own sniffing (`sep=None`) reads one line; here every candidate delimiter is tried on the first
rows with the csv module (so quoted fields are honoured) and the one that splits the header and the rows
into the same number of fields, more than one, wins.
"""
from __future__ import annotations

import codecs
import csv
import io
import re
from collections import Counter
from pathlib import Path

import pandas as pd

from harness.api import DataError

SEPARATORS = (",", ";", "\t", "|")
SNIFF_LINES = 200
SEP_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
# a mostly-numeric column whose other values are one or two short markers like these reads them as missing
MARKER_MAX_LEN = 3
MARKER_WORDS = {"na", "n/a", "nan", "none", "null", "missing", "unknown", "?", "-", "--", ".", "x"}
MIN_NUMERIC_SHARE = 0.5
DECIMAL_COMMA = re.compile(r"^[-+]?\d+(,\d+)?$")


def detect_encoding(raw: bytes) -> str:
    """A BOM says it; else the first of UTF-8 and cp1252 that decodes the whole file; else latin-1 (any bytes)."""
    if raw.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    for enc in ("utf-8", "cp1252"):
        try:
            raw.decode(enc)
            return enc
        except UnicodeDecodeError:
            pass
    return "latin-1"


def sniff_separator(text: str) -> str:
    """The candidate that splits the header like the rows into more than one field, most consistently."""
    lines = [ln for ln in text.splitlines()[: SNIFF_LINES + 1] if ln.strip()]
    best, best_key = ",", None
    for sep in SEPARATORS:
        try:
            rows = list(csv.reader(lines, delimiter=sep))
        except csv.Error:
            continue
        counts = [len(r) for r in rows]
        if not counts:
            continue
        mode, freq = Counter(counts).most_common(1)[0]
        if mode < 2:
            continue
        key = (counts[0] == mode, freq / len(counts), mode)
        if best_key is None or key > best_key:
            best, best_key = sep, key
    return best


def _numeric_fix(s: pd.Series, sep: str) -> tuple[pd.Series, str | None]:
    """An object column that is really numbers: stray spaces, decimal commas (`;`-files), or a marker for
    missing. Returns the column (numeric when fixed) and a note, or the column unchanged and None."""
    values = s.dropna().astype(str).str.strip()
    if values.empty:
        return s, None
    if sep != "," and values.str.match(DECIMAL_COMMA).all() and values.str.contains(",").any():
        return pd.to_numeric(s.astype(str).str.strip().str.replace(",", ".", regex=False), errors="coerce"), \
            "decimal commas read as numbers"
    nums = pd.to_numeric(values, errors="coerce")
    bad = values[nums.isna()]
    if bad.empty:
        return pd.to_numeric(s.astype(str).str.strip().where(s.notna()), errors="coerce"), None
    markers = sorted(bad.unique())
    if (nums.notna().mean() >= MIN_NUMERIC_SHARE and len(markers) <= 2
            and all(len(m) <= MARKER_MAX_LEN or m.lower() in MARKER_WORDS for m in markers)):
        fixed = pd.to_numeric(s.astype(str).str.strip().where(s.notna()), errors="coerce")
        shown = " and ".join(repr(m) for m in markers)
        return fixed, f"{shown} read as missing ({len(bad)} cell{'s' * (len(bad) != 1)}), the rest as numbers"
    return s, None


def read_table(path: Path, *, sep: str | None = None, encoding: str | None = None) -> tuple[pd.DataFrame, dict, list[str]]:
    """(table, what was detected, notes). Every failure to read is a DataError."""
    raw = path.read_bytes()
    enc = encoding or detect_encoding(raw)
    try:
        text = raw.decode(enc)
    except (UnicodeDecodeError, LookupError) as e:
        raise DataError(f"cannot decode {path} as {enc}: {e}" + ("" if encoding else "; pass --encoding")) from e
    if text.startswith("\ufeff"):          # a BOM the chosen codec kept (e.g. --encoding utf-8)
        text = text[1:]
    if not text.strip():
        raise DataError(f"{path} has no data rows")
    separator = sep if sep is not None else sniff_separator(text)
    if separator in ("\\t", "tab"):
        separator = "\t"
    try:
        df = pd.read_csv(io.StringIO(text), sep=separator, skipinitialspace=True)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, ValueError) as e:
        raise DataError(f"cannot read {path} as CSV (delimiter {SEP_NAMES.get(separator, repr(separator))}): "
                        f"{str(e).strip().splitlines()[0]}" + ("" if sep else "; pass --sep")) from e
    df.columns = [str(c).strip() for c in df.columns]
    notes = []
    if enc not in ("utf-8",) and not encoding:
        notes.append(f"read as {enc}" + (" (byte-order mark)" if enc in ("utf-8-sig", "utf-16") else
                                         " (not valid UTF-8)"))
    if separator != "," and not sep:
        notes.append(f"delimiter detected: {SEP_NAMES.get(separator, repr(separator))}")
    fixed = {}
    for c in df.columns:
        if df[c].dtype == object:
            df[c], note = _numeric_fix(df[c], separator)
            if note:
                fixed[c] = note
                notes.append(f"column {c!r}: {note}")
    return df, {"sep": separator, "encoding": enc, "numbers_fixed": fixed}, notes
