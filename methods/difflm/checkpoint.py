"""Resumable training state for DiffLM: only what trains (encoder, head, injector, denoiser) plus the
optimiser, β schedule and random-number states. The frozen LLM is never written; it is reloaded from its
own files.

A checkpoint folder is keyed by everything that determines the VAE's training (the VAE part of the
config, the seed, the training texts), so a killed run resumes from its last finished epoch, and a
variant that differs only after the VAE (difflm-nodiff, another temperature or decoding mode) reuses the
trained VAE instead of training it again.
"""
from __future__ import annotations

import hashlib
import json

# DiffLMConfig fields that change how the VAE trains (the rest act after it: diffusion and sampling).
VAE_FIELDS = ("encoder", "decoder", "injector", "d_z", "k", "n_prefix", "pooling", "beta_schedule", "beta_max",
              "beta_min", "beta_patience", "stop_patience", "epochs", "batch_size", "lr", "max_train_rows",
              "val_fraction", "max_len")


def vae_key(config: dict, seed: int, texts: list[str]) -> str:
    h = hashlib.sha256(json.dumps({f: config[f] for f in VAE_FIELDS}, sort_keys=True).encode())
    h.update(f"seed={seed}".encode())
    for t in texts:
        h.update(t.encode())
        h.update(b"\n")
    return h.hexdigest()[:16]
