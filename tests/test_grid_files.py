"""Grid files: the shipped ones name every current leaderboard job and cost out in a dry run; bad ones are refused
in one line."""
from __future__ import annotations

from pathlib import Path

import pytest
from grid_helpers import REPO, harness

from harness import grid
from harness.api import DataError
from harness.rows import is_current
from harness.store import Archive, Store

SHIPPED = sorted((REPO / "grids").glob("*.toml"))


def test_the_shipped_grids_name_every_current_leaderboard_job(tmp_path):
    assert {p.stem for p in SHIPPED} >= {"tabular", "code", "tools"}
    planned = [tj for path in SHIPPED for tj in grid.expand(grid.load(path), Store(tmp_path))]
    records = Archive().records()
    covered = {r["job_id"] for r in grid.archived(planned, records).values()}
    current = {r["job_id"]: f"{r['task']['name']}/{r['method']['name']} seed {r['seed']}"
               for r in records if r["status"] == "ok" and is_current(r) and not r["task"].get("user_data")}
    assert not set(current) - covered, [current[j] for j in set(current) - covered]


def test_dry_run_prints_the_full_grid_and_its_cost(tmp_path):
    out = harness("grid", REPO / "grids" / "tabular.toml", "--dry-run", store=tmp_path).stdout
    n = sum(len(jobs) for _, jobs in grid.expand(grid.load(REPO / "grids" / "tabular.toml"), Store(tmp_path)))
    assert out.startswith(f"{n} jobs (0 already done in the store)")
    assert "total to run: ~" in out and "on N workers like the ones that measured it: 1: ~" in out


@pytest.mark.parametrize("text, message", [
    ("[[runs]]\ntasks = ['adult']\nmethods = ['real']\nseed = [0]\n", "unknown keys ['seed']"),
    ("[[runs]]\ntasks = ['adult']\n", "needs tasks and methods"),
    ("profile = 'cpu'\n", "no [[runs]] blocks"),
    ("[[runs]\n", "not valid TOML"),
    ("[[runs]]\ntasks = ['adult']\nmethods = ['real']\nset = { 'tvae.epochs' = 2 }\n", "METHOD.PARAM"),
])
def test_a_bad_grid_file_is_refused_in_one_line(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(DataError, match=message.replace("[", r"\[").replace("]", r"\]")):
        grid.load(path)
    r = harness("grid", path, "--dry-run", store=tmp_path, check=False)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and message in r.stderr


def test_an_unknown_task_option_in_a_grid_is_refused(tmp_path):
    path = tmp_path / "g.toml"
    path.write_text("[[runs]]\ntasks = ['adult']\nmethods = ['real']\noptions = { spilt = 'x' }\n")
    r = harness("grid", path, "--dry-run", store=tmp_path, check=False)
    assert r.returncode == 2 and "task adult has no option spilt" in r.stderr


def test_status_without_a_grid_counts_the_store(tmp_path):
    assert harness("status", store=tmp_path / "empty").stdout == ""
    assert Path(tmp_path).exists()
