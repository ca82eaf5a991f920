"""`great`: GReaT (Borisov et al. 2023) through the `be-great` package, wrapped, not rewritten.

A row becomes the text "col is value, col is value, ..." in a random column order; a causal LM is
fine-tuned on those texts (be-great's `GReaT.fit`: its dataset, collator and HF Trainer); sampling
starts from "target is v," with v drawn from the training distribution of the target, lets the LM
complete the row and parses the text back (be-great's start sampler and text parser).

What this wrapper adds around the package, and why:
- Our own row texts (`rows.py`): numbers without ".0" or exponents, parser-safe names and categories,
  be-great's "None" for a missing value, accepted back only where training had one.
- Training pads on the right: be-great 0.0.14 sets `padding_side = "left"` for both training and
  generation, so with labels = input_ids the LM only ever sees pad (= EOS) tokens *before* a row and
  never learns to stop; generation then always runs to `max_length`. Right padding restores the
  original GReaT objective (EOS learned after each row); generation still pads on the left.
- The start column is the target, fixed (`random_conditional_col=False`): be-great's default re-draws it
  at random after every epoch, so the column sampling starts from would depend on the last epoch's draw.
  A table without a target starts from its last column (be-great's default).
- Sampling is our loop over be-great's pieces (`sampling.py`), for decoded vs valid counts, a seeded
  draw and a bounded number of attempts.
- What `GReaT.fit` offers no hook for (silence, timed checkpoints, the packaged SmolLM2) is in `llm.py`.
"""
from __future__ import annotations

import os
import random
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from harness.api import Method, TableMetadata
from methods.great.llm import patched_fit, resolve_llm
from methods.great.rows import RowText
from methods.great.sampling import sample_rows

CHECKPOINT_EVERY_S = 600  # with a work_dir: save a Trainer checkpoint this often (resume after a kill)


def quiet() -> bool:
    return os.environ.get("TQDM_DISABLE", "0") == "1"


