"""The grid on this machine: leases, the worker, `--executor local --jobs 2`, two submitters at once, a job timeout
and a killed worker (tests/grid_helpers.py holds the smoke grid and the checks shared with Ray and Slurm)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from grid_helpers import REPO, assert_same_as, harness, records, runs_started, write_grid

from harness.lease import NAME, Lease, holder_of


def test_lease_is_exclusive_and_released(tmp_path):
    a = Lease.acquire(tmp_path)
    assert a is not None and Lease.acquire(tmp_path) is None
    assert holder_of(tmp_path)["token"] == a.holder["token"]
    a.release()
    assert holder_of(tmp_path) is None
    b = Lease.acquire(tmp_path)
    assert b is not None
    b.release()


def test_a_dead_holders_lease_is_taken_over_once(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / NAME).write_text(json.dumps({"token": "old", "host": os.uname().nodename,
                                             "pid": int(dead.stdout), "attempt": 1}))
    assert holder_of(tmp_path) is None                # its pid is gone: stale at once
    first = Lease.acquire(tmp_path, attempt=2)
    assert first is not None and first.holder["took_over"]["pid"] == int(dead.stdout)
    (tmp_path / NAME).write_text(json.dumps({"token": "old", "host": "elsewhere", "pid": 1}))
    os.utime(tmp_path / NAME, (0, 0))                  # the same stale token again: its takeover was already won
    assert Lease.acquire(tmp_path) is None
    assert not first.still_held()                     # and the first holder knows it lost the lease
    first.release()


def test_local_jobs_2_equals_the_sequential_run(tmp_path, grid_reference):
    grid = write_grid(tmp_path)
    out = harness("grid", grid, "--jobs", 2, store=tmp_path / "store").stdout
    assert "12 ok, 0 failed" in out
    assert_same_as(grid_reference, tmp_path / "store", "local")
    status = harness("status", grid, store=tmp_path / "store").stdout
    assert status.startswith("12 jobs: 12 done, 0 running, 0 failed, 0 pending")


def test_two_submitters_at_once_run_each_job_once(tmp_path, grid_reference):
    grid, store = write_grid(tmp_path), tmp_path / "store"
    env = {**os.environ, "HARNESS_RUNS": str(store), "TQDM_DISABLE": "1"}
    procs = [subprocess.Popen([sys.executable, "-m", "harness", "grid", str(grid), "--jobs", "2"], cwd=REPO, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=900)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert_same_as(grid_reference, store, "local")
    assert set(runs_started(store).values()) == {1}, runs_started(store)


def test_a_job_past_its_timeout_ends_error_with_its_phase(tmp_path):
    store = tmp_path / "store"
    r = harness("run", "--task", "adult", "--limit", 300, "--methods", "tvae", "--profile", "smoke",
                "--set", "tvae.epochs=2000", "--job-timeout", 20, "--quiet", store=store, check=False)
    assert r.returncode == 1 and "exceeded the job timeout of 20 s" in r.stderr
    (rec,) = records(store).values()
    assert rec["status"] == "error" and rec["phase"] == "fit"
    assert rec["error"]["type"] == "JobStopped" and "in phase fit" in rec["error"]["message"]


def test_a_killed_worker_ends_error_and_its_rerun_resumes(tmp_path):
    store = tmp_path / "store"
    args = [sys.executable, "-m", "harness", "run", "--task", "adult", "--limit", "300", "--methods", "tvae",
            "--profile", "smoke", "--set", "tvae.epochs=40", "--jobs", "1", "--quiet"]
    env = {**os.environ, "HARNESS_RUNS": str(store), "TQDM_DISABLE": "1"}
    submitter = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while time.time() < deadline:                     # wait until the worker is fitting, then SIGKILL it
        recs = records(store) if store.exists() else {}
        if recs and next(iter(recs.values()))["phase"] == "fit":
            job_dir = next(store.glob("adult/tvae/*"))
            held = holder_of(job_dir)
            if held:
                os.kill(held["pid"], signal.SIGKILL)
                break
        time.sleep(0.2)
    else:
        submitter.kill()
        raise AssertionError("the worker never reached its fit")
    _, err = submitter.communicate(timeout=120)
    assert submitter.returncode == 1 and "killed by signal 9" in err
    (rec,) = records(store).values()
    assert rec["status"] == "error" and rec["phase"] == "fit" and rec["error"]["type"] == "JobStopped"
    harness(*args[3:], store=store)                   # the same command again: the job runs and ends ok
    (rec,) = records(store).values()
    assert rec["status"] == "ok" and rec["run"]["attempt"] == 2
