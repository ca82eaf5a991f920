"""TabSyn's first stage: a column-token Transformer VAE and its adaptive-β training loop.

Follows `tabsyn/vae/model.py` and `tabsyn/vae/main.py` of amazon-science/tabsyn: one token per column
(numerics: x·w_j + b_j, categoricals: an embedding row + b_j) behind a bias-free [CLS] token, pre-norm
Transformers for μ and log σ² and a third one as decoder, then a per-column detokeniser. The decoder
sees the sampled tokens without [CLS], so the latent the diffusion model learns is (#columns × d_token).
"""
from __future__ import annotations

import copy
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.optim.lr_scheduler import ReduceLROnPlateau
from tqdm.auto import tqdm

from harness.api.io import Checkpoint


class Tokenizer(nn.Module):
    """Row -> (1 + n_num + n_cat) tokens of width d_token; token 0 is [CLS] (weight only, no bias)."""

    def __init__(self, n_num: int, cardinalities: list[int], d_token: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_num + 1, d_token))      # +1: the [CLS] "value" is 1
        self.bias = nn.Parameter(torch.empty(n_num + len(cardinalities), d_token))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))           # nn.Linear's init, as in the original
        nn.init.kaiming_uniform_(self.bias, a=math.sqrt(5))
        self.embeddings = None
        if cardinalities:
            self.register_buffer("offsets", torch.tensor([0] + cardinalities[:-1]).cumsum(0))
            self.embeddings = nn.Embedding(sum(cardinalities), d_token)  # one table, shifted per column
            nn.init.kaiming_uniform_(self.embeddings.weight, a=math.sqrt(5))

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        ones = torch.ones(len(x_num), 1, device=x_num.device)
        x = self.weight[None] * torch.cat([ones, x_num], dim=1)[:, :, None]
        if self.embeddings is not None:
            x = torch.cat([x, self.embeddings(x_cat + self.offsets[None])], dim=1)
        return x + torch.cat([torch.zeros_like(self.bias[:1]), self.bias])[None]


