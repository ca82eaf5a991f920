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

from harness.executors.base import NAMES, Options


def build(options: Options):
    """The executor `options.name` names (Ray and submitit are imported only here, when chosen)."""
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
