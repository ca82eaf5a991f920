"""Learning curves: MLE and ρ of one DiffLM setting against its VAE step budget (runs made with
`--set difflm.max_steps=N`), as a figure and a table, so a reader sees whether more compute would help."""
from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

from tasks.reports.figures import save


def _budget(rec: dict):
    """(the VAE steps the record ran, its other params) when it has a step budget: DiffLM's `vae_steps`
    (config.max_steps lowered by max_train_positions), or config.max_steps in records older than it. The
    budget's params are left out of the grouping, so a run that predates max_train_positions and ran the same
    steps lands on the same curve."""
    cfg = rec["method"].get("params", {}).get("config") or {}
    steps = rec["method"].get("extra", {}).get("vae_steps") or cfg.get("max_steps")
    if not steps:
        return None, None
    # a field added to the config later with default None (e.g. cycle_beta_max) equals its absence in older records
    rest = {k: v for k, v in cfg.items() if k not in ("max_steps", "max_train_positions") and v is not None}
    return steps, json.dumps(rest, sort_keys=True)


def curves(records) -> dict:
    """{(task, method, profile, other params): {steps: [records]}} for settings run at two or more budgets."""
    groups: dict = {}
    for r in records:
        steps, rest = _budget(r)
        if steps is not None and r["status"] == "ok":
            key = (r["task"]["name"], r["method"]["name"], r["method"]["profile"], rest)
            groups.setdefault(key, {}).setdefault(steps, []).append(r)
    return dict(sorted((k, v) for k, v in groups.items() if len(v) >= 2))


def _mean(recs, key):
    vals = [r["metrics"][key] for r in recs if isinstance(r["metrics"].get(key), (int, float))]
    return statistics.fmean(vals) if vals else math.nan


def draw_learning_curves(records, out_dir: Path) -> list[tuple[str, Path]]:
    todo = curves(records)
    if not todo:
        return []
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: learning-curve figures skipped (the tables stay)")
        return []
    out = []
    for n, ((task, method, profile, _), by_steps) in enumerate(todo.items()):
        xs = sorted(by_steps)
        fig, ax = plt.subplots(1, 2, figsize=(9, 3.2))
        ax[0].plot(xs, [_mean(by_steps[x], "mle") for x in xs], "o-")
        ax[0].set(xlabel="VAE steps", ylabel="MLE (test)", xscale="log")
        ax[1].plot(xs, [_mean(by_steps[x], "rho") for x in xs], "s-", color="tab:red")
        ax[1].set(xlabel="VAE steps", ylabel="ρ (%)", xscale="log")
        for a in ax:
            a.set_xticks(xs, [str(x) for x in xs])
            a.minorticks_off()
        fig.suptitle(f"{method} ({profile}) on {task}: learning curve ({', '.join(str(len(by_steps[x])) for x in xs)} seeds)")
        path = save(fig, out_dir / "figures" / f"{task}-{method}-{profile}-learning-curve{'-' + str(n) if n else ''}.png")
        out.append((f"{method} ({profile}), {task}", path))
    return out


def per_doubling(points: list[tuple[int, float]]) -> float | None:
    """Least-squares slope of a metric against log2(steps): its change per doubling of the VAE's steps."""
    pts = [(math.log2(s), v) for s, v in points if not math.isnan(v)]
    if len({x for x, _ in pts}) < 3:         # two points are a line through them, not evidence of a trend
        return None
    mx, my = statistics.fmean(x for x, _ in pts), statistics.fmean(y for _, y in pts)
    return sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts)


def learning_curve_tables(records) -> list[str]:
    lines = []
    for (task, method, profile, _), by_steps in curves(records).items():
        lines += ["", f"{method} ({profile} profile) on {task}:", "",
                  "| VAE steps | seeds | MLE ↑ | ρ (%) ↓ | reconstruction column accuracy |", "|---|---|---|---|---|"]
        for steps in sorted(by_steps):
            recs = by_steps[steps]
            acc = [r["method"].get("extra", {}).get("reconstruction", {}).get("column_accuracy") for r in recs]
            acc = [a for a in acc if a is not None]
            seeds = ", ".join(str(r["seed"]) for r in sorted(recs, key=lambda r: r["seed"]))
            lines.append(f"| {steps} | {seeds} | {_mean(recs, 'mle'):.3f} | {_mean(recs, 'rho'):.2f} "
                         f"| {f'{statistics.fmean(acc):.3f}' if acc else '–'} |")
        slopes = {k: per_doubling([(s, _mean(by_steps[s], k)) for s in by_steps]) for k in ("mle", "rho")}
        if slopes["mle"] is not None:
            lines += ["", f"Per doubling of the VAE steps (least squares over the {len(by_steps)} budgets): "
                          f"MLE {slopes['mle']:+.3f}, ρ {slopes['rho']:+.2f}."]
    return lines
