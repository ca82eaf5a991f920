"""Hand planned jobs to an executor: one spec file per job in its folder of the store, one line per finished job,
a bar over the batch. Used by `run --executor/--jobs` and by `grid`; the in-process run never comes here."""
from __future__ import annotations

import sys

from tqdm.auto import tqdm

from harness.console import summary
from harness.executors import build
from harness.executors.base import Work
from harness.record import write_spec
from harness.store import Store


def works_for(task_name: str, jobs, store: Store, *, command: str, force: bool, preflight: bool,
              reuse_archive: bool) -> list[Work]:
    out = []
    for job in jobs:
        if job.reused is not None:
            continue
        path = write_spec(store.job_dir(task_name, job.name, job.jid), job.spec, command=command, force=force,
                          preflight=preflight, reuse_archive=reuse_archive)
        out.append(Work(path, f"{task_name}/{job.name} seed {job.seed}",
                        type(job.method).resources_for(job.desc.get("profile", "cpu"))))
    return out


def run_works(works: list[Work], options, *, quiet: bool = False) -> list:
    """Run them with the executor `options` names; returns the outcomes (one per work, in finishing order)."""
    executor = build(options)
    if not works:
        return []
    print(f"{len(works)} job{'s' * (len(works) != 1)} to {executor.describe()}; each job's log: "
          f"<store>/<task>/<method>/<job id>/worker.log", flush=True)
    bar = tqdm(total=len(works), desc="grid", unit="job", disable=quiet or len(works) < 2)

    def on_done(outcome):
        bar.update(1)
        rec_path = outcome.work.spec_path.parent / "record.json"
        line = f"{outcome.work.label}: {outcome.status} in {outcome.seconds:.0f}s"
        if outcome.status == "ok" and rec_path.exists():
            from harness.store import load_record
            rec = load_record(rec_path)
            line += f": {summary(rec['metrics'], rec['higher_is_better'])} -> {rec['job_id']}"
        elif outcome.detail.get("reason"):
            line += f" ({outcome.detail['reason']})"
        if outcome.status != "ok":
            line += f"; log: {outcome.detail.get('log', outcome.work.spec_path.parent / 'worker.log')}"
        tqdm.write(line, file=sys.stdout if outcome.status == "ok" else sys.stderr)

    try:
        return executor.run(works, on_done)
    finally:
        bar.close()


def submit(task, jobs, store: Store, options, *, command: str, force: bool, preflight: bool,
           reuse_archive: bool, quiet: bool) -> list[dict]:
    """Records of `jobs` (reused ones as they are), the others run by the executor."""
    works = works_for(task.name, jobs, store, command=command, force=force, preflight=preflight,
                      reuse_archive=reuse_archive)
    run_works(works, options, quiet=quiet)
    records = []
    for job in jobs:
        rec = job.reused or store.read(task.name, job.name, job.jid)
        records.append(rec or {"status": "missing", "job_id": job.jid})
    return records
