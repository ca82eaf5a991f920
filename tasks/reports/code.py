"""The code family's leaderboard sections: our arms in the layout of the paper's Table 2, then the paper's rows.

Called by `harness leaderboard` through `CodeTask.report`; reads only records. One row per base model and
arm: "base (no CPT)" from the `base_*` scores every record carries, then one row per method's corpus
(`real` = the real-CPT arm). pass@k in %, NLL in nats per reference token (lower is better).
"""
from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

from tasks.reports.latent import latent_use

from harness.api.tables import finite, mean_std

HERE = Path(__file__).resolve().parent
BENCHES = ("humaneval", "mbpp")
KS = (1, 10, 100)


def paper_rows(path: Path = HERE / "paper_table2.csv") -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _cells(recs: list[dict], prefix: str = "") -> list[str]:
    cells = []
    for b in BENCHES:
        for k in KS:
            vals = [r["metrics"].get(f"{prefix}{b}_pass@{k}") for r in recs]
            cells.append(mean_std([100 * v for v in finite(vals)], 2) if finite(vals) else "—")
        vals = [r["metrics"].get(f"{prefix}{b}_nll") for r in recs]
        cells.append(mean_std(vals, 3) if finite(vals) else "—")
    return cells


def _setting(rec: dict) -> tuple[str, str]:
    task = rec["task"]
    return task.get("base_model", "?"), task.get("protocol", rec["method"]["profile"])


def our_table(records: list[dict], label_of: dict) -> list[str]:
    header = ("| base model | arm (corpus) | seeds | " + " | ".join(
        f"{'HE' if b == 'humaneval' else 'MBPP'} {m}" for b in BENCHES for m in [*(f"pass@{k}" for k in KS), "NLL ↓"])
        + " | CPT tokens | corpus parses | 13-gram docs HE / MBPP-test |")
    lines = [header, "|---|---|---|" + "---|" * (len(BENCHES) * (len(KS) + 1) + 3)]
    by_setting = defaultdict(list)
    for r in records:
        by_setting[_setting(r)].append(r)
    notes = []
    for (base, protocol), recs in sorted(by_setting.items()):
        notes.append(f"- {base}: {protocol}")
        lines.append(f"| {base} | base (no CPT) | — | " + " | ".join(_cells(recs[:1], "base_")) + " | 0 | — | — |")
        arms = defaultdict(list)
        for r in recs:
            arms[label_of[r["job_id"]]].append(r)
        for label in sorted(arms, key=lambda s: (not s.startswith("real"), s)):
            group = arms[label]
            name, sep, rest = label.partition(" ")          # "difflm (smoke profile)" -> "difflm-CPT (smoke profile)"
            arm = f"{name}-CPT{sep}{rest}"
            tokens = mean_std([r["metrics"].get("cpt_tokens") for r in group], 0)
            parses = mean_std([100 * r["metrics"]["corpus_parse_rate"] for r in group
                               if r["metrics"].get("corpus_parse_rate") is not None], 1)
            hits = " / ".join(mean_std([r["metrics"].get(k) for r in group], 0)
                              for k in ("humaneval_docs_hit", "mbpp_test_docs_hit"))
            lines.append(f"| {base} | {arm} | {len(group)} | " + " | ".join(_cells(group))
                         + f" | {tokens} | {parses} % | {hits} |")
    return lines + ["", "Protocols (the run's --profile):", *notes]


def paper_table() -> list[str]:
    lines = ["| model | size | HE pass@1 | HE pass@10 | HE pass@100 | MBPP pass@1 | MBPP pass@10 | MBPP pass@100 | note |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row in paper_rows():
        cells = [row[f"{b}_pass@{k}"] or "—" for b in BENCHES for k in KS]
        lines.append(f"| {row['model']} | {row['size']} | " + " | ".join(cells) + f" | {row['note']} |")
    return lines


def _why(records: list[dict], notes: dict) -> list[str]:
    """method_notes.csv's lines for the methods in these records, task `code` only (the `*` lines speak of tables)."""
    names = sorted({r["method"]["name"] for r in records})
    found = [(n, notes.get((n, "code"))) for n in names]
    lines = [f"- **{n}**: {why}" for n, why in found if why]
    return ["Why rows differ from the paper's (`leaderboards/method_notes.csv`):", "", *lines, ""] if lines else []


def sections(records: list[dict], *, label_of: dict, notes: dict, out_dir: Path) -> list[str]:
    if not records:
        return []
    return ["## Continued pre-training on each corpus (paper Table 2 layout)", "",
            "pass@k in %; `—` where the protocol does not measure it (the cpu profile decodes greedily: pass@1 only).",
            "NLL: mean negative log-likelihood per token of the reference solutions given the prompt — not a paper",
            "metric; comparable only between rows sharing a base model. At 135M–270M parameters greedy pass@1 sits",
            "near its floor (a few HumanEval problems), so differences between corpora show in NLL first.",
            "13-gram docs: documents of the whole corpus (not only the CPT share) sharing a 13-gram with a",
            "HumanEval problem / an MBPP test problem (prompt + solution); the record's details.json lists which.", "",
            *our_table(records, label_of), "", *_why(records, notes),
            "## The paper's Table 2 (published numbers, Mistral 7B / 12B; not re-run here)", "",
            "Decoding T 0.2, top-p 0.95, n not stated; GPT-4 and CodeLLaMA rows are other papers' numbers.", "",
            *paper_table(), "", *latent_use(records, label_of)]
