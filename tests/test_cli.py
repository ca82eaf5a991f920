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
    for name in ("adult", "default", "magic", "shoppers", "beijing", "csv", "text", "real", "smote", "ctgan", "tvae"):
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
                "--store", str(tmp_path / "runs"), "--quiet")
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
                "--set", setting, "--store", str(tmp_path / "runs"))
    assert r.returncode == 2 and needle in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_set_overrides_a_param_and_is_recorded(tmp_path):
    rows = "".join(f"{i % 7}.5,{['a', 'b'][i % 2]},{int(i % 3 == 0)}\n" for i in range(120))
    (tmp_path / "t.csv").write_text("x,c,y\n" + rows)
    r = harness("run", "--task", "csv", "--data", str(tmp_path / "t.csv"), "--target", "y", "--methods", "smote",
                "--set", "smote.k_neighbors=3", "--store", str(tmp_path / "runs"), "--quiet")
    assert r.returncode == 0, r.stderr
    rec = json.loads(next((tmp_path / "runs").glob("csv/smote/*/record.json")).read_text())
    assert rec["method"]["params"]["k_neighbors"] == 3 and rec["method"]["overrides"] == {"k_neighbors": 3}
    from harness.rows import row_label
    assert row_label(rec) == "smote (cpu profile, k_neighbors=3)"


def test_smoke_run_writes_records_and_leaderboard(tmp_path):
    """The issue's end-to-end smoke run on the real adult table."""
    store = tmp_path / "runs"
    r = harness("run", "--task", "adult", "--methods", "real,smote,ctgan", "--profile", "smoke", "--store", str(store),
                "--quiet")
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
    again = harness("run", "--task", "adult", "--methods", "real", "--profile", "smoke", "--store", str(store))
    assert "reusing finished record" in again.stdout + again.stderr
    out = tmp_path / "boards"
    (out).mkdir()
    r = harness("leaderboard", "--store", str(store), "--include-smoke", "--out", str(out))
    assert r.returncode == 0, r.stderr
    text = (out / "tabular.md").read_text()
    assert "ours: ctgan (smoke profile)" in text and "paper: TabSyn" in text
    assert "| ctgan (smoke profile) | 1/1 |" in text
    assert len(list((out / "records").glob("adult/*/*.json"))) == 3


def tracked_changes() -> str:
    return subprocess.run(["git", "diff", "HEAD", "--stat"], cwd=ROOT, capture_output=True, text=True).stdout


def write_corpus(path, n=300):
    import random
    rng = random.Random(0)
    animals, colours, places = ["cat", "dog", "fox", "owl"], ["red", "green", "blue"], ["mat", "roof", "tree", "box"]
    path.write_text("".join(json.dumps({"text": f"the {rng.choice(colours)} {rng.choice(animals)} sat on the "
                                                f"{rng.choice(places)} {rng.randint(1, 99)} times"}) + "\n"
                            for _ in range(n)))
    return path


def test_text_task_end_to_end_with_real_and_difflm(tmp_path):
    """A record-modality task through the CLI: records, a leaderboard page, and no tracked file changed."""
    corpus, store, out = write_corpus(tmp_path / "corpus.jsonl"), tmp_path / "runs", tmp_path / "boards"
    before = tracked_changes()
    r = harness("run", "--task", "text", "--data", str(corpus), "--methods", "real,difflm", "--profile", "smoke",
                "--n-samples", "24", "--store", str(store), "--quiet")
    assert r.returncode == 0, r.stderr
    assert "text: 2 jobs, 2 to run on this machine" in r.stdout
    recs = {json.loads(p.read_text())["method"]["name"]: json.loads(p.read_text()) for p in store.glob("text/*/*/record.json")}
    assert set(recs) == {"real", "difflm"}
    for rec in recs.values():
        assert rec["status"] == "ok" and rec["task"]["modality"] == "text" and rec["n_samples"] == 24
        assert {"copy_rate", "distinct_2", "unigram_tvd", "length_ks"} <= set(rec["metrics"])
        assert rec["higher_is_better"]["distinct_2"] is True and rec["synthetic_path"].endswith(".jsonl")
        assert len((store / rec["synthetic_path"]).read_text().splitlines()) == 24
    assert recs["real"]["metrics"]["copy_rate"] == 1.0
    assert tracked_changes() == before
    r = harness("leaderboard", "--store", str(store), "--include-smoke", "--include-user-data", "--out", str(out))
    assert r.returncode == 0, r.stderr
    page = (out / "text.md").read_text()
    # real's profiles are identical, so its smoke run is a cpu-profile row (Method.resolve_profile)
    assert "| real (cpu profile, n_syn=24) | 1/1 |" in page and "| difflm (smoke profile, n_syn=24) | 1/1 |" in page


