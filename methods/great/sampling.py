"""GReaT's sampling: our loop over be-great's pieces (its start sampler and text parser).

`GReaT.sample` hides how many rows it decoded (it drops bad rows and truncates to n) and keeps rows with
unknown categories or NaNs; we need decoded vs valid counts for the record, a seeded draw, and a bounded
number of attempts. Decoding uses `skip_special_tokens=True`: be-great's `_convert_tokens_to_text` only
strips GPT-2's "<|endoftext|>", so SmolLM2's "<|im_end|>" would stick to the last value.
"""
from __future__ import annotations

import random
import time

import torch
from tqdm.auto import tqdm

from harness.api import TooFewValidError
from methods.great.rows import RowText

MAX_DECODED_PER_ROW = 20  # give up after n * this many decoded rows
EXAMPLES_PER_REASON = 2  # decoded texts kept in the record for each reason a row was rejected


def sample_rows(great, rows_text: RowText, n: int, seed: int, *, device: torch.device, batch_size: int,
                max_length: int, temperature: float, report: dict) -> list[dict]:
    """n valid rows; `report` gets the run record's sampling section (also when too few were valid)."""
    from be_great.great_utils import _convert_text_to_tabular_data

    tok = great.tokenizer
    great.model.to(device)
    great.device = device
    # be-great's start sampler: "target is v," with v from the target's training distribution
    start = great._get_start_sampler(great.conditional_col, great.conditional_col_dist)
    stop_ids = sorted({i for i in (tok.eos_token_id, tok.pad_token_id) if i is not None})
    rows, decoded, parsed_ok, reasons, examples = [], 0, 0, {}, {}
    limit = max(n * MAX_DECODED_PER_ROW, 4 * batch_size)
    t0 = time.perf_counter()
    py_state = random.getstate()      # be-great's start sampler draws from the global `random`
    random.seed(seed)
    bar = tqdm(total=n, desc="great sampling (valid rows)", leave=False)
    try:
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(seed)
            while len(rows) < n and decoded < limit:
                b = min(batch_size, limit - decoded)
                start_ids = torch.tensor(start.get_start_tokens(b), device=device)
                with torch.inference_mode():
                    tokens = great.model.generate(
                        input_ids=start_ids, attention_mask=(start_ids != tok.pad_token_id).long(),
                        max_length=max(max_length, start_ids.shape[1] + 1), do_sample=True, temperature=temperature,
                        pad_token_id=tok.pad_token_id, eos_token_id=stop_ids)
                texts = [t.replace("\n", " ").replace("\r", "")
                         for t in tok.batch_decode(tokens, skip_special_tokens=True)]
                decoded += len(texts)
                # a row that never produced a stop token was cut by max_length: say so, not "column missing"
                stopped = torch.isin(tokens[:, start_ids.shape[1]:], torch.tensor(stop_ids, device=tokens.device))
                parsed = _convert_text_to_tabular_data(texts, list(great.columns))
                for text, ended, rec in zip(texts, stopped.any(1).tolist(), parsed.to_dict(orient="records")):
                    row, why = rows_text.parse(rec)
                    if row is None:
                        why = why if ended else f"cut at max_length ({max_length} tokens)"
                        reasons[why] = reasons.get(why, 0) + 1
                        if len(examples.setdefault(why, [])) < EXAMPLES_PER_REASON:
                            examples[why].append(text[:400])
                        continue
                    parsed_ok += 1            # rows past n count for the rate too (as DiffLM's)
                    if len(rows) < n:
                        rows.append(row)
                        bar.update(1)
                if decoded >= 4 * batch_size and not rows:
                    break             # nothing valid in 4 batches: stop early, the error says why
    finally:
        bar.close()
        random.setstate(py_state)
    elapsed = time.perf_counter() - t0
    report.update({"decoding": "free", "requested": n, "valid": len(rows), "decoded": decoded,
                   "valid_rate": parsed_ok / max(decoded, 1), "valid_rows_per_s": len(rows) / max(elapsed, 1e-9),
                   "invalid_reasons": reasons, "invalid_examples": examples, "sample_s": elapsed})
    if len(rows) < n:
        raise TooFewValidError(f"great: only {len(rows)} valid rows out of {decoded} decoded (need {n}); "
                           f"invalid reasons: {reasons}. Train longer (epochs) or raise max_length ({max_length}).")
    return rows
