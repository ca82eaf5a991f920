"""Latent diffusion prior: EDM (Karras et al. 2022) with σ(t) = t, as the paper and TabSyn use it.

The shared EDM parts (preconditioning, loss, σ grid, Heun sampler) live in `methods/edm.py`; this file
holds DiffLM's choices: the EDM hyperparameters below, sampled with the deterministic Heun sampler, and
an MLP denoiser with a sinusoidal noise embedding and residual blocks, sized from the latent dimension.
"""
from __future__ import annotations

import torch
from torch import nn

from methods import edm
from methods.edm import EDMConfig

DIFFLM_EDM = EDMConfig(sigma_data=0.5, p_mean=-1.2, p_std=1.2, sigma_min=0.002, sigma_max=80.0, rho=7.0,
                       s_churn=0.0)


class NoiseEmbedding(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, c_noise):                       # (B,) -> (B, dim)
        return self.mlp(edm.sinusoidal_embedding(c_noise, self.dim))


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


class EDM(edm.EDM):
    """`EDM(MLPDenoiser(d))`: the shared EDM with DiffLM's hyperparameters as the default."""

    def __init__(self, net: nn.Module, cfg: EDMConfig = DIFFLM_EDM):
        super().__init__(net, cfg)
