"""Figure 3 of the paper, per record that logged a VAE history (`method.extra.vae_history`: a list of
{epoch, train_rec, val_rec, train_kl, beta}): losses and KL against epoch, β on a second axis. Skipped
(with a note) when matplotlib is missing: the tables never depend on it. A figure whose PNG already
carries the hash of its inputs and of the drawing code is kept, not redrawn: drawing ~20 figures was
most of a leaderboard rebuild."""
from __future__ import annotations

import hashlib
import inspect
import json
from pathlib import Path


def save(fig, path: Path, dpi: int = 110, inputs_hash: str | None = None) -> Path:
    """Write and close a figure; no version stamp, so the same records give the same bytes."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"Software": None, **({"Description": inputs_hash} if inputs_hash else {})}
    fig.savefig(path, dpi=dpi, metadata=meta)
    plt.close(fig)
    return path


def drawn_from(path: Path) -> str | None:
    """The inputs hash stored in an existing PNG (None when absent or unreadable)."""
    if not path.exists():
        return None
    try:
        from PIL import Image
        with Image.open(path) as im:
            return im.text.get("Description")
    except Exception:  # a truncated or foreign file is simply redrawn
        return None


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
    code = inspect.getsource(draw_training_curves)  # a change to the drawing redraws every figure
    for rec in todo:
        h = rec["method"]["extra"]["vae_history"]
        title = f"{rec['method']['name']} ({rec['method']['profile']}) on {rec['task']['name']}, seed {rec['seed']}"
        key = hashlib.sha256(json.dumps([h, title, code], sort_keys=True, default=str).encode()).hexdigest()[:16]
        path = figure_path(rec, out_dir)
        if drawn_from(path) == key:
            out.append((rec, path))
            continue
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
        fig.suptitle(title)
        out.append((rec, save(fig, path, inputs_hash=key)))
    return out
