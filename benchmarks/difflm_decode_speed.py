"""DiffLM's sampling speed on one trained VAE: plain constrained decoding against jump-forward, at decode
batch sizes, with the rows' distribution checked (ρ against the validation split) and greedy agreement.

Fits DiffLM with the given profile and seed (a cached VAE and denoiser are reused from the store's _cache, so run
the job first), then for each setting draws `--rows` rows from the same prior seeds and reports valid rows/s.
Greedy decodes of `--greedy-rows` held-out training rows from μ are compared between the settings: identical
texts mean the forced tokens reached the model as its own choices would have.

    python benchmarks/difflm_decode_speed.py --task adult --profile cpu --seed 0 --rows 256 --batches 64,128
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

from harness.api.io import write_json_atomic
from methods import METHODS
from methods.difflm.constrained import SchemaConstraint
from methods.difflm.sampling import sample_records
from methods.difflm.train import encode_all
from tasks import TASKS
from tasks.metrics import density


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="adult")
    p.add_argument("--profile", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rows", type=int, default=256)
    p.add_argument("--batches", default="64")
    p.add_argument("--greedy-rows", type=int, default=64)
    p.add_argument("--store", default="runs")
    args = p.parse_args()
    splits = TASKS.get(args.task)().load()
    method = METHODS.get("difflm").from_profile(args.profile, seed=args.seed, recon_rows=0)
    method.fit(splits.train, splits.metadata, cache_dir=Path(args.store) / "_cache")
    vae, codec = method.vae_, method.codec_
    out = {"task": args.task, "profile": args.profile, "seed": args.seed, "rows": args.rows, "settings": {}}
    for batch in [int(b) for b in args.batches.split(",")]:
        for jump in (False, True):
            cfg = replace(method.cfg(), gen_batch_size=batch, jump_forward=jump)
            report, t0 = {}, time.perf_counter()
            rows = sample_records(vae, method._prior, codec, cfg, args.rows, 10_000 + args.seed,
                                  decoding=method.decoding_, max_new_tokens=method.max_new_tokens_, progress=None,
                                  report=report)
            syn = codec.collect(rows)
            res = {"valid_rows_per_s": round(report["valid_rows_per_s"], 3), "valid_rate": report["valid_rate"],
                   "seconds": round(time.perf_counter() - t0, 1),
                   "rho_vs_val": density.rho(splits.val, syn, splits.metadata)["rho"]}
            out["settings"][f"batch={batch},jump_forward={jump}"] = res
            print(f"batch {batch}, jump_forward {jump}: {res}", flush=True)
    # greedy agreement from μ of held-out training rows
    texts = codec.encode(splits.train.sample(n=args.greedy_rows, random_state=1))
    mu = encode_all(vae, texts, method.cfg()).to(vae.device)
    decoded = {}
    for jump in (False, True):
        c = SchemaConstraint(codec.grammar(method.cfg().max_digits), vae.llm_tok, vae.llm.config.vocab_size)
        t0 = time.perf_counter()
        decoded[jump] = vae.generate(mu, max_new_tokens=method.max_new_tokens_, temperature=0.0, constraint=c,
                                     jump_forward=jump)
        out[f"greedy_seconds_jump_{jump}"] = round(time.perf_counter() - t0, 1)
    out["greedy_identical"] = sum(a == b for a, b in zip(decoded[False], decoded[True])) / len(texts)
    print(json.dumps(out, indent=1))
    write_json_atomic(Path(args.store) / "bench" / f"difflm-decode-speed-{args.task}-{args.profile}-seed{args.seed}.json",
                      out)


if __name__ == "__main__":
    main()
