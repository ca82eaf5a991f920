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
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm.auto import tqdm

from harness.api.io import Checkpoint
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


def edm_loss(net: EDMDenoiser, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One batch's loss, as `train_edm` computes it (a module-level name, so a test can interrupt the loop)."""
    return net.loss(x, generator)


def train_edm(net: EDMDenoiser, z: torch.Tensor, *, epochs: int, batch_size: int, lr: float, patience: int,
              generator: torch.Generator, perm_generator: torch.Generator, ema_decay: float = 0.0,
              spike_factor: float = 0.0, ckpt: Checkpoint | None = None) -> dict:
    """Train on z (already normalised); stop after `patience` epochs without a lower train loss.

    Two guards the original lacks, both off by default (= the original):
    - `spike_factor` > 0: an epoch whose loss exceeds spike_factor × the best so far rolls the net, Adam
      and the EMA back to the best epoch and halves the LR. At the cpu profile's batch 1024 the loss
      can jump several-fold and never come back (leaderboards/method_notes.csv, topic "sizing"); the
      original would then only wait out its patience, which a 300-epoch budget cannot afford.
    - `ema_decay` > 0: sample from an exponential moving average of the weights (as EDM itself does;
      TabSyn samples its best raw weights). A short run ends on noisy weights; the average is smoother.
      Early stopping still watches the raw weights' loss.
    With `ckpt` (harness.api.io.Checkpoint), the loop resumes from its last saved epoch: the state holds
    everything the next epoch depends on, so a resumed fit gives the same weights, bit for bit.
    """
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=0)
    sched = ReduceLROnPlateau(opt, mode="min", factor=0.9, patience=20)
    ema = AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(ema_decay)) if ema_decay > 0 else None
    hist = {"loss": [], "lr": [], "rollbacks": []}

    def snapshot():
        return copy.deepcopy((net.state_dict(), opt.state_dict(), ema.state_dict() if ema else None))

    best, best_state, best_epoch, bad, start, done = math.inf, snapshot(), -1, 0, 0, False
    if ckpt is not None and (saved := ckpt.load()) is not None:
        _restore(net, opt, ema, saved["current"])
        sched.load_state_dict(saved["sched"])
        generator.set_state(saved["gen"])
        perm_generator.set_state(saved["perm"])
        hist, best, best_state, best_epoch, bad, done = (saved[k] for k in ("hist", "best", "best_state", "best_epoch",
                                                                             "bad", "done"))
        start = saved["epoch"] + 1
        hist.setdefault("resumed_at", []).append(start)      # the record shows the run was resumed

    def loop_state(epoch, done):
        return {"current": snapshot(), "sched": sched.state_dict(), "gen": generator.get_state(),
                "perm": perm_generator.get_state(), "hist": hist, "best": best, "best_state": best_state,
                "best_epoch": best_epoch, "bad": bad, "epoch": epoch, "done": done}

    bar = tqdm(range(start, epochs if not done else start), initial=start, total=epochs, desc="tabsyn diffusion",
               leave=False, disable=None)
    net.train()
    for epoch in bar:
        total = torch.zeros(())
        for idx in torch.randperm(len(z), generator=perm_generator).split(batch_size):
            x = z[idx.to(z.device)]
            loss = edm_loss(net, x, generator)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if ema is not None:
                ema.update_parameters(net)
            total += loss.detach().cpu() * len(x)
        cur = total.item() / len(z)
        hist["loss"].append(cur)
        hist["lr"].append(opt.param_groups[0]["lr"])
        bar.set_postfix(loss=f"{cur:.4f}", refresh=False)
        if spike_factor > 0 and best < math.inf and not cur <= spike_factor * best:   # NaN counts as a spike
            new_lr = opt.param_groups[0]["lr"] / 2
            _restore(net, opt, ema, best_state)
            for g in opt.param_groups:
                g["lr"] = new_lr
            hist["rollbacks"].append([epoch, round(cur, 6), new_lr])
        else:
            sched.step(cur)
        if cur < best:
            best, best_state, best_epoch, bad = cur, snapshot(), epoch, 0
        else:
            bad += 1
        done = bad == patience or epoch == epochs - 1
        if ckpt is not None:
            ckpt.save(lambda: loop_state(epoch, done), final=done)
        if done:
            break
    if ema is not None:          # the average up to the end (or to the last rollback), not the best raw epoch
        net.load_state_dict(ema.module.state_dict())
    else:
        net.load_state_dict(best_state[0])
    net.eval()
    hist["best_epoch"] = best_epoch
    return hist


def _restore(net: nn.Module, opt: torch.optim.Optimizer, ema: AveragedModel | None, state: tuple) -> None:
    net_state, opt_state, ema_state = copy.deepcopy(state)
    net.load_state_dict(net_state)
    opt.load_state_dict(opt_state)
    if ema is not None:
        ema.load_state_dict(ema_state)

