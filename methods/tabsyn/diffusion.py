"""TabSyn's second stage: an EDM (Karras et al. 2022) score model on the flattened VAE latents.

Follows `tabsyn/model.py` (MLPDiffusion, Precond), `tabsyn/diffusion_utils.py` (EDMLoss, Heun sampler
with S_churn = 1) and `tabsyn/main.py` (Adam, ReduceLROnPlateau(0.9, 20) on the train loss, early stop,
keep the best-train-loss weights) of amazon-science/tabsyn. σ(t) = t throughout. The EDM machinery
itself (preconditioning, loss, σ grid, Heun sampler) is shared in `methods/edm.py`.
"""
from __future__ import annotations

import copy
import math

import torch
import torch.nn as nn
from torch.optim.lr_scheduler import ReduceLROnPlateau
from tqdm.auto import tqdm

from methods import edm
from methods.edm import EDMConfig

# ln σ ~ N(p_mean, p_std²) in training; stochastic Heun (S_churn = 1, S_noise = 1) as TabSyn runs it.
TABSYN_EDM = EDMConfig(sigma_data=0.5, p_mean=-1.2, p_std=1.2, sigma_min=0.002, sigma_max=80.0, rho=7.0,
                       s_churn=1.0)


class MLPDenoiser(nn.Module):
    """F(x, c_noise): Linear(d→w) + MLP(noise embedding), then w→2w→2w→w→d with SiLU."""

    def __init__(self, d_in: int, dim_t: int = 1024):
        super().__init__()
        self.dim_t = dim_t
        self.proj = nn.Linear(d_in, dim_t)
        self.time_embed = nn.Sequential(nn.Linear(dim_t, dim_t), nn.SiLU(), nn.Linear(dim_t, dim_t))
        self.mlp = nn.Sequential(
            nn.Linear(dim_t, 2 * dim_t), nn.SiLU(), nn.Linear(2 * dim_t, 2 * dim_t), nn.SiLU(),
            nn.Linear(2 * dim_t, dim_t), nn.SiLU(), nn.Linear(dim_t, d_in))

    def forward(self, x: torch.Tensor, c_noise: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.proj(x) + self.time_embed(edm.sinusoidal_embedding(c_noise, self.dim_t)))


class EDMDenoiser(edm.EDM):
    """D(x; σ): EDM preconditioning around an MLPDenoiser, with TabSyn's hyperparameters."""

    def __init__(self, d_in: int, dim_t: int = 1024, cfg: EDMConfig = TABSYN_EDM):
        super().__init__(MLPDenoiser(d_in, dim_t), cfg)


# Functional names kept for `methods/tabsyn/__init__.py` and the tests.
def edm_loss(net: EDMDenoiser, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    return net.loss(x, generator)


def train_edm(net: EDMDenoiser, z: torch.Tensor, *, epochs: int, batch_size: int, lr: float, patience: int,
              generator: torch.Generator, perm_generator: torch.Generator) -> dict:
    """Train on z (already normalised); stop after `patience` epochs without a lower train loss."""
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=0)
    sched = ReduceLROnPlateau(opt, mode="min", factor=0.9, patience=20)
    hist = {"loss": [], "lr": []}
    best, best_state, best_epoch, bad = math.inf, copy.deepcopy(net.state_dict()), -1, 0
    bar = tqdm(range(epochs), desc="tabsyn diffusion", leave=False, disable=None)
    net.train()
    for epoch in bar:
        total = torch.zeros(())
        for idx in torch.randperm(len(z), generator=perm_generator).split(batch_size):
            x = z[idx.to(z.device)]
            loss = edm_loss(net, x, generator)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach().cpu() * len(x)
        cur = total.item() / len(z)
        hist["loss"].append(cur)
        hist["lr"].append(opt.param_groups[0]["lr"])
        sched.step(cur)
        bar.set_postfix(loss=f"{cur:.4f}", refresh=False)
        if cur < best:
            best, best_state, best_epoch, bad = cur, copy.deepcopy(net.state_dict()), epoch, 0
        else:
            bad += 1
            if bad == patience:
                break
    net.load_state_dict(best_state)
    net.eval()
    hist["best_epoch"] = best_epoch
    return hist


def sigma_steps(steps: int, device=None) -> torch.Tensor:
    return edm.karras_sigmas(steps, TABSYN_EDM, device)


def heun_sample(net: EDMDenoiser, n: int, dim: int, *, steps: int, generator: torch.Generator,
                device) -> torch.Tensor:
    return net.sample(n, dim, steps=steps, generator=generator, device=device)
