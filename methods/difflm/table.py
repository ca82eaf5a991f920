"""A table row as text and back, and the grammar of such texts (DiffLM's table codec).

Row formats (`ROW_FORMATS`): "json-object", the paper's — a JSON object with keys in column order, as
DiffLM's data prep writes it (json.dumps, default separators, integers as integers, floats as Python's
shortest repr); "json-array" — the same values as a JSON array in column order, without the keys (about 2.3x
fewer SmolLM2 tokens on adult, so 2.3x fewer positions to train and decode, and a key can no longer go
missing).
`parse_record` is the strict inverse used to filter generations: it returns a typed row, or the reason it is
invalid (the paper's "parse -> filter").

`row_grammar` spells a row exactly as `row_to_text` does, for schema-constrained decoding: keys and
punctuation forced, categorical values restricted to the training vocabulary, numbers to a pattern shaped
like each column's training values (sign, digits, fraction, exponent). Every finished row then parses, and
every row is bounded in length (`row_max_bytes`).
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


ROW_FORMATS = ("json-object", "json-array")
CLOSE = {"json-object": "}", "json-array": "]"}


def check_format(fmt: str) -> str:
    if fmt not in ROW_FORMATS:
        raise ValueError(f"difflm: row_format must be one of {ROW_FORMATS}, got {fmt!r}")
    return fmt


def row_to_text(row: dict, meta: TableMetadata, fmt: str = "json-object") -> str:
    values = [_plain(row[c], c in meta.numerical) for c in meta.columns]
    obj = dict(zip(meta.columns, values)) if check_format(fmt) == "json-object" else values
    return json.dumps(obj, ensure_ascii=False)


def frame_to_texts(df: pd.DataFrame, meta: TableMetadata, fmt: str = "json-object") -> list[str]:
    return [row_to_text(r, meta, fmt) for r in df[meta.columns].to_dict(orient="records")]


def text_to_values(text: str, meta: TableMetadata, fmt: str = "json-object") -> dict:
    """A training text's values by column (the text is one `row_to_text` wrote)."""
    obj = json.loads(text)
    return obj if fmt == "json-object" else dict(zip(meta.columns, obj))


@dataclass
class Parsed:
    """A decoded text read back: the record (a table row's dict, a str, a JSON dict), or why it is invalid."""

    record: object = None
    reason: str | None = None     # None when valid

    @property
    def ok(self) -> bool:
        return self.reason is None


def parse_record(text: str, meta: TableMetadata, fmt: str = "json-object") -> Parsed:
    """Strict parse: a JSON object with exactly the table's keys (or an array with one value per column),
    numbers that are numbers, known categories."""
    text, is_object = text.strip(), check_format(fmt) == "json-object"
    not_json = "not a JSON object" if is_object else "not a JSON array"
    end = text.rfind(CLOSE[fmt])
    if not text.startswith("{" if is_object else "[") or end < 0:
        return Parsed(None, not_json)
    try:
        obj = json.loads(text[: end + 1])
    except json.JSONDecodeError as e:
        return Parsed(None, f"invalid JSON: {e.msg}")
    if not isinstance(obj, dict if is_object else list):
        return Parsed(None, not_json)
    if not is_object:
        if len(obj) != len(meta.columns):
            return Parsed(None, f"wrong number of values: {len(obj)} for {len(meta.columns)} columns")
        obj = dict(zip(meta.columns, obj))
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
            return Parsed(None, f"null value for {c!r}")
        if c in meta.numerical:
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


@dataclass(frozen=True)
class NumberFormat:
    signed: bool
    int_digits: int
    frac_digits: int
    exponent: bool

    def capped(self, max_digits: int) -> "NumberFormat":
        """The shape the grammar allows: at least one and at most `max_digits` integer digits, at most
        `max_digits` fraction digits. `number_rule` and `row_max_bytes` both read this one answer."""
        return NumberFormat(self.signed, max(1, min(self.int_digits, max_digits)),
                            min(self.frac_digits, max_digits), self.exponent)


def column_format(formats: dict[str, NumberFormat] | None, column: str, max_digits: int) -> NumberFormat:
    """A column's allowed number shape; without a measured format, any number of up to `max_digits`."""
    fmt = (formats or {}).get(column) or NumberFormat(True, max_digits, max_digits, True)
    return fmt.capped(max_digits)


