"""Grammar-constrained decoding with xgrammar: a per-row matcher masks the logits before each token.

The grammar comes from the codec (`codecs.py`): a table row's exact JSON spelling (`table.row_grammar`), a
JSON schema, or a plain JSON object. Text and code records have none; they are decoded free.
"""
from __future__ import annotations

import torch


class SchemaConstraint:
    """Per-row grammar matchers driving a token bitmask; `mask` before sampling, `accept` after.
    `grammar` is EBNF text or an `xgrammar.Grammar`."""

    def __init__(self, grammar, tokenizer, vocab_size: int):
        import xgrammar as xgr

        self.xgr = xgr
        info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size)
        self.compiled = xgr.GrammarCompiler(info).compile_grammar(grammar)
        self.vocab_size = vocab_size

    def start(self, n: int):
        self.matchers = [self.xgr.GrammarMatcher(self.compiled) for _ in range(n)]
        self.bitmask = self.xgr.allocate_token_bitmask(n, self.vocab_size)

    def mask(self, logits: torch.Tensor, rows: list[int] | None = None) -> torch.Tensor:
        """`logits[j]` belongs to row `rows[j]` of those `start` was given (all of them when None): the
        decoding loop drops finished rows from its batch."""
        rows = range(len(self.matchers)) if rows is None else rows
        bitmask = self.bitmask[: len(rows)]
        for j, i in enumerate(rows):
            if self.matchers[i].is_terminated():
                bitmask[j] = -1               # finished row: all bits set, the loop pads it anyway
            else:
                self.matchers[i].fill_next_token_bitmask(bitmask, j)
        logits = logits.float().cpu()
        self.xgr.apply_token_bitmask_inplace(logits, bitmask)
        return logits

    def accept(self, tokens: list[int], active: list[bool], rows: list[int] | None = None) -> None:
        rows = range(len(self.matchers)) if rows is None else rows
        for i, t, a in zip(rows, tokens, active):
            m = self.matchers[i]
            if a and not m.is_terminated():
                m.accept_token(t)

    def jump(self, rows: list[int], active: list[bool]) -> list[list[int]]:
        """The tokens each active row's grammar forces next (accepted here), for jump-forward decoding."""
        out = []
        for i, a in zip(rows, active):
            m = self.matchers[i]
            toks = m.find_jump_forward_tokens() if a and not m.is_terminated() else []
            for t in toks:
                m.accept_token(t)
            out.append(list(toks))
        return out
