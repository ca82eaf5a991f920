"""DiffLM's batched decoder: [virtual tokens][BOS], then tokens with a KV cache until every row ends.

Rows that ended leave the batch (their KV-cache rows are dropped) once an eighth of it has ended, so a batch
of uneven records (tools, code) costs about the sum of its rows' lengths, not n x the longest.

Jump-forward (constrained decoding only): after each sampled token, the tokens the grammar forces next (a JSON
row's quotes, separators, the rest of a category once its prefix is unique; xgrammar's
`find_jump_forward_tokens`) are fed in the same forward pass instead of one step each with a mask and a
softmax over the vocabulary. Rows forced different numbers of tokens are padded inside the step; the padding
is masked out and every row's positions count its real tokens only, so a row sees the positions it would
see alone.
"""
from __future__ import annotations

import torch

from harness.api.models import cache_kwargs, output_cache


def right_pad(rows: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, mask) of token rows right-padded to the longest; mask is 1 on real tokens."""
    width = max(map(len, rows))
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, :len(row)] = torch.tensor(row)
        mask[i, :len(row)] = 1
    return ids, mask


@torch.no_grad()
def generate(vae, z, *, max_new_tokens: int = 256, temperature: float = 0.5, generator: torch.Generator | None = None,
             constraint=None, jump_forward: bool = False) -> list[str]:
    tok, llm, dev = vae.llm_tok, vae.llm, vae.device
    n = len(z)
    embed = llm.get_input_embeddings()
    start = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
    ids = torch.full((n, 1), start, dtype=torch.long, device=dev)
    feed = vae.injector.prepare(z, embed(ids), torch.ones((n, 1), dtype=torch.long, device=dev))
    add = vae.injector.token_offset(z)
    out = llm(**cache_kwargs(llm, feed), use_cache=True)
    cache, attn = output_cache(out), feed["attention_mask"]
    logits = out.logits[:, -1].float()
    jump = jump_forward and constraint is not None
    alive = torch.arange(n)                                     # original row of each batch position
    done = torch.zeros(n, dtype=torch.bool, device=dev)
    out_ids = torch.full((n, max_new_tokens), tok.pad_token_id, dtype=torch.long)
    length = [0] * n                                            # tokens written, per original row
    if constraint is not None:
        constraint.start(n)
    while True:
        rows = alive.tolist()
        if constraint is not None:
            logits = constraint.mask(logits, rows).to(dev)
        if temperature > 0:
            probs = torch.softmax(logits / temperature, dim=-1)
            nxt = torch.multinomial(probs.cpu(), 1, generator=generator).to(dev).squeeze(1)
        else:
            nxt = logits.argmax(-1)
        nxt = torch.where(done, torch.full_like(nxt, tok.pad_token_id), nxt)
        active = (~done).tolist()
        if constraint is not None:
            constraint.accept(nxt.tolist(), active, rows)
        forced = constraint.jump(rows, active) if jump else [[] for _ in rows]
        steps = []                                              # the tokens each batch row feeds next
        for j, (r, t) in enumerate(zip(rows, nxt.tolist())):
            if not active[j]:
                steps.append([t])
                continue
            feed_row = ([t] + forced[j])[: max_new_tokens - length[r]]
            out_ids[r, length[r]:length[r] + len(feed_row)] = torch.tensor(feed_row)
            length[r] += len(feed_row)
            steps.append(feed_row)
        done |= nxt == tok.eos_token_id
        done |= torch.tensor([length[r] >= max_new_tokens for r in rows], device=dev)
        if done.all():
            break
        if int(done.sum()) >= max(1, len(done) // 8) and hasattr(cache, "batch_select_indices"):
            keep = (~done).nonzero().squeeze(1)
            cache.batch_select_indices(keep)
            attn, done, alive = attn[keep], done[keep], alive[keep.cpu()]
            steps = [steps[i] for i in keep.tolist()]
            add = add[keep] if add is not None else None
        step_ids, step_mask = right_pad(steps, tok.pad_token_id)
        step_ids, step_mask = step_ids.to(dev), step_mask.to(dev) * (~done).long()[:, None]
        e = embed(step_ids)
        if add is not None:
            e = e + add.to(e.dtype)
        args = {"inputs_embeds": e, "past_key_values": cache}
        if jump:        # positions count real tokens only (padding inside a step leaves holes in the mask)
            args["position_ids"] = attn.sum(1, keepdim=True) + (step_mask.cumsum(1) - 1).clamp(min=0)
        attn = torch.cat([attn, step_mask], 1)
        args["attention_mask"] = attn
        out = llm(**cache_kwargs(llm, args), use_cache=True)
        last = torch.tensor([len(s) - 1 for s in steps], device=dev)
        cache, logits = output_cache(out), out.logits[torch.arange(len(steps), device=dev), last].float()
    texts = []
    for row in out_ids.tolist():
        if tok.eos_token_id in row:
            row = row[: row.index(tok.eos_token_id)]
        texts.append(tok.decode(row, skip_special_tokens=True).strip())
    return texts
