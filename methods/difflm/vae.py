"""The text β-VAE: a trainable encoder gives q(z|x); a frozen causal LLM reconstructs x from z.

Only `self.trainable` (encoder, μ/log σ² head, injector) has parameters that learn and get saved;
the LLM is held outside the module tree, so it is neither in `state_dict()` nor in the optimiser.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from harness.api.models import cache_kwargs
from methods.difflm.decode import generate, right_pad
from methods.difflm.injectors import build_injector


def autocast_for(device: torch.device):
    """bf16 autocast on CUDA; plain float32 on CPU (bf16 is far slower there)."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def _batch_norm(modules: nn.ModuleDict, name: str, x):
    """The named BatchNorm if the VAE has one; a batch of one row in training uses the running statistics."""
    if name not in modules:
        return x
    bn = modules[name]
    if bn.training and len(x) < 2:
        return F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)
    return bn(x)


class TextVAE(nn.Module):
    def __init__(self, encoder, enc_tok, enc_hidden: int, llm, llm_tok, *, d_z: int, injector: str, k: int,
                 n_prefix: int, pooling: str = "mean", max_len: int = 256, projector: str = "mlp",
                 feature_norm: str = "none", mu_bn: float | None = None, logvar_init: float | None = None,
                 free_bits: float = 0.0):
        super().__init__()
        emb = llm.get_input_embeddings().weight
        embed_rms = float(emb.detach().float().pow(2).mean().sqrt())
        head = nn.Linear(enc_hidden, 2 * d_z, bias=projector != "linear")   # official: bias-free
        if logvar_init is not None and head.bias is not None:
            nn.init.constant_(head.bias[d_z:], logvar_init)
        modules = {"encoder": encoder, "head": head,
                   "injector": build_injector(injector, d_z, llm.config, k=k, n_prefix=n_prefix,
                                              embed_rms=embed_rms, projector=projector)}
        if feature_norm == "batch":
            modules["feature_norm"] = nn.BatchNorm1d(enc_hidden, affine=False)
        elif feature_norm != "none":
            raise ValueError(f"unknown feature_norm {feature_norm!r}; choose none or batch")
        if mu_bn is not None:       # BN-VAE: the scale is fixed (not trained), the shift learns
            modules["mu_bn"] = nn.BatchNorm1d(d_z)
            nn.init.constant_(modules["mu_bn"].weight, mu_bn)
            modules["mu_bn"].weight.requires_grad_(False)
        self.trainable = nn.ModuleDict(modules)
        object.__setattr__(self, "llm", llm)        # frozen: not a registered submodule
        self.enc_tok, self.llm_tok = enc_tok, llm_tok
        self.d_z, self.pooling, self.max_len, self.free_bits = d_z, pooling, max_len, free_bits

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
        pooled = _batch_norm(self.trainable, "feature_norm", pooled)
        mu, logvar = self.trainable["head"](pooled).chunk(2, dim=-1)
        return _batch_norm(self.trainable, "mu_bn", mu), logvar.clamp(-20, 10)

    # --- decoder -------------------------------------------------------------------------------
    def token_batch(self, texts: list[str]):
        """BOS + text + EOS, right-padded; labels are -100 on padding."""
        tok = self.llm_tok
        bos = [tok.bos_token_id] if tok.bos_token_id is not None else []
        ids = [bos + tok(t, add_special_tokens=False).input_ids[: self.max_len] + [tok.eos_token_id] for t in texts]
        input_ids, mask = right_pad(ids, tok.pad_token_id)
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
        kl_dim = 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).mean(0)    # per latent dim, batch mean
        kl = kl_dim.mean()                                                  # mean over dims, as the official code
        penalised = kl_dim.clamp(min=self.free_bits).mean() if self.free_bits else kl
        return rec + beta * penalised, rec.detach(), kl.detach()

    # --- generation ----------------------------------------------------------------------------
    def generate(self, z, *, max_new_tokens: int = 256, temperature: float = 0.5,
                 generator: torch.Generator | None = None, constraint=None, jump_forward: bool = False) -> list[str]:
        """Batched sampling with a KV cache (decode.py); jump_forward feeds grammar-forced tokens at once."""
        return generate(self, z, max_new_tokens=max_new_tokens, temperature=temperature, generator=generator,
                        constraint=constraint, jump_forward=jump_forward)
