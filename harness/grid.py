"""Grids as files: a TOML that names a leaderboard's jobs (tasks × methods × seeds, with a profile, task options and
--set overrides), expanded to job specs the same way `run` plans them, so a grid's job ids are `run`'s.

    profile = "cpu"                    # default of every block
    [[runs]]
    tasks = ["adult", "magic"]
    methods = ["real", "smote", "tvae"]
    seeds = [0, 1, 2]
    options = { split = "difflm" }     # task options, as `run --split difflm`
    set = { "tvae.epochs" = 50 }       # as `run --set tvae.epochs=50`
    n_samples = 1000                   # optional, as `run --n-samples`

`grid GRID.toml` runs the jobs not yet done through an executor, `--dry-run` prints the job count and the cost from
the archive's measured wall times, `status GRID.toml` prints done / running / failed / pending.
"""
from __future__ import annotations

import statistics
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from harness.api import DataError

BLOCK_KEYS = {"tasks", "task", "methods", "seeds", "profile", "options", "set", "n_samples"}


@dataclass
class Block:
    tasks: list[str]
    methods: list[str]
    seeds: list[int]
    profile: str = "cpu"
    options: dict = field(default_factory=dict)
    overrides: dict = field(default_factory=dict)     # {method: {param: value}}
    n_samples: int | None = None


def load(path: str | Path) -> list[Block]:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(f"no grid file {path}") from None
    except tomllib.TOMLDecodeError as e:
        raise DataError(f"{path}: not valid TOML ({e})") from None
    blocks = []
    for i, raw in enumerate(data.get("runs", []), 1):
        unknown = set(raw) - BLOCK_KEYS
        if unknown:
            raise DataError(f"{path}: [[runs]] block {i}: unknown keys {sorted(unknown)} (keys: {sorted(BLOCK_KEYS)})")
        tasks = raw.get("tasks") or ([raw["task"]] if "task" in raw else [])
        if not tasks or not raw.get("methods"):
            raise DataError(f"{path}: [[runs]] block {i} needs tasks and methods")
        overrides: dict = {}
        for key, value in raw.get("set", {}).items():
            method, _, param = key.rpartition(".")
            if method not in raw["methods"] or not param:
                raise DataError(f"{path}: block {i}: set {key!r} must be METHOD.PARAM with a method of the block")
            overrides.setdefault(method, {})[param] = value
        blocks.append(Block(list(tasks), list(raw["methods"]), [int(s) for s in raw.get("seeds", [0])],
                            raw.get("profile", data.get("profile", "cpu")), dict(raw.get("options", {})),
                            overrides, raw.get("n_samples")))
    if not blocks:
        raise DataError(f"{path}: no [[runs]] blocks")
    return blocks


def build_task(name: str, options: dict, profile: str):
    from tasks import TASKS

    cls = TASKS.get(name)
    unknown = set(options) - set(cls.option_names())
    if unknown:
        raise DataError(f"task {name} has no option {', '.join(sorted(unknown))} "
                        f"(its options: {', '.join(cls.option_names()) or 'none'})")
    given = dict(options)
    if "profile" in cls.option_names():        # as `run`: a task taking `profile` gets the run's
        given.setdefault("profile", profile)
    return cls(**given)


def expand(blocks: list[Block], store, *, force: bool = False, reuse_from=()) -> list[tuple]:
    """[(task, jobs)] with each job's reuse found in the store: the plan of every block, tasks loaded once."""
    from harness import planning
    from methods import METHODS

    out, loaded = [], {}
    for b in blocks:
        for name in b.tasks:
            task = build_task(name, b.options, b.profile)
            key = (name, repr(sorted(task.config().items())))
            if key not in loaded:
                loaded[key] = planning.load_task(task, notes=False)
            splits, _, task_key, _ = loaded[key]
            classes = {m: METHODS.get(m) for m in b.methods}
            planning.check_modalities(task, classes)
            jobs = planning.plan(task, splits, classes, b.seeds, profile=b.profile, n_samples=b.n_samples,
                               overrides=b.overrides, store=store, reuse_from=reuse_from, force=force,
                               task_key=task_key)
            out.append((task, jobs))
    return out


def measured_seconds(records) -> dict:
    """{(task, method, profile): median wall s} and {(method, profile): median} of finished archived jobs."""
    by_task, by_method = {}, {}
    for r in records:
        if r["status"] != "ok":
            continue
        t = r.get("timings_s", {})
        wall = sum(float(t.get(k) or 0) for k in ("load", "fit", "sample", "score"))
        key = (r["task"]["name"], r["method"]["name"], r["method"].get("profile"))
        by_task.setdefault(key, []).append(wall)
        by_method.setdefault(key[1:], []).append(wall)
    med = lambda d: {k: statistics.median(v) for k, v in d.items()}
    return {"task": med(by_task), "method": med(by_method)}


def estimate(task: str, method: str, profile: str, measured: dict) -> float | None:
    return measured["task"].get((task, method, profile), measured["method"].get((method, profile)))


def _row_key(task: dict, method: dict, seed: int, n) -> str:
    import json
    return json.dumps([task, method["name"], method["profile"], method.get("overrides", {}), seed, n],
                      sort_keys=True, default=str)


