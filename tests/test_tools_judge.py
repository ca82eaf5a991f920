"""The tools judge against a fake OpenAI-compatible server, through the real `openai` client: cache and resume,
retries, parsing, secret hygiene, score summary and both preference modes. Seconds, no network."""
import json
import logging
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fake_openai import FakeOpenAI, drop, echo_auth, fake_score, ok, sleep, status

from tasks.tools.answers import parse_preference, parse_score
from tasks.tools.judge import NOT_CONFIGURED, Judge, JudgeConfig
from tasks.tools.preference import fill, preference, prompt, score_records, score_summary

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "docs" / "spec" / "code_and_tool_protocol.md"
ENV = ("DIFFLM_JUDGE_API_KEY", "OPENAI_API_KEY", "DIFFLM_JUDGE_BASE_URL", "OPENAI_BASE_URL", "DIFFLM_JUDGE_MODEL")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for k in ENV:
        monkeypatch.delenv(k, raising=False)


@pytest.fixture
def fake():
    with FakeOpenAI() as f:
        yield f


def cfg(fake, **kw) -> JudgeConfig:
    base = dict(base_url=fake.url, model="judge-m", backoff_base_s=0.01, backoff_max_s=0.02, timeout_s=5.0)
    return JudgeConfig(**{**base, **kw})


def records(n: int, tool: str = "tool") -> list[dict]:
    return [{"tool_name": tool, "tool_description": f"does thing {i}", "api_name": f"{tool}_api_{i}",
             "api_description": "é ü " * i, "parameters": {"type": "object", "properties": {}, "required": []}}
            for i in range(n)]


def test_prompts_verbatim():
    score, pref = prompt("score_tool"), prompt("preference_tool")
    assert score.startswith("\nGiven a API, evaluate it and assign a score from 0 to 10 (with 10 being the highest")
    assert score.endswith("API:\n{api_data}\n\nNow, provide your answer.\n") and score.count("{") == 1
    assert "understanding of the API\u2019s capabilities?" in score
    assert pref.startswith("\nGiven two sets of tools under the same category, you need to determine better_set")
    assert 'indicate better_set as "A" or "B. If both sets are of similar quality, indicate better_set as ' \
           '\u201cequal\u201d.\n' in pref
    assert "reflect each tool\u2019s functionality." in pref
    assert "Set A:\n{set_a_data}\n\nSet B:\n{set_b_data}\n\n" in pref
    assert pref.endswith('indicate "better_set" ("A" or "B" or "equal") in JSON format.\n')
    text = SPEC.read_text(encoding="utf-8")     # byte for byte against the protocol's code blocks
    assert "\n" + score.lstrip("\n") in text and pref[1:] in text
    # placeholders are filled once: a record that contains a placeholder's text stays as it is
    assert fill("{set_a_data}|{set_b_data}", set_a_data="{set_b_data}", set_b_data="x") == "{set_b_data}|x"


def test_parsing():
    assert parse_score('{"reason": "r", "score": 7}') == {"score": 7, "reason": "r"}
    assert parse_score('{"score": "7"}')["score"] == 7 and parse_score('{"score": 7.0}')["score"] == 7
    assert parse_score('Sure!\n```json\n{"reason": "a } in {text}", "score": 3}\n```\nHope it helps')["score"] == 3
    assert parse_score('noise {not json} then {"score": 10, "reason": {"nested": 1}}')["score"] == 10
    for bad in ('{"score": 11}', '{"score": "seven"}', '{"score": 7.5}', '{"score": true}', "no json", "", None,
                '{"reason": "no score"}', "[1, 2]"):
        with pytest.raises(ValueError):
            parse_score(bad)
    assert parse_preference('{"better_set": "Equal"}')["better_set"] == "equal"
    assert parse_preference('{"better_set": "\\"b\\""}')["better_set"] == "B"
    assert parse_preference('I think {"reason": "x", "better_set": "Set A"}')["better_set"] == "A"
    with pytest.raises(ValueError):
        parse_preference('{"better_set": "C"}')


