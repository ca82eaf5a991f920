"""The smoke grid on a real single-node Slurm cluster through submitit, and a job cancelled with scancel.
CI starts the cluster (scripts/slurm_localhost.sh, as root, from Debian's packages); elsewhere these tests skip
unless a Slurm controller answers."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from grid_helpers import REPO, assert_same_as, harness, records, write_grid


def _slurm_up() -> bool:
    try:
        r = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return r.returncode == 0 and any(s in r.stdout for s in ("idle", "mixed", "alloc"))


pytestmark = [pytest.mark.skipif(not _slurm_up(), reason="no Slurm controller (scripts/slurm_localhost.sh starts one)"),
              pytest.mark.filterwarnings("ignore")]
pytest.importorskip("submitit")


def test_slurm_grid_equals_the_sequential_run(tmp_path, grid_reference):
    out = harness("grid", write_grid(tmp_path), "--executor", "slurm", store=tmp_path / "store").stdout
    assert "12 ok, 0 failed" in out and "submitted 12 Slurm jobs" in out
    got = assert_same_as(grid_reference, tmp_path / "store", "slurm")
    assert all(r["run"].get("slurm_job_id") for r in got.values())
    assert {r["run"]["slurm_array_task_id"] for r in got.values()} == {str(i) for i in range(12)}   # one array


def test_a_job_cancelled_with_scancel_ends_error_and_reruns(tmp_path):
    store = tmp_path / "store"
    # 200 epochs: a fit of several seconds, so that scancel (through slurmctld and slurmd) lands inside it; with
    # 40 a CI run once saw the fit end ok before the signal arrived
    args = ["run", "--task", "adult", "--limit", "300", "--methods", "tvae", "--profile", "smoke",
            "--set", "tvae.epochs=200", "--executor", "slurm", "--quiet"]
    env = {**os.environ, "HARNESS_RUNS": str(store), "TQDM_DISABLE": "1"}
    submitter = subprocess.Popen([sys.executable, "-m", "harness", *args], cwd=REPO, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while time.time() < deadline:
        recs = records(store) if store.exists() else {}
        if recs and next(iter(recs.values()))["phase"] == "fit":
            jobs = subprocess.run(["squeue", "-h", "-o", "%i", "-n", "harness-job"], capture_output=True,
                                  text=True).stdout.split()
            if jobs:
                subprocess.run(["scancel", *jobs], check=True)
                break
        time.sleep(0.3)
    else:
        submitter.kill()
        raise AssertionError("the Slurm job never reached its fit")
    out, err = submitter.communicate(timeout=300)
    assert submitter.returncode == 1, (out, err, [(r["status"], r["phase"]) for r in records(store).values()])
    (rec,) = records(store).values()
    assert rec["status"] == "error" and rec["phase"] == "fit", rec.get("error")
    harness(*args, store=store)                        # rerun: the job runs again and ends ok
    (rec,) = records(store).values()
    assert rec["status"] == "ok" and rec["run"]["attempt"] == 2 and rec["run"]["executor"] == "slurm"
