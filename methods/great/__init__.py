"""`great`: GReaT (Borisov et al. 2023) through the `be-great` package, wrapped, not rewritten.

A row becomes the text "col is value, col is value, ..." in a random column order; a causal LM is
fine-tuned on those texts (be-great's `GReaT.fit`: its dataset, collator and HF Trainer); sampling
starts from "target is v," with v drawn from the training distribution of the target, lets the LM
complete the row and parses the text back (be-great's start sampler and text parser).

What this wrapper adds around the package, and why:
- Numbers are written by us (integers without ".0", at most `digits` significant digits, no exponent),
  and categories / column names are made parser-safe ("," and " is " would split a row, "None" reads as
  missing), so the LM sees short, unambiguous texts; be-great would write "age is 39.0" and full float
  reprs. Dotted names such as adult's "education.num" pass through unchanged (be-great's legacy parser
  splits only on "," and " is "; only its guided sampler treats "." as a delimiter, and we do not use it).
- Missing values: be-great would write a float NaN as "nan" and a missing category as "None"; we write
  both as "None" (which its parser maps back to None) and accept a missing value in a sampled row only
  in a column that had missing values in training.
- Training pads on the right: be-great 0.0.14 sets `padding_side = "left"` for both training and
  generation, so with labels = input_ids the LM only ever sees pad (= EOS) tokens *before* a row and
  never learns to stop; generation then always runs to `max_length`. Right padding restores the
  original GReaT objective (EOS learned after each row); generation still pads on the left.
- The start column is the target, fixed (`random_conditional_col=False`): be-great's default re-draws it
  at random after every epoch, so the column sampling starts from would depend on the last epoch's draw.
- Sampling is our loop over be-great's pieces, because `GReaT.sample` hides how many rows it decoded
  (it drops bad rows and truncates to n) and keeps rows with unknown categories or NaNs; we need
  decoded vs valid counts for the record, a seeded draw, and a bounded number of attempts.
  Decoding uses `skip_special_tokens=True`: be-great's `_convert_tokens_to_text` only strips GPT-2's
  "<|endoftext|>", so SmolLM2's "<|im_end|>" would stick to the last value.
- What `GReaT.fit` offers no hook for (silence, timed checkpoints, the packaged SmolLM2) is in `llm.py`.
"""
from __future__ import annotations

import math
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from harness.api import Method, TableMetadata
from methods.great.llm import patched_fit, resolve_llm

MISSING = "None"          # be-great's text for a missing value (its parser maps "None" back to None)
PLACEHOLDER = "placeholder"  # be-great's parser marks a column the text never mentioned with this
MAX_DECODED_PER_ROW = 20  # give up after n * this many decoded rows
EXAMPLES_PER_REASON = 2  # decoded texts kept in the record for each reason a row was rejected
CHECKPOINT_EVERY_S = 600  # with a work_dir: save a Trainer checkpoint this often (resume after a kill)


def quiet() -> bool:
    return os.environ.get("TQDM_DISABLE", "0") == "1"


def _safe(text: str) -> str:
    """A column name or category the way the LM sees it: be-great's parser splits a row on "," and
    each "col is value" on " is ", and reads the value "None" as missing."""
    out = str(text).replace(",", ";").replace(" is ", " is_ ").replace("\n", " ").strip()
    return out + "_" if out in (MISSING, PLACEHOLDER, "") else out


def format_number(v: float, digits: int) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return MISSING
    v = float(v)
    if v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return np.format_float_positional(v, precision=digits, unique=True, fractional=False, trim="-")