def test_config_from_options_and_describe(monkeypatch):
    c = JudgeConfig.from_options()
    assert c.configured() == (False, NOT_CONFIGURED)
    assert "--judge-base-url" in NOT_CONFIGURED and "DIFFLM_JUDGE_MODEL" in NOT_CONFIGURED
    assert not JudgeConfig.from_options(base_url="http://x/v1").configured()[0]
    monkeypatch.setenv("OPENAI_BASE_URL", "http://openai-env/v1")
    monkeypatch.setenv("DIFFLM_JUDGE_MODEL", "env-model")
    assert JudgeConfig.from_options().base_url == "http://openai-env/v1"
    monkeypatch.setenv("DIFFLM_JUDGE_BASE_URL", "http://judge-env/v1")
    c = JudgeConfig.from_options(concurrency=None, temperature=0.5)
    assert (c.base_url, c.model, c.concurrency, c.temperature) == ("http://judge-env/v1", "env-model", 3, 0.5)
    c = JudgeConfig.from_options(base_url="https://user:pw@flag/v1?api-key=k", model="flag-model")
    assert c.configured() == (True, "") and c.model == "flag-model"
    monkeypatch.setenv("DIFFLM_JUDGE_API_KEY", "sk-test-SECRET123")
    d = c.describe()
    assert d == {"base_url": "https://flag/v1", "model": "flag-model", "temperature": 1.0, "json_mode": True,
                 "seed": None, "structured": "object", "max_tokens": 512}
    assert "SECRET" not in repr(c) + json.dumps(d) and "pw" not in json.dumps(d)


def test_score_cache_hit_on_rerun(fake, tmp_path):
    recs = records(4) + records(1)                   # a duplicate record is judged again, not reused
    res = score_records(Judge(cfg(fake), tmp_path / "c.jsonl"), recs, progress=False)
    assert len(fake.requests) == 5 and all(r.error is None for r in res)
    sent = [r["body"] for r in fake.requests]
    assert all(b["model"] == "judge-m" and b["temperature"] == 1.0 and b["response_format"] == {"type": "json_object"}
               and b["messages"][0] == {"role": "system", "content": "You are a helpful annotator, that help user "
                                                                     "to annotate data."} for b in sent)
    users = {b["messages"][1]["content"] for b in sent}
    expected = fill(prompt("score_tool"), api_data=json.dumps(recs[1], ensure_ascii=False, indent=4))
    assert expected in users and "é ü" in expected
    assert [r.score for r in res] == [fake_score(fill(prompt("score_tool"), api_data=json.dumps(
        r, ensure_ascii=False, indent=4))) for r in recs]
    assert fake.requests[0]["headers"]["authorization"] == "Bearer EMPTY"   # no key set: the local-server stand-in
    again = score_records(Judge(cfg(fake), tmp_path / "c.jsonl"), recs, progress=False)
    assert len(fake.requests) == 5 and [r.score for r in again] == [r.score for r in res]
    # offline: the cache alone answers, even with no server and no URL
    offline = Judge(JudgeConfig(model="judge-m"), tmp_path / "c.jsonl")
    assert [a.parsed["score"] for a in offline.ask_many(
        [b["messages"][1]["content"] for b in sent[:2]], kind="score", progress=False, cache_only=True)]
    assert not offline.ask_many(["never asked"], kind="score", cache_only=True)[0].ok
    with pytest.raises(ValueError, match="no judge configured"):
        offline.ask_many(["never asked"], kind="score", progress=False)


def test_retries_are_recorded_then_succeed(fake, tmp_path):
    fake.push(status(500), sleep(1.5), ok("I cannot answer in JSON"), status(429), drop(),
              ok('Here you go:\n```json\n{"reason": "fine", "score": "8"}\n```'))
    [a] = Judge(cfg(fake, timeout_s=0.4), tmp_path / "c.jsonl").ask_many(["p"], kind="score", progress=False)
    assert a.ok and a.parsed == {"score": 8, "reason": "fine"} and a.attempts == 6
    assert [(f["type"], f["status"]) for f in a.failures] == [
        ("InternalServerError", 500), ("APITimeoutError", None), ("parse", None), ("RateLimitError", 429),
        ("APIConnectionError", None)]
    line = json.loads((tmp_path / "c.jsonl").read_text().splitlines()[-1])
    assert line["ok"] and line["attempts"] == 6 and len(line["failures"]) == 5 and line["messages"][1]["content"] == "p"


def test_permanent_failures_are_answers_and_retried_next_run(fake, tmp_path):
    fake.push(*[status(503)] * 3, status(401))
    judge = Judge(cfg(fake, max_retries=2, concurrency=1), tmp_path / "c.jsonl")
    a, b = judge.ask_many(["p1", "p2"], kind="score", progress=False)
    assert not a.ok and a.attempts == 3
    assert a.error == "InternalServerError 503: Error code: 503 - scripted failure (after 3 attempt(s))"
    assert not b.ok and b.attempts == 1 and "401" in b.error            # not retryable
    assert len(fake.requests) == 4
    lines = [json.loads(x) for x in (tmp_path / "c.jsonl").read_text().splitlines()]
    assert [x["ok"] for x in lines] == [False, False]                     # recorded, but not a cache hit
    assert all(x.ok for x in Judge(cfg(fake), tmp_path / "c.jsonl").ask_many(["p1", "p2"], kind="score",
                                                                             progress=False))
    assert len(fake.requests) == 6


