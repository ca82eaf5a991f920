"""The judgements asked of the tools judge (docs/spec/code_and_tool_protocol.md §2.3, §2.4): the authors'
prompts (tasks/tools/prompts/, verbatim), defensive parsing of the answers, the single-record score with its
summary, and the real-vs-synthetic set preference (the paper's Table 3) in two modes:

- `faithful`, what the authors' scripts/gpt_preference_tool.py does: groups over the union of both sides' names, a
  one-sided group compared against `[]`, set content = the API names only; real is set A iff a Random(seed) draw is
  < 0.5, one draw per group. Deviation for reproducibility: names and groups are sorted (the authors iterate Python
  sets, whose order changes with hash seeding, so their A/B assignment and name order differ between processes).
- `category`: groups present on both sides only, set content = the full records, both A/B orders asked; a group
  goes to one side only when both orders agree, otherwise it counts as equal.

Everything goes through Judge.ask_many, so results rebuild from the cache alone.
"""
from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tasks.tools.judge import Judge

_PROMPTS = Path(__file__).parent / "prompts"


def prompt(name: str) -> str:
    """The authors' prompt verbatim (`score_tool`, `preference_tool`), leading and trailing newline included."""
    return (_PROMPTS / f"{name}.txt").read_text(encoding="utf-8")


def fill(template: str, **values: str) -> str:
    """Replace `{name}` placeholders in one pass (not str.format: the inserted JSON has braces of its own, and a
    record that happens to contain "{set_b_data}" must not be substituted a second time)."""
    return re.sub(r"\{([a-z_]+)\}", lambda m: values.get(m.group(1), m.group(0)), template)




@dataclass
class ScoreResult:
    score: int | None          # None: the judge failed on this record
    reason: str
    error: str | None


def score_records(judge: Judge, records: list[dict], *, progress: bool = True) -> list[ScoreResult]:
    """The single-tool score (0-10) of every record, in order; the record goes in as the authors wrote it."""
    template = prompt("score_tool")
    prompts = [fill(template, api_data=json.dumps(r, ensure_ascii=False, indent=4)) for r in records]
    return [ScoreResult(a.parsed["score"], a.parsed["reason"], None) if a.ok else ScoreResult(None, "", a.error)
            for a in judge.ask_many(prompts, kind="score", progress=progress)]


def _side(scores: list[int | None]) -> dict:
    judged = np.array([int(s) for s in scores if s is not None], dtype=float)
    n = len(judged)
    return {"n": len(scores), "n_judged": n, "n_failed": len(scores) - n,
            "histogram": [int((judged == v).sum()) for v in range(11)],   # counts of scores 0..10
            "mean": float(judged.mean()) if n else None,
            "std": float(judged.std(ddof=1)) if n > 1 else None,           # sample std
            "median": float(np.median(judged)) if n else None}


def score_summary(real: list[int | None], syn: list[int | None]) -> dict:
    """{"real": side, "syn": side, "mannwhitney": {...} | None}; side = {"n", "n_judged", "n_failed", "histogram"
    (11 counts), "mean", "std", "median"}. Mann-Whitney U is two-sided, U of real vs synthetic, and "cles" =
    U / (n_real * n_syn), the chance that a real record outscores a synthetic one (ties count half)."""
    from scipy.stats import mannwhitneyu

    out = {"real": _side(real), "syn": _side(syn), "mannwhitney": None}
    a, b = [int(s) for s in real if s is not None], [int(s) for s in syn if s is not None]
    if a and b:
        res = mannwhitneyu(a, b, alternative="two-sided")
        p = float(res.pvalue)
        out["mannwhitney"] = {"u": float(res.statistic), "p": None if np.isnan(p) else p,
                              "cles": float(res.statistic) / (len(a) * len(b)), "alternative": "two-sided"}
    return out


def _names(records: list[dict]) -> str:
    names = {r["api_name"] if isinstance(r.get("api_name"), str) else json.dumps(r.get("api_name"))
             for r in records if "api_name" in r}
    return json.dumps(sorted(names), indent=4, ensure_ascii=False)


def preference(judge: Judge, real_groups: dict[str, list[dict]], syn_groups: dict[str, list[dict]], *,
               mode: str, seed: int = 42, progress: bool = True) -> dict:
    """{"mode", "judge", "rows", "summary"}. rows: one per group, {"group", "one_sided", "real_is_a" (per order
    asked), "answers" (better_set per order), "outcome" ("syn" | "real" | "equal" | None), "reasons", "failures"}.
    summary: {"n_groups" (groups asked: the union in faithful, the intersection in category), "n_one_sided" (in
    faithful: asked against []; in category: left out), "n_judged", "n_failed", "counts" {"syn", "equal", "real"},
    "win" / "equal" / "lose" (% of judged groups: synthetic preferred / equal / real preferred; None if none)}."""
    if mode not in ("faithful", "category"):
        raise ValueError(f"preference mode {mode!r}: expected faithful or category")
    union, both = set(real_groups) | set(syn_groups), set(real_groups) & set(syn_groups)
    groups = sorted(union if mode == "faithful" else both)
    template, rng = prompt("preference_tool"), random.Random(seed)
    asks = []                                # (row index, real_is_a, prompt)
    for gi, g in enumerate(groups):
        real, syn = real_groups.get(g, []), syn_groups.get(g, [])
        if mode == "faithful":
            r_txt, s_txt = _names(real), _names(syn)
            orders = [rng.random() < 0.5]
        else:
            r_txt, s_txt = (json.dumps(x, indent=4, ensure_ascii=False) for x in (real, syn))
            orders = [True, False]
        for real_is_a in orders:
            a, b = (r_txt, s_txt) if real_is_a else (s_txt, r_txt)
            asks.append((gi, real_is_a, fill(template, set_a_data=a, set_b_data=b)))
    answers = judge.ask_many([p for _, _, p in asks], kind="preference", progress=progress)
    rows = [{"group": g, "one_sided": g not in both, "real_is_a": [], "answers": [], "outcome": None, "reasons": [],
             "failures": []} for g in groups]
    sides = [[] for _ in groups]
    for (gi, real_is_a, _), ans in zip(asks, answers):
        row = rows[gi]
        row["real_is_a"].append(real_is_a)
        if not ans.ok:
            row["answers"].append(None)
            row["failures"].append(ans.error)
            continue
        bs = ans.parsed["better_set"]
        row["answers"].append(bs)
        row["reasons"].append(ans.parsed["reason"])
        sides[gi].append("equal" if bs == "equal" else "real" if (bs == "A") == real_is_a else "syn")
    for row, s in zip(rows, sides):
        if not row["failures"]:              # a group with a failed order stays unjudged
            row["outcome"] = s[0] if len(set(s)) == 1 else "equal"
    rows += [{"group": g, "one_sided": True, "real_is_a": [], "answers": [], "outcome": None, "reasons": [],
              "failures": [], "skipped": "on one side only"} for g in sorted(union - both) if mode == "category"]
    judged = [r["outcome"] for r in rows if r["outcome"]]
    counts = {k: judged.count(k) for k in ("syn", "equal", "real")}
    pct = {k: 100.0 * v / len(judged) if judged else None for k, v in counts.items()}
    summary = {"n_groups": len(groups), "n_one_sided": len(union - both), "n_judged": len(judged),
               "n_failed": sum(1 for r in rows if r["failures"]), "counts": counts,
               "win": pct["syn"], "equal": pct["equal"], "lose": pct["real"]}
    return {"mode": mode, "judge": judge.config.describe(), "rows": rows, "summary": summary}
