"""Figure 3 of the paper, per record that logged a VAE history (`method.extra.vae_history`: a list of
{epoch, train_rec, val_rec, train_kl, beta}): losses and KL against epoch, β on a second axis. Skipped
(with a note) when matplotlib is missing: the tables never depend on it."""
from __future__ import annotations

import json
from pathlib import Path


def save(fig, path: Path, dpi: int = 110) -> Path:
    """Write and close a figure; no version stamp, so the same records give the same bytes."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, metadata={"Software": None})
    plt.close(fig)
    return path


def figure_path(rec: dict, out_dir: Path) -> Path:
    return out_dir / "figures" / f"{rec['task']['name']}-{rec['method']['name']}-seed{rec['seed']}-{rec['job_id']}.png"


def draw_training_curves(records, out_dir: Path) -> list[tuple[dict, Path]]:
    todo = [r for r in records if r["status"] == "ok" and r["method"].get("extra", {}).get("vae_history")]
    if not todo:
        return []
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: training-curve figures skipped")
        return []
    out = []
    for rec in todo:
        h = rec["method"]["extra"]["vae_history"]
        x_key = "step" if "step" in h[0] else "epoch"
        xs = [e[x_key] for e in h]
        fig, ax = plt.subplots(1, 2, figsize=(9, 3.4))
        ax[0].plot(xs, [e["train_rec"] for e in h], "o-", label="train reconstruction")
        ax[0].plot(xs, [e["val_rec"] for e in h], "s-", label="validation reconstruction")
        ax[0].set(xlabel=x_key, ylabel="token cross-entropy")
        ax[0].legend(fontsize=8)
        ax[1].plot(xs, [e["train_kl"] for e in h], "o-", color="tab:green", label="KL (per dim)")
        ax[1].set(xlabel=x_key, ylabel="KL")
        twin = ax[1].twinx()
        twin.plot(xs, [e["beta"] for e in h], "--", color="tab:red", label="β")
        twin.set_ylabel("β")
        ax[1].legend(handles=ax[1].lines + twin.lines, fontsize=8)
        fig.suptitle(f"{rec['method']['name']} ({rec['method']['profile']}) on {rec['task']['name']}, seed {rec['seed']}")
        out.append((rec, save(fig, figure_path(rec, out_dir))))
    return out


def _budget(rec: dict):
    """(the VAE steps the record ran, its other params) when it has a step budget: DiffLM's `vae_steps`
    (config.max_steps lowered by max_train_positions), or config.max_steps in records older than it. The
    budget's params are left out of the grouping, so a run that predates max_train_positions and ran the same
    steps lands on the same curve."""
    cfg = rec["method"].get("params", {}).get("config") or {}
    steps = rec["method"].get("extra", {}).get("vae_steps") or cfg.get("max_steps")
    if not steps:
        return None, None
    rest = {k: v for k, v in cfg.items() if k not in ("max_steps", "max_train_positions")}
    return steps, json.dumps(rest, sort_keys=True)


def draw_learning_curves(records, out_dir: Path) -> list[tuple[str, Path]]:
    """MLE and ρ against the VAE's step budget, one figure per (task, method, profile, other params) that has
    runs at two or more budgets (made with `--set difflm.max_steps=N`): would more compute help?"""
    groups: dict = {}
    for r in records:
        steps, rest = _budget(r)
        if steps is not None and r["status"] == "ok":
            key = (r["task"]["name"], r["method"]["name"], r["method"]["profile"], rest)
            groups.setdefault(key, {}).setdefault(steps, []).append(r)
    todo = {k: v for k, v in groups.items() if len(v) >= 2}
    if not todo:
        return []
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = []
    for n, ((task, method, profile, _), by_steps) in enumerate(sorted(todo.items())):
        xs = sorted(by_steps)
        mean = lambda k: [sum(r["metrics"][k] for r in by_steps[x]) / len(by_steps[x]) for x in xs]
        fig, ax = plt.subplots(1, 2, figsize=(9, 3.2))
        ax[0].plot(xs, mean("mle"), "o-")
        ax[0].set(xlabel="VAE steps", ylabel="MLE (test)")
        ax[1].plot(xs, mean("rho"), "s-", color="tab:red")
        ax[1].set(xlabel="VAE steps", ylabel="ρ (%)")
        fig.suptitle(f"{method} ({profile}) on {task}: learning curve ({', '.join(str(len(by_steps[x])) for x in xs)} seeds)")
        path = save(fig, out_dir / "figures" / f"{task}-{method}-{profile}-learning-curve{'-' + str(n) if n else ''}.png")
        out.append((f"{method} ({profile}), {task}", path))
    return out
