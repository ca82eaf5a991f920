"""The tools task: records in the authors' shape, a split by tool, a schema every training record satisfies,
the proxies, and the task end to end (no judge: proxies and a stated skip)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tasks.tools import proxies, records

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def split():
    return records.load_split()


def test_records_have_the_authors_shape_and_no_tool_in_two_splits(split):
    r = split["train"][0]
    assert list(r) == list(records.KEYS) and list(r["parameters"]) == ["type", "properties", "required"]
    assert len(split["train"]) + len(split["val"]) + len(split["test"]) == 2490
    tools = [{x["tool_name"] for x in split[k]} for k in ("train", "val", "test")]
    assert not (tools[0] & tools[1] or tools[0] & tools[2] or tools[1] & tools[2])
    assert set().union(*tools) <= set(split["categories"])     # names as the records spell them (stripped)
    api = {"tool_name": " T ", "api_name": "a", "api_description": None, "category_name": "C",
           "required_parameters": [{"name": "q", "type": "STRING", "description": "d", "default": ""}],
           "optional_parameters": [{"name": "n", "type": "NUMBER", "description": "", "default": 5}]}
    rec = records.to_record(api)
    assert rec["tool_name"] == "T" and rec["api_description"] == "" and rec["tool_description"] == ""
    assert list(rec["parameters"]["properties"]) == ["q", "n"] and rec["parameters"]["required"] == ["q"]


def test_category_groups_give_a_new_tool_its_nearest_training_records_category(split):
    from tasks.tools.task import ToolsTask

    task = ToolsTask()
    task.categories_ = split["categories"]
    spaced = next(r for r in split["train"] if r["tool_name"] == "Physical quantities, constants and equations")
    train = split["train"][:30] + [spaced]
    new = {**spaced, "tool_name": "A tool no one has named"}
    groups = task._groups([new, split["train"][0]], "category", train)
    assert groups[split["categories"][spaced["tool_name"]]][0]["tool_name"] == "A tool no one has named"
    assert sum(len(g) for g in groups.values()) == 2


def test_schema_grammar_accepts_every_training_record(split):
    import xgrammar as xgr
    from xgrammar.testing import _is_grammar_accept_string

    schema = records.schema_for(split["train"])
    grammar = xgr.Grammar.from_json_schema(json.dumps(schema), any_whitespace=False, separators=(", ", ": "),
                                           strict_mode=True)
    assert all(_is_grammar_accept_string(grammar, json.dumps(r, ensure_ascii=False)) for r in split["train"][:300])
    assert not _is_grammar_accept_string(grammar, json.dumps({"tool_name": "x"}))


def test_proxies_on_copies_and_on_broken_records(split):
    train, test = split["train"][:80], split["test"][:40]
    copies = proxies.proxy_metrics(train[:40], train, test)
    assert copies["valid_rate"] == 1 and copies["exact_dup_train"] == 1 and copies["near_dup_train"] == 1
    broken = [{"tool_name": "x"}, "not a dict", {**train[0], "parameters": {"properties": {}, "required": ["q"]}}]
    out = proxies.proxy_metrics(broken + train[40:42], train, test)
    assert out["valid_rate"] == pytest.approx(3 / 5) and out["well_formed_rate"] == pytest.approx(2 / 5)
    assert 0 <= out["tool_proxy_score"] <= 1 and out["exact_dup_train"] == 1


def test_rubric_penalises_generic_names_and_unknown_types(split):
    good = {"tool_name": "Weather", "tool_description": "Weather data", "api_name": "get_forecast",
            "api_description": "Weather forecast for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "STRING", "description": "city", "default": ""}},
                           "required": ["city"]}}
    bad = {**good, "api_name": "/v1/", "parameters": {"type": "object", "properties": {
        "city": {"type": "WEIRD", "description": "", "default": ""}}, "required": ["town"]}}
    assert proxies.rubric(good, {"STRING"}) == 1.0 and proxies.rubric(bad, {"STRING"}) < 0.6


def test_difflm_decodes_tool_records_under_the_tasks_schema(split):
    """DiffLM's JSON codec compiles the task's schema into its grammar and reads records back (a random tiny
    decoder cannot close 100-token records within a smoke budget, so DiffLM itself runs in the cpu profile)."""
    from xgrammar.testing import _is_grammar_accept_string

    from harness.api import RecordMetadata
    from methods.difflm.codecs import codec_for

    codec = codec_for(RecordMetadata(kind="json", schema=records.schema_for(split["train"])))
    texts = codec.encode(split["train"][:50])
    assert all(_is_grammar_accept_string(codec.grammar(7), t) for t in texts)
    assert [codec.parse(t).record for t in texts] == split["train"][:50]
    assert codec.parse('{"tool_name": "x"}').record is None


def test_tools_task_without_a_judge_gives_proxies_and_says_why(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIFFLM_JUDGE", "OPENAI_"))}
    r = subprocess.run([sys.executable, "-m", "harness", "run", "--task", "tools", "--methods", "real",
                        "--profile", "smoke", "--limit", "60", "--store", str(tmp_path)], cwd=REPO,
                       capture_output=True, text=True, env={**env, "TQDM_DISABLE": "1"}, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "judge skipped" in r.stderr
    rec = json.loads(next(tmp_path.rglob("record.json")).read_text())
    assert rec["status"] == "ok" and rec["metrics"]["judge"]["status"] == "skipped"
    assert "--judge-base-url" in rec["metrics"]["judge"]["why"]
    assert rec["metrics"]["valid_rate"] == 1 and rec["metrics"]["exact_dup_train"] == 1


def test_tools_task_with_a_judge_through_the_fake_server(tmp_path):
    """The full tables through the real client: scripted 500s, a time-out and a non-JSON answer are retried and
    recorded; a second store reuses the judge cache without asking again; the key reaches no file."""
    from fake_openai import FakeOpenAI, ok, sleep, status

    store, boards, secret = tmp_path / "runs", tmp_path / "boards", "sk-test-TOOLS-SECRET-42"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIFFLM_JUDGE", "OPENAI_"))}
    env.update(TQDM_DISABLE="1", DIFFLM_JUDGE_API_KEY=secret, DIFFLM_JUDGE_TIMEOUT_S="1", DIFFLM_JUDGE_BACKOFF_S="0.01")
    with FakeOpenAI() as fake:
        fake.push(status(500), sleep(3), ok("not json at all"), status(500))
        cmd = [sys.executable, "-m", "harness", "run", "--task", "tools", "--methods", "real", "--profile", "smoke",
               "--limit", "40", "--judge-base-url", fake.url, "--judge-model", "fake-judge", "--judge-limit", "12"]
        r = subprocess.run(cmd + ["--store", str(store)], cwd=REPO, capture_output=True, text=True, env=env, timeout=600)
        assert r.returncode == 0, r.stderr[-3000:]
        asked = len(fake.requests)
        rec = json.loads(next(store.rglob("record.json")).read_text())
        m = rec["metrics"]
        assert m["judge_model"] == "fake-judge" and m["judge"]["status"] == "judged"
        assert m["judge_scores"]["real"]["n_judged"] == 12 and m["judge_scores"]["syn"]["n_failed"] == 0
        assert {"judge_faithful_win", "judge_category_win"} <= set(m)
        cache = next(store.rglob("cache.jsonl"))
        failures = [f for line in cache.read_text().splitlines() for f in json.loads(line).get("failures", [])]
        assert len(failures) >= 4                          # 500, time-out, non-JSON, 500: each recorded
        # the same jobs in a fresh store with the judge cache copied: no request is made again
        (tmp_path / "again" / "_cache" / "judge").mkdir(parents=True)
        (tmp_path / "again" / "_cache" / "judge" / "cache.jsonl").write_bytes(cache.read_bytes())
        r = subprocess.run(cmd + ["--store", str(tmp_path / "again")], cwd=REPO, capture_output=True, text=True,
                           env=env, timeout=600)
        assert r.returncode == 0 and len(fake.requests) == asked
    for path in [*store.rglob("*"), *(tmp_path / "again").rglob("*")]:
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
    assert secret not in r.stdout + r.stderr
    r = subprocess.run([sys.executable, "-m", "harness", "leaderboard", "--store", str(store), "--include-smoke",
                        "--out", str(boards)], cwd=REPO, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    page = (boards / "tools.md").read_text()
    assert "fake-judge" in page and "Table 3" in page and list((boards / "figures").glob("tools-scores-*.png"))
    if "⚠ uncalibrated judge |" in page:          # a marked row says why, under the table
        assert "judge fake-judge, seed 0 (record " in page


def test_judge_failures_mark_the_record_and_the_next_run_asks_only_those_again(tmp_path):
    """Requests that fail for good (here 401s, which are not retried) leave the record `scoring_incomplete`; the same
    command again scores that job's stored synthetic data once more and asks only the failed requests."""
    from fake_openai import FakeOpenAI, status

    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIFFLM_JUDGE", "OPENAI_"))}
    env.update(TQDM_DISABLE="1", DIFFLM_JUDGE_BACKOFF_S="0.01")
    with FakeOpenAI() as fake:
        fake.push(status(401), status(401), status(401))
        cmd = [sys.executable, "-m", "harness", "run", "--task", "tools", "--methods", "real", "--profile", "smoke",
               "--limit", "40", "--judge-base-url", fake.url, "--judge-model", "fake-judge", "--judge-limit", "8",
               "--judge-mode", "faithful", "--store", str(tmp_path)]
        r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=env, timeout=600)
        assert r.returncode == 0, r.stderr[-3000:]
        assert "scores incomplete" in r.stderr
        path = next(tmp_path.rglob("record.json"))
        rec = json.loads(path.read_text())
        assert rec["status"] == "ok" and "scores: 3" in rec["scoring_incomplete"]
        assert rec["metrics"]["judge_scores"]["real"]["n_failed"] == 3
        first = len(fake.requests)
        r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=env, timeout=600)
        assert r.returncode == 0, r.stderr[-3000:]
        assert "scores its synthetic data again" in r.stdout + r.stderr
        assert len(fake.requests) == first + 3
        again = json.loads(path.read_text())
        assert again["job_id"] == rec["job_id"] and "scoring_incomplete" not in again and "synthetic_from" not in again
        assert again["metrics"]["judge_scores"]["real"]["n_failed"] == 0
        r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=env, timeout=600)
        assert r.returncode == 0 and len(fake.requests) == first + 3
        assert "reusing finished record" in r.stdout + r.stderr
