"""KL-weight (β) schedules for the β-VAE.

`DecreasingBeta` is the paper's schedule (the authors' "backtracking" trainer, with its two bugs
fixed: it is stepped on every validation, and the β decrease can happen before early stopping):
start at β_max; after `patience` validations without improvement of the reconstruction loss,
multiply β by `factor` (floored at β_min); stop after `stop_patience` validations without improvement.

`CyclicalBeta` is Fu et al. (2019) in the official code's shape (`frange_cycle_zero_linear`): 10 cycles,
each β = 0 for its first half, a linear rise to β_max over the next quarter, then flat; no early stopping
(the paper's ablation uses β_max = 0.2, twice its decreasing schedule's start).
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class DecreasingBeta:
    beta_max: float = 0.1
    beta_min: float = 0.001
    factor: float = 0.7
    patience: int = 2
    stop_patience: int = 6
    beta: float = field(init=False)
    best: float = field(init=False, default=float("inf"))
    bad: int = field(init=False, default=0)
    should_stop: bool = field(init=False, default=False)

    def __post_init__(self):
        self.beta = self.beta_max

    def value(self, step: int = 0) -> float:
        return self.beta

    def observe(self, val_rec_loss: float) -> bool:
        """Feed one validation reconstruction loss; returns True if it is the best so far."""
        if val_rec_loss < self.best:
            self.best, self.bad = val_rec_loss, 0
            return True
        self.bad += 1
        if self.bad % self.patience == 0:
            self.beta = max(self.beta * self.factor, self.beta_min)
        if self.bad >= self.stop_patience:
            self.should_stop = True
        return False

    def state_dict(self) -> dict:
        return {"beta": self.beta, "best": self.best, "bad": self.bad, "should_stop": self.should_stop}

    def load_state_dict(self, d: dict) -> None:
        self.beta, self.best, self.bad, self.should_stop = d["beta"], d["best"], d["bad"], d["should_stop"]


@dataclass
class CyclicalBeta:
    total_steps: int
    beta_max: float = 0.2
    n_cycles: int = 10
    ratio_zero: float = 0.5
    ratio_increase: float = 0.25
    should_stop: bool = field(init=False, default=False)

    def value(self, step: int) -> float:
        period = max(1.0, self.total_steps / self.n_cycles)
        pos = (step % period) / period
        if pos < self.ratio_zero:
            return 0.0
        return self.beta_max * min(1.0, (pos - self.ratio_zero) / self.ratio_increase)

    def observe(self, val_rec_loss: float) -> bool:
        best = getattr(self, "_best", float("inf"))
        self._best = min(best, val_rec_loss)
        return val_rec_loss < best

    def state_dict(self) -> dict:
        return {"best": getattr(self, "_best", float("inf"))}

    def load_state_dict(self, d: dict) -> None:
        self._best = d["best"]
