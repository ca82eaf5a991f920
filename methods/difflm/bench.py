"""`python -m harness bench difflm`: training tokens/s, generation tokens/s, valid rows/s, peak memory.

Times a few VAE training steps and one batched generation on real task rows with the profile's models,
so speed targets live here and not in the unit tests.
"""
from __future__ import annotations

import resource
import time

import torch

from methods.difflm import DiffLMConfig, autocast_for, build_vae, decode_limit
from methods.difflm.text import frame_to_texts, parse_record


def run(splits, *, profile: str = "cpu", steps: int = 3, n_generate: int = 16, method: str = "difflm") -> dict:
    from methods.difflm.constrained import SchemaConstraint, number_formats

    from methods import METHODS

    cfg: DiffLMConfig = METHODS.get(method).from_profile(profile).cfg()     # the variant's injector etc.
    meta = splits.metadata
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    texts = frame_to_texts(splits.train.sample(n=steps * cfg.batch_size, random_state=0, replace=True), meta)
    t = time.perf_counter()
    vae = build_vae(cfg, device)
    load_s = time.perf_counter() - t
    llm, ltok = vae.llm, vae.llm_tok
    opt = torch.optim.AdamW([p for p in vae.trainable.parameters() if p.requires_grad], lr=cfg.lr)
    autocast = autocast_for(device)
    n_tokens = 0
    t = time.perf_counter()
    for i in range(steps):
        batch = texts[i * cfg.batch_size:(i + 1) * cfg.batch_size]
        n_tokens += int(vae.token_batch(batch)[1].sum())
        with autocast:
            loss, _, _ = vae(batch, cfg.beta_max)
        opt.zero_grad()
        loss.backward()
        opt.step()
    train_s = time.perf_counter() - t
    out = {"profile": profile, "device": str(device), "threads": torch.get_num_threads(), "load_s": round(load_s, 2),
           "train_tokens_per_s": round(n_tokens / train_s, 1), "train_steps": steps, "batch_size": cfg.batch_size}
    formats = number_formats(texts, meta)
    for mode in ("free", "constrained"):
        constraint = SchemaConstraint(meta, ltok, llm.config.vocab_size, cfg.max_digits,
                                      formats) if mode == "constrained" else None
        z = torch.randn(n_generate, cfg.d_z, generator=torch.Generator().manual_seed(0)).to(device)
        t = time.perf_counter()
        with autocast:
            gen = vae.generate(z, max_new_tokens=decode_limit(cfg, mode, ltok, texts, meta, formats), temperature=cfg.temperature,
                               generator=torch.Generator().manual_seed(0), constraint=constraint)
        s = time.perf_counter() - t
        n_gen_tokens = sum(len(ltok(g, add_special_tokens=False).input_ids) + 1 for g in gen)
        valid = sum(parse_record(g, meta).ok for g in gen)
        out[mode] = {"rows": n_generate, "gen_tokens_per_s": round(n_gen_tokens / s, 1),
                     "valid_rate": valid / n_generate, "valid_rows_per_s": round(valid / s, 3), "seconds": round(s, 1)}
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    if device.type == "cuda":
        out["peak_cuda_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    out["note"] = "untrained VAE: valid rates here measure the decoder and constraint, not a fitted model"
    return out
