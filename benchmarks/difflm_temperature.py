"""Choose DiffLM's sampling temperature on the validation split (never the test split).

Fits DiffLM with the given profile and seed (reusing a cached VAE and denoiser from the store's _cache), then
samples `--rows` records at each temperature and scores them against the task's *validation* split: ρ (column
density error) and MLE (XGBoost trained on the samples, scored on the validation rows). Prints and stores JSON.

    python benchmarks/difflm_temperature.py --task adult --profile cpu --seed 0 --temperatures 0.7,0.85,1.0
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

from harness.api.io import write_json_atomic
from methods import METHODS
from methods.difflm.sampling import sample_records
from tasks import TASKS
from tasks.metrics import density, mle


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="adult")
    p.add_argument("--method", default="difflm")
    p.add_argument("--profile", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rows", type=int, default=400)
    p.add_argument("--temperatures", default="0.7,0.85,1.0")
    p.add_argument("--store", default="runs")
    args = p.parse_args()
    splits = TASKS.get(args.task)().load()
    method = METHODS.get(args.method).from_profile(args.profile, seed=args.seed)
    method.fit(splits.train, splits.metadata, cache_dir=Path(args.store) / "_cache")
    out = {"task": args.task, "method": args.method, "profile": args.profile, "seed": args.seed, "rows": args.rows,
           "scored_on": "validation split", "results": {}}
    for t in [float(x) for x in args.temperatures.split(",")]:
        cfg, report, t0 = replace(method.cfg(), temperature=t), {}, time.perf_counter()
        rows = sample_records(method.vae_, method._prior, method.codec_, cfg, args.rows, 10_000 + args.seed,
                              decoding=method.decoding_, max_new_tokens=method.max_new_tokens_, progress=None,
                              report=report)
        syn = method.codec_.collect(rows)
        res = {"rho": density.rho(splits.val, syn, splits.metadata)["rho"],
               "mle_val": mle.mle(syn, splits.val, splits.metadata, seed=args.seed)["mle"],
               "valid_rate": report["valid_rate"], "seconds": round(time.perf_counter() - t0, 1)}
        out["results"][str(t)] = res
        print(f"T={t}: {res}", flush=True)
    path = Path(args.store) / "bench" / f"difflm-temperature-{args.task}-{args.profile}-seed{args.seed}.json"
    write_json_atomic(path, out)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
