"""One job in its own process: `python -m harness worker SPEC` (what every executor runs, locally or on a node).

SPEC is `<store>/<task>/<method>/<job id>/spec.json`, written by the submitter: the frozen job spec (task name,
options and data fingerprint; method name and fully resolved params; seed; n) plus how to run it (the command
that planned it, force, preflight). The store root is the spec's folder three levels up, so a spec on a shared
filesystem runs wherever that folder is mounted. The worker loads the task, checks that the data still hash to
the spec's fingerprint, rebuilds the method from its params, claims the job's lease (harness/lease.py), runs
the job through the runner's `run_job` (phases, resume and the record exactly as in-process) and releases the
lease. A job another worker finished is not run again; one another worker is running is waited for.

Exit status: 0 ok (or already done), 1 the job failed (its record says why), 2 the spec cannot run here.
"""
from __future__ import annotations

import os
import signal
import socket
import sys
import time
from pathlib import Path

from harness.api import DataError
from harness.api.io import read_json
from harness.lease import Lease, holder_of
from harness.record import JobSpec

WAIT_POLL_S = 2.0


class JobTerminated(Exception):
    """SIGTERM reached the worker (a job timeout, scancel, a lost node): the record ends `error` with its phase."""


class LeaseLost(Exception):
    """This attempt's lease was taken over (it stalled past the stale limit): it must not write the record."""


def store_of(spec_path: Path):
    from harness.store import Store

    return Store(Path(spec_path).resolve().parents[3])


class GuardedStore:
    """The store as one attempt sees it: writes refused once its lease is lost."""

    def __init__(self, store, lease: Lease):
        self._store, self._lease = store, lease

    def write(self, record: dict):
        if self._lease.lost or not self._lease.still_held():
            raise LeaseLost(f"lease of {record['job_id']} taken over by another attempt; not writing")
        return self._store.write(record)

    def __getattr__(self, name):
        return getattr(self._store, name)


def _on_sigterm(signum, frame):
    raise JobTerminated("terminated by SIGTERM (a job timeout, a cancellation or a lost node)")


def run_info(executor: str, attempt: int) -> dict:
    info = {"executor": executor, "node": socket.gethostname(), "pid": os.getpid(), "attempt": attempt}
    for key, env in (("slurm_job_id", "SLURM_JOB_ID"), ("slurm_array_job_id", "SLURM_ARRAY_JOB_ID"),
                     ("slurm_array_task_id", "SLURM_ARRAY_TASK_ID"),
                     ("ray_node_id", "HARNESS_RAY_NODE_ID"), ("threads", "HARNESS_THREADS")):
        if os.environ.get(env):
            info[key] = os.environ[env]
    return info


def execute(spec_path: str | Path, *, executor: str = "local", quiet: bool = True) -> int:
    """Run the job of SPEC; returns the exit status (see the module docstring)."""
    from harness import planning, runner
    from harness.api.missing import method_inputs
    from harness.preflight import preflights
    from harness.provenance import environment
    from harness.store import Archive
    from methods import METHODS
    from tasks import TASKS

    signal.signal(signal.SIGTERM, _on_sigterm)
    spec_path = Path(spec_path)
    payload = read_json(spec_path)
    spec = JobSpec.from_dict(payload["spec"])
    store = store_of(spec_path)
    task = TASKS.get(spec.task["name"])(**spec.task["config"])
    splits, load_s, task_key, task_desc = planning.load_task(task, notes=False)
    if JobSpec(task_key, spec.method, spec.seed, spec.n_samples).job_id != spec.job_id:
        raise DataError(f"job {spec.job_id}: the data of task {task.name} here hash to {task_key['data_hash']}, "
                        f"not the spec's {spec.task['data_hash']} (another copy of the data on this node?)")
    name = spec.method["name"]
    cls = METHODS.get(name)
    job = planning.Job(name, cls(**spec.method["params"]), spec)
    reuse = (Archive(),) if payload.get("reuse_archive") else ()
    job_dir = store.job_dir(task.name, name, job.jid)
    while True:
        if not payload.get("force"):
            planning.find_reuse(job, task, store, reuse)
            if job.reused is not None:
                print(f"{task.name}/{name} seed {job.seed}: already done ({job.jid})", flush=True)
                return 0
        old = store.read(task.name, name, job.jid)
        attempt = int(((old or {}).get("run") or {}).get("attempt", 0)) + 1
        lease = Lease.acquire(job_dir, executor=executor, attempt=attempt)
        if lease is not None:
            break
        held = holder_of(job_dir) or {}
        print(f"{task.name}/{name} seed {job.seed}: running on {held.get('host', '?')} (pid {held.get('pid', '?')}); "
              f"waiting for it", flush=True)
        while holder_of(job_dir) is not None:
            time.sleep(WAIT_POLL_S)
        payload["force"] = False         # the other attempt did the forced run
    try:
        if not payload.get("force"):     # finished between our check and our claim
            planning.find_reuse(job, task, store, reuse)
            if job.reused is not None:
                return 0
        print(f"{task.name}/{name} seed {job.seed}: running {job.jid} (attempt {attempt}, {executor} executor, "
              f"{socket.gethostname()} pid {os.getpid()})", flush=True)
        guarded = GuardedStore(store, lease)
        inputs = method_inputs(cls, splits.train, splits.metadata)
        checks = preflights(task, [job], {name: inputs}, profile=spec.method.get("profile", "cpu"), store=store,
                            enabled=payload.get("preflight", True), force=payload.get("force", False))
        rec = runner.run_job(task, splits, job, task_desc, guarded, environment(), command=payload.get("command", ""),
                             quiet=quiet, load_s=load_s, force=payload.get("force", False), inputs=inputs,
                             check=checks.get(name), run_info=run_info(executor, attempt))
    finally:
        lease.release()
    return 0 if rec["status"] == "ok" else 1


def main(argv: list[str]) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m harness worker", description=__doc__.split("\n\n")[0])
    p.add_argument("spec")
    p.add_argument("--executor", default=os.environ.get("HARNESS_EXECUTOR", "local"))
    p.add_argument("--progress", action="store_true", help="progress bars (off by default: workers log to files)")
    args = p.parse_args(argv)
    if not args.progress:
        os.environ["TQDM_DISABLE"] = "1"
    try:
        return execute(args.spec, executor=args.executor, quiet=not args.progress)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
