"""Planning: a task × methods × seeds as jobs (each a JobSpec), and what of each is already done in a store.

Shared by the in-process runner (harness/runner.py), the job worker (harness/worker.py) and grids (harness/grid.py),
so a job has the same id and the same reuse decision wherever it is planned.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from harness.api import DataError, modality_noun
from harness.api.envs import EnvironmentMissing
from harness.record import JobSpec
from harness.store import Store, sample_key


@dataclass
class Job:
    name: str
    method: object
    spec: JobSpec                    # seed, n and the method's description live here, once
    reused: dict | None = None       # a finished record this job will not recompute
    reused_from: str = ""
    sample_from: dict | None = None  # a job that drew the same synthetic data (only scoring differs or was cut)

    @property
    def jid(self) -> str:
        return self.spec.job_id

    @property
    def seed(self) -> int:
        return self.spec.seed

    @property
    def n(self) -> int:
        return self.spec.n_samples

    @property
    def desc(self) -> dict:
        return self.spec.method


def check_modalities(task, classes: dict) -> None:
    """Before any work: every method must handle the task's data."""
    refused = [name for name, cls in classes.items() if not cls.handles(task.modality)]
    if refused:
        raise DataError(f"{', '.join(refused)} {'does' if len(refused) == 1 else 'do'} not handle "
                        f"{modality_noun(task.modality)} (task {task.name})")


def check_environments(classes: dict) -> None:
    """Before any work: a method that runs in its own environment (harness.api.envs) needs it built here."""
    missing = [(name, cls.environment) for name, cls in classes.items()
               if cls.environment is not None and not cls.environment.ready()]
    if missing:
        envs = {env.name: env for _, env in missing}
        names = ", ".join(name for name, _ in missing)
        raise EnvironmentMissing(f"{names} {'needs' if len(missing) == 1 else 'need'} the "
                                 f"{'/'.join(envs)} environment, not built here: create it with "
                                 + " and ".join(f"`python -m harness env {e}`" for e in envs)
                                 + "".join(f" ({env.size_note})" for env in envs.values() if env.size_note))


def plan(task, splits, classes, seeds, *, profile, n_samples, overrides, store, reuse_from, force, task_key):
    from methods import METHODS

    jobs = []
    for name, cls in classes.items():
        for seed in seeds:
            user = dict((overrides or {}).get(name, {}))
            params = {**user, **({"seed": seed} if "seed" in cls._param_names() else {})}
            try:
                method = cls.from_profile(profile, **params)
            except (TypeError, ValueError) as e:
                if not user:
                    raise
                raise DataError(f"--set for {name}: {e}") from e
            n = n_samples or method.sample_budget(len(splits.train))
            # identical profiles are one profile: e.g. ctgan's paper profile is its cpu profile (same params)
            desc = {"name": name, "profile": cls.resolve_profile(profile), "params": method.get_params(),
                    "plugin": METHODS.target(name)}
            if user:                      # only when given, so records without overrides keep their job ids
                desc["overrides"] = user
            job = Job(name, method, JobSpec(task_key, desc, seed, n))
            if not force:
                find_reuse(job, task, store, reuse_from)
            jobs.append(job)
    return jobs


def find_reuse(job: Job, task, store: Store, reuse_from=()) -> Job:
    """What of this job is already done: a finished record to reuse, or a stored sample to score again."""
    job.reused = job.sample_from = None
    for source in [store, *reuse_from]:
        old = source.read(task.name, job.name, job.jid)
        if old and old["status"] == "ok":
            if old.get("scoring_incomplete") and source is store:
                job.sample_from = old   # scored with failures (e.g. a judge that was down): score again
            else:
                job.reused, job.reused_from = old, str(source)
            return job
        if source is store and stopped_while_scoring(old, store):
            job.sample_from = old       # killed or failed after sampling: score its stored sample
            return job
    if task.scoring_options:
        spec = job.spec
        key = sample_key(spec.task, task.scoring_options, spec.method, spec.seed, spec.n_samples)
        job.sample_from = store.finished_sample(task.name, job.name, key, task.scoring_options, job.jid)
    return job


def stopped_while_scoring(old: dict | None, store: Store) -> bool:
    """A job that sampled and saved its data but did not finish scoring (a kill, an error in a metric): its rerun
    scores the stored sample rather than fitting and sampling again (hours for an LLM method on CPU)."""
    return bool(old and old["status"] != "ok" and old.get("phase") == "score" and old.get("synthetic_path")
                and (store.root / old["synthetic_path"]).is_file())


def load_task(task, *, notes: bool = True):
    """(splits, load seconds, the task part of a job spec, what records say about the task)."""
    t0 = time.perf_counter()
    splits = task.load()
    load_s = time.perf_counter() - t0
    for note in splits.info.get("notes", []) if notes else ():   # what the task guessed (csv: column roles)
        print(f"{task.name}: note: {note}", flush=True)
    task_key = {"name": task.name, "version": task.version, "config": task.config(), "data_hash": splits.fingerprint()}
    task_desc = {**task_key, "modality": task.modality, "family": task.family or task.name,
                 "user_data": task.user_data, **task.describe(splits)}
    return splits, load_s, task_key, task_desc