def key_literal(i: int, column: str, fmt: str = "json-object") -> str:
    """The text before column i's value, exactly as `row_to_text` writes it."""
    if fmt == "json-array":
        return "[" if i == 0 else ", "
    return ("{" if i == 0 else ", ") + json.dumps(column, ensure_ascii=False) + ": "


def number_rule(max_digits: int = 15, name: str = "num", fmt: NumberFormat | None = None) -> str:
    """JSON numbers (no leading zeros) with at most `max_digits` integer and fraction digits and a
    2-digit exponent, so every match is finite. With a column's `fmt` (what its training values look
    like), the rule allows only that: a sign if a value was negative, as many integer/fraction digits as
    the longest value had, an exponent if one was written. Without this an integer column such as
    adult's `age` admits 7+7 digits and an exponent, and a decoder fed an unusual z (difflm-nodiff)
    spends its token budget on long numbers and never closes the row."""
    f = (fmt or NumberFormat(True, max_digits, max_digits, True)).capped(max_digits)
    i, d = f.int_digits, f.frac_digits
    sign = '"-"? ' if f.signed else ""
    more = f" [0-9]{{0,{i - 1}}}" if i > 1 else ""
    rule = f'{name} ::= {sign}("0" | [1-9]{more})'
    if d:
        rule += f' ("." [0-9]{{1,{d}}})?'
    if f.exponent:
        rule += ' ([eE] [-+]? [0-9]{1,2})?'
    return rule


def number_formats(texts: list[str], meta: TableMetadata, fmt: str = "json-object") -> dict[str, NumberFormat]:
    """Per numerical column, the shape of its values as `row_to_text` wrote them in training."""
    seen = {c: [] for c in meta.numerical}
    for t in texts:
        obj = text_to_values(t, meta, fmt)
        for c in meta.numerical:
            if obj.get(c) is not None:
                seen[c].append(json.dumps(obj[c]))
    out = {}
    for c, vals in seen.items():
        mant = [v.lstrip("-").lower().split("e")[0] for v in vals] or ["0"]
        out[c] = NumberFormat(signed=any(v.startswith("-") for v in vals),
                              int_digits=max(len(m.split(".")[0]) for m in mant),
                              frac_digits=max((len(m.split(".")[1]) if "." in m else 0) for m in mant),
                              exponent=any("e" in v.lower() for v in vals))
    return out


def row_max_bytes(meta: TableMetadata, max_digits: int = 15, formats: dict[str, NumberFormat] | None = None,
                  fmt: str = "json-object") -> int:
    """The longest row the grammar admits, in UTF-8 bytes. Every token is at least one byte, so this
    bounds the tokens too: a decoder off its training distribution (difflm-nodiff) may spell a category
    letter by letter, and a token limit below this bound would cut such a row before its closing brace."""
    n = 1                                                           # "}" or "]"
    for i, c in enumerate(meta.columns):
        n += len(key_literal(i, c, fmt).encode())
        if c in meta.numerical:
            f = column_format(formats, c, max_digits)
            n += f.signed + f.int_digits + (1 + f.frac_digits if f.frac_digits else 0) + (4 if f.exponent else 0)
        else:
            n += max(len(json.dumps(v, ensure_ascii=False).encode()) for v in meta.categories[c])
    return n


def _lit(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def row_grammar(meta: TableMetadata, max_digits: int = 15, formats: dict[str, NumberFormat] | None = None,
                fmt: str = "json-object") -> str:
    parts, rules = [], []
    for i, c in enumerate(meta.columns):
        parts.append(_lit(key_literal(i, c, fmt)))
        if c in meta.numerical:
            rules.append(number_rule(max_digits, f"num{i}", column_format(formats, c, max_digits)))
            parts.append(f"num{i}")
        else:
            alts = " | ".join(_lit(json.dumps(v, ensure_ascii=False)) for v in meta.categories[c])
            rules.append(f"cat{i} ::= {alts}")
            parts.append(f"cat{i}")
    return "\n".join([f"root ::= {' '.join(parts)} {_lit(CLOSE[fmt])}"] + rules)
