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
