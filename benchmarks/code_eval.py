"""Score one causal LM on HumanEval / MBPP with a code-task protocol, outside a run (no corpus, no CPT): the base
arm of the paper profile on a lent GPU, or any model a user wants to compare.

    python benchmarks/code_eval.py --model gemma3-270m --profile paper --out runs/code-eval [--benchmarks humaneval]
        [--n 200] [--allow-code-exec]

Completions are appended as they finish, so a killed run (e.g. at the device's time limit) resumes with the same
--out; the metrics are written to OUT/metrics.json.
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import torch

from harness.api.io import write_json_atomic
from harness.api.models import load_causal_lm
from tasks.code.evaluate import evaluate
from tasks.code.sandbox import check_opt_in
from tasks.code.task import PROTOCOLS


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="default: the protocol's base model")
    ap.add_argument("--profile", default="paper", choices=sorted(PROTOCOLS))
    ap.add_argument("--out", required=True)
    ap.add_argument("--benchmarks", default=None, help="comma-separated subset of humaneval,mbpp")
    ap.add_argument("--n", type=int, default=None, help="completions per problem (default: the protocol's)")
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--allow-code-exec", action="store_true")
    args = ap.parse_args()
    check_opt_in(args.allow_code_exec)
    proto = PROTOCOLS[args.profile]
    settings = proto.eval
    if args.benchmarks:
        settings = replace(settings, benchmarks=tuple(args.benchmarks.split(",")))
    if args.n:
        settings = replace(settings, n=args.n, ks=tuple(k for k in settings.ks if k <= args.n))
    if args.batch_size:
        settings = replace(settings, batch_size=args.batch_size)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = "bfloat16" if device == "cuda" and torch.cuda.is_bf16_supported() else "float32"
    t = time.perf_counter()
    model, tok = load_causal_lm(args.model or proto.base_model, dtype=dtype)
    metrics = evaluate(model.to(device), tok, settings, Path(args.out))
    out = {"model": args.model or proto.base_model, "profile": args.profile, "device": device, "dtype": dtype,
           "settings": settings.to_dict(), "seconds": round(time.perf_counter() - t, 1), "metrics": metrics}
    write_json_atomic(Path(args.out) / "metrics.json", out)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
