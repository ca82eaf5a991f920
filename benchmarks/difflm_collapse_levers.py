"""Levers against DiffLM's posterior collapse, measured on short VAE runs (no diffusion, no sampling).

Each lever is a set of DiffLMConfig overrides on top of a profile. For each, the VAE trains `--steps` steps on
the task's training rows (validation on the profile's held-out rows, never the test split) and the row gets the
collapse diagnostics of `methods/difflm/diagnostics.py`: active units, the latent-usage gap, KL per dim,
distinct greedy decodes and column accuracy beside the mode baseline. Rows are appended to --out (JSON lines),
so levers can be added in later calls; --table prints the markdown table of a file.

    python benchmarks/difflm_collapse_levers.py --task adult --steps 100 --levers before,profile,no-bnvae,k16
    python benchmarks/difflm_collapse_levers.py --table benchmarks/difflm_collapse_levers_adult.jsonl
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

# The levers, as overrides of the profile (today's cpu profile has the four that keep z in use: "groups", the
# pretrained encoder at a fine-tuning lr with the new head and injector faster and no weight decay; "fbn", pooled
# features standardised across rows; "bnvae", μ batch-normalised; "lv", a narrow initial posterior). "before"
# restores the profile as it was when every run collapsed; "no-X" removes one lever; the rest add one.
BEFORE = {"lr": 5e-4, "enc_lr": None, "weight_decay": 0.01, "feature_norm": "none", "mu_bn": None, "logvar_init": None}
LEVERS = {
    "profile": {},
    "before": BEFORE,
    "groups": {"enc_lr": 5e-5, "lr": 1e-3, "weight_decay": 0.0},
    "lv": {"logvar_init": -4.0},
    "fbn": {"feature_norm": "batch"},
    "bnvae": {"mu_bn": 1.0},
    "no-groups": {"enc_lr": None, "lr": 5e-4, "weight_decay": 0.01},
    "no-fbn": {"feature_norm": "none"},
    "no-bnvae": {"mu_bn": None},
    "no-lv": {"logvar_init": None},
    "fb": {"free_bits": 0.1},
    "k16": {"k": 16},
    "lr2x": {"lr": 2e-3},
    "enc4x": {"enc_lr": 2e-4},
    "b8": {"batch_size": 8},
    "const": {"lr_schedule": "constant"},
}

def overrides(spec: str) -> dict:
    """'before+groups+lv' -> the union of the named levers (later names win)."""
    out = {}
    for part in spec.split("+"):
        if part not in LEVERS:
            raise SystemExit(f"unknown lever {part!r}; known: {', '.join(LEVERS)}")
        out.update(LEVERS[part])
    return out


def run_one(splits, lever: str, steps: int, profile: str, seed: int, recon_rows: int) -> dict:
    from methods import METHODS

    over = {**overrides(lever), "max_steps": steps, "eval_every": max(10, steps // 4), "diffusion": False,
            "recon_rows": recon_rows}
    method = METHODS.get("difflm").from_profile(profile, seed=seed, **over)
    t0 = time.perf_counter()
    method.fit(splits.train, splits.metadata)
    lat, rec = method.latent_, method.recon_
    return {"lever": lever, "overrides": overrides(lever), "steps": method.vae_steps_, "profile": profile,
            "seed": seed, "seconds": round(time.perf_counter() - t0, 1),
            "active_units": lat["active_units"], "d_z": lat["d_z"], "usage_gap": lat["usage_gap"],
            "kl_per_dim": lat["kl_per_dim_mean"], "mu_var": lat["mu_var_mean"],
            "distinct_decodes": lat.get("distinct_decodes"), "column_accuracy": lat.get("column_accuracy"),
            "mode_baseline": lat.get("mode_baseline"), "over_mode": lat.get("column_accuracy_over_mode"),
            "val_rec": lat["val_rec_own_mu"], "collapsed": lat["collapsed"],
            "history": [{k: h.get(k) for k in ("step", "val_rec", "usage_gap", "active_units", "train_kl")}
                        for h in method.history_],
            "examples": rec.get("examples", [])}


def table(rows: list[dict]) -> str:
    fmt = lambda v, f: "—" if v is None else format(v, f)
    lines = ["| lever | steps | active units | usage gap (nats/token) | KL/dim | distinct decodes | col. acc. − mode "
             "| val rec | collapsed | fit s |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['lever']} | {r['steps']} | {r['active_units']}/{r['d_z']} | {fmt(r['usage_gap'], '.3f')} "
                     f"| {fmt(r['kl_per_dim'], '.3f')} | {fmt(r['distinct_decodes'], '.0%')} "
                     f"| {fmt(r['over_mode'], '+.3f')} | {fmt(r['val_rec'], '.3f')} | {r['collapsed']} "
                     f"| {r['seconds']:.0f} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="adult")
    p.add_argument("--profile", default="cpu")
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--recon-rows", type=int, default=64)
    p.add_argument("--levers", default="profile")
    p.add_argument("--out", default=None, help="JSON lines file (default benchmarks/difflm_collapse_levers_TASK.jsonl)")
    p.add_argument("--table", default=None, help="print the markdown table of this JSON lines file and exit")
    args = p.parse_args()
    if args.table:
        print(table([json.loads(line) for line in Path(args.table).read_text().splitlines() if line.strip()]))
        return
    from tasks import TASKS

    out = Path(args.out or f"benchmarks/difflm_collapse_levers_{args.task}.jsonl")
    splits = TASKS.get(args.task)().load()
    for lever in args.levers.split(","):
        overrides(lever)                                 # fail on a typo before hours of training
    for lever in args.levers.split(","):
        row = {"task": args.task, **run_one(splits, lever, args.steps, args.profile, args.seed, args.recon_rows)}
        with out.open("a") as f:
            f.write(json.dumps(row) + "\n")
        print(table([row]).splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
