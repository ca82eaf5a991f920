"""What executors exchange: a `Work` per job in, an `Outcome` per job out, and the executor `Options` of a run."""

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


def missing_extra(module: str, extra: str) -> str:
    return (f"the {extra} executor needs the `{module}` package: pip install -e \".[{extra}]\" "
            f"(or pip install {module})")


def default_threads(jobs_at_once: int) -> int:
    return max(1, (os.cpu_count() or 1) // max(1, jobs_at_once))
