"""The smoke grid on Ray: an embedded local Ray, and a two-node Ray cluster on localhost whose second node's raylet
is killed mid-job (no job lost, each record written by one attempt). Skips when ray is not installed
(pip install -e ".[ray]"; CI installs it)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from grid_helpers import REPO, assert_same_as, harness, records, runs_started, write_grid

ray = pytest.importorskip("ray")
psutil = pytest.importorskip("psutil")
RAY = [sys.executable, "-m", "ray.scripts.scripts"]
HEAD_PORT, NODE2_PORT = 6390, 6392


def _ray(*args):
    # Ray's head enables token auth by default (~/.ray/auth_token); a joining node must be told to use it
    subprocess.run([*RAY, *args], check=True, capture_output=True, text=True, timeout=120,
                   env={**os.environ, "RAY_AUTH_MODE": "token"})


@pytest.fixture
def no_cluster():
    subprocess.run([*RAY, "stop", "--force"], capture_output=True, timeout=120)
    yield
    subprocess.run([*RAY, "stop", "--force"], capture_output=True, timeout=120)


def test_embedded_ray_grid_equals_the_sequential_run(tmp_path, grid_reference, no_cluster):
    out = harness("grid", write_grid(tmp_path), "--executor", "ray", store=tmp_path / "store",
                  env={"RAY_ADDRESS": ""}).stdout
    assert "embedded local Ray" in out and "12 ok, 0 failed" in out
    assert_same_as(grid_reference, tmp_path / "store", "ray")


def _node2_raylet():
    for p in psutil.process_iter(["name", "cmdline"]):
        if p.info["name"] == "raylet" and any(f"node_manager_port={NODE2_PORT}" in a for a in p.info["cmdline"] or []):
            return p
    return None


def test_two_node_cluster_loses_no_job_when_a_raylet_dies(tmp_path, grid_reference, no_cluster):
    _ray("start", "--head", f"--port={HEAD_PORT}", "--num-cpus=1", "--disable-usage-stats", "--include-dashboard=false")
    _ray("start", f"--address=127.0.0.1:{HEAD_PORT}", "--num-cpus=1", f"--node-manager-port={NODE2_PORT}",
         "--disable-usage-stats")
    store = tmp_path / "store"
    env = {**os.environ, "HARNESS_RUNS": str(store), "TQDM_DISABLE": "1"}
    submitter = subprocess.Popen([sys.executable, "-m", "harness", "grid", str(write_grid(tmp_path)), "--executor",
                                  "ray", "--ray-address", f"127.0.0.1:{HEAD_PORT}"], cwd=REPO, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    raylet, killed, deadline = _node2_raylet(), None, time.time() + 300
    assert raylet is not None, "the second node's raylet is not running"
    while killed is None and time.time() < deadline:   # a job of node 2 in its fit: kill that node's raylet
        if submitter.poll() is not None:
            break
        for child in raylet.children(recursive=True):
            try:
                cmd = child.cmdline()
            except psutil.Error:
                continue
            if "worker" in cmd and "harness" in cmd:
                spec = cmd[cmd.index("worker") + 1]
                recs = [r for r in records(store).values() if r["job_id"] in spec] if store.exists() else []
                if recs and recs[0]["phase"] == "fit":
                    killed = recs[0]["job_id"]
                    raylet.send_signal(signal.SIGKILL)
                    break
        time.sleep(0.1)
    assert killed, f"no job was seen fitting on the second node; the grid said:\n{submitter.communicate()[0]}"
    out = submitter.communicate(timeout=900)[0]
    assert submitter.returncode == 0, out
    got = assert_same_as(grid_reference, store, "ray")
    started = runs_started(store)
    # the lost job ran again (attempt 2), or, had its orphan outlived the node, was waited for and not rerun
    assert got[killed]["run"]["attempt"] == started[killed] in (1, 2), (started, got[killed]["run"])
    assert all(n == 1 for jid, n in started.items() if jid != killed), started
