"""Run records: one self-describing JSON per (task, method, params, seed), written atomically.

Layout: <root>/<task>/<method>/<job_id>/record.json, beside synthetic.csv and dcr.npz.
Paths inside a record are relative to the store root.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

SCHEMA = 1
REQUIRED = ("schema", "job_id", "task", "method", "seed", "status")


def job_id(task: dict, method: dict, seed: int, n_samples) -> str:
    key = json.dumps({"task": task, "method": method, "seed": seed, "n": n_samples}, sort_keys=True, default=str)
    return hashlib.sha1(key.encode()).hexdigest()[:12]


def write_json_atomic(path: Path, obj: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True, default=_jsonable)
        f.write("\n")
    os.replace(tmp, path)


def _jsonable(x):
    if hasattr(x, "item"):
        return x.item()
    if isinstance(x, (set, tuple)):
        return list(x)
    if isinstance(x, Path):
        return str(x)
    return str(x)


class Store:
    def __init__(self, root: str | Path = "runs"):
        self.root = Path(root)

    def job_dir(self, task: str, method: str, jid: str) -> Path:
        return self.root / task / method / jid

    def write(self, record: dict) -> Path:
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


def load_record(path: Path) -> dict:
    rec = json.loads(Path(path).read_text())
    missing = [k for k in REQUIRED if k not in rec]
    if missing or rec.get("schema") != SCHEMA:
        raise ValueError(f"{path}: not a schema-{SCHEMA} record (missing {missing})")
    return rec