class GReaTMethod(Method):
    name = "great"
    # a missing value is written "None" and read back only in columns that had one (rows.py)
    tags = {**Method.tags, "missing_values": "native"}
    preflight = {"epochs": 1, "max_train_rows": 32}    # seconds; too few valid rows after it is expected
    profiles = {
        # CI: a random-init tiny Llama (SmolLM2's 49k vocabulary) needs a few hundred small steps before it
        # writes whole rows with each column once (on the conformance table, 60 rows: 20 / 30 / 40 epochs of
        # batch 4 gave 20 / 39 / 78 % valid rows); 3 significant digits keep the texts short. Not usable data.
        # Columns in a fixed order, start column first (`permute=False`): in 40 epochs the random tiny model does
        # not learn to write every column of a wide table in shuffled orders (adult, 15 columns: 0 valid rows of
        # 128, most missing a column or repeating one).
        "smoke": {"llm": "tiny-llama", "epochs": 40, "batch_size": 4, "lr": 2e-3, "max_train_rows": 64,
                  "max_samples": 50, "sample_batch_size": 32, "digits": 3, "permute": False},
        # SmolLM2-135M on 2 CPU cores, about 40 min for fit + sample on adult (~108 tokens a row). Measured
        # under a 2x background load: a training step of 4 rows ~30 s, decoding ~1.7 s per token for a batch
        # of 16, i.e. (halved) ~3.8 s per training row and ~6 s per decoded row: 300 rows x 1 epoch (~19 min)
        # + ~200 decoded rows for 150 valid (~20 min). A higher lr than GReaT's 5e-5 for such a short run.
        "cpu": {},              # __init__'s defaults: llm smollm2, 1 epoch of batch 8 at lr 2e-4, 300 rows, 150 samples
        # the GReaT paper's distilgpt2 with be-great's 100 epochs (also TabSyn's GReaT script, whose rows the
        # DiffLM paper's Table 1 reports), HF's lr 5e-5, batch 32 (be-great's README), all rows, n = n_train
        "paper": {"llm": "distilgpt2", "epochs": 100, "batch_size": 32, "lr": 5e-5, "max_train_rows": None,
                  "max_samples": None, "sample_batch_size": 256},
    }
    # adult, 2 CPU cores: fit 6 min + 150 rows 32 min on the cpu profile
    # per job, for cluster executors (harness/executors)
    resources = {"cpu": {"cpus": 2, "memory_gb": 8}, "paper": {"cpus": 4, "gpus": 1, "memory_gb": 16}}
    cost = {"smoke": "~1 min", "cpu": "~40 min on adult, 2 cores", "paper": "GPU, hours (distilgpt2, 100 epochs)"}

    def __init__(self, llm: str = "smollm2", epochs: int = 1, batch_size: int = 8, lr: float = 2e-4,
                 max_train_rows: int | None = 300, max_samples: int | None = 150, temperature: float = 0.7,
                 sample_batch_size: int = 32, max_length: int | None = None, digits: int = 7, seed: int = 0,
                 device: str = "auto", permute: bool = True):
        self.llm, self.epochs, self.batch_size, self.lr = llm, epochs, batch_size, lr
        self.max_train_rows, self.max_samples, self.temperature = max_train_rows, max_samples, temperature
        self.sample_batch_size, self.max_length, self.digits = sample_batch_size, max_length, digits
        self.seed, self.device, self.permute = seed, device, permute

    # ------------------------------------------------------------------------------------------
    def _validate(self) -> None:
        def pos_int(name, allow_none=False):
            v = getattr(self, name)
            if v is None and allow_none:
                return
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"great: {name} must be a positive integer{' or None' if allow_none else ''}, got {v!r}")

        for name in ("epochs", "batch_size", "sample_batch_size", "digits"):
            pos_int(name)
        for name in ("max_train_rows", "max_samples", "max_length"):
            pos_int(name, allow_none=True)
        if not isinstance(self.llm, str) or not self.llm:
            raise ValueError(f"great: llm must be a model name or path, got {self.llm!r}")
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ValueError(f"great: lr must be > 0, got {self.lr!r}")
        if not (isinstance(self.temperature, (int, float)) and self.temperature > 0):
            raise ValueError(f"great: temperature must be > 0, got {self.temperature!r}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"great: device must be auto, cpu or cuda, got {self.device!r}")
        if self.device == "cuda" and not torch.cuda.is_available():
            raise ValueError("great: device='cuda' but CUDA is not available")

    def fit(self, train: pd.DataFrame, metadata: TableMetadata, *, work_dir: Path | None = None,
            cache_dir: Path | None = None) -> "GReaTMethod":
        self._check_input(train, metadata)
        self._validate()
        from be_great import GReaT

        meta = self.meta_ = metadata
        data = train[meta.columns]
        if self.max_train_rows and len(data) > self.max_train_rows:
            data = data.sample(n=self.max_train_rows, random_state=self.seed)
        data = data.reset_index(drop=True)
        self.rows_ = RowText.fit(data, meta, self.digits)
        self.dtypes_ = {c: train[c].dtype for c in meta.numerical}
        text_frame = self.rows_.encode_frame(data)
        start_col = meta.target if meta.target is not None else meta.columns[-1]
        if not self.permute:       # a fixed order starts where sampling starts: the start column first
            first = self.rows_.col_enc[start_col]
            text_frame = text_frame[[first] + [c for c in text_frame.columns if c != first]]

        self.device_ = torch.device("cuda" if self.device != "cpu" and torch.cuda.is_available() else "cpu")
        random.seed(self.seed)
        np.random.seed(self.seed)
        torch.manual_seed(self.seed)
        experiment_dir, tmp = self._experiment_dir(work_dir)
        great = GReaT(resolve_llm(self.llm), experiment_dir=str(experiment_dir), epochs=self.epochs,
                      batch_size=self.batch_size, learning_rate=self.lr, seed=self.seed, data_seed=self.seed,
                      use_cpu=self.device_.type == "cpu", logging_strategy="epoch", save_strategy="no",
                      save_total_limit=1, dataloader_num_workers=0)
        great.tokenizer.padding_side = "right"     # see module docstring: be-great pads left while training
        if self.max_length is None:
            probe = text_frame.sample(n=min(len(text_frame), 2000), random_state=self.seed)
            lengths = [len(great.tokenizer(", ".join(f"{c} is {v}" for c, v in row.items()))["input_ids"])
                       for _, row in probe.iterrows()]
            self.max_length_ = int(max(lengths) * 1.15) + 8
        else:
            self.max_length_ = self.max_length
        resume = work_dir is not None and any(Path(experiment_dir).glob("checkpoint-*"))
        t0 = time.perf_counter()
        try:
            with patched_fit(silent=quiet(), checkpoint_every_s=CHECKPOINT_EVERY_S if work_dir else None,
                             permute=self.permute):
                trainer = great.fit(text_frame, conditional_col=self.rows_.col_enc[start_col],
                                    random_conditional_col=False, resume_from_checkpoint=resume)
        finally:
            if tmp:
                shutil.rmtree(experiment_dir, ignore_errors=True)
        great.tokenizer.padding_side = "left"
        self.fit_s_ = time.perf_counter() - t0
        if work_dir is not None:        # a finished fit needs no resume point (they are ~1 GB each)
            for ckpt in Path(experiment_dir).glob("checkpoint-*"):
                shutil.rmtree(ckpt, ignore_errors=True)
        self.history_ = [{k: v for k, v in h.items() if k in ("epoch", "loss", "train_loss", "train_runtime")}
                         for h in trainer.state.log_history]
        self.train_info_ = {"rows": len(text_frame), "steps": trainer.state.global_step, "max_length": self.max_length_,
                            "llm": self.llm, "fit_s": self.fit_s_}
        great.model.eval()
        self.great_ = great
        self.fitted_ = True
        return self

    def _experiment_dir(self, work_dir: Path | None) -> tuple[Path, bool]:
        if work_dir is not None:
            d = Path(work_dir) / "great-trainer"
            d.mkdir(parents=True, exist_ok=True)
            return d, False
        return Path(tempfile.mkdtemp(prefix="great-trainer-")), True

    def sample_budget(self, n_default: int) -> int:
        return min(n_default, self.max_samples) if self.max_samples else n_default

    # ------------------------------------------------------------------------------------------
    def sample(self, n: int, *, seed: int = 0) -> pd.DataFrame:
        self._check_fitted()
        meta = self.meta_
        self.sampling_ = {"llm": self.llm}
        rows = sample_rows(self.great_, self.rows_, n, seed, device=self.device_, batch_size=self.sample_batch_size,
                           max_length=self.max_length_, temperature=self.temperature, report=self.sampling_)
        out = pd.DataFrame(rows, columns=meta.columns)
        for c in meta.numerical:
            dt = self.dtypes_[c]
            out[c] = out[c].round().astype(dt) if pd.api.types.is_integer_dtype(dt) else out[c].astype(dt)
        for c in meta.categorical:
            out[c] = out[c].astype(object)
        return out

    def extra_record(self) -> dict:
        if not getattr(self, "fitted_", False):
            return {}
        return {"train": self.train_info_, "history": self.history_, "sampling": getattr(self, "sampling_", {})}