def test_table_method_on_text_fails_fast(tmp_path):
    corpus = write_corpus(tmp_path / "corpus.jsonl")
    r = harness("run", "--task", "text", "--data", str(corpus), "--methods", "real,tvae", "--profile", "smoke",
                "--store", str(tmp_path / "runs"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip() == "error: tvae does not handle text records (task text)"
    assert not (tmp_path / "runs").exists()          # refused before any work


@pytest.mark.parametrize("args,needle", [
    (["--task", "adult", "--data", "x.csv"], "--data is not an option of task adult"),
    (["--task", "text", "--target", "y", "--data", "x.jsonl"], "--target is not an option of task text"),
    (["--task", "text", "--data", "{bad}"], "no string field 'text'"),
    (["--task", "code", "--allow-code-exec", "--data", "{txt}"], "records span several lines"),
])
def test_task_option_misuse_is_one_line_and_exit_2(tmp_path, args, needle):
    (tmp_path / "bad.jsonl").write_text('{"body": "x"}\n' * 30)
    (tmp_path / "programs.txt").write_text("def f():\n    return 1\n" * 30)
    args = [a.format(bad=tmp_path / "bad.jsonl", txt=tmp_path / "programs.txt") for a in args]
    r = harness("run", *args, "--methods", "real", "--store", str(tmp_path / "runs"))
    assert r.returncode == 2 and needle in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_fresh_store_runs_jobs_and_archive_reuse_is_said(tmp_path):
    """The README's main command on a fresh clone runs here; reusing the committed archive is opt-in and said."""
    store = tmp_path / "runs"
    r = harness("run", "--task", "adult", "--methods", "real", "--profile", "cpu", "--seeds", "0", "--store", str(store),
                "--reuse-archive", "--quiet")
    assert r.returncode == 0, r.stderr
    assert "1 job, 0 to run on this machine, 1 reused" in r.stdout
    assert "reused 1 record made elsewhere, from leaderboards/records/" in r.stdout
    assert not list(store.glob("adult/*/*/record.json"))


def test_scoring_option_change_scores_the_stored_synthetic_data(tmp_path):
    """A run that differs from a finished one only in a scoring option (here the MLE protocol) scores that
    job's synthetic data: no fit, no sampling, the record says where the data came from."""
    rows = "".join(f"{i % 7}.5,{['a', 'b'][i % 2]},{int(i % 3 == 0)}\n" for i in range(120))
    (tmp_path / "t.csv").write_text("x,c,y\n" + rows)
    common = ["run", "--task", "csv", "--data", str(tmp_path / "t.csv"), "--target", "y", "--methods", "smote",
              "--store", str(tmp_path / "runs"), "--quiet"]
    assert harness(*common).returncode == 0
    r = harness(*common, "--mle-best-of", "2")
    assert r.returncode == 0, r.stderr
    assert "scores the synthetic data of finished job" in r.stdout
    recs = {json.loads(p.read_text())["job_id"]: json.loads(p.read_text())
            for p in (tmp_path / "runs").glob("csv/smote/*/record.json")}
    assert len(recs) == 2
    second = next(r for r in recs.values() if r.get("synthetic_from"))
    first = recs[second["synthetic_from"]]
    assert second["task"]["config"]["mle_best_of"] == 2 and first["task"]["config"]["mle_best_of"] == 1
    assert second["timings_s"]["fit"] == first["timings_s"]["fit"] and second["status"] == "ok"
    assert (tmp_path / "runs" / second["synthetic_path"]).read_text() == \
        (tmp_path / "runs" / first["synthetic_path"]).read_text()


def test_job_stopped_while_scoring_scores_its_stored_sample_on_rerun(tmp_path):
    """A kill (or a metric's error) after the synthetic data was saved leaves a record in phase "score"; the rerun
    scores that stored sample (no second fit or sampling, timings carried over) unless the sample is gone."""
    rows = "".join(f"{i % 7}.5,{['a', 'b'][i % 2]},{int(i % 3 == 0)}\n" for i in range(120))
    (tmp_path / "t.csv").write_text("x,c,y\n" + rows)
    common = ["run", "--task", "csv", "--data", str(tmp_path / "t.csv"), "--target", "y", "--methods", "smote",
              "--store", str(tmp_path / "runs")]
    assert harness(*common, "--quiet").returncode == 0
    path = next((tmp_path / "runs").glob("csv/smote/*/record.json"))
    done = json.loads(path.read_text())
    cut = {**done, "status": "running", "phase": "score", "metrics": {}, "finished_at": None}
    cut["timings_s"] = {k: v for k, v in done["timings_s"].items() if k != "score"}
    path.write_text(json.dumps(cut))
    r = harness(*common)
    assert r.returncode == 0, r.stderr
    assert "scores its stored synthetic data (its last run stopped while scoring: running)" in r.stdout
    assert "smote × 1" not in r.stdout
    again = json.loads(path.read_text())
    same = lambda m: {k: v for k, v in m.items() if k != "score_timings_s"}
    assert again["status"] == "ok" and same(again["metrics"]) == same(done["metrics"]) and "synthetic_from" not in again
    assert again["timings_s"]["fit"] == done["timings_s"]["fit"] and "score" in again["timings_s"]

    path.write_text(json.dumps({**cut, "status": "error"}))          # the sample is gone: fit and sample again
    (tmp_path / "runs" / done["synthetic_path"]).unlink()
    r = harness(*common)
    assert r.returncode == 0, r.stderr
    assert "smote × 1" in r.stdout and json.loads(path.read_text())["status"] == "ok"
