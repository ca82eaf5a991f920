"""What a run prints before and after its jobs: the plan (what runs here, what is reused, what is scored again)
and each finished job's declared metrics with their direction."""
from __future__ import annotations

import statistics

from harness.store import Archive, load_record


def announce(task, jobs, profile, store) -> None:
    todo = [j for j in jobs if j.reused is None]
    print(f"{task.name}: {len(jobs)} job{'s' * (len(jobs) != 1)}, {len(todo)} to run on this machine, "
          f"{len(jobs) - len(todo)} reused (store: {store.root}/)", flush=True)
    for j in todo:
        if j.sample_from is not None and j.sample_from["status"] != "ok":
            print(f"  {j.name} seed {j.seed}: scores its stored synthetic data (its last run stopped while scoring: "
                  f"{j.sample_from['status']})", flush=True)
        elif j.sample_from is not None and j.sample_from["job_id"] == j.jid:
            print(f"  {j.name} seed {j.seed}: scores its synthetic data again (last time: "
                  f"{j.sample_from['scoring_incomplete']})", flush=True)
        elif j.sample_from is not None:
            print(f"  {j.name} seed {j.seed}: scores the synthetic data of finished job {j.sample_from['job_id']} "
                  f"(it differs only in scoring options)", flush=True)
    for name in dict.fromkeys(j.name for j in todo if j.sample_from is None):
        count = sum(j.name == name and j.sample_from is None for j in todo)
        job = next(j for j in todo if j.name == name)
        same = "" if job.desc["profile"] == profile else f" = its {job.desc['profile']} profile (the same params)"
        cost = job.method.cost.get(profile) or job.method.cost.get(job.desc["profile"], "cost unknown")
        print(f"  {name} × {count} ({profile} profile{same}): {cost} each{measured_cost(job, Archive())}", flush=True)
    elsewhere = [j for j in jobs if j.reused is not None and j.reused_from != str(store)]
    for source in dict.fromkeys(j.reused_from for j in elsewhere):
        recs = [j.reused for j in elsewhere if j.reused_from == source]
        made = sorted({f"{r['env'].get('platform', '?')} at commit {r['env'].get('git_commit', '?')[:8]}"
                       for r in recs if r.get("env")})
        print(f"  reused {len(recs)} record{'s' * (len(recs) != 1)} made elsewhere, from {source}/ "
              f"({'; '.join(made) or 'machine unknown'}): nothing was computed for them here", flush=True)


def measured_cost(job, archive: Archive) -> str:
    """What earlier finished runs of this spec (any seed) took end to end, from the project's archived records:
    the method's declared cost is one table's guess, a measured time on this very task is better."""
    def key(method: dict, task: dict, n) -> tuple:  # the spec but its seed (params carry the seed too)
        params = {k: v for k, v in (method.get("params") or {}).items() if k != "seed"}
        return method["name"], method["profile"], params, task.get("config"), n

    want = key(job.desc, job.spec.task, job.n)
    times = []
    for path in sorted((archive.root / job.spec.task["name"] / job.desc["name"]).glob("*.json")):
        try:
            rec = load_record(path)  # schema-1 records come back with their spec derived
        except (OSError, ValueError):
            continue  # an unreadable or invalid record says nothing about today's cost
        have = key(rec["spec"]["method"], rec["spec"]["task"], rec["spec"].get("n_samples"))
        if rec.get("status") == "ok" and have == want:
            times.append(sum(v for k, v in (rec.get("timings_s") or {}).items() if k in ("fit", "sample", "score")))
    if not times:
        return ""
    minutes = statistics.median(times) / 60
    took = f"{minutes:.0f} min" if minutes >= 1 else f"{minutes * 60:.0f} s"
    return (f"; measured on {job.spec.task['name']}: {took} end to end "
            f"(median of {len(times)} archived run{'s' * (len(times) != 1)}, machines vary)")


def summary(metrics: dict, declared: dict) -> str:
    """Every declared metric the task reported, with its direction."""
    parts = []
    for name, higher in declared.items():
        v = metrics.get(name)
        if isinstance(v, (int, float)):
            parts.append(f"{name} {'↑' if higher else '↓'} {v:.4g}")
    return ", ".join(parts) or "no declared metric reported"
