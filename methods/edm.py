"""EDM (Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative Models") with
σ(t) = t, shared by the latent diffusion priors of DiffLM and TabSyn.

Each method brings only its network F(x, c_noise) and its EDMConfig; this module owns what the paper
fixes: the preconditioning, the training loss, the σ grid and the Heun sampler.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class EDMConfig:
    sigma_data: float = 0.5      # std of the (normalised) data; sets the preconditioning
    p_mean: float = -1.2         # training σ: ln σ ~ N(p_mean, p_std²)
    p_std: float = 1.2
    sigma_min: float = 0.002     # sampling grid ends
    sigma_max: float = 80.0
    rho: float = 7.0             # grid warp: larger ρ spends more steps at small σ
    s_churn: float = 0.0         # 0: deterministic Heun (Alg. 1); > 0: stochastic Heun (Alg. 2)


def sinusoidal_embedding(c_noise: torch.Tensor, dim: int, max_positions: int = 10_000) -> torch.Tensor:
    """(B,) noise labels -> (B, dim) [sin | cos] features at geometrically spaced frequencies, computed as
    TabSyn's original does (it builds [cos | sin], then swaps the halves)."""
    freqs = (1 / max_positions) ** (torch.arange(dim // 2, device=c_noise.device, dtype=torch.float32) / (dim // 2))
    x = c_noise[:, None].float() * freqs[None]
    return torch.cat([x.sin(), x.cos()], dim=1)


def karras_sigmas(steps: int, cfg: EDMConfig, device=None) -> torch.Tensor:
    """σ_max -> σ_min, evenly spaced in σ^(1/ρ), then a final 0 (the last step lands on clean data).
    Computed in float64 so the ρ-th power does not lose the small-σ end."""
    i = torch.arange(steps, dtype=torch.float64, device=device)
    lo, hi = cfg.sigma_min ** (1 / cfg.rho), cfg.sigma_max ** (1 / cfg.rho)
    t = (hi + i / max(steps - 1, 1) * (lo - hi)) ** cfg.rho
    return torch.cat([t, t.new_zeros(1)]).float()


class EDM(nn.Module):
    """D(x; σ) = c_skip·x + c_out·F(c_in·x, ln σ / 4). The c's keep F's input and target at unit
    variance for every σ, so one network serves from σ = 80 down to σ = 0.002."""

    def __init__(self, net: nn.Module, cfg: EDMConfig = EDMConfig()):
        super().__init__()
        self.net, self.cfg = net, cfg          # only `net` holds weights: state_dict keys are net.*

    def forward(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        sigma = sigma.reshape(-1, 1).expand(len(x), 1)       # a scalar σ (sampler) or one per row (loss)
        sd = self.cfg.sigma_data
        c_skip = sd ** 2 / (sigma ** 2 + sd ** 2)
        c_out = sigma * sd / (sigma ** 2 + sd ** 2).sqrt()
        c_in = 1 / (sigma ** 2 + sd ** 2).sqrt()
        return c_skip * x + c_out * self.net(c_in * x, (sigma.log() / 4).flatten())

    def loss(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Denoising score matching, λ(σ)·|D(x + σn; σ) − x|² with λ = (σ² + σ_d²)/(σ·σ_d)²: this λ
        gives F's own target unit weight at every σ. Draws B σ's, then the B×d noise, on x's device."""
        c = self.cfg
        sigma = (torch.randn(len(x), 1, device=x.device, generator=generator) * c.p_std + c.p_mean).exp()
        noise = torch.randn(x.shape, device=x.device, generator=generator)
        weight = (sigma ** 2 + c.sigma_data ** 2) / (sigma * c.sigma_data) ** 2
        return (weight * (self(x + sigma * noise, sigma) - x) ** 2).mean()

    @torch.no_grad()
    def sample(self, n: int, dim: int, *, steps: int = 50, generator: torch.Generator | None = None,
               device=None) -> torch.Tensor:
        """Heun's 2nd-order method on the Karras grid (Alg. 2; with s_churn = 0 it is Alg. 1 and draws
        no noise after x_0). Noise comes from the generator's device (the CPU when none), then moves to
        `device`, so a CPU generator gives the same latents wherever the net runs."""
        device = next(self.parameters()).device if device is None else device
        noise_dev = generator.device if generator is not None else torch.device("cpu")

        def randn(*shape):
            return torch.randn(*shape, generator=generator, device=noise_dev).to(device)

        t_steps = karras_sigmas(steps, self.cfg, device)
        x = randn(n, dim) * t_steps[0]
        gamma = min(self.cfg.s_churn / steps, math.sqrt(2) - 1)
        for i, (t_cur, t_next) in enumerate(zip(t_steps[:-1], t_steps[1:])):
            t_hat = t_cur * (1 + gamma)                   # churn: step back up to σ̂ ≥ σ by adding noise
            x_hat = x + (t_hat ** 2 - t_cur ** 2).sqrt() * randn(n, dim) if gamma > 0 else x
            d_cur = (x_hat - self(x_hat, t_hat)) / t_hat
            x = x_hat + (t_next - t_hat) * d_cur          # Euler step
            if i < steps - 1:                             # trapezoid correction, except into σ = 0
                d_prime = (x - self(x, t_next)) / t_next
                x = x_hat + (t_next - t_hat) * (0.5 * d_cur + 0.5 * d_prime)
        return x
