"""How a latent z reaches the frozen LLM. One interface, three ways (paper §3.2, Table 4):

- `prompt` (the paper's): z -> k soft token embeddings placed right before BOS, optionally after
  `n_prefix` learned, input-independent prefix tokens (the official code uses 32 + 32).
- `memory`: z -> one extra key/value slot per layer, given to the LLM as past_key_values.
- `embed`: z projected to the hidden size and added to every token embedding.

`prepare(z, embeds, mask)` returns what the LLM forward needs: inputs_embeds, attention_mask,
past_key_values and the number of positions prepended (so labels can be padded). Sequences are
right-padded, so the soft tokens sit immediately before BOS in training exactly as at generation,
and position ids count from the first soft token in both.
"""
from __future__ import annotations

import torch
from torch import nn


class Injector(nn.Module):
    n_virtual = 0            # positions prepended to the token sequence

    def prepare(self, z, embeds, mask):
        raise NotImplementedError

    def token_offset(self, z):
        """Added to each newly generated token's embedding (only `embed` injects there)."""
        return None


class PromptInjector(Injector):
    """projector "linear" is the official code's one bias-free Linear(d_z -> k·H) (Mistral-7B, d_z 1024, k 32:
    134M parameters); "mlp" (ours) is Linear -> GELU -> Linear with biases, which at H = 4096 would be 1.07 B,
    fine at SmolLM2's H = 576 (2.7 M at d_z 64, k 8)."""

    def __init__(self, d_z: int, hidden: int, k: int = 8, n_prefix: int = 0, embed_rms: float = 1.0,
                 projector: str = "mlp"):
        super().__init__()
        self.k, self.n_prefix, self.hidden = k, n_prefix, hidden
        if projector == "linear":
            self.proj = nn.Linear(d_z, k * hidden, bias=False)
            last = self.proj
        elif projector == "mlp":
            self.proj = nn.Sequential(nn.Linear(d_z, hidden), nn.GELU(), nn.Linear(hidden, k * hidden))
            last = self.proj[2]
            nn.init.zeros_(last.bias)
        else:
            raise ValueError(f"unknown projector {projector!r}; choose mlp or linear")
        # start the soft tokens at the scale of the LLM's own token embeddings (the official code's
        # N(0, 0.02) init gives soft tokens far larger than real ones)
        nn.init.normal_(last.weight, std=embed_rms / (last.in_features ** 0.5))
        self.prefix = nn.Parameter(torch.randn(n_prefix, hidden) * embed_rms) if n_prefix else None
        self.n_virtual = k + n_prefix

    def soft_tokens(self, z):
        soft = self.proj(z).view(len(z), self.k, self.hidden)
        if self.prefix is not None:
            soft = torch.cat([self.prefix.expand(len(z), -1, -1).to(soft.dtype), soft], dim=1)
        return soft

    def prepare(self, z, embeds, mask):
        soft = self.soft_tokens(z).to(embeds.dtype)
        ones = torch.ones(len(z), self.n_virtual, dtype=mask.dtype, device=mask.device)
        return {"inputs_embeds": torch.cat([soft, embeds], 1), "attention_mask": torch.cat([ones, mask], 1)}


class MemoryInjector(Injector):
    """One KV slot per layer; the same vector is the key and the value (as the official code does)."""

    n_virtual = 1

    def __init__(self, d_z: int, n_layers: int, n_kv_heads: int, head_dim: int, bias: bool = True):
        super().__init__()
        self.n_layers, self.n_kv, self.head_dim = n_layers, n_kv_heads, head_dim
        self.proj = nn.Linear(d_z, n_layers * n_kv_heads * head_dim, bias=bias)
        nn.init.normal_(self.proj.weight, std=0.02)

    def prepare(self, z, embeds, mask):
        from transformers import DynamicCache

        kv = self.proj(z).to(embeds.dtype).view(len(z), self.n_layers, self.n_kv, 1, self.head_dim)
        cache = DynamicCache()
        for layer in range(self.n_layers):
            cache.update(kv[:, layer], kv[:, layer], layer)
        ones = torch.ones(len(z), 1, dtype=mask.dtype, device=mask.device)
        return {"inputs_embeds": embeds, "attention_mask": torch.cat([ones, mask], 1), "past_key_values": cache}


class EmbedInjector(Injector):
    n_virtual = 0

    def __init__(self, d_z: int, hidden: int, bias: bool = True):
        super().__init__()
        self.proj = nn.Linear(d_z, hidden, bias=bias)
        nn.init.normal_(self.proj.weight, std=0.02)

    def token_offset(self, z):
        return self.proj(z)[:, None, :]

    def prepare(self, z, embeds, mask):
        return {"inputs_embeds": embeds + self.token_offset(z).to(embeds.dtype), "attention_mask": mask}


def build_injector(kind: str, d_z: int, llm_config, *, k: int = 8, n_prefix: int = 0, embed_rms: float = 1.0,
                   projector: str = "mlp"):
    """projector "linear": every injector as the official code builds it (bias-free linear maps)."""
    hidden, bias = llm_config.hidden_size, projector != "linear"
    if kind == "prompt":
        return PromptInjector(d_z, hidden, k=k, n_prefix=n_prefix, embed_rms=embed_rms, projector=projector)
    if kind == "memory":
        n_kv = getattr(llm_config, "num_key_value_heads", None) or llm_config.num_attention_heads
        head_dim = getattr(llm_config, "head_dim", None) or hidden // llm_config.num_attention_heads
        return MemoryInjector(d_z, llm_config.num_hidden_layers, n_kv, head_dim, bias=bias)
    if kind == "embed":
        return EmbedInjector(d_z, hidden, bias=bias)
    raise ValueError(f"unknown injector {kind!r}; choose prompt, memory or embed")