def test_json_mode_rejected_once_then_remembered(fake, tmp_path):
    fake.reject_json_mode = True
    judge = Judge(cfg(fake, concurrency=1), tmp_path / "c.jsonl")
    answers = judge.ask_many(["p1", "p2", "p3"], kind="score", progress=False)
    assert all(a.ok for a in answers) and answers[0].json_mode is False and answers[0].attempts == 2
    assert answers[0].failures[0]["status"] == 400
    assert ["response_format" in r["body"] for r in fake.requests] == [True, False, False, False]


def test_secret_key_is_never_persisted_or_printed(fake, tmp_path, monkeypatch, capsys, caplog):
    secret = "sk-test-SECRET123"
    monkeypatch.setenv("DIFFLM_JUDGE_API_KEY", secret)
    caplog.set_level(logging.DEBUG)
    # p1: 500, 400 (json mode dropped), 400 again: failed; p2: 401; p3: the key in a valid answer; p4: everything else
    fake.push(echo_auth(500), echo_auth(400), echo_auth(400), echo_auth(401), echo_auth(200), drop(), status(429),
              sleep(1.0), ok("garbage " + secret))
    judge = Judge(cfg(fake, max_retries=3, concurrency=1, timeout_s=0.3), tmp_path / "c.jsonl")
    answers = judge.ask_many(["p1", "p2", "p3", "p4"], kind="score", progress=True)
    assert any(secret in r["headers"].get("authorization", "") for r in fake.requests)   # it was sent ...
    assert [a.ok for a in answers] == [False, False, True, False] and not fake.script
    out = capsys.readouterr()
    dump = "".join([(tmp_path / "c.jsonl").read_text(), out.out, out.err, caplog.text, repr(answers),
                    json.dumps([a.__dict__ for a in answers]), repr(judge.config), json.dumps(judge.config.describe())])
    assert "SECRET123" not in dump and "[redacted]" in dump                              # ... and kept nowhere


def test_killed_run_resumes_with_only_the_missing(tmp_path):
    with FakeOpenAI() as first:
        first.die_after = 2                          # the server goes away mid-run
        answers = Judge(cfg(first, concurrency=1), tmp_path / "c.jsonl").ask_many(
            [f"p{i}" for i in range(5)], kind="score", progress=False)
    assert [a.ok for a in answers] == [True, True, False, False, False]
    with FakeOpenAI() as second:                     # another port: the base_url is not part of the key
        answers = Judge(cfg(second), tmp_path / "c.jsonl").ask_many([f"p{i}" for i in range(5)], kind="score",
                                                                   progress=False)
        assert all(a.ok for a in answers) and [a.cached for a in answers] == [True, True, False, False, False]
        assert sorted(r["body"]["messages"][1]["content"] for r in second.requests) == ["p2", "p3", "p4"]


