"""Shared by the grid tests: a smoke grid (2 tasks × 3 methods × 2 seeds, 300 rows each), its sequential
records, and the checks every executor must pass against them."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GRID = """profile = "smoke"
[[runs]]
tasks = ["adult", "magic"]
methods = ["real", "smote", "tvae"]
seeds = [0, 1]
options = { limit = 300 }
"""
EXACT = ("real", "smote")          # deterministic given the seed: the same metrics wherever they run


def write_grid(folder: Path) -> Path:
    path = Path(folder) / "smoke.toml"
    path.write_text(GRID)
    return path


def harness(*args, store: Path, timeout: float = 900, env: dict | None = None, check: bool = True):
    r = subprocess.run([sys.executable, "-m", "harness", *map(str, args)], cwd=REPO, capture_output=True, text=True,
                       timeout=timeout, env={**os.environ, "HARNESS_RUNS": str(store), "TQDM_DISABLE": "1",
                                             **(env or {})})
    if check and r.returncode != 0:
        raise AssertionError(f"harness {' '.join(map(str, args))} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
    return r


def records(store: Path) -> dict:
    out = {}
    for p in Path(store).glob("*/*/*/record.json"):
        rec = json.loads(p.read_text())
        out[rec["job_id"]] = rec
    return out


def sequential(store: Path) -> dict:
    """The grid's jobs run one after another in process, with `run` (no executor): the reference records."""
    for task in ("adult", "magic"):
        harness("run", "--task", task, "--limit", 300, "--methods", "real,smote,tvae", "--profile", "smoke",
                "--seeds", "0,1", "--quiet", store=store)
    return records(store)


def comparable(metrics: dict) -> dict:
    """Metrics without their timings (wall times differ between any two runs), NaN as a string (NaN != NaN)."""
    return {k: ("nan" if v != v else v) for k, v in metrics.items() if not k.endswith("timings_s")}


def assert_same_as(reference: dict, store: Path, executor: str) -> dict:
    got = records(store)
    assert sorted(got) == sorted(reference), "the executor's job ids differ from the sequential run's"
    for jid, rec in got.items():
        assert rec["status"] == "ok", (jid, rec.get("error"))
        assert rec["run"]["executor"] == executor
        if rec["method"]["name"] in EXACT:
            assert comparable(rec["metrics"]) == comparable(reference[jid]["metrics"]), jid
    return got


def runs_started(store: Path) -> dict:
    """job id -> how many attempts began running it (the worker's 'running <id> (attempt n' line in its log)."""
    out = {}
    for log in Path(store).glob("*/*/*/worker.log"):
        out[log.parent.name] = sum(f"running {log.parent.name} (attempt" in line for line in log.read_text().splitlines())
    return out
