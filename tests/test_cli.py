import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def harness(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=900)


def test_list_shows_tasks_and_methods():
    out = harness("list").stdout
    for name in ("adult", "default", "magic", "shoppers", "beijing", "csv", "real", "smote", "ctgan", "tvae"):
        assert name in out


@pytest.mark.parametrize("args,needle", [
    (["--data", "missing.csv", "--target", "y"], "not found"),
    (["--data", "{empty}", "--target", "y"], "no data rows"),
    (["--data", "{ok}", "--target", "nope"], "target column 'nope'"),
    (["--data", "{nan}", "--target", "y"], "no values"),
])
def test_csv_bad_input_is_one_line_and_exit_2(tmp_path, args, needle):
    (tmp_path / "empty.csv").write_text("a,b,y\n")
    (tmp_path / "ok.csv").write_text("a,y\n" + "".join(f"{i},{i % 2}\n" for i in range(30)))
    (tmp_path / "nan.csv").write_text("a,b,y\n" + "".join(f"{i},,{i % 2}\n" for i in range(30)))
    args = [a.format(empty=tmp_path / "empty.csv", ok=tmp_path / "ok.csv", nan=tmp_path / "nan.csv") for a in args]
    r = harness("run", "--task", "csv", *args)
    assert r.returncode == 2
    assert needle in r.stderr and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_csv_task_end_to_end(tmp_path):
    import numpy as np
    rng = np.random.default_rng(0)
    rows = "".join(f"{rng.normal():.3f},{rng.choice(['a', 'b'])},{int(rng.random() > 0.5)}\n" for _ in range(200))
    (tmp_path / "t.csv").write_text("x,c,y\n" + rows)
    r = harness("run", "--task", "csv", "--data", str(tmp_path / "t.csv"), "--target", "y", "--methods", "real,smote",
                "--store", str(tmp_path / "runs"), "--quiet", "--no-leaderboard")
    assert r.returncode == 0, r.stderr
    recs = list((tmp_path / "runs").glob("csv/*/*/record.json"))
    assert len(recs) == 2


@pytest.mark.parametrize("setting,needle", [
    ("smote.nope=1", "unknown params ['nope']"),
    ("tvae.epochs=1", "'tvae' is not one of --methods"),
    ("smote", "expected METHOD.PARAM=VALUE"),
])
def test_bad_set_is_one_line_and_exit_2(tmp_path, setting, needle):
    (tmp_path / "ok.csv").write_text("a,y\n" + "".join(f"{i},{i % 2}\n" for i in range(30)))
    r = harness("run", "--task", "csv", "--data", str(tmp_path / "ok.csv"), "--target", "y", "--methods", "smote",
                "--set", setting, "--store", str(tmp_path / "runs"), "--no-leaderboard")
    assert r.returncode == 2 and needle in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_set_overrides_a_param_and_is_recorded(tmp_path):
    rows = "".join(f"{i % 7}.5,{['a', 'b'][i % 2]},{int(i % 3 == 0)}\n" for i in range(120))
    (tmp_path / "t.csv").write_text("x,c,y\n" + rows)
    r = harness("run", "--task", "csv", "--data", str(tmp_path / "t.csv"), "--target", "y", "--methods", "smote",
                "--set", "smote.k_neighbors=3", "--store", str(tmp_path / "runs"), "--quiet", "--no-leaderboard")
    assert r.returncode == 0, r.stderr
    rec = json.loads(next((tmp_path / "runs").glob("csv/smote/*/record.json")).read_text())
    assert rec["method"]["params"]["k_neighbors"] == 3 and rec["method"]["overrides"] == {"k_neighbors": 3}
    from harness.leaderboard import row_label
    assert row_label(rec) == "smote (cpu profile, k_neighbors=3)"


def test_smoke_run_writes_records_and_leaderboard(tmp_path):
    """The issue's end-to-end smoke run on the real adult table."""
    store = tmp_path / "runs"
    r = harness("run", "--task", "adult", "--methods", "real,smote,ctgan", "--profile", "smoke", "--store", str(store),
                "--quiet", "--no-leaderboard")
    assert r.returncode == 0, r.stderr
    records = [json.loads(p.read_text()) for p in store.glob("adult/*/*/record.json")]
    assert {rec["method"]["name"] for rec in records} == {"real", "smote", "ctgan"}
    for rec in records:
        assert rec["status"] == "ok"
        assert {"mle", "rho", "dcr_share_closer_to_train", "dcr_exact_copy_rate"} <= set(rec["metrics"])
        assert {"fit", "sample", "score"} <= set(rec["timings_s"])
        assert rec["env"]["packages"]["torch"] and rec["n_samples"] == rec["task"]["n_train"]
        assert (store / rec["synthetic_path"]).exists()
    real = next(r for r in records if r["method"]["name"] == "real")
    assert real["metrics"]["mle"] > 0.9 and real["metrics"]["dcr_exact_copy_rate"] == 1.0
    # a rerun reuses the finished records
    again = harness("run", "--task", "adult", "--methods", "real", "--profile", "smoke", "--store", str(store),
                    "--no-leaderboard")
    assert "reusing finished record" in again.stdout + again.stderr
    out = tmp_path / "boards"
    (out).mkdir()
    r = harness("leaderboard", "--store", str(store), "--include-smoke", "--out", str(out))
    assert r.returncode == 0, r.stderr
    text = (out / "tabular.md").read_text()
    assert "ours: ctgan (smoke profile)" in text and "paper: TabSyn" in text
    assert len(list((out / "records").glob("adult/*/*.json"))) == 3