class Block(nn.Module):
    """Pre-norm self-attention + ReLU FFN. As in the original, the first block has no input LayerNorm."""

    def __init__(self, d: int, n_heads: int, factor: int, first: bool):
        super().__init__()
        assert d % n_heads == 0, f"d_token {d} must be divisible by n_heads {n_heads}"
        self.n_heads = n_heads
        self.norm0 = nn.Identity() if first else nn.LayerNorm(d)
        self.q, self.k, self.v = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        for lin in (self.q, self.k, self.v):
            nn.init.zeros_(lin.bias)
        self.out = nn.Linear(d, d) if n_heads > 1 else nn.Identity()   # one head: no output projection
        self.norm1 = nn.LayerNorm(d)
        self.ffn = nn.Sequential(nn.Linear(d, d * factor), nn.ReLU(), nn.Linear(d * factor, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, d = x.shape
        h = self.norm0(x)
        heads = lambda t: t.view(B, T, self.n_heads, d // self.n_heads).transpose(1, 2)  # noqa: E731
        q, k, v = heads(self.q(h)), heads(self.k(h)), heads(self.v(h))
        a = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(B, T, d)
        x = x + self.out(a)
        return x + self.ffn(self.norm1(x))


def transformer(d: int, n_layers: int, n_heads: int, factor: int) -> nn.Sequential:
    return nn.Sequential(*[Block(d, n_heads, factor, first=(i == 0)) for i in range(n_layers)])


class Detokenizer(nn.Module):
    """Column tokens -> numeric values (per-column dot product, no bias) and per-column category logits."""

    def __init__(self, n_num: int, cardinalities: list[int], d_token: int):
        super().__init__()
        self.n_num = n_num
        self.weight = nn.Parameter(torch.empty(n_num, d_token))
        if n_num:
            nn.init.xavier_uniform_(self.weight, gain=1 / math.sqrt(2))
        self.heads = nn.ModuleList(nn.Linear(d_token, k) for k in cardinalities)
        for head in self.heads:
            nn.init.xavier_uniform_(head.weight, gain=1 / math.sqrt(2))

    def forward(self, h: torch.Tensor):
        x_num = (h[:, :self.n_num] * self.weight[None]).sum(-1)
        return x_num, [head(h[:, self.n_num + i]) for i, head in enumerate(self.heads)]


class TabularVAE(nn.Module):
    def __init__(self, n_num: int, cardinalities: list[int], d_token: int = 4, n_layers: int = 2,
                 n_heads: int = 1, factor: int = 32):
        super().__init__()
        self.tokenizer = Tokenizer(n_num, cardinalities, d_token)
        self.encoder_mu = transformer(d_token, n_layers, n_heads, factor)
        self.encoder_logvar = transformer(d_token, n_layers, n_heads, factor)
        self.decoder = transformer(d_token, n_layers, n_heads, factor)
        self.detokenizer = Detokenizer(n_num, cardinalities, d_token)

    def encode(self, x_num, x_cat):
        x = self.tokenizer(x_num, x_cat)
        return self.encoder_mu(x), self.encoder_logvar(x)

    def decode(self, z_tokens: torch.Tensor):
        """z_tokens: (B, #columns, d_token), i.e. without [CLS]."""
        return self.detokenizer(self.decoder(z_tokens))

    def forward(self, x_num, x_cat, generator: torch.Generator | None = None):
        mu, logvar = self.encode(x_num, x_cat)
        eps = torch.randn(mu.shape, generator=generator, device=mu.device)
        z = mu + eps * torch.exp(0.5 * logvar)
        return (*self.decode(z[:, 1:]), mu, logvar)


def vae_losses(x_num, x_cat, rec_num, rec_cat, mu, logvar):
    """(MSE over numerics, mean CE over categorical columns, KL averaged over tokens and dims)."""
    mse = (x_num - rec_num).pow(2).mean() if x_num.shape[1] else x_num.new_zeros(())
    ce = (sum(F.cross_entropy(logits, x_cat[:, j]) for j, logits in enumerate(rec_cat)) / len(rec_cat)
          if rec_cat else x_num.new_zeros(()))
    kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).mean()
    return mse, ce, kl


class BetaSchedule:
    """TabSyn's adaptive β: start at max_beta; when the validation loss has gone exactly `patience` epochs
    without a new best, multiply β by `lambd` (once per plateau: the counter keeps running until the next
    best). Unlike the original (`if beta > min_beta: beta *= lambd`, which can undershoot once) β is
    clamped at min_beta."""

    def __init__(self, max_beta: float = 1e-2, min_beta: float = 1e-5, lambd: float = 0.7, patience: int = 10):
        self.beta, self.min_beta, self.lambd, self.patience = max_beta, min_beta, lambd, patience
        self.best, self.bad_epochs = math.inf, 0

    def step(self, val_loss: float) -> bool:
        """Feed one epoch's validation loss; returns True if it is a new best (the caller checkpoints)."""
        if val_loss < self.best:
            self.best, self.bad_epochs = val_loss, 0
            return True
        self.bad_epochs += 1
        if self.bad_epochs == self.patience:
            self.beta = max(self.beta * self.lambd, self.min_beta)
        return False

    def state_dict(self) -> dict:
        return {"beta": self.beta, "best": self.best, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, d: dict) -> None:
        self.beta, self.best, self.bad_epochs = d["beta"], d["best"], d["bad_epochs"]


def train_vae(model: TabularVAE, train: tuple, val: tuple, *, epochs: int, batch_size: int, lr: float,
              schedule: BetaSchedule, generator: torch.Generator, perm_generator: torch.Generator,
              ckpt: Checkpoint | None = None) -> dict:
    """Adam + ReduceLROnPlateau(0.95, 10) on the validation loss; loads the best-validation weights at the end.

    The validation loss is the categorical CE, as in the original (`val_mse * 0 + val_ce`), or the MSE
    for a table without categorical columns. `train`/`val` are (x_num, x_cat) tensors on the model's device.
    With `ckpt` (harness.api.io.Checkpoint), the loop resumes from its last saved epoch: the state holds
    everything the next epoch depends on, so a resumed fit gives the same weights, bit for bit.
    """
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=0)
    sched = ReduceLROnPlateau(opt, mode="min", factor=0.95, patience=10)
    has_cat = bool(model.detokenizer.heads)
    hist = {k: [] for k in ("mse", "ce", "kl", "val_mse", "val_ce", "beta", "lr")}
    best_state, best_epoch, start = copy.deepcopy(model.state_dict()), -1, 0
    if ckpt is not None and (saved := ckpt.load()) is not None:
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["opt"])
        sched.load_state_dict(saved["sched"])
        schedule.load_state_dict(saved["schedule"])
        generator.set_state(saved["gen"])
        perm_generator.set_state(saved["perm"])
        hist, best_state, best_epoch, start = saved["hist"], saved["best_state"], saved["best_epoch"], saved["epoch"] + 1
        hist.setdefault("resumed_at", []).append(start)      # the record shows the run was resumed

    def loop_state(epoch):
        return {"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                "schedule": schedule.state_dict(), "gen": generator.get_state(), "perm": perm_generator.get_state(),
                "hist": hist, "best_state": best_state, "best_epoch": best_epoch, "epoch": epoch}

    n = len(train[0])
    bar = tqdm(range(start, epochs), initial=start, total=epochs, desc="tabsyn vae", leave=False, disable=None)
    for epoch in bar:
        model.train()
        sums = torch.zeros(3)
        for idx in torch.randperm(n, generator=perm_generator).split(batch_size):
            idx = idx.to(train[0].device)
            xn, xc = train[0][idx], train[1][idx]
            mse, ce, kl = vae_losses(xn, xc, *model(xn, xc, generator))
            loss = mse + ce + schedule.beta * kl
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sums += torch.stack([mse.detach(), ce.detach(), kl.detach()]).cpu() * len(idx)
        model.eval()
        with torch.no_grad():   # like the original, validation also draws z ~ q(z|x)
            vsums, nv = torch.zeros(2), len(val[0])
            for idx in torch.arange(nv).split(batch_size):
                xn, xc = val[0][idx.to(val[0].device)], val[1][idx.to(val[0].device)]
                mse, ce, _ = vae_losses(xn, xc, *model(xn, xc, generator))
                vsums += torch.stack([mse, ce]).cpu() * len(idx)
            val_mse, val_ce = (vsums / nv).tolist()
        val_loss = val_ce if has_cat else val_mse
        for k, v in zip(("mse", "ce", "kl"), (sums / n).tolist()):
            hist[k].append(v)
        hist["val_mse"].append(val_mse)
        hist["val_ce"].append(val_ce)
        hist["beta"].append(schedule.beta)              # β used during this epoch
        hist["lr"].append(opt.param_groups[0]["lr"])
        sched.step(val_loss)
        if schedule.step(val_loss):
            best_state, best_epoch = copy.deepcopy(model.state_dict()), epoch
        bar.set_postfix(val=f"{val_loss:.4f}", beta=f"{schedule.beta:.1e}", refresh=False)
        if ckpt is not None:
            ckpt.save(lambda: loop_state(epoch), final=epoch == epochs - 1)
    # The original saves the best checkpoint but then encodes with the last weights; we use the best.
    model.load_state_dict(best_state)
    hist["best_epoch"] = best_epoch
    return hist
