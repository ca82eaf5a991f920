"""Expand task × methods × seeds into jobs, run each once, write one record per job.

The runner knows no task and no metric: it asks the task for its data (`load`), what to record about it
(`describe`), its declared metrics (`metrics`) and their values (`score`), and reaches methods through the
registry only. Each job goes through phases fit → sample → score; the record on disk always says which
phase a job reached, so a crash or a kill leaves an honest "running"/"error" record (and one stopped in
scoring is scored again from its saved sample). A job whose record in
the local store says "ok" is reused unless `force`; records made elsewhere (the archive) only when asked.
Around the fit (harness/preflight.py): a preflight on a slice before any long fit, and the fitted model kept
until its job is ok. A table with NaN reaches a method encoded by harness/missing.py unless it handles NaN.
"""
from __future__ import annotations

import shutil
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from harness.api import DataError, modality_noun
from harness.console import announce, summary
from harness.api.missing import method_inputs, missing_rates
from harness.preflight import KeptModel, preflights, reuse_fitted
from harness.provenance import environment, now, peak_rss_mb
from harness.record import JobSpec, new_record
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


def run(task, method_names: list[str], seeds: list[int], *, profile: str = "cpu", n_samples: int | None = None,
        store: Store, force: bool = False, quiet: bool = False, command: str = "", overrides: dict | None = None,
        reuse_from: tuple = (), preflight: bool = True, executor=None) -> list[dict]:
    """Plan and run the jobs: here, one after another in this process (executor None, the default), or as worker
    processes through an executor (harness/executors: local --jobs N, ray, slurm)."""
    from methods import METHODS

    classes = {m: METHODS.get(m) for m in method_names}     # unknown names fail before any work
    check_modalities(task, classes)
    for name, user in (overrides or {}).items():     # a bad --set is refused before the data is read
        try:
            classes[name].from_profile(profile, **user)
        except (TypeError, ValueError) as e:
            raise DataError(f"--set for {name}: {e}") from e
    splits, load_s, task_key, task_desc = load_task(task)
    jobs = plan(task, splits, classes, seeds, profile=profile, n_samples=n_samples, overrides=overrides, store=store,
                reuse_from=reuse_from, force=force, task_key=task_key)
    announce(task, jobs, profile, store)
    if executor is not None:
        from harness.executors.submit import submit

        return submit(task, jobs, store, executor, command=command, force=force, preflight=preflight,
                      reuse_archive=bool(reuse_from), quiet=quiet)
    inputs = {name: method_inputs(cls, splits.train, splits.metadata) for name, cls in classes.items()}
    checks = preflights(task, jobs, inputs, profile=profile, store=store, enabled=preflight, force=force)
    env, records = environment(), []
    for job in tqdm(jobs, desc=task.name, disable=quiet or len(jobs) < 2, unit="job"):
        if job.reused is not None:
            if not quiet:
                tqdm.write(f"{task.name}/{job.name} seed {job.seed}: reusing finished record {job.jid} from {job.reused_from}/")
            records.append(job.reused)
            continue
        records.append(run_job(task, splits, job, task_desc, store, env, command=command, quiet=quiet,
                               load_s=load_s, force=force, inputs=inputs[job.name], check=checks.get(job.name)))
    return records


