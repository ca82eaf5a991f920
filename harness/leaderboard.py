"""Leaderboards: pure functions from stored records to markdown (no metric is ever typed in here).

One page per task family (`leaderboards/<family>.md`): the family's own sections first (its report
module, named by the task class — e.g. the paper's Table 1 layout for the UCI tables), then one generic
table per task with every metric the task declared, its ↑/↓ direction from the records, and how many jobs
ran and failed; a provenance footer ends each page. `write_all` first copies the local store's records
into the archive (leaderboards/records/), then renders from the archive alone.
"""
from __future__ import annotations

import csv
import importlib
from collections import defaultdict
from pathlib import Path

from harness.rows import as_shown, family_of, is_current, labels, task_class
from harness.store import BOARD_DIR, Archive, Store
from harness.api.tables import arrow, digits_for, finite, mean_std


# Flags that no longer exist and never changed a result: dropped from the commands a page shows, so each replays.
DEAD_FLAGS = ("--no-leaderboard",)


def replayable(command: str) -> str:
    return " ".join(w for w in command.split(" ") if w not in DEAD_FLAGS)


def method_notes(path: Path = BOARD_DIR / "method_notes.csv") -> dict:
    """(method, task) -> why our row differs from the paper's (rows of topic "paper gap"; task may be "*")."""
    if not path.exists():
        return {}
    with open(path, newline="") as f:
        return {(r["method"], r["task"]): r["why"] for r in csv.DictReader(f)
                if r.get("topic", "paper gap") in ("", "paper gap")}


def declared_metrics(recs: list[dict]) -> dict:
    """{metric: higher_is_better} that the records declare and at least one of them reported, the task's
    headline metrics first, then the rest by name (records store their keys sorted)."""
    declared: dict = {}
    for r in recs:
        for k, v in (r.get("higher_is_better") or {}).items():
            if any(isinstance(x["metrics"].get(k), (int, float)) for x in recs):
                declared.setdefault(k, v)
    cls = task_class(recs[0]["task"]["name"]) if recs else None
    first = [k for k in getattr(cls, "headline", ()) if k in declared]
    return {k: declared[k] for k in first + sorted(set(declared) - set(first))}


def metric_table(task: str, recs: list[dict], label_of: dict) -> list[str]:
    """Every metric the task declared, mean ± std over the ok seeds of each row, and jobs ok / total."""
    declared = declared_metrics(recs)
    digits = {k: 2 if max([abs(v) for v in finite(r["metrics"].get(k) for r in recs)] or [0]) >= 10 else 3
              for k in declared}
    rows = defaultdict(list)
    for r in recs:
        rows[label_of[r["job_id"]]].append(r)
    lines = [f"### {task}", "", "| method | jobs ok / total | " + " | ".join(f"{k} {arrow(v)}" for k, v in declared.items())
             + " |", "|---|---|" + "---|" * len(declared)]
    for label in sorted(rows, key=lambda s: (not s.startswith("real"), s)):
        group = rows[label]
        ok = [r for r in group if r["status"] == "ok"]
        failed = sorted({(r.get("error") or {}).get("type", r["status"]) for r in group if r["status"] != "ok"})
        jobs = f"{len(ok)}/{len(group)}" + (f" (failed: {', '.join(failed)})" if failed else "")
        cells = []
        for k in declared:
            vals = [r["metrics"].get(k) for r in ok]
            cells.append(mean_std(vals, digits[k]) if any(v is not None for v in vals) else "—")
        lines.append(f"| {label} | {jobs} | " + " | ".join(cells) + " |")
    return lines + [""]


def report_sections(family: str, records: list[dict], label_of: dict, out_dir: Path) -> list[str]:
    """The family's own sections, from the report module its task class names ("module:function")."""
    for rec in records:
        cls = task_class(rec["task"]["name"])
        if cls is not None and cls.report:
            module, _, fn = cls.report.partition(":")
            render = getattr(importlib.import_module(module), fn)
            return render(records, label_of=label_of, notes=method_notes(), out_dir=out_dir)
    return []


def build_page(family: str, records: list[dict], out_dir: Path = BOARD_DIR, *, history: bool = False) -> str:
    label_of = labels(records, history)
    ok = [r for r in records if r["status"] == "ok"]
    if history:
        head = [f"# {family.capitalize()} leaderboard: history", "",
                "Runs whose spec is no longer what today's code and profiles resolve (earlier budgets, resized",
                "profiles, `--set` experiments, older task versions); a row name lists the params that differ",
                f"between runs of one method and profile (`unset`: the run predates that param). Current runs: [{family}.md]({family}.md)."]
    else:
        head = [f"# {family.capitalize()} leaderboard", "",
                "Current runs only: each row is one spec that today's code and profile resolve (method, profile,",
                f"task options, the user's `--set` overrides), mean over its seeds. Older runs: [{family}-history.md]({family}-history.md)."]
    lines = head + ["", "Generated by `python -m harness leaderboard` from the run records in `records/` beside this page;",
                    "do not edit by hand.", ""]
    lines += report_sections(family, ok, label_of, out_dir)
    lines += ["## Every declared metric, per task", "",
              "Mean ± std over the seeds that finished; `jobs ok / total` counts every job recorded for the row,",
              "failed ones included (with the error type).", ""]
    by_task = defaultdict(list)
    for r in records:
        by_task[r["task"]["name"]].append(r)
    for task in sorted(by_task):
        lines += metric_table(task, by_task[task], label_of)
    commands = sorted({replayable(r["command"]) for r in records if r.get("command")})
    lines += ["## Provenance", "", "Commands that produced these records:", "", *[f"- `{c}`" for c in commands], "",
              f"{len(records)} records: " + ", ".join(sorted(r["job_id"] for r in records)), ""]
    return "\n".join(lines)


