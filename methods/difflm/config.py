"""DiffLM's settings: one frozen dataclass, and the smoke / cpu / paper profiles built from it."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DiffLMConfig:
    encoder: str = "minilm"           # HF name/path, or minilm / tiny-bert
    decoder: str = "smollm2"          # HF name/path, or smollm2 / tiny-llama
    injector: str = "prompt"          # prompt | memory | embed
    d_z: int = 64                     # latent size
    k: int = 8                        # soft tokens from z (prompt injector)
    n_prefix: int = 0                 # learned prefix tokens before them (official code: 32)
    projector: str = "mlp"            # z -> soft tokens: mlp (ours) | linear (official: one bias-free Linear)
    llm_dtype: str = "auto"           # frozen LLM weights: auto (bf16 on a CUDA device that has it, else fp32) | float32 | bfloat16
    pooling: str = "mean"             # encoder pooling: mean | cls
    beta_schedule: str = "decreasing"  # decreasing | cyclical
    cycle_beta_max: float | None = None  # cyclical β's peak; None: 2 x beta_max (the paper: 0.2 against its 0.1)
    beta_max: float = 0.1
    beta_min: float = 0.001
    beta_patience: int = 2            # validations without improvement before β *= 0.7
    stop_patience: int = 6            # ... before early stopping
    epochs: int = 10
    batch_size: int = 16
    lr: float = 1e-4
    enc_lr: float | None = None       # the pretrained encoder's own lr (None: lr); the new head and injector use lr
    weight_decay: float = 0.01        # AdamW's (torch's default; the official code uses 0)
    feature_norm: str = "none"        # none | batch: standardise the pooled encoder features across rows (BatchNorm,
                                      # no affine) before the μ/log σ² head, so rows that differ little differ at all
    mu_bn: float | None = None        # BN-VAE (Zhu et al. 2020): μ batch-normalised with this fixed scale γ
    logvar_init: float | None = None  # initial log σ² of the posterior (None: the head's default init, σ ≈ 1)
    free_bits: float = 0.0            # KL per latent dim below this costs nothing (Kingma et al. 2016)
    lr_schedule: str = "constant"     # constant | cosine (the official script's), after a linear warmup
    warmup_frac: float = 0.0          # share of the steps spent warming up (official: 0.005)
    max_steps: int | None = None      # VAE steps; None: epochs x (training rows / batch_size)
    max_train_positions: int | None = None  # cap on decoder positions trained (a step: batch_size x its longest
                                      # text, padding included): fewer steps for long records (train.budgeted_steps)
    eval_every: int | None = None     # steps between validations (β schedule, early stop, best weights); None: an epoch
    val_rows: int | None = None       # validate on at most this many held-out rows (None: all of val_fraction)
    max_train_rows: int | None = 2000  # subsample training rows (None: all)
    val_fraction: float = 0.1
    max_len: int = 256
    diffusion: bool = True            # False: z ~ N(0, I) (difflm-nodiff)
    diff_dim_t: int = 256
    diff_blocks: int = 2
    diff_epochs: int = 300
    diff_patience: int = 50
    diff_steps: int = 50
    diff_lr: float = 1e-3             # AdamW lr of the denoiser (official script: 1e-4)
    diff_churn: float = 0.0           # EDM sampler churn S_churn (official: 1.0; 0 = deterministic Heun)
    temperature: float = 0.5
    decoding: str = "free"            # free (the paper's: decode, parse, filter) | constrained (the codec's grammar;
                                      # text and code records have none and decode free)
    jump_forward: bool = False        # constrained: feed the tokens the grammar forces in one pass (decode.py)
    max_digits: int = 15              # constrained tables: digits allowed before and after the decimal point
    max_new_tokens: int = 512         # cap; free mode stops at 1.25x the longest text, constrained at the grammar's bound
    gen_batch_size: int = 32
    max_attempts_factor: int = 20     # give up after n * this many decoded rows
    max_sample_rows: int | None = None  # rows sampled when the user gives no --n-samples (None: as many as train)
    device: str = "auto"              # auto | cpu | cuda
    recon_rows: int = 200             # validation rows decoded greedily from μ for the record's reconstruction check
    row_format: str = "json-object"   # tables: json-object (the paper's) | json-array (values in column order)


PROFILES = {
    # A random tiny LLM never writes valid JSON by itself, hence the grammar; it runs every row to the grammar's
    # bound, which max_new_tokens must not cut (a wide user table's rows are ~600 bytes), and it samples at most
    # 64 rows (two batches) unless --n-samples says otherwise, so that smoke stays short on a table of any size.
    "smoke": DiffLMConfig(encoder="tiny-bert", decoder="tiny-llama", d_z=8, k=2, epochs=2, batch_size=8,
                          max_train_rows=64, diff_dim_t=32, diff_blocks=1, diff_epochs=20, diff_steps=8,
                          max_new_tokens=1024, gen_batch_size=32, max_attempts_factor=3, lr=1e-3, recon_rows=8,
                          decoding="constrained", max_digits=3, max_sample_rows=64),
    # Sized for adult on 2 CPU cores, one seed in about an hour: rows as JSON arrays (half the tokens of the
    # paper's objects), 350 steps of 16 over 4,000 rows, validated every 50 on 128 held-out rows so that the
    # decreasing β can fire; β_max 0.02 keeps the per-row KL weight near the paper's (the KL is averaged over d_z,
    # the loss over ~70 tokens); 2,000 samples at T 0.8, chosen on the validation split. The pretrained encoder
    # at a fine-tuning lr, the new head and injector faster, standardised features, BN-VAE and a narrow initial
    # posterior keep z in use (without them the posterior collapses: benchmarks/difflm_collapse_levers.py).
    # Longer records get the same compute (500k decoder positions), not the same steps. The measurements behind
    # each number: docs/difflm.md and leaderboards/method_notes.csv (topic "sizing").
    "cpu": DiffLMConfig(row_format="json-array", max_train_rows=4000, max_steps=350, eval_every=50, val_rows=128,
                        max_train_positions=500_000, k=16,
                        batch_size=16, lr=1e-3, enc_lr=5e-5, weight_decay=0.0, lr_schedule="cosine",
                        warmup_frac=0.03, beta_max=0.02, beta_min=0.0002, beta_patience=2, stop_patience=4,
                        feature_norm="batch", mu_bn=1.0, logvar_init=-4.0, max_sample_rows=2000,
                        gen_batch_size=64, decoding="constrained", max_digits=7, temperature=0.8),
    # One GPU, the packaged models (no hub): every training row, thousands of steps, n = n_train samples, with
    # the cpu profile's settings against collapse. Not run yet (benchmarks/device_difflm_gpu.sh).
    "gpu": DiffLMConfig(row_format="json-array", max_train_rows=None, max_steps=3000, eval_every=200, val_rows=512,
                        batch_size=64, lr=1e-3, enc_lr=5e-5, weight_decay=0.0, feature_norm="batch", mu_bn=1.0,
                        logvar_init=-4.0, lr_schedule="cosine", warmup_frac=0.03, beta_max=0.02,
                        beta_min=0.0002, beta_patience=2, stop_patience=6, diff_epochs=1000, diff_patience=100,
                        gen_batch_size=512, decoding="constrained", max_digits=7, temperature=1.0),
    # The paper's setting as the official code runs it (difflm_official_code.md §11): bert-base CLS pooler,
    # Mistral-7B, d_z 1024, 32 learned prefix + 32 latent soft tokens (the paper's k = 64), one bias-free
    # projector, AdamW 1e-5 with cosine decay and 0.5 % warmup, β 0.1 -> 0.001, validated every 200 steps
    # (the official script never validates, so its β never moves: see the README's deviation table).
    "paper": DiffLMConfig(encoder="bert-base-uncased", decoder="mistralai/Mistral-7B-Instruct-v0.3", d_z=1024,
                          k=32, n_prefix=32, projector="linear", pooling="cls", epochs=200, batch_size=32, lr=1e-5,
                          lr_schedule="cosine", warmup_frac=0.005, eval_every=200, max_train_rows=None,
                          beta_patience=5, stop_patience=20, diff_dim_t=4096, diff_blocks=5, diff_epochs=10000,
                          diff_patience=500, diff_lr=1e-4, diff_churn=1.0, max_new_tokens=512, gen_batch_size=64),
}
