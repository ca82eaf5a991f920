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
    decoding: str = "free"            # free (the paper's: decode, parse, filter) | constrained (the codec's grammar;
                                      # text and code records have none and decode free)
    max_digits: int = 15              # constrained tables: digits allowed before and after the decimal point
    max_new_tokens: int = 512         # cap; free mode stops at 1.25x the longest text, constrained at the grammar's bound
    gen_batch_size: int = 32
    max_attempts_factor: int = 20     # give up after n * this many decoded rows
    max_sample_rows: int | None = None  # rows sampled when the user gives no --n-samples (None: as many as train)
    device: str = "auto"              # auto | cpu | cuda
    row_format: str = "json-object"   # tables: json-object (the paper's) | json-array (values in column order)


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
