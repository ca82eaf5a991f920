"""Run records: one self-describing JSON per (task, method, params, seed), written atomically.

Local store: <root>/<task>/<method>/<job_id>/record.json, beside the synthetic data, the task's score
artifacts and the job's work/ folder (resumable state). Paths inside a record are relative to the store
root. The archive (leaderboards/records/<task>/<method>/<job_id>.json) holds the records copied there by
`harness leaderboard`: the tables are rebuilt from it alone, on any clone.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from harness.api.io import write_json_atomic
from harness.record import SCHEMA, job_id, spec_of, upgrade, validate  # noqa: F401 (SCHEMA, job_id: for callers)

REPO = Path(__file__).resolve().parent.parent
BOARD_DIR = REPO / "leaderboards"
ARCHIVED_STATUSES = ("ok", "error")      # a killed or running job is no result yet


def sample_key(task_key: dict, scoring_options, method: dict, seed: int, n_samples) -> str:
    """A job's identity without the task options that change only its scoring (Task.scoring_options): jobs
    with equal sample keys fit the same model and draw the same synthetic data."""
    data = {**task_key, "config": {k: v for k, v in task_key["config"].items() if k not in scoring_options}}
    return job_id(data, method, seed, n_samples)


def record_sample_key(rec: dict, scoring_options) -> str:
    """The sample key of a stored record (records before sample keys existed get theirs too)."""
    spec = spec_of(rec)
    return sample_key(spec.task, scoring_options, spec.method, spec.seed, spec.n_samples)


def load_record(path: Path) -> dict:
    """A record as stored (schema 1 upgraded), validated (harness/record.py)."""
    rec = upgrade(json.loads(Path(path).read_text()))
    problems = validate(rec)
    if problems:
        raise ValueError(f"{path}: not a valid schema-{SCHEMA} record: {'; '.join(problems)}")
    return rec


def store_for_record(path: Path) -> "Store":
    """The store a record file lives in (<root>/<task>/<method>/<job_id>/record.json)."""
    return Store(Path(path).resolve().parents[3])


class Store:
    def __init__(self, root: str | Path = "runs"):
        self.root = Path(root)

    def job_dir(self, task: str, method: str, jid: str) -> Path:
        return self.root / task / method / jid

    def write(self, record: dict) -> Path:
        problems = validate(record)
        if problems:
            raise ValueError(f"refusing to write an invalid record {record.get('job_id')}: {'; '.join(problems)}")
        path = self.job_dir(record["task"]["name"], record["method"]["name"], record["job_id"]) / "record.json"
        write_json_atomic(path, record)
        return path

    def read(self, task: str, method: str, jid: str) -> dict | None:
        path = self.job_dir(task, method, jid) / "record.json"
        return load_record(path) if path.exists() else None

    def records(self):
        for path in sorted(self.root.glob("*/*/*/record.json")):
            yield load_record(path)

    def find(self, jid: str) -> dict | None:
        for path in self.root.glob(f"*/*/{jid}*/record.json"):
            return load_record(path)
        return None

    def finished_sample(self, task: str, method: str, key: str, scoring_options, exclude: str) -> dict | None:
        """A finished record of another job with this sample key whose synthetic data are still on disk."""
        for path in sorted((self.root / task / method).glob("*/record.json")):
            rec = load_record(path)
            if (rec["job_id"] != exclude and rec["status"] == "ok" and rec.get("synthetic_path")
                    and (self.root / rec["synthetic_path"]).exists()
                    and record_sample_key(rec, scoring_options) == key):
                return rec
        return None

    def __str__(self) -> str:
        return str(self.root)


class Archive:
    """Finished records kept with the project (leaderboards/records/), one JSON file per job."""

    def __init__(self, root: str | Path = BOARD_DIR / "records"):
        self.root = Path(root)

    def path(self, task: str, method: str, jid: str) -> Path:
        return self.root / task / method / f"{jid}.json"

    def read(self, task: str, method: str, jid: str) -> dict | None:
        path = self.path(task, method, jid)
        return load_record(path) if path.exists() else None

    def records(self) -> list[dict]:
        return [load_record(p) for p in sorted(self.root.glob("*/*/*.json"))]

    def find(self, jid: str) -> dict | None:
        return next((r for r in self.records() if r["job_id"].startswith(jid)), None)

    def add_from(self, store: Store, *, keep) -> int:
        """Copy every record of `store` for which keep(record) is true; returns how many."""
        n = 0
        for rec in store.records():
            if rec["status"] not in ARCHIVED_STATUSES or not keep(rec):
                continue
            dest = self.path(rec["task"]["name"], rec["method"]["name"], rec["job_id"])
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(store.job_dir(rec["task"]["name"], rec["method"]["name"], rec["job_id"]) / "record.json",
                            dest)
            n += 1
        return n

    def __str__(self) -> str:
        try:
            return str(self.root.relative_to(Path.cwd()))
        except ValueError:
            return str(self.root)
