"""DiffLM's two training stages on texts: the β-VAE (trainable encoder + injector, frozen LLM) and the EDM
prior on its latent means.

Resumable state goes through `harness.api.io.Checkpoint`: only what trains (encoder, head, injector, denoiser)
plus the optimiser, β schedule and random-number states; the frozen LLM is never written, it is reloaded
from its own files. A checkpoint folder is keyed by everything that determines the VAE's training (the VAE
part of the config, the seed, the training texts), so a killed run resumes from its last finished epoch,
and a variant that differs only after the VAE (difflm-nodiff, another temperature or decoding mode) reuses
the trained VAE instead of training it again.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from harness.api.io import Checkpoint
from methods.difflm.beta import CyclicalBeta, DecreasingBeta
from methods.difflm.config import DiffLMConfig
from methods.difflm.diagnostics import latent_usage
from methods.difflm.vae import autocast_for  # noqa: F401 (recon and sampling import it from here)

# DiffLMConfig fields that change how the VAE trains (the rest act after it: diffusion and sampling).
VAE_FIELDS = ("encoder", "decoder", "injector", "d_z", "k", "n_prefix", "pooling", "beta_schedule", "beta_max",
              "beta_min", "beta_patience", "stop_patience", "epochs", "batch_size", "lr", "max_train_rows",
              "val_fraction", "max_len", "max_steps", "eval_every", "lr_schedule", "warmup_frac", "val_rows",
              "projector", "llm_dtype")


# Fields added later: in the key only when set, so VAEs cached before they existed keep their key.
LATER_VAE_FIELDS = {"enc_lr": None, "weight_decay": 0.01, "feature_norm": "none", "mu_bn": None,
                    "logvar_init": None, "free_bits": 0.0}


def vae_key(config: dict, seed: int, texts: list[str]) -> str:
    fields = {f: config[f] for f in VAE_FIELDS}
    fields.update({f: config[f] for f, default in LATER_VAE_FIELDS.items() if config.get(f, default) != default})
    if config["beta_schedule"] == "cyclical":        # its shape and peak (v2: the official code's cycles)
        fields["cycle"] = ["v2", config.get("cycle_beta_max")]
    h = hashlib.sha256(json.dumps(fields, sort_keys=True).encode())
    h.update(f"seed={seed}".encode())
    for t in texts:
        h.update(t.encode())
        h.update(b"\n")
    return h.hexdigest()[:16]


def budgeted_steps(cfg: DiffLMConfig, train_texts: list[str], tok) -> int | None:
    """cfg.max_steps (or its epochs' steps), lowered so that the VAE computes at most cfg.max_train_positions
    decoder positions: a step costs batch_size x its longest text (capped at max_len, + BOS and EOS),
    estimated on 256 seeded random batches, so the estimate is the same on every machine."""
    if not cfg.max_train_positions:
        return cfg.max_steps
    steps = cfg.max_steps or cfg.epochs * max(1, len(train_texts) // cfg.batch_size)
    lens = np.array([min(len(tok(t, add_special_tokens=False).input_ids), cfg.max_len) + 2 for t in train_texts])
    rng, b = np.random.default_rng(0), min(cfg.batch_size, len(lens))
    per_step = cfg.batch_size * float(np.mean([lens[rng.choice(len(lens), b, replace=False)].max()
                                               for _ in range(256)]))
    return int(max(1, min(steps, cfg.max_train_positions // per_step)))


def checkpoint_dir(root: Path | None, cfg: DiffLMConfig, seed: int, texts: list[str]) -> Path | None:
    """Where the VAE's epochs and the denoiser are saved: shared by every job that trains the same VAE."""
    return None if root is None else Path(root) / "difflm-vae" / vae_key(asdict(cfg), seed, texts)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def build_vae(cfg: DiffLMConfig, device: torch.device):
    """Load the encoder and the frozen LLM named by `cfg` and join them into a TextVAE on `device`."""
    from methods.backbones import load_decoder, load_encoder
    from methods.difflm.vae import TextVAE

    llm, llm_tok = load_decoder(cfg.decoder, dtype=llm_dtype(cfg.llm_dtype, device))
    enc, enc_tok, enc_hidden = load_encoder(cfg.encoder)
    return TextVAE(enc, enc_tok, enc_hidden, llm, llm_tok, d_z=cfg.d_z, injector=cfg.injector, k=cfg.k,
                   n_prefix=cfg.n_prefix, pooling=cfg.pooling, max_len=cfg.max_len, projector=cfg.projector,
                   feature_norm=cfg.feature_norm, mu_bn=cfg.mu_bn, logvar_init=cfg.logvar_init,
                   free_bits=cfg.free_bits).to(device)


def llm_dtype(name: str, device: torch.device) -> str:
    """The frozen LLM's weight dtype: bf16 on a CUDA device that supports it (a 7B model is 14 GB instead of
    29 GB, and it never trains), fp32 on a CPU (bf16 matmuls are far slower there)."""
    if name != "auto":
        return name
    return "bfloat16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "float32"


def lr_lambda(cfg: DiffLMConfig, total_steps: int):
    """Linear warmup over warmup_frac of the steps, then constant or cosine decay to 0 (the official script:
    cosine, warmup 0.005)."""
    import math

    warm = max(1, int(cfg.warmup_frac * total_steps)) if cfg.warmup_frac > 0 else 0

    def f(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        if cfg.lr_schedule == "cosine":
            return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / max(1, total_steps - warm))))
        return 1.0
    return f