def build_pages(records: list[dict], out_dir: Path = BOARD_DIR) -> dict[str, str]:
    """{page name: markdown}: per family, its current runs (`family`) and the rest (`family-history`)."""
    families = defaultdict(list)
    for r in records:
        families[family_of(r)].append(r)
    pages = {}
    for f, recs in sorted(families.items()):
        current = [is_current(r) for r in recs]
        now = [r for r, c in zip(recs, current) if c]
        old = [r for r, c in zip(recs, current) if not c]
        pages[f] = build_page(f, now, out_dir)
        if old:
            pages[f"{f}-history"] = build_page(f, old, out_dir, history=True)
    return pages


def keep_for_archive(include_smoke: bool, include_user_data: bool):
    def keep(rec: dict) -> bool:
        if rec["method"]["profile"] == "smoke" and not include_smoke:
            return False
        cls = task_class(rec["task"]["name"])
        private = rec["task"].get("user_data", getattr(cls, "user_data", False))
        return include_user_data or not private
    return keep


def write_all(store: Store, include_smoke: bool = False, out_dir: Path = BOARD_DIR,
              include_user_data: bool = False) -> list[Path]:
    archive = Archive(out_dir / "records")
    archive.add_from(store, keep=keep_for_archive(include_smoke, include_user_data))
    records = [as_shown(r) for r in archive.records()]
    written = []
    for family, text in build_pages(records, out_dir).items():
        path = out_dir / f"{family}.md"
        path.write_text(text)
        written.append(path)
    written += sorted((out_dir / "figures").glob("*.png")) if (out_dir / "figures").exists() else []
    readme = out_dir.parent / "README.md"
    if out_dir == BOARD_DIR and readme.exists():
        update_readme(readme, records)
        written.append(readme)
    return written


def update_readme(readme: Path, records) -> None:
    """Replace the block between the results markers with the current runs' headline: per family, one row per
    method (profile) and one column per task, the task's first headline metric (mean ± std, seeds)."""
    start, end = "<!-- results:start -->", "<!-- results:end -->"
    text = readme.read_text()
    if start not in text or end not in text:
        return
    records = [r for r in records if is_current(r) and r["status"] == "ok"]
    label_of, pages = labels(records), sorted({family_of(r) for r in records})
    block = [start, "Current runs, generated by `python -m harness leaderboard` from `leaderboards/records/`; every",
             "metric, the paper's numbers beside ours and older runs: "
             + ", ".join(f"[{f}](leaderboards/{f}.md)" for f in pages) + ".", ""]
    families = defaultdict(lambda: defaultdict(list))
    for r in records:
        families[family_of(r)][(label_of[r["job_id"]], r["task"]["name"])].append(r)
    for family, groups in sorted(families.items()):
        tasks = sorted({t for _, t in groups}, key=lambda t: [r["task"]["name"] for r in records].index(t))
        metric = {t: next(iter(declared_metrics([r for (_, tt), rs in groups.items() if tt == t for r in rs])), None)
                  for t in tasks}
        block += [f"**{family}**", "", "| method | " + " | ".join(
            f"{t} {metric[t]} {arrow(next(rs for (_, tt), rs in groups.items() if tt == t)[0]['higher_is_better'][metric[t]])}"
            if metric[t] else t for t in tasks) + " |", "|---|" + "---|" * len(tasks)]
        for label in sorted({lb for lb, _ in groups}, key=lambda s: (not s.startswith("real"), s)):
            cells = []
            for t in tasks:
                vals = [r["metrics"].get(metric[t]) for r in groups.get((label, t), [])]
                cells.append(f"{mean_std(vals, digits_for(vals))} ({len(vals)})" if vals and metric[t] else "")
            block.append(f"| {label} | " + " | ".join(cells) + " |")
        block.append("")
    if not records:
        block += ["No current runs recorded yet.", ""]
    else:
        block += ["(n): seeds. Produced by:", "", *[f"- `{c}`" for c in sorted({replayable(r["command"])
                                                                               for r in records if r.get("command")})], ""]
    block.append(end)
    head, rest = text.split(start, 1)
    readme.write_text(head + "\n".join(block) + rest.split(end, 1)[1])
