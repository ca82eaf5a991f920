"""DiffLM (Zhou et al. 2025): a β-VAE over record texts with a frozen LLM decoder, a latent diffusion
prior, and sampling = diffuse -> inject -> decode -> parse -> filter.

Written by hand because no maintained package implements it; see docs/spec/difflm_official_code.md
for what the authors' code does (we follow it, minus its bugs: β really decreases on plateaus, the
soft tokens sit right before BOS with consistent positions, generation is batched with a KV cache).

Every modality goes through the same model: a codec (`codecs.py`) turns tables, text, code or JSON records
into texts and decoded texts back into records. Layout: `config.py` (settings and profiles), `train.py`
(VAE and diffusion loops, checkpoints), `sampling.py`, `vae.py` / `injectors.py` / `beta.py` /
`diffusion.py` (the model), `table.py` + `constrained.py` (a row's text and grammar, xgrammar decoding).
"""
from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from harness.api import MODALITIES, Data, Metadata, Method
from methods.difflm.codecs import codec_for
from methods.difflm.config import PROFILES, DiffLMConfig
from methods.difflm.diagnostics import console_line, latent_report
from methods.difflm.recon import reconstruct
from methods.difflm.sampling import decode_limit, effective_decoding, sample_records
from methods.difflm.train import (budgeted_steps, build_vae, checkpoint_dir, encode_all, resolve_device,
                                  train_diffusion, train_vae)