def param_groups(vae, cfg: DiffLMConfig) -> list[dict]:
    """The pretrained encoder at enc_lr (if set), everything new (head, norms, injector) at lr."""
    enc = [p for p in vae.trainable["encoder"].parameters() if p.requires_grad]
    ids = {id(p) for p in enc}
    new = [p for p in vae.trainable.parameters() if p.requires_grad and id(p) not in ids]
    if cfg.enc_lr is None:
        return [{"params": enc + new}]
    return [{"params": enc, "lr": cfg.enc_lr}, {"params": new}]


def train_vae(vae, train_texts: list[str], val_texts: list[str], cfg: DiffLMConfig, rng: np.random.Generator,
              ckpt_dir: Path | None) -> list[dict]:
    """β-VAE steps, validated every `eval_every` steps (default: once an epoch) on `val_texts`: each validation
    feeds the β schedule and early stopping, appends to the history and saves a checkpoint; ends on the best
    weights. `max_steps` (if set) replaces epochs × steps per epoch as the budget."""
    params = [p for p in vae.trainable.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(param_groups(vae, cfg), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = max(1, len(train_texts) // cfg.batch_size)
    total = cfg.max_steps or cfg.epochs * steps_per_epoch
    eval_every = cfg.eval_every or steps_per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(cfg, total))
    peak = cfg.cycle_beta_max if cfg.cycle_beta_max is not None else 2 * cfg.beta_max   # same KL scale as decreasing
    schedule = (CyclicalBeta(total_steps=total, beta_max=peak) if cfg.beta_schedule == "cyclical" else
                DecreasingBeta(cfg.beta_max, cfg.beta_min, 0.7, cfg.beta_patience, cfg.stop_patience))
    gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
    history, best_state, step, order = [], None, 0, None
    key = ckpt_dir.name if ckpt_dir else ""
    ckpt = Checkpoint(ckpt_dir / "last.pt" if ckpt_dir else None, key, every_s=0)
    # the best weights go to their own file, written only when they change: the official setting's 268 M
    # projector would otherwise be copied into every checkpoint beside the current weights and Adam's state
    best_ckpt = Checkpoint(ckpt_dir / "best.pt" if ckpt_dir else None, key, every_s=0)
    if (state := ckpt.load()) is not None:                  # resume (or reuse a finished VAE)
        vae.trainable.load_state_dict(state["trainable"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["lr_schedule"])
        schedule.load_state_dict(state["schedule"])
        rng.bit_generator.state = state["rng"]
        gen.set_state(state["torch_gen"])
        torch.set_rng_state(state["torch_global"])          # encoder dropout draws from the global generator
        history, step, order = state["history"], state["step"], state["order"]
        best_state = (best_ckpt.load() or {}).get("trainable")
        done = step >= total or schedule.should_stop
        tqdm.write(f"difflm: {'reusing the trained' if done else f'resuming after step {step} the'} VAE in {ckpt.path}")
    bar = tqdm(total=total, initial=step, desc="difflm VAE steps", leave=False)
    rec_sum = kl_sum = 0.0
    since = 0
    while step < total and not schedule.should_stop:
        if step % steps_per_epoch == 0 or order is None:
            order = rng.permutation(len(train_texts)).tolist()      # a new epoch: a new order
        b = step % steps_per_epoch
        vae.train()
        batch = [train_texts[i] for i in order[b * cfg.batch_size:(b + 1) * cfg.batch_size]]
        beta = schedule.value(step)
        with autocast_for(vae.device):
            loss, rec, kl = vae(batch, beta, generator=gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        step, since = step + 1, since + 1
        rec_sum, kl_sum = rec_sum + float(rec), kl_sum + float(kl)
        bar.update(1)
        bar.set_postfix(rec=f"{float(rec):.3f}", kl=f"{float(kl):.3f}", beta=f"{beta:.4f}")
        if step % eval_every and step < total:
            continue
        usage = latent_usage(vae, val_texts, cfg.batch_size)     # z = μ, and another row's μ (diagnostics.py)
        val_rec = usage["val_rec"]
        improved = schedule.observe(val_rec)
        history.append({"step": step, "epoch": round(step / steps_per_epoch, 3), "train_rec": rec_sum / since,
                        "train_kl": kl_sum / since, "val_rec": val_rec, "usage_gap": usage["usage_gap"],
                        "active_units": usage["active_units"], "beta": beta, "lr": sched.get_last_lr()[-1]})
        rec_sum = kl_sum = 0.0
        since = 0
        if improved:
            best_state = {k: v.detach().cpu().clone() for k, v in vae.trainable.state_dict().items()}
            best_ckpt.save(lambda: {"trainable": best_state, "step": step}, final=True)
        ckpt.save(lambda: {"trainable": vae.trainable.state_dict(), "optimizer": opt.state_dict(),   # every validation
                           "lr_schedule": sched.state_dict(), "schedule": schedule.state_dict(),
                           "rng": rng.bit_generator.state, "torch_gen": gen.get_state(),
                           "torch_global": torch.get_rng_state(), "history": history, "step": step, "order": order})
    bar.close()
    if best_state is not None:
        vae.trainable.load_state_dict(best_state)
    return history


@torch.no_grad()
def encode_all(vae, texts: list[str], cfg: DiffLMConfig) -> torch.Tensor:
    vae.eval()
    out = []
    for i in range(0, len(texts), cfg.gen_batch_size):
        with autocast_for(vae.device):
            out.append(vae.encode(texts[i:i + cfg.gen_batch_size])[0].float().cpu())
    return torch.cat(out)


def train_diffusion(x: torch.Tensor, cfg: DiffLMConfig, rng: np.random.Generator, ckpt_dir: Path | None,
                    device: torch.device):
    """The EDM prior on the normalised latent means; early stop on the train loss; keeps the best weights.
    A trained denoiser is saved beside the VAE and reused (minutes of work at most, but free to keep)."""
    from methods.difflm.diffusion import EDM, MLPDenoiser

    from dataclasses import replace

    from methods.difflm.diffusion import DIFFLM_EDM

    edm = EDM(MLPDenoiser(x.shape[1], cfg.diff_dim_t, cfg.diff_blocks),
              replace(DIFFLM_EDM, s_churn=cfg.diff_churn)).to(device)
    key = f"denoiser-{cfg.diff_dim_t}-{cfg.diff_blocks}-{cfg.diff_epochs}-{cfg.diff_patience}-{cfg.diff_lr:g}.pt"
    ckpt = Checkpoint(ckpt_dir / key if ckpt_dir else None, key)
    if (state := ckpt.load()) is not None:
        edm.load_state_dict(state["denoiser"])
        rng.bit_generator.state = state["rng"]
        edm.eval()
        return edm, state["history"]
    opt = torch.optim.AdamW(edm.parameters(), lr=cfg.diff_lr)
    gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
    history, best, bad, best_state = [], float("inf"), 0, None
    bs = min(512, len(x))
    for _ in tqdm(range(cfg.diff_epochs), desc="difflm diffusion", leave=False):
        order = torch.randperm(len(x), generator=gen)
        total = 0.0
        for i in range(0, len(x), bs):
            batch = x[order[i:i + bs]].to(device)
            loss = edm.loss(batch, generator=None)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(batch)
        total /= len(x)
        history.append(total)
        if total < best:
            best, bad, best_state = total, 0, {k: v.detach().clone() for k, v in edm.state_dict().items()}
        else:
            bad += 1
            if bad >= cfg.diff_patience:
                break
    edm.load_state_dict(best_state)
    edm.eval()
    ckpt.save(lambda: {"denoiser": best_state, "rng": rng.bit_generator.state, "history": history}, final=True)
    return edm, history
