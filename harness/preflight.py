"""Two guards around a long fit: a preflight before it, and the fitted model kept until its job is ok.

Preflight: each method to run fits and samples once on ~200 training rows with its smoke profile (plus the
method's `preflight` overrides), before any real fit starts, so a crash in `sample` (or a fit that cannot
start on this table) shows in seconds rather than after an hour of training. Its fit is far too short to be
any good, so a sampler that decoded rows but too few valid ones (`TooFewValidError`) passes: the code path
ran. It is skipped for the smoke profile (the job itself is as quick) and for methods whose whole run takes
seconds (`preflight = None`), and `--no-preflight` turns it off.

Kept model: after `fit`, the runner pickles the fitted method into the job's work/ folder (tag
`keep_fitted`), and removes it once the job's record is ok; a rerun of a job that failed or was killed after
its fit loads it instead of fitting again.
"""
from __future__ import annotations

import contextlib
import io
import os
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
import pandas as pd

from harness.api import TooFewValidError
from harness.api.io import load_object, read_json, save_object, write_json_atomic

PREFLIGHT_ROWS = 200
PREFLIGHT_SAMPLES = 16
KEPT = "fitted-method.pt"


def _slice(train, rows: int, seed: int):
    if isinstance(train, pd.DataFrame):
        return train.sample(n=min(rows, len(train)), random_state=seed).reset_index(drop=True)
    idx = np.sort(np.random.default_rng(seed).permutation(len(train))[:rows])
    return [train[i] for i in idx]


def _error(e: BaseException) -> dict:
    return {"type": type(e).__name__, "message": str(e), "traceback": traceback.format_exc()}


def skip_reason(cls, profile: str) -> str | None:
    if cls.preflight is None:
        return cls.no_preflight_why or "the method's whole run takes seconds"
    if profile == "smoke":
        return "the smoke profile is itself a quick run"
    if "smoke" not in cls.profiles:
        return "the method has no smoke profile"
    return None


def preflight(cls, train, metadata, decode, *, seed: int) -> dict:
    """Fit + sample on a slice; returns the record's `preflight` section ({"status": "ok" | "error", ...}).
    `decode` turns what `sample` returned into the task's data (the missing-value policy's way back)."""
    params = dict(cls.preflight)
    if "seed" in cls._param_names():
        params["seed"] = seed
    part = _slice(train, PREFLIGHT_ROWS, seed)
    out = {"rows": len(part), "samples": PREFLIGHT_SAMPLES, "profile": "smoke", "overrides": dict(cls.preflight)}
    phase, t0 = "fit", time.perf_counter()
    quiet_before = os.environ.get("TQDM_DISABLE")
    os.environ["TQDM_DISABLE"] = "1"        # the preflight says one line, not a screen of progress bars:
    hush = contextlib.ExitStack()           # bars made by an already imported tqdm go to the swallowed stderr
    hush.enter_context(contextlib.redirect_stderr(io.StringIO()))
    hush.enter_context(contextlib.redirect_stdout(io.StringIO()))
    try:
        method = cls.from_profile("smoke", **params)
        with tempfile.TemporaryDirectory(prefix="preflight-") as tmp:   # never the job's folder or shared cache
            method.fit(part, metadata, work_dir=Path(tmp) / "work", cache_dir=None)
            phase = "sample"
            try:
                synthetic = decode(method.sample(PREFLIGHT_SAMPLES, seed=seed))
            except TooFewValidError as e:
                out["note"] = f"sampling ran; too few valid rows after a preflight-sized fit, as expected ({e})"
                synthetic = None
        if synthetic is not None and len(synthetic) != PREFLIGHT_SAMPLES:
            raise ValueError(f"sample({PREFLIGHT_SAMPLES}) returned {len(synthetic)} rows")
        out.update(status="ok")
    except Exception as e:     # any failure here is what the preflight is for: report it, start no long fit
        out.update(status="error", phase=phase, error=_error(e))
    finally:
        hush.close()
        if quiet_before is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = quiet_before
    out["seconds"] = round(time.perf_counter() - t0, 2)
    return out


