"""Schema-constrained decoding with xgrammar: keys and punctuation forced, categorical values restricted to
the training vocabulary, numbers to a numeric pattern shaped like each column's training values (sign,
digits, fraction, exponent). Every finished row then parses, and every row is bounded in length.

The grammar spells a row exactly as `text.row_to_text` does, so constrained and free decoding see
the same format the VAE was trained on.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import torch

from harness.api import TableMetadata


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


def key_literal(i: int, column: str) -> str:
    """The text before column i's value, exactly as `text.row_to_text` writes it."""
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


def number_formats(texts: list[str], meta: TableMetadata) -> dict[str, NumberFormat]:
    """Per numerical column, the shape of its values as `text.row_to_text` wrote them in training."""
    seen = {c: [] for c in meta.numerical}
    for t in texts:
        obj = json.loads(t)
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


def row_max_bytes(meta: TableMetadata, max_digits: int = 15, formats: dict[str, NumberFormat] | None = None) -> int:
    """The longest row the grammar admits, in UTF-8 bytes. Every token is at least one byte, so this
    bounds the tokens too: a decoder off its training distribution (difflm-nodiff) may spell a category
    letter by letter, and a token limit below this bound would cut such a row before its closing brace."""
    n = 1                                                           # "}"
    for i, c in enumerate(meta.columns):
        n += len(key_literal(i, c).encode())
        if c in meta.numerical:
            f = column_format(formats, c, max_digits)
            n += f.signed + f.int_digits + (1 + f.frac_digits if f.frac_digits else 0) + (4 if f.exponent else 0)
        else:
            n += max(len(json.dumps(v, ensure_ascii=False).encode()) for v in meta.categories[c])
    return n


def _lit(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def row_grammar(meta: TableMetadata, max_digits: int = 15, formats: dict[str, NumberFormat] | None = None) -> str:
    parts, rules = [], []
    for i, c in enumerate(meta.columns):
        parts.append(_lit(key_literal(i, c)))
        if c in meta.numerical:
            rules.append(number_rule(max_digits, f"num{i}", column_format(formats, c, max_digits)))
            parts.append(f"num{i}")
        else:
            alts = " | ".join(_lit(json.dumps(v, ensure_ascii=False)) for v in meta.categories[c])
            rules.append(f"cat{i} ::= {alts}")
            parts.append(f"cat{i}")
    return "\n".join([f"root ::= {' '.join(parts)} {_lit('}')}"] + rules)


class SchemaConstraint:
    """Per-row grammar matchers driving a token bitmask; `mask` before sampling, `accept` after."""

    def __init__(self, meta: TableMetadata, tokenizer, vocab_size: int, max_digits: int = 15,
                 formats: dict[str, NumberFormat] | None = None):
        import xgrammar as xgr

        self.xgr = xgr
        info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size)
        self.compiled = xgr.GrammarCompiler(info).compile_grammar(row_grammar(meta, max_digits, formats))
        self.vocab_size = vocab_size

    def start(self, n: int):
        self.matchers = [self.xgr.GrammarMatcher(self.compiled) for _ in range(n)]
        self.bitmask = self.xgr.allocate_token_bitmask(n, self.vocab_size)

    def mask(self, logits: torch.Tensor) -> torch.Tensor:
        for i, m in enumerate(self.matchers):
            if m.is_terminated():
                self.bitmask[i] = -1          # finished row: all bits set, the loop pads it anyway
            else:
                m.fill_next_token_bitmask(self.bitmask, i)
        logits = logits.float().cpu()
        self.xgr.apply_token_bitmask_inplace(logits, self.bitmask)
        return logits

    def accept(self, tokens: list[int], active: list[bool]) -> None:
        for m, t, a in zip(self.matchers, tokens, active):
            if a and not m.is_terminated():
                m.accept_token(t)
