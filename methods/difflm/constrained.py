"""Schema-constrained decoding with xgrammar: keys and punctuation forced, categorical values restricted to
the training vocabulary, numbers to a numeric pattern. Every finished row then parses.

The grammar spells a row exactly as `text.row_to_text` does, so constrained and free decoding see
the same format the VAE was trained on.
"""
from __future__ import annotations

import json

import torch

from harness.api import TableMetadata



def number_rule(max_digits: int = 15) -> str:
    """JSON numbers (no leading zeros) with at most `max_digits` integer and fraction digits and a
    2-digit exponent, so every match is finite."""
    return (f'num ::= "-"? ("0" | [1-9] [0-9]{{0,{max_digits - 1}}}) ("." [0-9]{{1,{max_digits}}})? '
            '([eE] [-+]? [0-9]{1,2})?')


def _lit(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def row_grammar(meta: TableMetadata, max_digits: int = 15) -> str:
    parts, rules = [], [number_rule(max_digits)]
    for i, c in enumerate(meta.columns):
        sep = "{" if i == 0 else ", "
        parts.append(_lit(sep + json.dumps(c, ensure_ascii=False) + ": "))
        if c in meta.numerical:
            parts.append("num")
        else:
            alts = " | ".join(_lit(json.dumps(v, ensure_ascii=False)) for v in meta.categories[c])
            rules.append(f"cat{i} ::= {alts}")
            parts.append(f"cat{i}")
    return "\n".join([f"root ::= {' '.join(parts)} {_lit('}')}"] + rules)


class SchemaConstraint:
    """Per-row grammar matchers driving a token bitmask; `mask` before sampling, `accept` after."""

    def __init__(self, meta: TableMetadata, tokenizer, vocab_size: int, max_digits: int = 15):
        import xgrammar as xgr

        self.xgr = xgr
        info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size)
        self.compiled = xgr.GrammarCompiler(info).compile_grammar(row_grammar(meta, max_digits))
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
