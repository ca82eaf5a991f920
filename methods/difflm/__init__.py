"""DiffLM (Zhou et al. 2025): a β-VAE over record texts with a frozen LLM decoder, a latent diffusion
prior, and sampling = diffuse -> inject -> decode -> parse -> filter.

Written by hand because no maintained package implements it; see ../shared/spec/difflm_official_code.md
for what the authors' code does (we follow it, minus its bugs: β really decreases on plateaus, the
soft tokens sit right before BOS with consistent positions, generation is batched with a KV cache).
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from harness.api import Method, TableMetadata
from harness.store import write_json_atomic
from methods.difflm.beta import CyclicalBeta, DecreasingBeta
from methods.difflm.constrained import SchemaConstraint, number_formats, row_max_bytes
from methods.difflm.text import frame_to_texts, parse_record


@dataclass(frozen=True)
class DiffLMConfig:
    encoder: str = "minilm"           # HF name/path, or minilm / tiny-bert
    decoder: str = "smollm2"          # HF name/path, or smollm2 / tiny-llama
    injector: str = "prompt"          # prompt | memory | embed
    d_z: int = 64                     # latent size
    k: int = 8                        # soft tokens from z (prompt injector)
    n_prefix: int = 0                 # learned prefix tokens before them (official code: 32)
    pooling: str = "mean"             # encoder pooling: mean | cls
    beta_schedule: str = "decreasing"  # decreasing | cyclical
    beta_max: float = 0.1
    beta_min: float = 0.001
    beta_patience: int = 2            # validations without improvement before β *= 0.7
    stop_patience: int = 6            # ... before early stopping
    epochs: int = 10
    batch_size: int = 16
    lr: float = 1e-4
    max_train_rows: int | None = 2000  # subsample training rows (None: all)
    val_fraction: float = 0.1
    max_len: int = 256
    diffusion: bool = True            # False: z ~ N(0, I) (difflm-nodiff)
    diff_dim_t: int = 256
    diff_blocks: int = 2
    diff_epochs: int = 300
    diff_patience: int = 50
    diff_steps: int = 50
    temperature: float = 0.5
    decoding: str = "free"            # free (the paper's: decode, parse, filter) | constrained (xgrammar)
    max_digits: int = 15              # constrained mode: digits allowed before and after the decimal point
    max_new_tokens: int = 512         # cap; free mode stops at 1.25x the longest text, constrained at the grammar's bound
    gen_batch_size: int = 32
    max_attempts_factor: int = 20     # give up after n * this many decoded rows
    max_sample_rows: int | None = None  # rows sampled when the user gives no --n-samples (None: as many as train)
    device: str = "auto"              # auto | cpu | cuda


PROFILES = {
    "smoke": DiffLMConfig(encoder="tiny-bert", decoder="tiny-llama", d_z=8, k=2, epochs=2, batch_size=8,
                          max_train_rows=64, diff_dim_t=32, diff_blocks=1, diff_epochs=20, diff_steps=8,
                          max_new_tokens=96, gen_batch_size=32, max_attempts_factor=3, lr=1e-3,
                          decoding="constrained", max_digits=3),   # a random tiny LLM never writes valid JSON by itself
    # Sized from measurements on 2 CPU cores: a VAE step (16 adult rows, SmolLM2 forward + backward to the soft
    # prompt, MiniLM forward + backward) takes ~15-20 s, decoding gives ~1-1.5 rows/s. 512 rows x 2 epochs
    # and 1,000 sampled rows keep adult near 35 min end to end; schema-constrained decoding because a VAE
    # trained this briefly rarely writes the exact JSON by itself (free decoding: --set difflm.decoding=free).
    "cpu": DiffLMConfig(max_train_rows=512, epochs=2, lr=5e-4, max_sample_rows=1000, gen_batch_size=48,
                        decoding="constrained", max_digits=7),
    "paper": DiffLMConfig(encoder="bert-base-uncased", decoder="mistralai/Mistral-7B-Instruct-v0.3", d_z=1024,
                          k=64, n_prefix=0, pooling="cls", epochs=200, batch_size=32, lr=1e-5, max_train_rows=None,
                          beta_patience=5, stop_patience=20, diff_dim_t=4096, diff_blocks=5, diff_epochs=10000,
                          diff_patience=500, max_new_tokens=512, gen_batch_size=64),
}


def build_vae(cfg: DiffLMConfig, device: torch.device):
    """Load the encoder and the frozen LLM named by `cfg` and join them into a TextVAE on `device`."""
    from methods.difflm.backbones import load_decoder, load_encoder
    from methods.difflm.vae import TextVAE

    llm, llm_tok = load_decoder(cfg.decoder)
    enc, enc_tok, enc_hidden = load_encoder(cfg.encoder)
    return TextVAE(enc, enc_tok, enc_hidden, llm, llm_tok, d_z=cfg.d_z, injector=cfg.injector, k=cfg.k,
                   n_prefix=cfg.n_prefix, pooling=cfg.pooling, max_len=cfg.max_len).to(device)


def decode_limit(cfg: DiffLMConfig, decoding: str, tok, texts: list[str], meta: TableMetadata | None = None,
                 formats: dict | None = None) -> int:
    """max_new_tokens for generation. A batch decodes until its slowest row ends, so one runaway row costs
    the whole batch: in free mode stop rows at 1.25x the longest training text. In constrained mode the
    grammar bounds a row (`row_max_bytes`, + 1 for EOS), so a row is never cut unless max_new_tokens is
    below that bound (the smoke profile's 96 is, on purpose: a random tiny LLM would run to the bound)."""
    if decoding == "constrained":
        return min(cfg.max_new_tokens, row_max_bytes(meta, cfg.max_digits, formats) + 1) if meta is not None \
            else cfg.max_new_tokens
    longest = max(len(tok(t, add_special_tokens=False).input_ids) for t in texts)
    return min(cfg.max_new_tokens, int(1.25 * longest) + 8)


def autocast_for(device: torch.device):
    """bf16 autocast on CUDA; plain float32 on CPU (bf16 is far slower there)."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


class DiffLMMethod(Method):
    name = "difflm"
    variant: dict = {}
    variant_profiles: dict = {}       # profile -> config fields a variant sizes differently there

    def __init__(self, config: dict | None = None, seed: int = 0):
        self.config = config
        self.seed = seed

    @classmethod
    def from_profile(cls, profile: str, **overrides):
        """Overrides may name DiffLMConfig fields (e.g. decoding="free") as well as __init__ params."""
        fields = set(DiffLMConfig.__dataclass_fields__)
        unknown = set(overrides) - fields - set(cls._param_names())
        if unknown:
            raise ValueError(f"{cls.name}: unknown params {sorted(unknown)}; config fields are {sorted(fields)}")
        cfg = replace(PROFILES.get(profile, DiffLMConfig()), **{**cls.variant, **cls.variant_profiles.get(profile, {}),
                                                                **{k: v for k, v in overrides.items() if k in fields}})
        return cls(config=asdict(cfg), **{k: v for k, v in overrides.items() if k not in fields})

    def cfg(self) -> DiffLMConfig:
        return DiffLMConfig(**(self.config or {}))

    # ------------------------------------------------------------------------------------------
    def fit(self, train: pd.DataFrame, metadata: TableMetadata) -> "DiffLMMethod":
        metadata.check(train)
        cfg = self.cfg()
        device = torch.device("cuda" if cfg.device == "auto" and torch.cuda.is_available() else
                              "cpu" if cfg.device == "auto" else cfg.device)
        rng = np.random.default_rng(self.seed)
        torch.manual_seed(self.seed)     # parameter init of the new heads; the LLM is frozen
        rows = train[metadata.columns].reset_index(drop=True)
        if cfg.max_train_rows and len(rows) > cfg.max_train_rows:
            rows = rows.iloc[rng.choice(len(rows), cfg.max_train_rows, replace=False)].reset_index(drop=True)
        texts = frame_to_texts(rows, metadata)
        # Number shapes from every training row (not just the subsample): the constrained grammar's bounds.
        self.num_formats_ = number_formats(frame_to_texts(train[metadata.columns], metadata), metadata)
        perm = rng.permutation(len(texts))
        n_val = max(1, int(len(texts) * cfg.val_fraction))
        val_texts, train_texts = [texts[i] for i in perm[:n_val]], [texts[i] for i in perm[n_val:]]

        vae = build_vae(cfg, device)
        self.meta_, self.vae_, self.device_ = metadata, vae, device
        self.max_new_tokens_ = decode_limit(cfg, cfg.decoding, vae.llm_tok, texts, metadata, self.num_formats_)
        ckpt_dir = self._checkpoint_dir(cfg, texts)
        self.history_ = self._train_vae(vae, train_texts, val_texts, cfg, rng, ckpt_dir)
        mu = self._encode_all(vae, texts, cfg)
        self.latent_mean_ = mu.mean(0, keepdim=True)
        if cfg.diffusion:
            self.edm_, self.diff_history_ = self._train_diffusion((mu - self.latent_mean_) / 2, cfg, rng, ckpt_dir)
        self.fitted_ = True
        return self

    def sample_budget(self, n_default: int) -> int:
        cap = self.cfg().max_sample_rows
        return min(n_default, cap) if cap else n_default

    def _checkpoint_dir(self, cfg: DiffLMConfig, texts: list[str]) -> Path | None:
        """Where the VAE's epochs are saved: shared by every job that trains the same VAE (see checkpoint.py)."""
        from methods.difflm.checkpoint import vae_key

        root = self.cache_dir or self.work_dir
        return None if root is None else Path(root) / "difflm-vae" / vae_key(asdict(cfg), self.seed, texts)

    def _autocast(self):
        return autocast_for(self.device_)

    def _train_vae(self, vae, train_texts, val_texts, cfg, rng, ckpt_dir: Path | None) -> list[dict]:
        from methods import torch_io

        params = [p for p in vae.trainable.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=cfg.lr)
        steps_per_epoch = max(1, len(train_texts) // cfg.batch_size)
        schedule = (CyclicalBeta(total_steps=cfg.epochs * steps_per_epoch, beta_max=0.2)
                    if cfg.beta_schedule == "cyclical" else
                    DecreasingBeta(cfg.beta_max, cfg.beta_min, 0.7, cfg.beta_patience, cfg.stop_patience))
        gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
        history, best_state, step, start = [], None, 0, 0
        last = ckpt_dir / "last.pt" if ckpt_dir else None
        if (state := torch_io.load(last)) is not None:      # resume (or reuse a finished VAE)
            vae.trainable.load_state_dict(state["trainable"])
            opt.load_state_dict(state["optimizer"])
            schedule.load_state_dict(state["schedule"])
            rng.bit_generator.state = state["rng"]
            gen.set_state(state["torch_gen"])
            torch.set_rng_state(state["torch_global"])      # encoder dropout draws from the global generator
            history, best_state, step, start = state["history"], state["best"], state["step"], state["epoch"]
            done = state["epoch"] >= cfg.epochs or schedule.should_stop
            tqdm.write(f"difflm: {'reusing the trained' if done else f'resuming after epoch {start} the'} VAE in {last}")
        for epoch in range(start, cfg.epochs):
            if schedule.should_stop:
                break
            vae.train()
            order = rng.permutation(len(train_texts))
            rec_sum = kl_sum = 0.0
            bar = tqdm(range(steps_per_epoch), desc=f"difflm VAE epoch {epoch + 1}/{cfg.epochs}", leave=False)
            for b in bar:
                batch = [train_texts[i] for i in order[b * cfg.batch_size:(b + 1) * cfg.batch_size]]
                beta = schedule.value(step)
                with self._autocast():
                    loss, rec, kl = vae(batch, beta, generator=gen)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                opt.step()
                step += 1
                rec_sum, kl_sum = rec_sum + float(rec), kl_sum + float(kl)
                bar.set_postfix(rec=f"{float(rec):.3f}", kl=f"{float(kl):.3f}", beta=f"{beta:.4f}")
            val_rec = self._val_loss(vae, val_texts, cfg)
            improved = schedule.observe(val_rec)
            history.append({"epoch": epoch + 1, "train_rec": rec_sum / steps_per_epoch, "train_kl": kl_sum / steps_per_epoch,
                            "val_rec": val_rec, "beta": beta})
            if improved:
                best_state = {k: v.detach().cpu().clone() for k, v in vae.trainable.state_dict().items()}
            if last is not None:
                torch_io.save(last, {"trainable": vae.trainable.state_dict(), "optimizer": opt.state_dict(),
                                       "schedule": schedule.state_dict(), "rng": rng.bit_generator.state,
                                       "torch_gen": gen.get_state(), "torch_global": torch.get_rng_state(),
                                       "history": history, "best": best_state,
                                       "step": step, "epoch": epoch + 1})
        if best_state is not None:
            vae.trainable.load_state_dict(best_state)
        return history

    @torch.no_grad()
    def _val_loss(self, vae, texts, cfg) -> float:
        vae.eval()
        total = 0.0
        for i in range(0, len(texts), cfg.batch_size):
            batch = texts[i:i + cfg.batch_size]
            with self._autocast():
                mu, _ = vae.encode(batch)
                total += float(vae.reconstruction_loss(mu, batch)) * len(batch)   # deterministic: z = μ
        return total / len(texts)

    @torch.no_grad()
    def _encode_all(self, vae, texts, cfg) -> torch.Tensor:
        vae.eval()
        out = []
        for i in range(0, len(texts), cfg.gen_batch_size):
            with self._autocast():
                out.append(vae.encode(texts[i:i + cfg.gen_batch_size])[0].float().cpu())
        return torch.cat(out)

    def _train_diffusion(self, x: torch.Tensor, cfg, rng, ckpt_dir: Path | None):
        from methods import torch_io
        from methods.difflm.diffusion import EDM, MLPDenoiser

        edm = EDM(MLPDenoiser(x.shape[1], cfg.diff_dim_t, cfg.diff_blocks)).to(self.device_)
        key = f"denoiser-{cfg.diff_dim_t}-{cfg.diff_blocks}-{cfg.diff_epochs}-{cfg.diff_patience}.pt"
        path = ckpt_dir / key if ckpt_dir else None
        if (state := torch_io.load(path)) is not None:      # minutes of work at most, but free to keep
            edm.load_state_dict(state["denoiser"])
            rng.bit_generator.state = state["rng"]
            edm.eval()
            return edm, state["history"]
        opt = torch.optim.AdamW(edm.parameters(), lr=1e-3)
        gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
        history, best, bad, best_state = [], float("inf"), 0, None
        bs = min(512, len(x))
        for epoch in tqdm(range(cfg.diff_epochs), desc="difflm diffusion", leave=False):
            order = torch.randperm(len(x), generator=gen)
            total = 0.0
            for i in range(0, len(x), bs):
                batch = x[order[i:i + bs]].to(self.device_)
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
        if path is not None:
            torch_io.save(path, {"denoiser": best_state, "rng": rng.bit_generator.state, "history": history})
        return edm, history

    # ------------------------------------------------------------------------------------------
    def sample(self, n: int, *, seed: int = 0) -> pd.DataFrame:
        """Diffuse -> inject -> decode -> parse -> filter, in batches until n rows are valid.

        Batch i draws from its own generator seeded by (seed, i), so a killed run that kept its progress
        file in `work_dir` continues with exactly the batches it had not finished."""
        self._check_fitted()
        cfg, meta = self.cfg(), self.meta_
        progress = Path(self.work_dir) / f"sampling-{n}-{seed}.json" if self.work_dir else None
        state = {"rows": [], "decoded": 0, "parsed_ok": 0, "batches": 0, "seconds": 0.0, "reasons": {}}
        if progress is not None and progress.exists():
            state.update(json.loads(progress.read_text()))
            tqdm.write(f"difflm: resuming sampling with {len(state['rows'])} valid rows from {progress}")
        rows, reasons = state["rows"], state["reasons"]
        constraint = None
        if cfg.decoding == "constrained":
            constraint = SchemaConstraint(meta, self.vae_.llm_tok, self.vae_.llm.config.vocab_size, cfg.max_digits,
                                          self.num_formats_)
        bar = tqdm(total=n, initial=len(rows), desc="difflm sampling (valid rows)", leave=False)
        while len(rows) < n and state["decoded"] < n * cfg.max_attempts_factor:
            t0 = time.perf_counter()
            gen = torch.Generator().manual_seed(seed * 1_000_003 + state["batches"])
            b = min(cfg.gen_batch_size, max(n - len(rows), 1) * 2)
            z = self._prior(b, cfg, gen)
            with self._autocast():
                texts = self.vae_.generate(z, max_new_tokens=self.max_new_tokens_, temperature=cfg.temperature,
                                           generator=gen, constraint=constraint)
            for t in texts:
                p = parse_record(t, meta)
                if p.ok:
                    state["parsed_ok"] += 1                # rows past n count for the rate too
                    if len(rows) < n:
                        rows.append(p.row)
                        bar.update(1)
                else:
                    key = p.reason.split(":")[0]
                    reasons[key] = reasons.get(key, 0) + 1
            state["decoded"] += len(texts)
            state["batches"] += 1
            state["seconds"] += time.perf_counter() - t0
            if progress is not None:
                write_json_atomic(progress, state)
        bar.close()
        valid, decoded = len(rows), state["decoded"]
        self.sampling_ = {"decoding": cfg.decoding, "llm": cfg.decoder, "requested": n, "valid": valid, "decoded": decoded,
                          "valid_rate": state["parsed_ok"] / max(decoded, 1), "valid_rows_per_s": valid / max(state["seconds"], 1e-9),
                          "seconds": round(state["seconds"], 1), "invalid_reasons": reasons}
        if valid < n:
            raise RuntimeError(f"only {valid} valid rows out of {decoded} decoded (need {n}); "
                               f"invalid reasons: {reasons}")
        return pd.DataFrame(rows, columns=meta.columns)

    def _prior(self, b: int, cfg, gen) -> torch.Tensor:
        if not cfg.diffusion:
            return torch.randn(b, cfg.d_z, generator=gen).to(self.device_)
        x = self.edm_.sample(b, cfg.d_z, steps=cfg.diff_steps, generator=gen).to(self.device_)
        return (2 * x + self.latent_mean_.to(self.device_))

    def extra_record(self) -> dict:
        out = {"vae_history": getattr(self, "history_", []), "sampling": getattr(self, "sampling_", {})}
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
    # z ~ N(0, I) is off the VAE's training distribution: on the cpu profile its adult rows decoded at
    # ~0.35 valid rows/s against difflm's 0.82 (records daeb5c6a2ad3, 601b80afb4f5), so 1,000 rows would
    # take ~50 min of sampling after ~16 min of VAE training; 500 keep the run under the hour.
    variant_profiles = {"cpu": {"max_sample_rows": 500}}
