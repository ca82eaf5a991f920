"""The code task: decontaminated corpus, benchmark definitions checked by executing their reference solutions,
pass@k, resumable evaluation, and the task end to end through the CLI on the smoke protocol."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tasks.code import benchmarks, corpus
from tasks.code.sandbox import available

REPO = Path(__file__).resolve().parent.parent
needs_sandbox = pytest.mark.skipif(not available()[0], reason=f"no sandbox here: {available()[1]}")


def test_real_corpus_leaves_out_humaneval_rewrites_and_mbpp_test():
    texts, info = corpus.real_corpus()
    assert info["excluded_p3_human_eval"] == 795
    assert len(texts) == 866 + 464
    puzzles = corpus.load_p3()
    rewrites = {corpus.p3_text(p) for p in puzzles if p["module"] == "human_eval.py" and p["sol_bodies"]}
    assert not rewrites & set(texts)
    mbpp = corpus.load_mbpp()
    assert not {mbpp[i]["code"].replace("\r\n", "\n") for i in corpus.MBPP_TEST_IDS} & set(texts)


def test_overlap_report_finds_a_planted_copy_and_nothing_in_the_real_corpus():
    index = corpus.OverlapIndex()
    texts, _ = corpus.real_corpus()
    clean = index.report(texts)
    assert clean["humaneval"]["documents_hit"] == 0      # measured: 0 of 1,330 (13 whitespace words)
    he = corpus.load_humaneval()[0]
    planted = index.report(["x = 1", he["prompt"] + he["canonical_solution"]])
    assert planted["humaneval"]["documents_hit"] == 1 and he["task_id"] in planted["humaneval"]["top_problems"]


def test_benchmarks_as_bigcode_defines_them():
    he, mb = benchmarks.load("humaneval"), benchmarks.load("mbpp")
    assert len(he) == 164 and len(mb) == 500
    assert mb[0].task_id == "mbpp/11" and mb[-1].task_id == "mbpp/510"
    assert not he[0].prompt.endswith("\n") and mb[0].prompt.startswith('"""\n')
    assert [p.task_id for p in benchmarks.load("mbpp", 7)] == [p.task_id for p in benchmarks.load("mbpp", 7)]


def test_stops_are_searched_in_generated_text_only():
    assert benchmarks.cut("    return x\n\ndef g():", benchmarks.HUMANEVAL_STOPS) == "    return x\n"
    # a prompt ending in "\n" + a generated fence would match "\n```" at once if the prompt were searched too
    assert benchmarks.cut("```python\n", benchmarks.HUMANEVAL_STOPS) == "```python\n"
    assert benchmarks.cut("no stop", benchmarks.MBPP_STOPS) == "no stop"


def test_pass_at_k_is_human_evals_estimator():
    out = benchmarks.pass_at_k([0, 1, 10], [10, 10, 10], ks=(1, 10, 100))
    assert out["pass@1"] == pytest.approx((0 + 0.1 + 1.0) / 3)
    assert out["pass@10"] == pytest.approx((0 + 1 + 1) / 3)
    assert "pass@100" not in out                    # only reported when every problem has ≥ k samples


@needs_sandbox
def test_reference_solutions_pass_and_empty_completions_fail():
    """The programs we build are right: each reference solution passes its own tests in the sandbox."""
    from tasks.code.sandbox import execute_many

    problems = benchmarks.load("humaneval", 6) + benchmarks.load("mbpp", 6)
    results = execute_many([p.program(p.reference) for p in problems] + [p.program("") for p in problems[:2]],
                           timeout=10, progress=False)
    assert [r.status for r in results[:12]] == ["passed"] * 12, [r.reason for r in results]
    assert all(r.status == "failed" for r in results[12:])


@needs_sandbox
def test_evaluate_resumes_from_its_completions(tmp_path):
    from harness.api.models import load_causal_lm
    from tasks.code.evaluate import EvalSettings, evaluate

    model, tok = load_causal_lm("tiny-llama")
    settings = EvalSettings(subset={"humaneval": 2, "mbpp": 2}, max_new_tokens=4, batch_size=2)
    first = evaluate(model, tok, settings, tmp_path, quiet=True)
    lines = (tmp_path / "mbpp.completions.jsonl").read_text().splitlines()
    (tmp_path / "mbpp.completions.jsonl").write_text(lines[0] + "\n")     # as if killed after one completion
    again = evaluate(model, tok, settings, tmp_path, quiet=True)
    assert again == first and first["humaneval_problems"] == 2 and first["mbpp_nll"] > 0
    rows = [json.loads(x) for x in (tmp_path / "mbpp.results.jsonl").read_text().splitlines()]
    assert {r["status"] for r in rows} <= {"passed", "failed", "timed out"} and all("reason" in r for r in rows)


def _cli(*args, env=None, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "TQDM_DISABLE": "1", **(env or {})}, timeout=900)


def test_code_task_refuses_to_execute_without_opt_in(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DIFFLM_ALLOW_CODE_EXEC"}
    r = subprocess.run([sys.executable, "-m", "harness", "run", "--task", "code", "--methods", "real", "--profile",
                        "smoke", "--store", str(tmp_path)], cwd=REPO, capture_output=True, text=True, env=env)
    assert r.returncode == 2 and "--allow-code-exec" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.rglob("record.json"))


@needs_sandbox
def test_code_task_end_to_end_with_real_and_difflm(tmp_path):
    store, out = tmp_path / "runs", tmp_path / "boards"
    r = _cli("run", "--task", "code", "--methods", "real,difflm", "--profile", "smoke", "--limit", "40",
             "--allow-code-exec", "--store", str(store))
    assert r.returncode == 0, r.stderr[-3000:]
    recs = [json.loads(p.read_text()) for p in store.rglob("record.json")]
    assert {x["method"]["name"] for x in recs} == {"real", "difflm"} and all(x["status"] == "ok" for x in recs)
    for rec in recs:
        m = rec["metrics"]
        assert m["cpt_tokens"] > 0 and "humaneval_pass@1" in m and "base_humaneval_nll" in m
        assert m["humaneval_docs_hit"] == 0 and 0 <= m["corpus_parse_rate"] <= 1
    real = next(x for x in recs if x["method"]["name"] == "real")
    assert real["metrics"]["corpus_parse_rate"] == 1.0        # real code parses
    assert len(list((store / "_cache" / "code-base").iterdir())) == 1     # the base arm is evaluated once
    r = _cli("leaderboard", "--store", str(store), "--include-smoke", "--out", str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    page = (out / "code.md").read_text()
    assert "base (no CPT)" in page and "real-CPT" in page and "difflm-CPT" in page and "Mistral-DiffLM-Code" in page
    real_row = next(line for line in page.splitlines() if "| real-CPT" in line)
    assert "13-gram docs HE / MBPP-test" in page and real_row.rstrip(" |").split("| ")[-1].startswith("0 / ")


def test_code_page_shows_the_code_notes_of_its_methods_only():
    from tasks.reports.code import _why

    recs = [{"method": {"name": "real"}}, {"method": {"name": "difflm"}}]
    notes = {("real", "code"): "real CPT is below base.", ("difflm", "*"): "a table note", ("smote", "code"): "x"}
    lines = _why(recs, notes)
    assert any("real CPT is below base." in line for line in lines)
    assert not any("a table note" in line or "smote" in line for line in lines)
    assert _why(recs, {}) == []
