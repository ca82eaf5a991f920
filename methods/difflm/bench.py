"""`python -m harness bench difflm` (`DiffLMMethod.benchmark`): training tokens/s, generation tokens/s, valid
rows/s, peak memory.

Times a few VAE training steps and one batched generation on real task records with the profile's models,
so speed targets live here and not in the unit tests.
"""
from __future__ import annotations

import resource
import time

import numpy as np
import pandas as pd
import torch

from methods.difflm.codecs import codec_for
from methods.difflm.config import DiffLMConfig
from methods.difflm.constrained import SchemaConstraint
from methods.difflm.sampling import decode_limit
from methods.difflm.table import ROW_FORMATS
from methods.difflm.train import autocast_for, build_vae


def run(splits, method_cls, *, profile: str = "cpu", steps: int = 3, n_generate: int = 16) -> dict:
    """For a table, every row format (table.ROW_FORMATS) is measured on the same rows with one loaded VAE."""
    cfg: DiffLMConfig = method_cls.from_profile(profile).cfg()     # the variant's injector etc.
    n = steps * cfg.batch_size
    if isinstance(splits.train, pd.DataFrame):
        pool = splits.train.sample(n=max(n, 500), random_state=0, replace=len(splits.train) < max(n, 500))
        formats = ROW_FORMATS
    else:
        pool = [splits.train[i] for i in np.random.default_rng(0).integers(0, len(splits.train), max(n, 500))]
        formats = (cfg.row_format,)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    t = time.perf_counter()
    vae = build_vae(cfg, device)
    out = {"profile": profile, "device": str(device), "threads": torch.get_num_threads(),
           "load_s": round(time.perf_counter() - t, 2), "train_steps": steps, "batch_size": cfg.batch_size,
           "k": cfg.k, "formats": {}}
    for fmt in formats:
        codec = codec_for(splits.metadata, fmt)
        texts = codec.encode(pool)
        codec.fit(texts)
        out["formats"][fmt] = measure(vae, codec, texts, cfg, device, steps, n_generate)
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    if device.type == "cuda":
        out["peak_cuda_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    out["note"] = "untrained VAE: valid rates here measure the decoder and constraint, not a fitted model"
    return out


def measure(vae, codec, texts: list[str], cfg: DiffLMConfig, device, steps: int, n_generate: int) -> dict:
    llm, ltok = vae.llm, vae.llm_tok
    lengths = [len(ltok(t, add_special_tokens=False).input_ids) for t in texts]
    opt = torch.optim.AdamW([p for p in vae.trainable.parameters() if p.requires_grad], lr=cfg.lr)
    n_tokens = 0
    t = time.perf_counter()
    for i in range(steps):
        batch = texts[i * cfg.batch_size:(i + 1) * cfg.batch_size]
        n_tokens += int(vae.token_batch(batch)[1].sum())
        with autocast_for(device):
            loss, _, _ = vae(batch, cfg.beta_max)
        opt.zero_grad()
        loss.backward()
        opt.step()
    train_s = time.perf_counter() - t
    out = {"tokens_per_row_mean": round(float(np.mean(lengths)), 1), "tokens_per_row_max": int(max(lengths)),
           "train_tokens_per_s": round(n_tokens / train_s, 1),
           "train_rows_per_s": round(steps * cfg.batch_size / train_s, 3)}
    for mode in ("free", "constrained") if codec.has_grammar else ("free",):
        grammar = codec.grammar(cfg.max_digits) if mode == "constrained" else None
        constraint = SchemaConstraint(grammar, ltok, llm.config.vocab_size) if grammar is not None else None
        z = torch.randn(n_generate, cfg.d_z, generator=torch.Generator().manual_seed(0)).to(device)
        t = time.perf_counter()
        with autocast_for(device):
            gen = vae.generate(z, max_new_tokens=decode_limit(cfg, mode, ltok, texts, codec), temperature=cfg.temperature,
                               generator=torch.Generator().manual_seed(0), constraint=constraint)
        s = time.perf_counter() - t
        n_gen_tokens = sum(len(ltok(g, add_special_tokens=False).input_ids) + 1 for g in gen)
        valid = sum(codec.parse(g).ok for g in gen)
        out[mode] = {"rows": n_generate, "gen_tokens_per_s": round(n_gen_tokens / s, 1),
                     "valid_rate": valid / n_generate, "valid_rows_per_s": round(valid / s, 3), "seconds": round(s, 1)}
    return out


# Architectures of the paper's models, for a dry run without the hub (transformers' configs, as published).
KNOWN_CONFIGS = {
    "mistralai/Mistral-7B-Instruct-v0.3": {"hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
                                           "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 32768},
    "bert-base-uncased": {"hidden_size": 768},
}


def model_config(name: str) -> tuple[dict, str]:
    """A model's architecture numbers without its weights: the packaged or cached config, else KNOWN_CONFIGS."""
    from transformers import AutoConfig

    from methods.backbones import minilm_dir, model_cache

    local = {"smollm2": model_cache() / "smollm2-135m-instruct-f32", "minilm": minilm_dir()}.get(name, name)
    try:
        return AutoConfig.from_pretrained(local, local_files_only=True).to_dict(), "config file"
    except (OSError, ValueError):
        if name in KNOWN_CONFIGS:
            return dict(KNOWN_CONFIGS[name]), "KNOWN_CONFIGS (no local config file)"
        raise


def dry_run(method_cls, *, profile: str) -> dict:
    """Parameter counts of what DiffLM trains on top of the frozen LLM, built on the meta device (no memory,
    no weights loaded), and what one checkpoint then weighs in fp32 (weights + AdamW's two moments; best.pt
    holds one more copy of the weights, written only when they improve)."""
    from types import SimpleNamespace

    from methods.difflm.injectors import build_injector

    cfg: DiffLMConfig = method_cls.from_profile(profile).cfg()
    llm, llm_src = model_config(cfg.decoder)
    enc, enc_src = model_config(cfg.encoder)
    out = {"profile": profile, "decoder": cfg.decoder, "encoder": cfg.encoder, "decoder_config": llm_src,
           "encoder_config": enc_src, "d_z": cfg.d_z, "k": cfg.k, "n_prefix": cfg.n_prefix, "injector": cfg.injector}
    for projector in dict.fromkeys((cfg.projector, "linear", "mlp")):
        with torch.device("meta"):
            inj = build_injector(cfg.injector, cfg.d_z, SimpleNamespace(**llm), k=cfg.k, n_prefix=cfg.n_prefix,
                                 projector=projector)
        out[f"injector_params[{projector}]"] = sum(p.numel() for p in inj.parameters())
    head = enc["hidden_size"] * 2 * cfg.d_z + (2 * cfg.d_z if cfg.projector != "linear" else 0)
    trainable = out[f"injector_params[{cfg.projector}]"] + head
    out.update(projector=cfg.projector, head_params=head, trainable_without_encoder=trainable,
               checkpoint_gb_without_encoder=round(trainable * 4 * 3 / 1e9, 2),
               note="the encoder (bert-base: ~110 M) trains too; its weights and Adam state add ~1.3 GB")
    return out