def run_job(task, splits, job: Job, task_desc: dict, store: Store, env: dict, *, command: str, quiet: bool,
            load_s: float, force: bool = False, inputs: tuple | None = None, check: dict | None = None,
            run_info: dict | None = None) -> dict:
    job_dir = store.job_dir(task.name, job.name, job.jid)
    # work/: this job's resumable state; _cache/: checkpoints several jobs may share. --force starts afresh.
    if force:
        shutil.rmtree(job_dir / "work", ignore_errors=True)
    declared = task.metrics(splits.metadata)
    rec = new_record(job.spec, task_desc=task_desc, command=command, declared=declared, env=env, load_s=load_s,
                     started_at=now())
    train, meta, policy = inputs or (splits.train, splits.metadata, None)
    if check is not None:
        rec["preflight"] = check
    if run_info:                     # which executor, node and attempt ran it (worker.py); absent in-process
        rec["run"] = run_info
    if policy is not None:
        rec["missing_values"] = policy.describe()
    store.write(rec)
    relative = lambda p: str(Path(p).relative_to(store.root))
    kept = KeptModel(job_dir / "work")
    try:
        if check is not None and check["status"] == "error":
            rec["phase"] = "preflight"
            raise RuntimeError(f"preflight failed in {check['phase']} ({check['error']['type']}: "
                               f"{check['error']['message']}); the full fit was not started (--no-preflight skips the check)")
        if job.sample_from is not None:
            synthetic, path = scored_again(task, job.sample_from, rec, store, job_dir)
        else:
            synthetic = fit_and_sample(task, splits, job, rec, store, kept, train, meta, policy, force)
            path = task.save_synthetic(synthetic, job_dir)
        rec["synthetic_path"] = relative(path)
        rec["phase"] = "score"
        store.write(rec)
        t = time.perf_counter()
        scores = task.score(synthetic, splits, seed=job.seed, work_dir=job_dir / "score",
                            cache_dir=None if force else store.root / "_cache", quiet=quiet)
        rec["timings_s"]["score"] = round(time.perf_counter() - t, 3)
        rec["metrics"] = scores.metrics
        if scores.incomplete:
            rec["scoring_incomplete"] = scores.incomplete
            print(f"{task.name}/{job.name} seed {job.seed}: scores incomplete: {scores.incomplete}", file=sys.stderr)
        rec["artifacts"] = {k: relative(p) for k, p in scores.artifacts.items()}
        rec["status"], rec["phase"] = "ok", None
    except KeyboardInterrupt:
        rec["status"], rec["error"] = "interrupted", "KeyboardInterrupt"
        raise
    except Exception as e:  # a failed job is a row too (SDGym): record it, go on with the next
        rec["status"] = "error"
        rec["error"] = {"type": type(e).__name__, "message": str(e), "traceback": traceback.format_exc()}
        print(f"error in {task.name}/{job.name} seed {job.seed} ({rec['phase']}): {type(e).__name__}: {e}",
              file=sys.stderr)
    finally:
        rec["finished_at"] = now()
        rec["peak_rss_mb"] = round(peak_rss_mb(), 1)
        store.write(rec)
    if rec["status"] == "ok":
        kept.remove()
    if not quiet and rec["status"] == "ok":
        tqdm.write(f"{task.name}/{job.name} seed {job.seed}: {summary(rec['metrics'], declared)} "
                   f"(fit {rec['timings_s']['fit']:.0f}s, sample {rec['timings_s']['sample']:.0f}s, "
                   f"score {rec['timings_s']['score']:.0f}s) -> {job.jid}")
    return rec


def scored_again(task, source: dict, rec: dict, store: Store, job_dir: Path):
    """(synthetic data, its copy in job_dir) of a finished job that differs only in scoring options, or of this
    job itself when its last scoring was incomplete; fit and sample timings and method extras are carried over
    and the record names the job that drew the data (`synthetic_from`)."""
    if source["job_id"] != rec["job_id"]:
        rec["synthetic_from"] = source["job_id"]
    elif source.get("synthetic_from"):          # this job scored again: keep where its data came from
        rec["synthetic_from"] = source["synthetic_from"]
    rec["method"]["extra"] = source["method"].get("extra", {})
    rec["timings_s"].update({k: v for k, v in source["timings_s"].items() if k in ("fit", "sample")})
    if "missing_values" in source:
        rec["missing_values"] = source["missing_values"]
    src, dest = store.root / source["synthetic_path"], job_dir / Path(source["synthetic_path"]).name
    job_dir.mkdir(parents=True, exist_ok=True)
    path = dest if src.resolve() == dest.resolve() else Path(shutil.copy2(src, dest))   # same bytes: no float round trip
    return task.load_synthetic(path), path


def fit_and_sample(task, splits, job: Job, rec: dict, store: Store, kept: KeptModel, train, meta, policy, force):
    job_dir = store.job_dir(task.name, job.name, job.jid)
    method = reuse_fitted(kept, rec) if job.method.tags.get("keep_fitted", True) else None
    if method is None:
        t = time.perf_counter()
        job.method.fit(train, meta, work_dir=job_dir / "work", cache_dir=None if force else store.root / "_cache")
        rec["timings_s"]["fit"] = round(time.perf_counter() - t, 3)
        method = job.method
        if method.tags.get("keep_fitted", True):
            rec["kept_model"] = kept.keep(method, rec["timings_s"]["fit"], now())
    rec["phase"] = "sample"
    store.write(rec)
    t = time.perf_counter()
    synthetic = method.sample(job.n, seed=job.seed)
    if policy is not None:
        synthetic = policy.decode(synthetic)
    rec["timings_s"]["sample"] = round(time.perf_counter() - t, 3)
    rec["method"]["extra"] = method.extra_record()
    if not isinstance(synthetic, list) and splits.train.isna().any().any():     # a table with NaN
        rec.setdefault("missing_values", {"policy": "the method's own"})["rates"] = missing_rates(
            splits.train, synthetic, splits.metadata.columns)
    return synthetic
