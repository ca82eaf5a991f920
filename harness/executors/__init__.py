"""Executors: where a batch of planned jobs runs. Every one runs a job as `python -m harness worker SPEC` (or that
worker's function) on some machine that sees the store, so a job's record is the same whichever ran it.

- `local`: worker processes on this machine, `--jobs N` at once (the in-process sequential run stays the
  default of `run` when no executor flag is given: harness/runner.py).
- `ray`: one Ray task per job, sized by the method's declared resources, retried when its node is lost.
- `slurm`: submitit; one job array per batch, requeued on preemption.

`Work` is what an executor gets per job; `Outcome` what it gives back. Ray and submitit are extras, imported only
when chosen.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

NAMES = ("local", "ray", "slurm")


@dataclass
class Work:
    spec_path: Path
    label: str                       # task/method seed N
    resources: dict                  # {"cpus", "gpus", "memory_gb"} of the method's profile


@dataclass
class Outcome:
    work: Work
    status: str                      # the record's status: ok | error | interrupted | missing
    seconds: float = 0.0
    detail: dict = field(default_factory=dict)


@dataclass
class Options:
    name: str = "local"
    jobs: int = 1                    # local: workers at once
    job_timeout_s: float | None = None
    ray_address: str | None = None
    slurm: dict = field(default_factory=dict)   # partition, time_min, account, cpus, gpus, mem_gb, folder
    threads: int | None = None       # per job; default: the cores split over the jobs at once


def build(options: Options):
    if options.name == "local":
        from harness.executors.local import LocalExecutor
        return LocalExecutor(options)
    if options.name == "ray":
        from harness.executors.ray_cluster import RayExecutor
        return RayExecutor(options)
    if options.name == "slurm":
        from harness.executors.slurm import SlurmExecutor
        return SlurmExecutor(options)
    raise ValueError(f"unknown executor {options.name!r}; executors: {', '.join(NAMES)}")


def missing_extra(module: str, extra: str) -> str:
    return (f"the {extra} executor needs the `{module}` package: pip install -e \".[{extra}]\" "
            f"(or pip install {module})")


def default_threads(jobs_at_once: int) -> int:
    return max(1, (os.cpu_count() or 1) // max(1, jobs_at_once))