class DiffLMMethod(Method):
    name = "difflm"
    modalities = frozenset(MODALITIES)
    # adult, 2 idle CPU cores: VAE + diffusion 30 min, 2,000 rows 12 min (method_notes.csv, "sizing"); records
    # with long texts get fewer VAE steps (max_train_positions), so their fit takes about as long
    # per job, for cluster executors (harness/executors): a frozen LLM and its decode batches on 2 cores; one GPU
    resources = {"cpu": {"cpus": 2, "memory_gb": 8}, "gpu": {"cpus": 4, "gpus": 1, "memory_gb": 32},
                 "paper": {"cpus": 8, "gpus": 1, "memory_gb": 64}}
    cost = {"smoke": "seconds", "cpu": "~50 min on adult, 2 cores (~12 min when the VAE is cached)",
            "gpu": "one GPU, under 10 min on adult (estimated; benchmarks/device_difflm_gpu.sh)",
            "paper": "GPU, hours (Mistral-7B)"}
    variant: dict = {}
    # the settings live in config.PROFILES (from_profile reads them); the names tell the app which exist
    profiles = {name: {} for name in PROFILES}
    # Tables with NaN through the harness's indicator policy (a row text has no place for NaN). No kept model:
    # the VAE and denoiser checkpoints (cache) make a refit a reload, and a pickle would hold the frozen LLM.
    tags = {**Method.tags, "keep_fitted": False}
    preflight = {"max_steps": 2, "recon_rows": 0, "diff_epochs": 2}   # seconds: the code paths, not a model

    def __init__(self, config: dict | None = None, seed: int = 0):
        # config None: the default profile's; a variant's setting always holds (DiffLMMemory() injects by
        # memory), so rebuilding from get_params() gives the same model
        base = asdict(PROFILES[self.default_profile]) if config is None else dict(config)
        self.config = {**base, **self.variant}
        self.seed = seed

    @classmethod
    def from_profile(cls, profile: str, **overrides):
        """Overrides may name DiffLMConfig fields (e.g. decoding="free") as well as __init__ params."""
        fields = set(DiffLMConfig.__dataclass_fields__)
        unknown = set(overrides) - fields - set(cls._param_names())
        if unknown:
            raise ValueError(f"{cls.name}: unknown params {sorted(unknown)}; config fields are {sorted(fields)}")
        cls.profile_params(profile)                 # an unknown profile names those that exist
        cfg = replace(PROFILES[profile], **{**cls.variant, **{k: v for k, v in overrides.items() if k in fields}})
        return cls(config=asdict(cfg), **{k: v for k, v in overrides.items() if k not in fields})

    @classmethod
    def param_defaults(cls) -> dict:
        return {**asdict(DiffLMConfig()), "seed": 0}

    def cfg(self) -> DiffLMConfig:
        return DiffLMConfig(**self.config)

    @classmethod
    def benchmark(cls, splits, *, profile: str = "cpu", dry_run: bool = False) -> dict:
        """Speed and memory on a task's records with an untrained VAE (`python -m harness bench`; bench.py);
        dry_run: parameter counts and checkpoint size only, no weights loaded (splits may be None)."""
        from methods.difflm import bench

        return bench.dry_run(cls, profile=profile) if dry_run else bench.run(splits, cls, profile=profile)

    def fit(self, train: Data, metadata: Metadata, *, work_dir: Path | None = None,
            cache_dir: Path | None = None) -> "DiffLMMethod":
        """Trains the VAE on the codec's texts, then the prior on their latent means. VAE epochs and the
        denoiser are saved under cache_dir (else work_dir), shared by jobs that train the same VAE."""
        self._check_input(train, metadata)
        cfg = self.cfg()
        device = resolve_device(cfg.device)
        rng = np.random.default_rng(self.seed)
        torch.manual_seed(self.seed)     # parameter init of the new heads; the LLM is frozen
        codec = codec_for(metadata, cfg.row_format)
        texts = codec.encode(train)
        codec.fit(texts)                 # a table's number shapes: from every training row, not the subsample
        if cfg.max_train_rows and len(texts) > cfg.max_train_rows:
            texts = [texts[i] for i in rng.choice(len(texts), cfg.max_train_rows, replace=False)]
        perm = rng.permutation(len(texts))
        n_val = max(1, int(len(texts) * cfg.val_fraction))
        n_val = min(n_val, cfg.val_rows) if cfg.val_rows else n_val      # validation costs a forward pass a row
        val_texts, train_texts = [texts[i] for i in perm[:n_val]], [texts[i] for i in perm[n_val:]]

        vae = build_vae(cfg, device)
        self.codec_, self.vae_, self.device_, self.work_dir_ = codec, vae, device, work_dir
        self.decoding_ = effective_decoding(cfg, codec)
        self.max_new_tokens_ = decode_limit(cfg, self.decoding_, vae.llm_tok, texts, codec)
        # the budget in steps (keys the cached VAE; max_train_positions itself does not, so a record whose budget
        # was already in steps keeps its cache)
        cfg = replace(cfg, max_steps=budgeted_steps(cfg, train_texts, vae.llm_tok))
        self.vae_steps_ = cfg.max_steps
        ckpt_dir = checkpoint_dir(cache_dir or work_dir, cfg, self.seed, texts)
        self.history_ = train_vae(vae, train_texts, val_texts, cfg, rng, ckpt_dir)
        self.recon_ = (reconstruct(vae, codec, val_texts[:cfg.recon_rows], cfg, decoding=self.decoding_,
                                   max_new_tokens=self.max_new_tokens_, train_texts=train_texts)
                       if cfg.recon_rows else {})
        self.latent_ = latent_report(vae, val_texts, self.recon_, cfg.batch_size)
        tqdm.write(console_line(self.name, self.latent_))
        mu = encode_all(vae, texts, cfg)
        self.latent_mean_ = mu.mean(0, keepdim=True)
        if cfg.diffusion:
            self.edm_, self.diff_history_ = train_diffusion((mu - self.latent_mean_) / 2, cfg, rng, ckpt_dir, device)
        self.fitted_ = True
        return self

    def sample_budget(self, n_default: int) -> int:
        cap = self.cfg().max_sample_rows
        return min(n_default, cap) if cap else n_default

    def sample(self, n: int, *, seed: int = 0) -> Data:
        """A DataFrame for a table, a list of str for text and code, a list of dict for JSON. With a
        work_dir, a killed run resumes with the batches it had not finished (see sampling.py)."""
        self._check_fitted()
        progress = Path(self.work_dir_) / f"sampling-{n}-{seed}.json" if self.work_dir_ else None
        self.sampling_ = {}
        rows = sample_records(self.vae_, self._prior, self.codec_, self.cfg(), n, seed, decoding=self.decoding_,
                              max_new_tokens=self.max_new_tokens_, progress=progress, report=self.sampling_)
        return self.codec_.collect(rows)

    def _prior(self, b: int, gen: torch.Generator) -> torch.Tensor:
        cfg = self.cfg()
        if not cfg.diffusion:
            return torch.randn(b, cfg.d_z, generator=gen).to(self.device_)
        x = self.edm_.sample(b, cfg.d_z, steps=cfg.diff_steps, generator=gen).to(self.device_)
        return 2 * x + self.latent_mean_.to(self.device_)

    def extra_record(self) -> dict:
        out = {"vae_steps": getattr(self, "vae_steps_", None), "vae_history": getattr(self, "history_", []),
               "sampling": getattr(self, "sampling_", {}), "reconstruction": getattr(self, "recon_", {}),
               "latent": getattr(self, "latent_", {})}
        if hasattr(self, "diff_history_"):
            h = self.diff_history_
            out["diffusion"] = {"epochs": len(h), "first_loss": h[0], "best_loss": min(h)}
        return out


class DiffLMMemory(DiffLMMethod):
    name = "difflm-memory"
    variant = {"injector": "memory"}


class DiffLMEmbed(DiffLMMethod):
    name = "difflm-embed"
    variant = {"injector": "embed"}


class DiffLMCycle(DiffLMMethod):
    name = "difflm-cycle"
    variant = {"beta_schedule": "cyclical"}


class DiffLMNoDiff(DiffLMMethod):
    name = "difflm-nodiff"
    variant = {"diffusion": False}
    # Same budget as difflm (the ablation compares priors, so it samples as many rows; it reuses difflm's
    # cached VAE). z ~ N(0, I) is off the VAE's training distribution and decodes slower (method_notes.csv,
    # topic "sizing"), so it costs more sampling time.
    cost = {**DiffLMMethod.cost, "cpu": "~50 min on adult, 2 cores (~20 min of sampling when difflm's VAE is cached)"}
