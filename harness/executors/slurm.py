"""`--executor slurm`: jobs on a Slurm cluster through submitit (sbatch files, job ids, `sacct` polling, job arrays,
requeue on preemption). Jobs with equal resources go in one job array; each array task runs the job's worker process
inside its Slurm job (harness/executors/process.py), so `scancel` or a time limit reaches the worker as SIGTERM and
its record ends `error` with its phase; a job killed harder is marked by the submitter. A fresh submitit folder per submission under <store>/_slurm/: Slurm's job ids restart after its state
is wiped, and a reused folder could hand back an old result.

Settings: `--slurm-partition`, `--slurm-account`, `--slurm-time` (minutes), or a TOML file (`--slurm-config`) with
partition, account, time_min, cpus, gpus, mem_gb, array_parallelism, additional (sbatch options); cpus, gpus and
memory default to the method's declared resources of its profile.
"""
from __future__ import annotations

import math
import time
import uuid
from pathlib import Path

from harness.api import DataError
from harness.executors.base import Outcome, missing_extra

POLL_S = 2.0
DEFAULT_TIME_MIN = 24 * 60


class SlurmJob:
    """What each array task runs (pickled by submitit). Checkpointable: a preempted job is requeued with the same
    spec, and its worker resumes from the job's saved state."""

    def __init__(self, spec_path: str):
        self.spec_path = spec_path

    def __call__(self) -> dict:
        import os

        from harness.executors.process import run_worker

        cpus = os.environ.get("SLURM_CPUS_PER_TASK")       # the job's allotment: torch's and XGBoost's threads
        return run_worker(self.spec_path, executor="slurm", threads=int(cpus) if cpus else None)

    def __submitit_checkpoint__(self):
        import submitit

        return submitit.helpers.DelayedSubmission(SlurmJob(self.spec_path))


class SlurmExecutor:
    name = "slurm"

    def __init__(self, options):
        try:
            import submitit  # noqa: F401
        except ImportError:
            raise DataError(missing_extra("submitit", "slurm")) from None
        self.options = options
        self.cfg = dict(options.slurm)

    def describe(self) -> str:
        part = self.cfg.get("partition")
        return f"Slurm (submitit{', partition ' + part if part else ''})"

    def _executor(self, folder: Path, resources: dict):
        import submitit

        cluster = self.cfg.get("cluster")                  # "local"/"debug" for trying a grid without Slurm
        ex = submitit.AutoExecutor(folder=folder / "%j", cluster=cluster)
        time_min = self.cfg.get("time_min") or (math.ceil(self.options.job_timeout_s / 60)
                                                if self.options.job_timeout_s else DEFAULT_TIME_MIN)
        params = {"timeout_min": int(time_min), "cpus_per_task": int(self.cfg.get("cpus", resources["cpus"])),
                  "mem_gb": float(self.cfg.get("mem_gb", resources["memory_gb"])), "name": "harness-job"}
        gpus = int(self.cfg.get("gpus", resources["gpus"]))
        if gpus:
            params["gpus_per_node"] = gpus
        slurm = {"slurm_partition": self.cfg.get("partition"), "slurm_account": self.cfg.get("account"),
                 "slurm_array_parallelism": self.cfg.get("array_parallelism"),
                 "slurm_additional_parameters": self.cfg.get("additional")}
        params.update({k: v for k, v in slurm.items() if v})
        ex.update_parameters(**params)
        return ex

    def run(self, works, on_done):
        from harness.executors.process import mark_ended

        groups: dict = {}
        for w in works:
            groups.setdefault(tuple(sorted(w.resources.items())), []).append(w)
        folder = Path(works[0].spec_path).resolve().parents[3] / "_slurm" / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        submitted = []
        for key, group in groups.items():
            ex = self._executor(folder, dict(key))
            with ex.batch():                                 # one job array per resource group
                jobs = [ex.submit(SlurmJob(str(w.spec_path))) for w in group]
            submitted += list(zip(jobs, group))
        print(f"submitted {len(submitted)} Slurm job{'s' * (len(submitted) != 1)} "
              f"({', '.join(sorted({j.job_id.split('_')[0] for j, _ in submitted}))}); submitit folder {folder}",
              flush=True)
        outcomes, pending, t0 = [], list(submitted), time.monotonic()
        try:
            while pending:
                finished = [(j, w) for j, w in pending if j.done()]
                for j, w in finished:
                    pending.remove((j, w))
                    try:
                        res = j.result()
                        outcome = Outcome(w, res["status"], res["seconds"], {**res, "slurm_job_id": j.job_id})
                    except Exception as e:               # cancelled, out of memory, node failure, time limit
                        reason = f"Slurm job {j.job_id} {type(e).__name__}: {str(e).strip().splitlines()[0][:200]}"
                        outcome = Outcome(w, mark_ended(w.spec_path, reason), time.monotonic() - t0,
                                          {"reason": reason, "slurm_job_id": j.job_id})
                    outcomes.append(outcome)
                    on_done(outcome)
                if pending:
                    time.sleep(POLL_S)
        except BaseException:
            for j, _ in pending:
                j.cancel(check=False)
            raise
        return outcomes
