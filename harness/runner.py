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
from pathlib import Path

from tqdm.auto import tqdm

from harness.api import DataError
from harness.console import announce, summary
from harness.api.missing import method_inputs, missing_rates
from harness.preflight import KeptModel, preflights, reuse_fitted
from harness.provenance import environment, now, peak_rss_mb
from harness.planning import Job, check_environments, check_modalities, find_reuse, load_task, plan, stopped_while_scoring  # noqa: F401
from harness.record import new_record
from harness.store import Store


def run(task, method_names: list[str], seeds: list[int], *, profile: str = "cpu", n_samples: int | None = None,
        store: Store, force: bool = False, quiet: bool = False, command: str = "", overrides: dict | None = None,
        reuse_from: tuple = (), preflight: bool = True, executor=None) -> list[dict]:
    """Plan and run the jobs: here, one after another in this process (executor None, the default), or as worker
    processes through an executor (harness/executors: local --jobs N, ray, slurm)."""
    from methods import METHODS

    classes = {m: METHODS.get(m) for m in method_names}     # unknown names fail before any work
    check_modalities(task, classes)
    check_environments(classes)
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
