"""methods/edm.py: the Heun sampler, the σ grid, the preconditioning and the loss's random draws."""
import math

import pytest
import torch
from torch import nn

from methods.edm import EDM, EDMConfig, karras_sigmas


class PointMass(EDM):
    """The ideal denoiser for data that is always `c`: D(x; σ) = c."""

    def __init__(self, c, s_churn=0.0):
        super().__init__(nn.Linear(1, 1), EDMConfig(s_churn=s_churn))
        self.c = c

    def forward(self, x, sigma):
        return self.c.expand_as(x)


@pytest.mark.parametrize("s_churn", [0.0, 1.0])
def test_heun_with_perfect_denoiser_returns_the_point(s_churn):
    c = torch.tensor([0.3, -1.5, 2.0])
    x = PointMass(c, s_churn).sample(16, 3, steps=8, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(x, c.expand(16, 3), atol=1e-5)


def test_deterministic_sampler_draws_only_the_start():
    g, ref = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    PointMass(torch.zeros(2)).sample(4, 2, steps=5, generator=g)
    torch.randn(4, 2, generator=ref)
    assert torch.equal(g.get_state(), ref.get_state())


def test_karras_sigmas():
    t = karras_sigmas(50, EDMConfig())
    assert len(t) == 51 and t[-1] == 0 and (t[:-1] > t[1:]).all()
    assert math.isclose(t[0].item(), 80.0, rel_tol=1e-5) and math.isclose(t[-2].item(), 0.002, rel_tol=1e-4)
    assert torch.allclose(karras_sigmas(5, EDMConfig(sigma_min=1.0, sigma_max=5.0, rho=1.0))[:-1],
                          torch.tensor([5.0, 4.0, 3.0, 2.0, 1.0]))


class Identity(nn.Module):
    def forward(self, x, c_noise):
        self.c_noise = c_noise
        return x


def test_preconditioning():
    sd, sigma = 0.5, torch.tensor([0.1, 2.0])
    x = torch.tensor([[1.0], [3.0]])
    net = EDM(Identity(), EDMConfig(sigma_data=sd))
    out = net(x, sigma)                          # F(c_in·x) = c_in·x, so D = (c_skip + c_out·c_in)·x
    s = sigma[:, None]
    expected = (sd ** 2 / (s ** 2 + sd ** 2) + s * sd / (s ** 2 + sd ** 2)) * x
    assert torch.allclose(out, expected)
    assert torch.allclose(net.net.c_noise, sigma.log() / 4)


def test_loss_draws_sigmas_then_noise():
    x = torch.randn(7, 3)
    net = EDM(Identity())
    g, ref = torch.Generator().manual_seed(2), torch.Generator().manual_seed(2)
    loss = net.loss(x, g)
    sigma = (torch.randn(7, 1, generator=ref) * 1.2 - 1.2).exp()
    n = torch.randn(7, 3, generator=ref)
    w = (sigma ** 2 + 0.25) / (sigma * 0.5) ** 2
    assert torch.allclose(loss, (w * (net(x + sigma * n, sigma) - x) ** 2).mean())
    assert torch.equal(g.get_state(), ref.get_state())
