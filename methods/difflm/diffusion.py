"""Latent diffusion prior: EDM (Karras et al. 2022) with σ(t) = t, as the paper and TabSyn use it.

The network F predicts through EDM's preconditioning, D(x; σ) = c_skip x + c_out F(c_in x, ln σ / 4),
trained with denoising score matching (ln σ ~ N(P_mean, P_std²), weight (σ² + σ_d²)/(σ σ_d)²) and
sampled with Heun's second-order method on Karras' σ grid. The denoiser is an MLP with a sinusoidal
noise embedding and residual blocks, sized from the latent dimension.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn


class NoiseEmbedding(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, c_noise):                       # (B,) -> (B, dim)
        half = self.dim // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=c_noise.device) / half)
        angles = c_noise.float()[:, None] * freqs[None]
        return self.mlp(torch.cat([angles.sin(), angles.cos()], dim=1))


class MLPDenoiser(nn.Module):
    def __init__(self, d_in: int, dim_t: int = 512, n_blocks: int = 2):
        super().__init__()
        self.proj = nn.Linear(d_in, dim_t)
        self.time = NoiseEmbedding(dim_t)
        self.inp = nn.Sequential(nn.Linear(dim_t, 2 * dim_t), nn.SiLU())
        self.blocks = nn.ModuleList(nn.Linear(2 * dim_t, 2 * dim_t) for _ in range(n_blocks))
        self.out = nn.Sequential(nn.Linear(2 * dim_t, dim_t), nn.SiLU(), nn.Linear(dim_t, d_in))

    def forward(self, x, c_noise):
        h = self.inp(self.proj(x) + self.time(c_noise))
        for block in self.blocks:
            h = h + torch.nn.functional.silu(block(h))
        return self.out(h)


@dataclass(frozen=True)
class EDMConfig:
    sigma_data: float = 0.5
    p_mean: float = -1.2
    p_std: float = 1.2
    sigma_min: float = 0.002
    sigma_max: float = 80.0
    rho: float = 7.0


class EDM(nn.Module):
    def __init__(self, net: nn.Module, cfg: EDMConfig = EDMConfig()):
        super().__init__()
        self.net, self.cfg = net, cfg

    def denoise(self, x, sigma):
        sd = self.cfg.sigma_data
        sigma = sigma.reshape(-1, 1)
        c_skip = sd**2 / (sigma**2 + sd**2)
        c_out = sigma * sd / (sigma**2 + sd**2).sqrt()
        c_in = 1 / (sigma**2 + sd**2).sqrt()
        return c_skip * x + c_out * self.net(c_in * x, sigma.log().flatten() / 4)

    def loss(self, x, generator: torch.Generator | None = None):
        c = self.cfg
        ln_sigma = torch.randn(len(x), device=x.device, generator=generator) * c.p_std + c.p_mean
        sigma = ln_sigma.exp()
        noise = torch.randn(x.shape, device=x.device, generator=generator)
        weight = (sigma**2 + c.sigma_data**2) / (sigma * c.sigma_data) ** 2
        err = (self.denoise(x + sigma[:, None] * noise, sigma) - x) ** 2
        return (weight[:, None] * err).mean()

    def sigmas(self, steps: int, device) -> torch.Tensor:
        c = self.cfg
        i = torch.arange(steps, device=device, dtype=torch.float64)
        s = (c.sigma_max ** (1 / c.rho) + i / max(steps - 1, 1) * (c.sigma_min ** (1 / c.rho) - c.sigma_max ** (1 / c.rho))) ** c.rho
        return torch.cat([s, torch.zeros(1, device=device, dtype=torch.float64)]).float()

    @torch.no_grad()
    def sample(self, n: int, dim: int, *, steps: int = 50, generator: torch.Generator | None = None) -> torch.Tensor:
        """Deterministic Heun sampler (Karras Alg. 1) from x ~ N(0, σ_max² I); noise drawn on the CPU
        generator so a seed gives the same latents on any device."""
        device = next(self.parameters()).device
        sig = self.sigmas(steps, device)
        x = torch.randn(n, dim, generator=generator).to(device) * sig[0]
        for i in range(steps):
            s, s_next = sig[i], sig[i + 1]
            d = (x - self.denoise(x, s.expand(n))) / s
            x_next = x + (s_next - s) * d
            if s_next > 0:
                d2 = (x_next - self.denoise(x_next, s_next.expand(n))) / s_next
                x_next = x + (s_next - s) * (d + d2) / 2
            x = x_next
        return x
