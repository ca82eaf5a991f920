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


def _uncalibrated(recs) -> str:
    """' ⚠ uncalibrated judge' when any seed's calibration failed (tasks/tools/calibration.py), else ''."""
    bad = [r for r in recs if (r["metrics"].get("judge_calibration") or {}).get("calibrated") is False]
    return " ⚠ uncalibrated judge" if bad else ""


def judge_notes(rows: dict) -> list[str]:
    """One line per judged row saying why its judge is uncalibrated and what the server did (from the record), so
    a row of 'failed' cells reads as a finding about the judge, not a gap."""
    out = []
    for (label, judge), recs in sorted(rows.items()):
        for r in recs:
            cal, info = r["metrics"].get("judge_calibration") or {}, r["metrics"].get("judge") or {}
            said = "; ".join(x for x in (cal.get("why") if cal.get("calibrated") is False else "", info.get("note"))
                             if x)
            if said:
                out.append(f"- {label}, judge {judge}, seed {r['seed']} (record {r['job_id']}): {said}.")
    return out


def preference_table(rows: dict) -> list[str]:
    """Table 3 with the judge's calibration beside it: the null comparison (real train vs held-out real; ideal: as
    many wins as losses), A/B order agreement, parse rate, and the real records' mean score."""
    lines = ["| method | judge | mode | seeds | synthetic wins % | equal % | real wins % | groups | failed | "
             "null: held-out wins / real wins % | order agreement | parse rate | real score |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for (label, judge), recs in sorted(rows.items()):
        for mode in ("faithful", "category"):
            if not any(f"judge_{mode}_win" in r["metrics"] for r in recs):
                continue
            cell = lambda k, d=1: mean_std([r["metrics"].get(f"judge_{mode}_{k}") for r in recs], d)
            m = lambda k, d=2: mean_std([r["metrics"].get(k) for r in recs], d)
            null = (f"{m(f'judge_null_{mode}_win', 1)} / {m(f'judge_null_{mode}_lose', 1)}"
                    if any(f"judge_null_{mode}_win" in r["metrics"] for r in recs) else "not run")
            order = m("judge_order_agreement") if mode == "category" else "one order"
            real = mean_std([(r["metrics"].get("judge_scores") or {}).get("real", {}).get("mean") for r in recs], 2)
            lines.append(f"| {label}{_uncalibrated(recs)} | {judge} | {mode} | {len(recs)} | {cell('win')} | "
                         f"{cell('equal')} | {cell('lose')} | {cell('groups', 0)} | {cell('failed', 0)} | {null} | "
                         f"{order} | {m('judge_parse_rate')} | {real} |")
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
                  "orders judged (a disagreement counts as equal). % of judged groups.",
                  "Calibration, measured in the same run: the null comparison judges the real training records against",
                  "the held-out real split exactly like real vs synthetic (an unbiased judge splits evenly); order",
                  "agreement is the share of groups whose two A/B orders pick the same side; parse rate is the share of",
                  "answers holding a valid judgement. ⚠ uncalibrated judge: null comparison more than 20 points from",
                  "even, or parse rate under 90 % (tasks/tools/calibration.py).", "", *preference_table(rows)]
        why = judge_notes(rows)
        lines += ["", *why] if why else []
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
