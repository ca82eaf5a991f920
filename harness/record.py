"""The job spec and the run record.

A `JobSpec` is a resolved job: the task (name, version, options, data fingerprint), the method (name, profile,
fully resolved params, plugin, the user's overrides), the seed and the number of synthetic rows. It is frozen
and JSON-serialisable, and its hash is the job id (the same hash as before specs existed, so archived ids hold).
A spec runs anywhere the project is installed: it names everything a job depends on.

A record is a JSON object with a schema version: the spec, what the task and method said about themselves,
status and phase, metrics with their direction, timings, environment. `new_record` builds it (the only place);
`validate` is called by the store on every write and read; records of schema 1 (before specs) are upgraded on
read by deriving their spec, so the archive needs no rewrite.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

SCHEMA = 2
STATUSES = ("running", "ok", "error", "interrupted")
PHASES = (None, "preflight", "fit", "sample", "score")
# field -> the JSON types it may have; REQUIRED ones must be present
FIELDS: dict[str, tuple] = {
    "schema": (int,), "job_id": (str,), "spec": (dict,), "command": (str,), "task": (dict,), "method": (dict,),
    "seed": (int,), "n_samples": (int, type(None)), "status": (str,), "phase": (str, type(None)),
    "error": (dict, str, type(None)), "metrics": (dict,), "higher_is_better": (dict,), "artifacts": (dict,),
    "timings_s": (dict,), "env": (dict,), "started_at": (str, type(None)), "finished_at": (str, type(None)),
    "peak_rss_mb": (int, float), "preflight": (dict,), "missing_values": (dict,), "synthetic_path": (str,),
    "synthetic_from": (str,), "kept_model": (dict,), "fit_reused": (dict,), "scoring_incomplete": (str,),
    "run": (dict,),
}
REQUIRED = ("schema", "job_id", "spec", "task", "method", "seed", "status")


def job_id(task: dict, method: dict, seed: int, n_samples) -> str:
    key = json.dumps({"task": task, "method": method, "seed": seed, "n": n_samples}, sort_keys=True, default=str)
    return hashlib.sha1(key.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class JobSpec:
    task: dict          # name, version, config, data_hash
    method: dict        # name, profile, params, plugin (+ overrides when the user gave any)
    seed: int
    n_samples: int | None

    @property
    def job_id(self) -> str:
        return job_id(self.task, self.method, self.seed, self.n_samples)

    def to_dict(self) -> dict:
        return json.loads(json.dumps(asdict(self), default=str))

    @classmethod
    def from_dict(cls, d: dict) -> "JobSpec":
        return cls(task=d["task"], method=d["method"], seed=d["seed"], n_samples=d.get("n_samples"))


SPEC_NAME = "spec.json"


def write_spec(job_dir, spec: JobSpec, *, command: str, force: bool, preflight: bool, reuse_archive: bool = False):
    """The file a worker runs (`python -m harness worker <job_dir>/spec.json`): the spec and how to run it."""
    from pathlib import Path

    from harness.api.io import write_json_atomic

    path = Path(job_dir) / SPEC_NAME
    write_json_atomic(path, {"spec": spec.to_dict(), "command": command, "force": force, "preflight": preflight,
                             "reuse_archive": reuse_archive})
    return path


def new_record(spec: JobSpec, *, task_desc: dict, command: str, declared: dict, env: dict, load_s: float,
               started_at: str) -> dict:
    """A running job's first record."""
    return {"schema": SCHEMA, "job_id": spec.job_id, "spec": spec.to_dict(), "command": command, "task": task_desc,
            "method": dict(spec.method), "seed": spec.seed, "n_samples": spec.n_samples, "status": "running",
            "phase": "fit", "error": None, "metrics": {}, "higher_is_better": declared, "artifacts": {},
            "timings_s": {"load": round(load_s, 3)}, "env": env, "started_at": started_at, "finished_at": None}


def spec_of(rec: dict) -> JobSpec:
    """The spec a record holds, or (schema 1) the one its task and method sections imply."""
    if "spec" in rec:
        return JobSpec.from_dict(rec["spec"])
    task = {k: rec["task"].get(k) for k in ("name", "version", "config", "data_hash")}
    method = {k: rec["method"][k] for k in ("name", "profile", "params", "plugin", "overrides") if k in rec["method"]}
    return JobSpec(task, method, rec["seed"], rec.get("n_samples"))


def upgrade(rec: dict) -> dict:
    """A schema-1 record as schema 2 (its spec derived); newer records unchanged."""
    if rec.get("schema") == 1 and "spec" not in rec:
        rec = {**rec, "schema": SCHEMA, "spec": spec_of(rec).to_dict()}
    return rec


def validate(rec: Any) -> list[str]:
    """What is wrong with a record (empty: nothing)."""
    if not isinstance(rec, dict):
        return ["not a JSON object"]
    problems = [f"missing {k!r}" for k in REQUIRED if k not in rec]
    if rec.get("schema") != SCHEMA:
        problems.append(f"schema {rec.get('schema')!r}, expected {SCHEMA}")
    for k, types in FIELDS.items():
        if k in rec and not isinstance(rec[k], types):
            problems.append(f"{k!r} is {type(rec[k]).__name__}")
    if rec.get("status") not in STATUSES:
        problems.append(f"status {rec.get('status')!r} is not one of {STATUSES}")
    if rec.get("phase") not in PHASES:
        problems.append(f"phase {rec.get('phase')!r} is not one of {PHASES}")
    if not problems and spec_of(rec).job_id != rec["job_id"]:
        problems.append("job_id is not the hash of the spec")
    return problems
