"""Expand task × methods × seeds into jobs, run each once, write one record per job.

Each job goes through phases load → fit → sample → score; the record on disk always says which
phase a job reached, so a crash or a kill leaves an honest "running"/"error" record. A job whose
record says "ok" is reused unless `force`.
"""
from __future__ import annotations

import platform
import resource
import shutil
import subprocess
import sys
import time
import traceback
from datetime import datetime, timezone
from importlib import metadata as importlib_metadata
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

import harness
from harness.api import DataError
from harness.store import SCHEMA, Store, job_id
from tasks.base import describe_splits, frame_hash

PACKAGES = ("torch", "numpy", "pandas", "scikit-learn", "xgboost", "xgboost-cpu", "sdmetrics", "ctgan", "sdv",
            "imbalanced-learn", "transformers", "be-great")
REPO = Path(__file__).resolve().parent.parent


def environment() -> dict:
    import torch

    versions = {}
    for p in PACKAGES:
        try:
            versions[p] = importlib_metadata.version(p)
        except importlib_metadata.PackageNotFoundError:
            pass
    def git(*args):
        try:
            r = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10)
            return r.stdout.strip() if r.returncode == 0 else ""
        except (OSError, subprocess.SubprocessError):
            return ""
    return {"harness": harness.__version__, "git_commit": git("rev-parse", "HEAD"),
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
            "python": platform.python_version(), "platform": platform.platform(), "packages": versions,
            "device": "cuda" if torch.cuda.is_available() else "cpu", "threads": torch.get_num_threads()}


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def archived(task: str, method: str, jid: str) -> dict | None:
    """A finished record committed under leaderboards/records/ also counts as done (a clean clone resumes)."""
    from harness.leaderboard import BOARD_DIR
    from harness.store import load_record

    path = BOARD_DIR / "records" / task / method / f"{jid}.json"
    return load_record(path) if path.exists() else None


def run(task, method_names: list[str], seeds: list[int], *, profile: str = "cpu", n_samples: int | None = None,
        store: Store, force: bool = False, quiet: bool = False, command: str = "", overrides: dict | None = None
        ) -> list[dict]:
    from methods import METHODS

    classes = {m: METHODS.get(m) for m in method_names}     # unknown names fail before any work
    t0 = time.perf_counter()
    splits = task.load()
    load_s = time.perf_counter() - t0
    task_desc = {"name": task.name, "version": task.version, "config": task.config(),
                 "data_hash": frame_hash(splits.train)}
    env = environment()
    records = []
    jobs = [(m, s) for m in method_names for s in seeds]
    for name, seed in tqdm(jobs, desc=f"{task.name}", disable=quiet or len(jobs) < 2, unit="job"):
        cls = classes[name]
        user = dict((overrides or {}).get(name, {}))
        params = dict(user)
        if "seed" in cls._param_names():
            params["seed"] = seed
        try:
            method = cls.from_profile(profile, **params)
        except (TypeError, ValueError) as e:
            if not user:
                raise
            raise DataError(f"--set for {name}: {e}") from e
        n = n_samples or method.sample_budget(len(splits.train))
        method_desc = {"name": name, "profile": profile, "params": method.get_params(), "plugin": METHODS.target(name)}
        if user:                          # only when given, so records without overrides keep their job ids
            method_desc["overrides"] = user
        jid = job_id(task_desc, method_desc, seed, n)
        old = store.read(task.name, name, jid) or archived(task.name, name, jid)
        if old and old["status"] == "ok" and not force:
            if not quiet:
                tqdm.write(f"{task.name}/{name} seed {seed}: reusing finished record {jid}")
            records.append(old)
            continue
        records.append(run_job(task, splits, method, method_desc, task_desc, seed, n, jid, store, env,
                               command=command, quiet=quiet, load_s=load_s, force=force))
    return records


def run_job(task, splits, method, method_desc, task_desc, seed, n, jid, store, env, *, command, quiet, load_s,
            force=False):
    job_dir = store.job_dir(task.name, method_desc["name"], jid)
    # work/: this job's resumable state; _cache/: checkpoints several jobs may share. --force starts afresh.
    if force:
        shutil.rmtree(job_dir / "work", ignore_errors=True)
    method.work_dir, method.cache_dir = job_dir / "work", None if force else store.root / "_cache"
    rec = {"schema": SCHEMA, "job_id": jid, "command": command, "task": {**task_desc, **describe_splits(splits)},
           "method": method_desc, "seed": seed, "n_samples": n, "status": "running", "phase": "fit",
           "error": None, "metrics": {}, "higher_is_better": task.higher_is_better(splits.metadata),
           "timings_s": {"load": round(load_s, 3)}, "env": env, "started_at": now(), "finished_at": None}
    store.write(rec)
    try:
        t = time.perf_counter()
        method.fit(splits.train, splits.metadata)
        rec["timings_s"]["fit"] = round(time.perf_counter() - t, 3)
        rec["phase"] = "sample"
        store.write(rec)
        t = time.perf_counter()
        synthetic = method.sample(n, seed=seed)
        rec["timings_s"]["sample"] = round(time.perf_counter() - t, 3)
        rec["method"]["extra"] = method.extra_record()
        job_dir.mkdir(parents=True, exist_ok=True)
        synthetic.to_csv(job_dir / "synthetic.csv", index=False)
        rec["synthetic_path"] = str((job_dir / "synthetic.csv").relative_to(store.root))
        rec["phase"] = "score"
        store.write(rec)
        t = time.perf_counter()
        metrics = task.score(synthetic, splits, seed=seed, quiet=quiet)
        rec["timings_s"]["score"] = round(time.perf_counter() - t, 3)
        arrays = {k.lstrip("_"): v for k, v in metrics.items() if k.startswith("_")}
        if arrays:
            np.savez_compressed(job_dir / "dcr.npz", **arrays)
            rec["dcr_arrays_path"] = str((job_dir / "dcr.npz").relative_to(store.root))
        rec["metrics"] = {k: v for k, v in metrics.items() if not k.startswith("_")}
        rec["status"], rec["phase"] = "ok", None
    except KeyboardInterrupt:
        rec["status"], rec["error"] = "interrupted", "KeyboardInterrupt"
        raise
    except Exception as e:  # a failed job is a row too (SDGym): record it, go on with the next
        rec["status"] = "error"
        rec["error"] = {"type": type(e).__name__, "message": str(e), "traceback": traceback.format_exc()}
        print(f"error in {task.name}/{method_desc['name']} seed {seed} ({rec['phase']}): {type(e).__name__}: {e}",
              file=sys.stderr)
    finally:
        rec["finished_at"] = now()
        rec["peak_rss_mb"] = round(peak_rss_mb(), 1)
        store.write(rec)
    if not quiet and rec["status"] == "ok":
        m = rec["metrics"]
        tqdm.write(f"{task.name}/{method_desc['name']} seed {seed}: MLE {m.get('mle', float('nan')):.4f} "
                   f"ρ {m['rho']:.2f}% DCR-share {m['dcr_share_closer_to_train']:.3f} "
                   f"(fit {rec['timings_s']['fit']:.0f}s, sample {rec['timings_s']['sample']:.0f}s, "
                   f"score {rec['timings_s']['score']:.0f}s) -> {jid}")
    return rec
