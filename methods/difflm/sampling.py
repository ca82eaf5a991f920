"""DiffLM's sampling: diffuse -> inject -> decode -> parse -> filter, in batches until n records are valid.

Batch i draws from its own generator seeded by (seed, i), and the progress (valid records, counts) is kept
in the job's work folder after every batch, so a killed run continues with exactly the batches it had not
finished and ends with the records an unbroken run would have.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from harness.api import TooFewValidError
from harness.api.io import write_json_atomic
from methods.difflm.codecs import Codec
from methods.difflm.config import DiffLMConfig
from methods.difflm.constrained import SchemaConstraint
from methods.difflm.train import autocast_for


def effective_decoding(cfg: DiffLMConfig, codec: Codec) -> str:
    """The configured decoding, except that a codec without a grammar (text, code) decodes free."""
    return "constrained" if cfg.decoding == "constrained" and codec.has_grammar else "free"


def decode_limit(cfg: DiffLMConfig, decoding: str, tok, texts: list[str], codec: Codec | None = None) -> int:
    """max_new_tokens for generation. A runaway row keeps its batch decoding (shrunk to the rows still open)
    up to this limit: 1.25x the longest training text, at most max_len. Under a grammar with a bound (a
    table's `row_max_bytes`, + 1 for EOS) a row is never cut unless max_new_tokens is below that bound."""
    bound = codec.max_bytes(cfg.max_digits) if decoding == "constrained" and codec is not None else None
    if bound is not None:
        return min(cfg.max_new_tokens, bound + 1)
    # the VAE learns at most max_len tokens of a text, so a longer cap buys runaway rows, not longer records
    longest = min(max(len(tok(t, add_special_tokens=False).input_ids) for t in texts), cfg.max_len)
    return min(cfg.max_new_tokens, int(1.25 * longest) + 8)


def sample_records(vae, prior, codec: Codec, cfg: DiffLMConfig, n: int, seed: int, *, decoding: str,
                   max_new_tokens: int, progress: Path | None, report: dict) -> list:
    """n valid records; `report` gets the run record's sampling section (also when too few were valid).
    `prior(b, generator)` gives b latents."""
    state = {"rows": [], "decoded": 0, "parsed_ok": 0, "batches": 0, "seconds": 0.0, "reasons": {}}
    if progress is not None and progress.exists():
        state.update(json.loads(progress.read_text()))
        tqdm.write(f"difflm: resuming sampling with {len(state['rows'])} valid records from {progress}")
    rows, reasons = state["rows"], state["reasons"]
    constraint = None
    if decoding == "constrained":
        constraint = SchemaConstraint(codec.grammar(cfg.max_digits), vae.llm_tok, vae.llm.config.vocab_size)
    bar = tqdm(total=n, initial=len(rows), desc="difflm sampling (valid records)", leave=False)
    while len(rows) < n and state["decoded"] < n * cfg.max_attempts_factor:
        t0 = time.perf_counter()
        gen = torch.Generator().manual_seed(seed * 1_000_003 + state["batches"])
        b = min(cfg.gen_batch_size, max(n - len(rows), 1) * 2)
        z = prior(b, gen)
        with autocast_for(vae.device):
            texts = vae.generate(z, max_new_tokens=max_new_tokens, temperature=cfg.temperature, generator=gen,
                                 constraint=constraint, jump_forward=cfg.jump_forward)
        for t in texts:
            p = codec.parse(t)
            if p.ok:
                state["parsed_ok"] += 1                # records past n count for the rate too
                if len(rows) < n:
                    rows.append(p.record)
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
    report.update({"decoding": decoding, "llm": cfg.decoder, "requested": n, "valid": valid, "decoded": decoded,
                   "valid_rate": state["parsed_ok"] / max(decoded, 1),
                   "valid_rows_per_s": valid / max(state["seconds"], 1e-9),
                   "seconds": round(state["seconds"], 1), "invalid_reasons": reasons})
    if decoding != cfg.decoding:
        report["decoding_note"] = (f"{cfg.decoding} decoding was asked for, but {codec.modality} records have no "
                                   "grammar: decoded free")
    if valid < n:
        raise TooFewValidError(f"only {valid} valid records out of {decoded} decoded (need {n}); "
                               f"invalid reasons: {reasons}")
    return rows
