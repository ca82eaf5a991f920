"""The text β-VAE: a trainable encoder gives q(z|x); a frozen causal LLM reconstructs x from z.

Only `self.trainable` (encoder, μ/log σ² head, injector) has parameters that learn and get saved;
the LLM is held outside the module tree, so it is neither in `state_dict()` nor in the optimiser.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from harness.models import cache_kwargs, output_cache
from methods.difflm.injectors import build_injector


class TextVAE(nn.Module):
    def __init__(self, encoder, enc_tok, enc_hidden: int, llm, llm_tok, *, d_z: int, injector: str, k: int,
                 n_prefix: int, pooling: str = "mean", max_len: int = 256, projector: str = "mlp"):
        super().__init__()
        emb = llm.get_input_embeddings().weight
        embed_rms = float(emb.detach().float().pow(2).mean().sqrt())
        self.trainable = nn.ModuleDict({
            "encoder": encoder,
            "head": nn.Linear(enc_hidden, 2 * d_z, bias=projector != "linear"),   # official: bias-free
            "injector": build_injector(injector, d_z, llm.config, k=k, n_prefix=n_prefix, embed_rms=embed_rms,
                                       projector=projector),
        })
        object.__setattr__(self, "llm", llm)        # frozen: not a registered submodule
        self.enc_tok, self.llm_tok = enc_tok, llm_tok
        self.d_z, self.pooling, self.max_len = d_z, pooling, max_len

    @property
    def injector(self):
        return self.trainable["injector"]

    @property
    def device(self):
        return self.trainable["head"].weight.device

    def to(self, *args, **kwargs):
        self.llm.to(*args, **kwargs)
        return super().to(*args, **kwargs)

    # --- encoder -------------------------------------------------------------------------------
    def encode(self, texts: list[str]):
        batch = self.enc_tok(texts, padding=True, truncation=True, max_length=512, return_tensors="pt").to(self.device)
        out = self.trainable["encoder"](**batch)
        if self.pooling == "cls":
            pooled = out.pooler_output if getattr(out, "pooler_output", None) is not None else out.last_hidden_state[:, 0]
        else:
            m = batch["attention_mask"].unsqueeze(-1).to(out.last_hidden_state.dtype)
            pooled = (out.last_hidden_state * m).sum(1) / m.sum(1).clamp(min=1)
        mu, logvar = self.trainable["head"](pooled).chunk(2, dim=-1)
        return mu, logvar.clamp(-20, 10)

    # --- decoder -------------------------------------------------------------------------------
    def token_batch(self, texts: list[str]):
        """BOS + text + EOS, right-padded; labels are -100 on padding."""
        tok = self.llm_tok
        bos = [tok.bos_token_id] if tok.bos_token_id is not None else []
        ids = [bos + tok(t, add_special_tokens=False).input_ids[: self.max_len] + [tok.eos_token_id] for t in texts]
        width = max(map(len, ids))
        input_ids = torch.full((len(ids), width), tok.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(ids), width), dtype=torch.long)
        for i, row in enumerate(ids):
            input_ids[i, : len(row)] = torch.tensor(row)
            mask[i, : len(row)] = 1
        labels = input_ids.masked_fill(mask == 0, -100)
        return input_ids.to(self.device), mask.to(self.device), labels.to(self.device)

    def reconstruction_loss(self, z, texts: list[str]):
        """Mean token cross-entropy of the text given z (soft/virtual positions are not targets)."""
        input_ids, mask, labels = self.token_batch(texts)
        embeds = self.llm.get_input_embeddings()(input_ids)
        feed = self.injector.prepare(z, embeds, mask)
        logits = self.llm(**cache_kwargs(self.llm, feed), use_cache=False).logits
        n_soft = feed["inputs_embeds"].shape[1] - input_ids.shape[1]
        logits = logits[:, n_soft:]                     # positions of the real tokens
        return F.cross_entropy(logits[:, :-1].float().reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1),
                               ignore_index=-100)

    def forward(self, texts: list[str], beta: float, generator: torch.Generator | None = None):
        mu, logvar = self.encode(texts)
        eps = torch.randn(mu.shape, generator=generator, device="cpu").to(mu.device)
        z = mu + (0.5 * logvar).exp() * eps
        rec = self.reconstruction_loss(z, texts)
        kl = 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).mean()   # mean over dims, as the official code
        return rec + beta * kl, rec.detach(), kl.detach()

    # --- generation ----------------------------------------------------------------------------
    @torch.no_grad()
    def generate(self, z, *, max_new_tokens: int = 256, temperature: float = 0.5,
                 generator: torch.Generator | None = None, constraint=None) -> list[str]:
        """Batched sampling with a KV cache: [virtual tokens][BOS] then one token per step."""
        tok, llm = self.llm_tok, self.llm
        n = len(z)
        embed = llm.get_input_embeddings()
        start = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
        ids = torch.full((n, 1), start, dtype=torch.long, device=self.device)
        mask = torch.ones((n, 1), dtype=torch.long, device=self.device)
        feed = self.injector.prepare(z, embed(ids), mask)
        add = self.injector.token_offset(z)
        out = llm(**cache_kwargs(llm, feed), use_cache=True)
        cache, attn = output_cache(out), feed["attention_mask"]
        logits = out.logits[:, -1].float()
        # Rows that ended leave the batch (their KV cache rows are dropped) once an eighth of it has ended, so a
        # batch of uneven records (tools, code) costs about the sum of its rows' lengths, not n x the longest.
        alive = torch.arange(n)                                     # original row of each batch position
        done = torch.zeros(n, dtype=torch.bool, device=self.device)
        out_ids = torch.full((n, max_new_tokens), tok.pad_token_id, dtype=torch.long)
        if constraint is not None:
            constraint.start(n)
        for step in range(max_new_tokens):
            rows = alive.tolist()
            if constraint is not None:
                logits = constraint.mask(logits, rows).to(self.device)
            if temperature > 0:
                probs = torch.softmax(logits / temperature, dim=-1)
                nxt = torch.multinomial(probs.cpu(), 1, generator=generator).to(self.device).squeeze(1)
            else:
                nxt = logits.argmax(-1)
            nxt = torch.where(done, torch.full_like(nxt, tok.pad_token_id), nxt)
            if constraint is not None:
                constraint.accept(nxt.tolist(), (~done).tolist(), rows)
            out_ids[alive, step] = nxt.cpu()
            done |= nxt == tok.eos_token_id
            if done.all():
                break
            if int(done.sum()) >= max(1, len(done) // 8) and hasattr(cache, "batch_select_indices"):
                keep = (~done).nonzero().squeeze(1)
                cache.batch_select_indices(keep)
                attn, nxt, done, alive = attn[keep], nxt[keep], done[keep], alive[keep.cpu()]
                add = add[keep] if add is not None else None
            e = embed(nxt[:, None])
            if add is not None:
                e = e + add.to(e.dtype)
            attn = torch.cat([attn, (~done).long()[:, None]], 1)
            out = llm(**cache_kwargs(llm, {"inputs_embeds": e, "attention_mask": attn, "past_key_values": cache}),
                      use_cache=True)
            cache, logits = output_cache(out), out.logits[:, -1].float()
        seqs = out_ids.tolist()
        texts = []
        for row in seqs:
            if tok.eos_token_id in row:
                row = row[: row.index(tok.eos_token_id)]
            texts.append(tok.decode(row, skip_special_tokens=True).strip())
        return texts