class KeptModel:
    """The fitted method of one job, in its work/ folder, with when and how long it was fitted."""

    def __init__(self, work_dir: Path):
        self.path, self.info_path = Path(work_dir) / KEPT, Path(work_dir) / (KEPT + ".json")

    def exists(self) -> bool:
        return self.path.exists() and self.info_path.exists()

    def save(self, method, fit_s: float, fitted_at: str) -> dict:
        t = time.perf_counter()
        save_object(self.path, method)
        info = {"fit_s": fit_s, "fitted_at": fitted_at, "bytes": self.path.stat().st_size,
                "save_s": round(time.perf_counter() - t, 3)}
        write_json_atomic(self.info_path, info)
        return info

    def keep(self, method, fit_s: float, fitted_at: str) -> dict:
        """`save`, except that a method that cannot be pickled still runs: its record says why none was kept."""
        try:
            return self.save(method, fit_s, fitted_at)
        except Exception as e:
            self.remove()
            return {"error": f"{type(e).__name__}: {e}"}

    def load(self):
        """(method, info), or raises (a pickle of older code, a torn file): the caller then fits again."""
        info = read_json(self.info_path)
        return load_object(self.path), info

    def remove(self) -> None:
        for p in (self.path, self.info_path):
            p.unlink(missing_ok=True)


def preflights(task, jobs, inputs, *, profile: str, store, enabled: bool, force: bool) -> dict:
    """One preflight per method that has a job to fit (not reused, no kept model), before any job starts."""
    out = {}
    for job in jobs:
        kept = KeptModel(store.job_dir(task.name, job.name, job.jid) / "work")
        if job.reused is not None or job.sample_from is not None or job.name in out or (kept.exists() and not force):
            continue
        cls = type(job.method)
        reason = skip_reason(cls, profile) if enabled else "turned off (--no-preflight)"
        if reason:
            out[job.name] = {"status": "skipped", "reason": reason}
            continue
        train, meta, policy = inputs[job.name]
        print(f"preflight {job.name}: fit + sample on a slice of the training data (smoke profile) ...", end=" ",
              flush=True)
        res = out[job.name] = preflight(cls, train, meta, policy.decode if policy else (lambda x: x), seed=job.seed)
        if res["status"] == "ok":
            print(f"ok in {res['seconds']:.0f}s ({res['rows']} rows)" + (f"; {res['note']}" if "note" in res else ""),
                  flush=True)
        else:
            print(f"failed in {res['phase']} after {res['seconds']:.0f}s: {res['error']['type']}: "
                  f"{res['error']['message'].splitlines()[0] if res['error']['message'] else ''}", flush=True)
    for reason in dict.fromkeys(r["reason"] for r in out.values() if r["status"] == "skipped"):
        names = [n for n, r in out.items() if r.get("reason") == reason]
        print(f"preflight skipped for {', '.join(names)}: {reason}", flush=True)
    return out


def reuse_fitted(kept: KeptModel, rec: dict):
    """The method kept by an earlier run of this job (whose sample or score failed), or None: fit it."""
    if not kept.exists():
        return None
    try:
        t = time.perf_counter()
        method, info = kept.load()
    except Exception as e:    # a torn file or a pickle of older code: fit again rather than fail
        kept.remove()
        rec["fit_reused"] = {"error": f"could not load the kept model ({type(e).__name__}: {e}); fitted again"}
        return None
    rec["fit_reused"] = {**info, "load_s": round(time.perf_counter() - t, 3)}
    rec["timings_s"]["fit"] = info["fit_s"]          # the fit's cost, paid by the earlier run
    print(f"{rec['task']['name']}/{rec['method']['name']} seed {rec['seed']}: reusing the model fitted at "
          f"{info['fitted_at']} ({info['fit_s']:.0f}s of fit) kept in {kept.path.parent}/", flush=True)
    return method