def archived(planned: list[tuple], records) -> dict:
    """{job id: the archive's current finished record of that job}. A current record (harness/rows.py
    `is_current`) that predates a param (and ran as its default today) has another job id for the same job: it
    is matched by task, method, profile, overrides, seed and n — the overrides as the pages count them
    (`--set` values the profile itself says today are dropped: such a run is a profile run, as its leaderboard
    row says)."""
    from harness.rows import effective_overrides, is_current

    current = {}
    for r in records:
        if r["status"] == "ok" and is_current(r):
            spec = r["spec"]
            method = {k: v for k, v in spec["method"].items() if k != "overrides"}
            if effective_overrides(r):
                method["overrides"] = effective_overrides(r)
            current[_row_key(spec["task"], method, spec["seed"], spec.get("n_samples"))] = r
    out = {}
    for _, jobs in planned:
        for j in jobs:
            rec = current.get(_row_key(j.spec.task, j.spec.method, j.seed, j.n))
            if rec is not None:
                out[j.jid] = rec
    return out


def makespan(costs: list[float], workers: int) -> float:
    """Wall time of the jobs on `workers` equal workers, longest first to the least loaded (LPT)."""
    loads = [0.0] * max(1, workers)
    for c in sorted(costs, reverse=True):
        loads[loads.index(min(loads))] += c
    return max(loads)


def hours(s: float) -> str:
    return f"{s / 3600:.1f} h" if s >= 3600 else f"{s / 60:.0f} min"


def dry_run(planned: list[tuple], measured: dict, workers: tuple[int, ...] = (1, 4, 16, 64),
            archive=None) -> list[str]:
    """The lines `grid --dry-run` prints: jobs and cost per method, in total, and on N workers; with `archive`,
    how many of the jobs have a finished record there (what `--reuse-archive` would not run again)."""
    rows: dict = {}
    kept = archived(planned, archive.records()) if archive is not None else {}
    for task, jobs in planned:
        for j in jobs:
            row = rows.setdefault((j.name, j.desc["profile"]),
                                  {"jobs": 0, "done": 0, "cost": [], "unknown": 0, "archived": 0})
            row["jobs"] += 1
            row["archived"] += j.jid in kept
            if j.reused is not None:
                row["done"] += 1
                continue
            s = estimate(task.name, j.name, j.desc["profile"], measured)
            row["cost"].append(s) if s is not None else row.__setitem__("unknown", row["unknown"] + 1)
    total = sum(r["jobs"] for r in rows.values())
    lines = [f"{total} jobs ({sum(r['done'] for r in rows.values())} already done in the store)"]
    if archive is not None:
        lines[0] += f"; {len(kept)} have a current finished record in {archive}/"
    for (name, profile), r in sorted(rows.items()):
        unknown = f", {r['unknown']} of unknown cost (never run)" if r["unknown"] else ""
        missing = f" ({r['jobs'] - r['archived']} not in the archive)" if archive is not None else ""
        lines.append(f"  {name:<14} {profile:<6} {r['jobs']:>4} jobs, {r['jobs'] - r['done']:>4} to run{missing}: "
                     f"~{hours(sum(r['cost']))} of measured wall time{unknown}")
    costs = [c for r in rows.values() for c in r["cost"]]
    lines.append(f"  total to run: ~{hours(sum(costs))} of wall time as measured (archive records' fit + sample "
                 f"+ score, median per task, method, profile)")
    lines.append("  on N workers like the ones that measured it: " +
                 ", ".join(f"{n}: ~{hours(makespan(costs, n))}" for n in workers))
    return lines


def job_state(store, task: str, job) -> tuple[str, str]:
    """(done | running | failed | pending, detail) of one planned job in the store."""
    from harness.lease import holder_of

    if job.reused is not None:
        return "done", job.reused_from
    job_dir = store.job_dir(task, job.name, job.jid)
    held = holder_of(job_dir)
    if held:
        return "running", f"on {held.get('host')} (pid {held.get('pid')}, {held.get('executor')}, attempt {held.get('attempt')})"
    rec = store.read(task, job.name, job.jid)
    if rec is None:
        return "pending", ""
    if rec["status"] in ("error", "interrupted", "running"):   # running without a live lease: stopped unannounced
        err = rec.get("error")
        why = f"{err.get('type')}: {err.get('message', '')[:80]}" if isinstance(err, dict) else str(err or "stopped")
        return "failed", f"in {rec.get('phase')} ({why})"
    return "pending", rec["status"]


def status_lines(planned: list[tuple], store, *, show: int = 20) -> list[str]:
    states: dict = {"done": [], "running": [], "failed": [], "pending": []}
    for task, jobs in planned:
        for j in jobs:
            state, detail = job_state(store, task.name, j)
            states[state].append(f"{task.name}/{j.name} seed {j.seed} [{j.jid}] {detail}".rstrip())
    total = sum(len(v) for v in states.values())
    lines = [f"{total} jobs: " + ", ".join(f"{len(v)} {k}" for k, v in states.items())]
    for state in ("running", "failed", "pending"):
        for item in states[state][:show]:
            lines.append(f"  {state:<8} {item}")
        if len(states[state]) > show:
            lines.append(f"  ... and {len(states[state]) - show} more {state}")
    return lines
