"""TabSyn's second stage: an EDM (Karras et al. 2022) score model on the flattened VAE latents.

Follows `tabsyn/model.py` (MLPDiffusion, Precond), `tabsyn/diffusion_utils.py` (EDMLoss, Heun sampler
with S_churn = 1) and `tabsyn/main.py` (Adam, ReduceLROnPlateau(0.9, 20) on the train loss, early stop,
keep the best-train-loss weights) of amazon-science/tabsyn. σ(t) = t throughout.
"""
from __future__ import annotations

import copy
import math

import torch
import torch.nn as nn
from torch.optim.lr_scheduler import ReduceLROnPlateau
from tqdm.auto import tqdm

P_MEAN, P_STD, SIGMA_DATA = -1.2, 1.2, 0.5            # ln σ ~ N(P_MEAN, P_STD²) during training
SIGMA_MIN, SIGMA_MAX, RHO, S_CHURN = 0.002, 80.0, 7.0, 1.0


def noise_embedding(c_noise: torch.Tensor, dim: int, max_positions: int = 10_000) -> torch.Tensor:
    """Sinusoidal embedding of the noise label, [sin | cos] (the original builds [cos | sin] then swaps)."""
    freqs = (1 / max_positions) ** (torch.arange(dim // 2, device=c_noise.device, dtype=torch.float32) / (dim // 2))
    x = c_noise[:, None].float() * freqs[None]
    return torch.cat([x.sin(), x.cos()], dim=1)


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
        return self.mlp(self.proj(x) + self.time_embed(noise_embedding(c_noise, self.dim_t)))


class EDMDenoiser(nn.Module):
    """D(x; σ) = c_skip·x + c_out·F(c_in·x, ln σ / 4): EDM preconditioning around an MLPDenoiser."""

    def __init__(self, d_in: int, dim_t: int = 1024, sigma_data: float = SIGMA_DATA):
        super().__init__()
        self.F, self.sigma_data = MLPDenoiser(d_in, dim_t), sigma_data

    def forward(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        sigma = sigma.reshape(-1, 1).expand(len(x), 1)
        s2, sd2 = sigma ** 2, self.sigma_data ** 2
        c_skip, c_out, c_in = sd2 / (s2 + sd2), sigma * self.sigma_data / (s2 + sd2).sqrt(), 1 / (s2 + sd2).sqrt()
        return c_skip * x + c_out * self.F(c_in * x, (sigma.log() / 4).flatten())


def edm_loss(net: EDMDenoiser, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """λ(σ)·|D(x + σn; σ) − x|², λ = (σ² + σ_d²)/(σ·σ_d)², averaged over rows and dims."""
    sigma = (torch.randn(len(x), 1, generator=generator, device=x.device) * P_STD + P_MEAN).exp()
    weight = (sigma ** 2 + net.sigma_data ** 2) / (sigma * net.sigma_data) ** 2
    noise = torch.randn(x.shape, generator=generator, device=x.device) * sigma
    return (weight * (net(x + noise, sigma) - x) ** 2).mean()


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
    """EDM time discretisation σ_max → σ_min with ρ = 7, then a final 0."""
    i = torch.arange(steps, dtype=torch.float64, device=device)
    t = (SIGMA_MAX ** (1 / RHO) + i / max(steps - 1, 1) * (SIGMA_MIN ** (1 / RHO) - SIGMA_MAX ** (1 / RHO))) ** RHO
    return torch.cat([t, t.new_zeros(1)]).float()


@torch.no_grad()
def heun_sample(net: EDMDenoiser, n: int, dim: int, *, steps: int, generator: torch.Generator,
                device) -> torch.Tensor:
    """EDM's stochastic Heun sampler (Algorithm 2) with S_churn = 1, S_noise = 1, as TabSyn runs it."""
    t_steps = sigma_steps(steps, device)
    x = torch.randn(n, dim, generator=generator, device=device) * t_steps[0]
    gamma = min(S_CHURN / steps, math.sqrt(2) - 1)
    for i, (t_cur, t_next) in enumerate(zip(t_steps[:-1], t_steps[1:])):
        t_hat = t_cur * (1 + gamma)
        x_hat = x + (t_hat ** 2 - t_cur ** 2).sqrt() * torch.randn(x.shape, generator=generator, device=device)
        d_cur = (x_hat - net(x_hat, t_hat)) / t_hat
        x = x_hat + (t_next - t_hat) * d_cur
        if i < steps - 1:                      # 2nd-order correction, except into σ = 0
            d_prime = (x - net(x, t_next)) / t_next
            x = x_hat + (t_next - t_hat) * (0.5 * d_cur + 0.5 * d_prime)
    return x
