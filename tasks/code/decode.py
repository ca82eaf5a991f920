"""Batched completion of prompts with a KV cache, where a row leaves the batch as soon as it ends.

`model.generate` keeps every finished row in the batch until the last one stops, so a batch of 16 HumanEval
completions costs 16 x the longest (often the full token cap: a base model that never writes a stop sequence).
Here a row leaves once its generated text holds a stop sequence (searched in the generated text only, as
bigcode does) or it emits an end-of-sequence token, and its KV-cache rows are dropped: a batch costs about
the sum of its rows' lengths. Written by hand because `generate` has no such option; greedy rows match
`generate`'s (tests/test_code_task.py). Sampling is temperature + top-p (nucleus), as `generate` does it.
"""
from __future__ import annotations

import inspect

import torch

from harness.api.models import cache_kwargs, output_cache


def _end_ids(model, tok) -> set[int]:
    ids = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids = set(ids if isinstance(ids, (list, tuple)) else [ids] if ids is not None else [])
    return ids | ({tok.eos_token_id} if tok.eos_token_id is not None else set())


def _pick(logits: torch.Tensor, temperature: float, top_p: float, generator: torch.Generator | None) -> torch.Tensor:
    if temperature <= 0:
        return logits.argmax(-1)
    probs = torch.softmax(logits / temperature, dim=-1)
    if top_p < 1.0:
        sorted_p, order = probs.sort(-1, descending=True)
        drop = sorted_p.cumsum(-1) - sorted_p > top_p          # keep the smallest set whose mass reaches top_p
        sorted_p = sorted_p.masked_fill(drop, 0.0)
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_p)
    return torch.multinomial(probs.cpu(), 1, generator=generator).squeeze(1).to(logits.device)


@torch.no_grad()
def complete(model, tok, prompts: list[str], stops: tuple[str, ...], *, max_new_tokens: int,
             temperature: float = 0.0, top_p: float = 1.0, generator: torch.Generator | None = None) -> list[str]:
    """One completion per prompt: the generated text up to (not cut at) its first stop, or to the token cap."""
    device = next(model.parameters()).device
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    enc = tok(prompts, return_tensors="pt", padding=True).to(device)
    attn = enc["attention_mask"]
    pos = (attn.cumsum(-1) - 1).clamp(min=0)
    extra = {"logits_to_keep": 1} if "logits_to_keep" in inspect.signature(model.forward).parameters else {}
    out = model(input_ids=enc["input_ids"], attention_mask=attn, position_ids=pos, use_cache=True, **extra)
    cache, logits, nxt_pos = output_cache(out), out.logits[:, -1].float(), pos[:, -1:] + 1
    ends = _end_ids(model, tok)
    alive = list(range(len(prompts)))                  # the prompt index of each row still in the batch
    tokens: list[list[int]] = [[] for _ in prompts]
    for step in range(max_new_tokens):
        nxt = _pick(logits, temperature, top_p, generator)
        keep = []
        for b, (row, t) in enumerate(zip(alive, nxt.tolist())):
            if t in ends:
                continue
            tokens[row].append(t)
            text = tok.decode(tokens[row], skip_special_tokens=True)
            if not any(s in text for s in stops):
                keep.append(b)
        if not keep or step == max_new_tokens - 1:
            break
        if len(keep) < len(alive):
            idx = torch.tensor(keep, device=device)
            cache.batch_select_indices(idx)
            attn, nxt, nxt_pos = attn[idx], nxt[idx], nxt_pos[idx]
            alive = [alive[b] for b in keep]
        attn = torch.cat([attn, attn.new_ones((len(alive), 1))], 1)
        out = model(**cache_kwargs(model, {"input_ids": nxt[:, None], "attention_mask": attn, "position_ids": nxt_pos,
                                           "past_key_values": cache}), use_cache=True)
        cache, logits, nxt_pos = output_cache(out), out.logits[:, -1].float(), nxt_pos + 1
    return [tok.decode(t, skip_special_tokens=True) for t in tokens]
