"""The tools judge against a real OpenAI-compatible server: `transformers serve` on loopback with a tiny random-init
Llama built here (the packaged SmolLM2's tokenizer and chat template), through the CLI. A random model writes no
JSON, so this is also the server that ignores JSON mode; then a wrong model id, then the server down. Each ends
with one clear line on screen and in the record, and a rerun asks nothing twice."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from harness.api.models import gguf_tokenizer, tiny_llama

    folder = tmp_path_factory.mktemp("tiny-judge")
    tok = gguf_tokenizer("smollm2")
    tiny_llama(tok, seed=0).save_pretrained(folder)
    tok.save_pretrained(folder)
    port, log = _free_port(), open(folder / "serve.log", "w")
    cli = os.path.join(os.path.dirname(sys.executable), "transformers")     # the console script of this venv
    proc = subprocess.Popen([cli, "serve", str(folder), "--host",
                             "127.0.0.1", "--port", str(port), "--device", "cpu"], stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"})
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "/health", timeout=2)
            break
        except OSError:
            if proc.poll() is not None:
                raise AssertionError((folder / "serve.log").read_text()[-3000:])
            time.sleep(0.5)
    else:
        proc.kill()
        raise AssertionError("transformers serve did not come up:\n" + (folder / "serve.log").read_text()[-3000:])
    yield {"url": url + "/v1", "model": str(folder), "proc": proc, "log": folder / "serve.log"}
    proc.terminate()
    proc.wait(timeout=30)


def _run(store, url, model, *extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIFFLM_JUDGE", "OPENAI_"))}
    env.update(TQDM_DISABLE="1", DIFFLM_JUDGE_BACKOFF_S="0.01")
    cmd = [sys.executable, "-m", "harness", "run", "--task", "tools", "--methods", "real", "--profile", "smoke",
           "--limit", "40", "--judge-base-url", url, "--judge-model", model, "--judge-limit", "3",
           "--judge-mode", "category", "--judge-max-tokens", "12", "--store", str(store), *extra]
    r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=env, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    return r, json.loads(next(store.rglob("record.json")).read_text())


def _posts(log) -> int:
    return log.read_text().count("POST /v1/chat/completions")


def test_a_judged_run_against_transformers_serve(server, tmp_path):
    r, rec = _run(tmp_path / "store", server["url"], server["model"])
    m = rec["metrics"]
    assert m["judge"]["status"] == "judged" and m["judge"]["served"] == [server["model"]]
    assert m["judge"]["max_tokens"] == 12
    # a random model writes prose: the server ignored JSON mode, every answer counted and none parsed
    assert m["judge_ignored_structure"] > 0 and "ignored the request for JSON" in r.stderr
    assert m["judge_parse_rate"] == 0 and not m["judge_calibration"]["calibrated"]
    assert "judge uncalibrated" in r.stderr and {"judge_null_category_win", "judge_null_gap"} <= set(m)
    assert "scoring_incomplete" not in rec            # unparseable answers are final: nothing left to ask
    asked = _posts(server["log"])
    assert asked > 0
    # the same job in a fresh store with the judge's cache: every answer, the unparseable ones too, comes from it
    (tmp_path / "again" / "_cache" / "judge").mkdir(parents=True)
    (tmp_path / "again" / "_cache" / "judge" / "cache.jsonl").write_bytes(
        next((tmp_path / "store").rglob("cache.jsonl")).read_bytes())
    _, again = _run(tmp_path / "again", server["url"], server["model"])
    assert _posts(server["log"]) == asked and again["metrics"]["judge_calibration"]["stats"]["cached"] > 0


def test_a_wrong_model_id_is_refused_in_one_line(server, tmp_path):
    before = _posts(server["log"])
    r, rec = _run(tmp_path / "store", server["url"], "gpt-4")
    assert f"does not serve model 'gpt-4'; it serves: {server['model']}" in r.stderr
    assert rec["metrics"]["judge"]["status"] == "error" and "gpt-4" in rec["scoring_incomplete"]
    assert _posts(server["log"]) == before


def test_a_server_that_is_down_is_refused_in_one_line(tmp_path):
    url = f"http://127.0.0.1:{_free_port()}/v1"
    r, rec = _run(tmp_path / "store", url, "any")
    assert "does not answer" in r.stderr and rec["metrics"]["judge"]["status"] == "error"
    assert "judge not asked" in rec["scoring_incomplete"]