class GReaTMethod(Method):
    name = "great"
    profiles = {
        # CI: a random-init tiny Llama (SmolLM2's 49k vocabulary) needs a few hundred small steps before it
        # writes whole rows with each column once (on the conformance table, 60 rows: 20 / 30 / 40 epochs of
        # batch 4 gave 20 / 39 / 78 % valid rows); 3 significant digits keep the texts short. Not usable data.
        "smoke": {"llm": "tiny-llama", "epochs": 40, "batch_size": 4, "lr": 2e-3, "max_train_rows": 64,
                  "max_samples": 50, "sample_batch_size": 32, "digits": 3},
        # SmolLM2-135M on 2 CPU cores, about 40 min for fit + sample on adult (~108 tokens a row). Measured
        # under a 2x background load: a training step of 4 rows ~30 s, decoding ~1.7 s per token for a batch
        # of 16, i.e. (halved) ~3.8 s per training row and ~6 s per decoded row: 300 rows x 1 epoch (~19 min)
        # + ~200 decoded rows for 150 valid (~20 min). A higher lr than GReaT's 5e-5 for such a short run.
        "cpu": {"llm": "smollm2", "epochs": 1, "batch_size": 8, "lr": 2e-4, "max_train_rows": 300,
                "max_samples": 150, "sample_batch_size": 32},
        # the GReaT paper's distilgpt2 with be-great's 100 epochs (also TabSyn's GReaT script, whose rows the
        # DiffLM paper's Table 1 reports), HF's lr 5e-5, batch 32 (be-great's README), all rows, n = n_train
        "paper": {"llm": "distilgpt2", "epochs": 100, "batch_size": 32, "lr": 5e-5, "max_train_rows": None,
                  "max_samples": None, "sample_batch_size": 256},
    }

    def __init__(self, llm: str = "smollm2", epochs: int = 100, batch_size: int = 8, lr: float = 5e-5,
                 max_train_rows: int | None = None, max_samples: int | None = None, temperature: float = 0.7,
                 sample_batch_size: int = 100, max_length: int | None = None, digits: int = 7, seed: int = 0,
                 device: str = "auto"):
        self.llm, self.epochs, self.batch_size, self.lr = llm, epochs, batch_size, lr
        self.max_train_rows, self.max_samples, self.temperature = max_train_rows, max_samples, temperature
        self.sample_batch_size, self.max_length, self.digits = sample_batch_size, max_length, digits
        self.seed, self.device = seed, device

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

    def _encode_frame(self, df: pd.DataFrame) -> pd.DataFrame:
        """The training frame as the strings the LM reads, in be-great's missing-value convention."""
        meta = self.meta_
        out = {}
        for c in meta.columns:
            if c in meta.numerical:
                out[self.col_enc_[c]] = [format_number(v, self.digits) for v in df[c].to_numpy(float)]
            else:
                enc = self.cat_enc_[c]
                out[self.col_enc_[c]] = [MISSING if pd.isna(v) else enc[str(v)] for v in df[c]]
        return pd.DataFrame(out).astype(object)

    def fit(self, train: pd.DataFrame, metadata: TableMetadata) -> "GReaTMethod":
        metadata.check(train)
        self._validate()
        from be_great import GReaT

        meta = self.meta_ = metadata
        data = train[meta.columns]
        if self.max_train_rows and len(data) > self.max_train_rows:
            data = data.sample(n=self.max_train_rows, random_state=self.seed)
        data = data.reset_index(drop=True)

        # parser-safe names: "education.num" is fine for be-great's parser, but "," / " is " are not
        self.col_enc_ = {c: _safe(c) for c in meta.columns}
        if len(set(self.col_enc_.values())) != len(meta.columns):
            raise ValueError(f"great: column names collide once made parser-safe: {self.col_enc_}")
        self.cat_enc_, self.cat_dec_ = {}, {}
        for c in meta.categorical:
            values = sorted(set(meta.categories.get(c, [])) | set(data[c].dropna().astype(str)))
            enc = {v: _safe(v) for v in values}
            if len(set(enc.values())) != len(enc):
                raise ValueError(f"great: categories of {c!r} collide once made parser-safe")
            self.cat_enc_[c], self.cat_dec_[c] = enc, {e: v for v, e in enc.items()}
        self.nullable_ = sorted(c for c in meta.columns if data[c].isna().any())
        self.dtypes_ = {c: train[c].dtype for c in meta.numerical}
        text_frame = self._encode_frame(data)

        self.device_ = torch.device("cuda" if self.device != "cpu" and torch.cuda.is_available() else "cpu")
        random.seed(self.seed)
        np.random.seed(self.seed)
        torch.manual_seed(self.seed)
        experiment_dir, tmp = self._experiment_dir()
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
        resume = self.work_dir is not None and any(Path(experiment_dir).glob("checkpoint-*"))
        t0 = time.perf_counter()
        try:
            with patched_fit(silent=quiet(), checkpoint_every_s=CHECKPOINT_EVERY_S if self.work_dir else None):
                trainer = great.fit(text_frame, conditional_col=self.col_enc_[meta.target],
                                    random_conditional_col=False, resume_from_checkpoint=resume)
        finally:
            if tmp:
                shutil.rmtree(experiment_dir, ignore_errors=True)
        great.tokenizer.padding_side = "left"
        self.fit_s_ = time.perf_counter() - t0
        if self.work_dir is not None:        # a finished fit needs no resume point (they are ~1 GB each)
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

    def _experiment_dir(self) -> tuple[Path, bool]:
        if self.work_dir is not None:
            d = Path(self.work_dir) / "great-trainer"
            d.mkdir(parents=True, exist_ok=True)
            return d, False
        return Path(tempfile.mkdtemp(prefix="great-trainer-")), True

    def sample_budget(self, n_default: int) -> int:
        return min(n_default, self.max_samples) if self.max_samples else n_default

    # ------------------------------------------------------------------------------------------
    def _parse(self, row: dict) -> tuple[dict | None, str]:
        meta, out = self.meta_, {}
        for c in meta.columns:
            v = row.get(self.col_enc_[c])
            if v is None or (isinstance(v, float) and math.isnan(v)):
                if c not in self.nullable_:
                    return None, "missing value"
                out[c] = np.nan
                continue
            v = str(v).strip()
            if v == PLACEHOLDER:
                return None, "column not generated"
            if c in meta.numerical:
                try:
                    x = float(v)
                except ValueError:
                    return None, "not a number"
                if not math.isfinite(x):
                    return None, "not a number"
                out[c] = x
            else:
                if v not in self.cat_dec_[c]:
                    return None, "unknown category"
                out[c] = self.cat_dec_[c][v]
        return out, ""

    def sample(self, n: int, *, seed: int = 0) -> pd.DataFrame:
        self._check_fitted()
        from be_great.great_utils import _convert_text_to_tabular_data

        great, meta, tok = self.great_, self.meta_, self.great_.tokenizer
        great.model.to(self.device_)
        great.device = self.device_
        # be-great's start sampler: "target is v," with v from the target's training distribution
        start = great._get_start_sampler(great.conditional_col, great.conditional_col_dist)
        stop_ids = sorted({i for i in (tok.eos_token_id, tok.pad_token_id) if i is not None})
        rows, decoded, parsed_ok, reasons, examples = [], 0, 0, {}, {}
        limit = max(n * MAX_DECODED_PER_ROW, 4 * self.sample_batch_size)
        t0 = time.perf_counter()
        py_state = random.getstate()      # be-great's start sampler draws from the global `random`
        random.seed(seed)
        bar = tqdm(total=n, desc="great sampling (valid rows)", leave=False)
        try:
            with torch.random.fork_rng(devices=[self.device_] if self.device_.type == "cuda" else []):
                torch.manual_seed(seed)
                while len(rows) < n and decoded < limit:
                    b = min(self.sample_batch_size, limit - decoded)
                    start_ids = torch.tensor(start.get_start_tokens(b), device=self.device_)
                    with torch.inference_mode():
                        tokens = great.model.generate(
                            input_ids=start_ids, attention_mask=(start_ids != tok.pad_token_id).long(),
                            max_length=max(self.max_length_, start_ids.shape[1] + 1), do_sample=True,
                            temperature=self.temperature,
                            pad_token_id=tok.pad_token_id, eos_token_id=stop_ids)
                    texts = [t.replace("\n", " ").replace("\r", "")
                             for t in tok.batch_decode(tokens, skip_special_tokens=True)]
                    decoded += len(texts)
                    # a row that never produced a stop token was cut by max_length: say so, not "column missing"
                    stopped = torch.isin(tokens[:, start_ids.shape[1]:], torch.tensor(stop_ids, device=tokens.device))
                    parsed = _convert_text_to_tabular_data(texts, list(great.columns))
                    for text, ended, rec in zip(texts, stopped.any(1).tolist(), parsed.to_dict(orient="records")):
                        row, why = self._parse(rec)
                        if row is None:
                            why = why if ended else f"cut at max_length ({self.max_length_} tokens)"
                            reasons[why] = reasons.get(why, 0) + 1
                            if len(examples.setdefault(why, [])) < EXAMPLES_PER_REASON:
                                examples[why].append(text[:400])
                            continue
                        parsed_ok += 1            # rows past n count for the rate too (as DiffLM's)
                        if len(rows) < n:
                            rows.append(row)
                            bar.update(1)
                    if decoded >= 4 * self.sample_batch_size and not rows:
                        break             # nothing valid in 4 batches: stop early, the error says why
        finally:
            bar.close()
            random.setstate(py_state)
        elapsed = time.perf_counter() - t0
        self.sampling_ = {"decoding": "free", "llm": self.llm, "requested": n, "valid": len(rows), "decoded": decoded,
                          "valid_rate": parsed_ok / max(decoded, 1), "valid_rows_per_s": len(rows) / max(elapsed, 1e-9),
                          "invalid_reasons": reasons, "invalid_examples": examples, "sample_s": elapsed}
        if len(rows) < n:
            raise RuntimeError(f"great: only {len(rows)} valid rows out of {decoded} decoded (need {n}); "
                               f"invalid reasons: {reasons}. Train longer (epochs) or raise max_length "
                               f"({self.max_length_}).")
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
