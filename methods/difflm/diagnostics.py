"""Does the decoder read z? Posterior-collapse diagnostics for every DiffLM record.

A VAE with a strong autoregressive decoder can reach a good reconstruction loss while ignoring z (the
decoder becomes a prompt-tuned LM and every latent decodes to the same record). Averages such as the
training KL do not show it: a constant offset in μ with a small σ costs KL without carrying information.
So we measure on held-out rows:

- active units (Burda et al. 2016): latent dims whose posterior mean varies across rows, Var_x[μ_d] > 0.01;
- the latent-usage gap: reconstruction loss (nats/token) when each row is decoded from another row's μ,
  minus from its own μ; 0 means z carries nothing about the row;
- KL per dim of q(z|x) against N(0, I), averaged over rows;
- (reconstruction check, recon.py) the share of distinct greedy decodes and, for tables, column accuracy
  beside the mode baseline (always writing each column's most common training value).
"""
from __future__ import annotations

from collections import Counter

import torch

from methods.difflm.vae import autocast_for

ACTIVE_VAR = 0.01          # Burda et al.'s threshold on Var_x[E_q[z_d]]
MIN_GAP = 0.01             # nats/token: below this, swapping latents between rows changes (almost) nothing
MIN_DISTINCT = 0.5         # fewer distinct greedy decodes than this share of rows: the decoder ignores z


@torch.no_grad()
def latent_usage(vae, texts: list[str], batch_size: int, seed: int = 0) -> dict:
    """Held-out reconstruction with each row's own μ and with another row's μ, active units and KL per dim.
    `val_rec` equals the plain validation loss (z = μ), so it can replace it."""
    vae.eval()
    mus, logvars = [], []
    for i in range(0, len(texts), batch_size):
        with autocast_for(vae.device):
            mu, logvar = vae.encode(texts[i:i + batch_size])
        mus.append(mu.float())
        logvars.append(logvar.float())
    mu, logvar = torch.cat(mus), torch.cat(logvars)
    # a derangement: a random order shifted by one, so no row keeps its own latent
    order = torch.randperm(len(texts), generator=torch.Generator().manual_seed(seed))
    other = torch.empty_like(order)
    other[order] = order.roll(1)
    own_loss = other_loss = 0.0
    for i in range(0, len(texts), batch_size):
        batch = texts[i:i + batch_size]
        with autocast_for(vae.device):
            own_loss += float(vae.reconstruction_loss(mu[i:i + batch_size].to(vae.device), batch)) * len(batch)
            if len(texts) > 1:
                swapped = mu[other[i:i + batch_size]].to(vae.device)
                other_loss += float(vae.reconstruction_loss(swapped, batch)) * len(batch)
    n = len(texts)
    kl_dim = 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).mean(0)
    var_mu = mu.var(0) if n > 1 else torch.zeros(mu.shape[1])
    out = {"val_rec": own_loss / n, "val_rec_other_mu": other_loss / n if n > 1 else None,
           "usage_gap": (other_loss - own_loss) / n if n > 1 else None,
           "active_units": int((var_mu > ACTIVE_VAR).sum()), "d_z": int(mu.shape[1]),
           "mu_var_mean": float(var_mu.mean()), "mu_abs_mean": float(mu.abs().mean()),
           "sigma2_mean": float(logvar.exp().mean()), "kl_per_dim_mean": float(kl_dim.mean()),
           "rows": n}
    if mu.shape[1] <= 128:
        out["kl_per_dim"] = [round(float(v), 4) for v in kl_dim]
    return out


def mode_baseline(codec, train_texts: list[str], originals: list[str]) -> float | None:
    """Column accuracy of writing each column's most common training value for every held-out row (tables)."""
    meta = getattr(codec, "meta", None)
    if meta is None:
        return None
    train = [p.record for p in map(codec.parse, train_texts) if p.ok]
    held = [p.record for p in map(codec.parse, originals) if p.ok]
    if not train or not held:
        return None
    modes = {c: Counter(r[c] for r in train).most_common(1)[0][0] for c in meta.columns}
    return sum(sum(r[c] == modes[c] for r in held) / len(held) for c in meta.columns) / len(meta.columns)


def verdict(usage: dict, recon: dict) -> dict:
    """`collapsed` when z does not reach the decoder: no active unit, no usage gap, or mostly identical
    greedy decodes of different rows. The reasons list says which held."""
    reasons = []
    if usage.get("active_units") == 0:
        reasons.append("no active latent unit")
    gap = usage.get("usage_gap")
    if gap is not None and gap < MIN_GAP:
        reasons.append(f"latent-usage gap {gap:.4f} < {MIN_GAP} nats/token")
    distinct = recon.get("distinct_decodes")
    if distinct is not None and recon.get("rows", 0) >= 3 and distinct < MIN_DISTINCT:
        reasons.append(f"distinct greedy decodes {distinct:.2f} < {MIN_DISTINCT}")
    out = {"collapsed": bool(reasons), "reasons": reasons}
    if recon.get("column_accuracy") is not None and recon.get("mode_baseline") is not None:
        out["column_accuracy_over_mode"] = round(recon["column_accuracy"] - recon["mode_baseline"], 4)
    return out


def latent_report(vae, val_texts: list[str], recon: dict, batch_size: int) -> dict:
    """The record's `latent` block: usage on the held-out rows (final weights), the reconstruction's
    distinct decodes and column accuracy beside the mode baseline, and the verdict."""
    out = latent_usage(vae, val_texts, batch_size)
    out["val_rec_own_mu"] = out.pop("val_rec")
    for key in ("distinct_decodes", "column_accuracy", "mode_baseline"):
        if recon.get(key) is not None:
            out[key] = recon[key]
    out.update(verdict(out, recon))
    return out


def console_line(name: str, latent: dict) -> str:
    u = latent
    gap = "n/a" if u.get("usage_gap") is None else f"{u['usage_gap']:.3f}"
    head = f"{name}: latent COLLAPSED ({'; '.join(u['reasons'])})" if u["collapsed"] else f"{name}: latent in use"
    tail = f"active units {u['active_units']}/{u['d_z']}, usage gap {gap} nats/token"
    if u.get("distinct_decodes") is not None:
        tail += f", distinct decodes {u['distinct_decodes']:.0%}"
    if u.get("column_accuracy_over_mode") is not None:
        tail += f", column accuracy {u['column_accuracy_over_mode']:+.3f} over the mode baseline"
    return f"{head}: {tail}"