def test_sigkilled_process_and_torn_line_resume(fake, tmp_path):
    cache, asks = tmp_path / "c.jsonl", ["é0", "é1", "é2", "é3"]
    fake.push(ok('{"score": 1}'), ok('{"score": 2}'), sleep(30))       # the third request hangs: kill it there
    code = ("import sys; from tasks.tools.judge import Judge, JudgeConfig; "
            "Judge(JudgeConfig(base_url=sys.argv[1], model='judge-m', concurrency=1), sys.argv[2])"
            f".ask_many({asks!r}, kind='score', progress=False)")
    proc = subprocess.Popen([sys.executable, "-c", code, fake.url, str(cache)], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.time() + 30
    while len(fake.requests) < 3 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    data = cache.read_bytes()
    assert data.count(b"\n") == 2
    cut = data.index("é1".encode()) + 1        # and the second line torn inside a character, as a kill mid-write can
    cache.write_bytes(data[:cut])
    n = len(fake.requests)
    answers = Judge(cfg(fake), cache).ask_many(asks, kind="score", progress=False)
    assert all(a.ok for a in answers) and answers[0].parsed["score"] == 1 and answers[0].cached
    assert sorted(r["body"]["messages"][1]["content"] for r in fake.requests[n:]) == asks[1:]
    assert len(Judge(cfg(fake), cache)._hits) == 4                  # the new lines did not land on the torn one


def test_score_summary_hand_example():
    s = score_summary([4, 6, 5, None], [7, 9, 8, None, None])
    assert s["real"] == {"n": 4, "n_judged": 3, "n_failed": 1, "histogram": [0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0],
                         "mean": 5.0, "std": 1.0, "median": 5.0}
    assert s["syn"]["mean"] == 8.0 and s["syn"]["std"] == 1.0 and s["syn"]["n_failed"] == 2
    mw = s["mannwhitney"]
    assert mw["u"] == 0.0 and mw["cles"] == 0.0 and mw["p"] == pytest.approx(0.1)   # exact: 2 / C(6, 3)
    assert score_summary([], [None])["mannwhitney"] is None and score_summary([], [])["real"]["mean"] is None


def test_preference_faithful(fake, tmp_path):
    real = {"t2": records(2, "t2"), "t1": records(3, "t1")[::-1]}
    syn = {"t2": records(1, "t2"), "t3": records(2, "t3")}
    fake.push(*[ok('{"reason": "r", "better_set": "A"}')] * 3)
    res = preference(Judge(cfg(fake, concurrency=1), tmp_path / "c.jsonl"), real, syn, mode="faithful", seed=42,
                     progress=False)
    rng = random.Random(42)
    real_is_a = [rng.random() < 0.5 for _ in range(3)]               # one draw per group, groups sorted
    assert [r["group"] for r in res["rows"]] == ["t1", "t2", "t3"]
    assert [r["real_is_a"] for r in res["rows"]] == [[x] for x in real_is_a]
    assert [r["outcome"] for r in res["rows"]] == ["real" if x else "syn" for x in real_is_a]   # "A" mapped back
    users = [r["body"]["messages"][1]["content"] for r in fake.requests]
    t1_names = json.dumps(["t1_api_0", "t1_api_1", "t1_api_2"], indent=4)                    # names only, sorted
    assert f"Set {'A' if real_is_a[0] else 'B'}:\n{t1_names}\n" in users[0]
    assert f"Set {'B' if real_is_a[0] else 'A'}:\n[]\n" in users[0]                       # one-sided: against []
    assert "tool_description" not in users[1]
    s = res["summary"]
    assert (s["n_groups"], s["n_one_sided"], s["n_judged"], s["n_failed"]) == (3, 2, 3, 0)
    assert s["win"] + s["equal"] + s["lose"] == pytest.approx(100.0) and s["equal"] == 0.0
    assert res["judge"]["model"] == "judge-m"


def test_preference_category(fake, tmp_path):
    real = {"g0": records(1, "a"), "g1": records(2, "b"), "g2": records(1, "c"), "only_real": records(1, "d")}
    syn = {"g0": records(1, "e"), "g1": records(1, "f"), "g2": records(2, "g"), "only_syn": records(1, "h")}
    A, B = (ok(f'{{"reason": "r", "better_set": "{x}"}}') for x in ("A", "B"))
    fake.push(status(401), A, A, B, A, A)       # g0 fails in one order; g1 agrees on real; g2 disagrees
    res = preference(Judge(cfg(fake, concurrency=1), tmp_path / "c.jsonl"), real, syn, mode="category",
                     progress=False)
    rows = {r["group"]: r for r in res["rows"]}
    assert rows["g1"]["real_is_a"] == [True, False] and rows["g1"]["answers"] == ["A", "B"]
    assert (rows["g0"]["outcome"], rows["g1"]["outcome"], rows["g2"]["outcome"]) == (None, "real", "equal")
    assert rows["g0"]["failures"] and rows["only_real"]["outcome"] is None and rows["only_syn"]["one_sided"]
    users = [r["body"]["messages"][1]["content"] for r in fake.requests]
    assert json.dumps(records(2, "b"), indent=4, ensure_ascii=False) in users[2]          # full records
    assert users[2].index("b_api_0") < users[2].index("f_api_0") and users[3].index("f_api_0") < users[3].index(
        "b_api_0")                                                                         # both orders
    s = res["summary"]
    assert (s["n_groups"], s["n_one_sided"], s["n_judged"], s["n_failed"]) == (3, 2, 2, 1)
    assert (s["win"], s["equal"], s["lose"]) == (0.0, 50.0, 50.0)
    assert s["counts"] == {"syn": 0, "equal": 1, "real": 1}
