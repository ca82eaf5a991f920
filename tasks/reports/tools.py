"""The tools family's leaderboard sections: the judge's preference in the paper's Table 3 layout, its 0–10 scores
as the paper's Figure 2 (a histogram PNG per row), and which runs were not judged and why.

Called by `harness leaderboard` through `ToolsTask.report`; reads only records. The judge model is named in every
row; the paper's row is separate (its judge: GPT-4 per the paper, gpt-3.5-turbo-1106 in the authors' code).
"""
from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from tasks.reports.latent import latent_use

from harness.api.tables import finite, mean_std
from tasks.reports.figures import save

PAPER_TABLE3 = {"win": 28.3, "equal": 6.8, "lose": 64.9}


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


def _judged(records):
    rows = defaultdict(list)
    for r in records:
        if r["metrics"].get("judge_model"):
            rows[(r["_label"], r["metrics"]["judge_model"])].append(r)
    return rows


def preference_table(rows: dict) -> list[str]:
    lines = ["| method | judge | mode | seeds | synthetic wins % | equal % | real wins % | groups | failed |",
             "|---|---|---|---|---|---|---|---|---|"]
    for (label, judge), recs in sorted(rows.items()):
        for mode in ("faithful", "category"):
            if not any(f"judge_{mode}_win" in r["metrics"] for r in recs):
                continue
            cell = lambda k, d=1: mean_std([r["metrics"].get(f"judge_{mode}_{k}") for r in recs], d)
            lines.append(f"| {label} | {judge} | {mode} | {len(recs)} | {cell('win')} | {cell('equal')} | "
                         f"{cell('lose')} | {cell('groups', 0)} | {cell('failed', 0)} |")
    return lines


def draw_histograms(rows: dict, out_dir: Path) -> list[tuple[str, Path]]:
    """Figure 2: counts of integer scores 0–10, real vs synthetic, summed over a row's seeds."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    drawn = []
    for (label, judge), recs in sorted(rows.items()):
        hists = [r["metrics"].get("judge_scores") for r in recs if r["metrics"].get("judge_scores")]
        if not hists:
            continue
        real = [sum(h["real"]["histogram"][i] for h in hists) for i in range(11)]
        syn = [sum(h["syn"]["histogram"][i] for h in hists) for i in range(11)]
        fig, ax = plt.subplots(figsize=(6, 3.2))
        ax.bar([i - 0.2 for i in range(11)], real, width=0.4, label="real (train)")
        ax.bar([i + 0.2 for i in range(11)], syn, width=0.4, label=label)
        ax.set(xlabel="judge score (0–10)", ylabel="records", xticks=range(11), title=f"{label} — judge: {judge}")
        ax.legend()
        drawn.append((f"{label}, judge {judge}", save(fig, out_dir / "figures" / f"tools-scores-{_slug(label)}-{_slug(judge)}.png")))
    return drawn


def score_table(rows: dict) -> list[str]:
    lines = ["| method | judge | seeds | real mean | synthetic mean | Mann–Whitney p | judged real / syn | failed real / syn |",
             "|---|---|---|---|---|---|---|---|"]
    for (label, judge), recs in sorted(rows.items()):
        s = [r["metrics"]["judge_scores"] for r in recs if r["metrics"].get("judge_scores")]
        if not s:
            continue
        side = lambda k, f, d=2: mean_std([x[k][f] for x in s], d)
        p = mean_std(finite((x.get("mannwhitney") or {}).get("p") for x in s), 3)
        lines.append(f"| {label} | {judge} | {len(s)} | {side('real', 'mean')} | {side('syn', 'mean')} | {p} | "
                     f"{side('real', 'n_judged', 0)} / {side('syn', 'n_judged', 0)} | {side('real', 'n_failed', 0)} / "
                     f"{side('syn', 'n_failed', 0)} |")
    return lines


def sections(records: list[dict], *, label_of: dict, notes: dict, out_dir: Path) -> list[str]:
    records = [{**r, "_label": label_of[r["job_id"]]} for r in records]
    rows = _judged(records)
    skipped = sorted({(r["_label"], (r["metrics"].get("judge") or {}).get("why", "?")) for r in records
                      if (r["metrics"].get("judge") or {}).get("status") == "skipped"})
    lines = ["## Judge preference, real vs synthetic (paper Table 3 layout)", ""]
    if rows:
        lines += ["`faithful`: the authors' code (groups = tool names over the union of both sides, API names only,",
                  "one seeded A/B order); `category`: ToolBench categories present on both sides, full records, both",
                  "orders judged (a disagreement counts as equal). % of judged groups.", "", *preference_table(rows)]
    else:
        lines += ["No run was judged yet (see below)."]
    lines += ["", f"The paper (judge: GPT-4 per its text, gpt-3.5-turbo-1106 in the authors' code; their ToolBench set): "
              f"DiffLM wins {PAPER_TABLE3['win']} %, equal {PAPER_TABLE3['equal']} %, real wins {PAPER_TABLE3['lose']} %.", ""]
    if rows:
        lines += ["## Judge scores 0–10 (paper Figure 2)", "", *score_table(rows), ""]
        lines += [f"- {name}: [{p.name}](figures/{p.name})" for name, p in draw_histograms(rows, out_dir)] + [""]
    if skipped:
        lines += ["## Runs without a judge", "", "Proxies only (their own names; not comparable with the judge):", ""]
        lines += [f"- {label}: {why}" for label, why in skipped] + [""]
    return lines + latent_use(records, label_of)
