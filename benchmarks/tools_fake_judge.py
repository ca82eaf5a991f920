"""Exercise the tools task's judge end to end on stored runs, offline: a local OpenAI-compatible fake server
(tests/fake_openai.py) answers through the real client code, with scripted HTTP 500s, a time-out, a non-JSON
answer and a dropped connection; the run is killed (SIGKILL to its process group) part way through the judging,
the same command is run again against a fresh server (it asks only what the cache lacks), and a third time (the
jobs are finished: it asks nothing). Finally every file under the store and every line printed is searched for
the API key.

A pipeline exercise, never a quality measurement: the fake judge's scores are a function of the prompt length.

    python benchmarks/tools_fake_judge.py [--methods real,difflm] [--profile cpu] [--store runs] [harness run flags]
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from fake_openai import FakeOpenAI, drop, ok, sleep, status  # noqa: E402

SECRET = "sk-fake-judge-DEMO-SECRET-7f3a"


def run(cmd: list[str], env: dict, fake: FakeOpenAI, kill_after: int | None) -> tuple[int, str]:
    """Run cmd; with kill_after, SIGKILL its process group once the server has seen that many requests."""
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            start_new_session=True)
    if kill_after is not None:
        while proc.poll() is None and len(fake.requests) < kill_after:
            time.sleep(0.05)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    out, _ = proc.communicate()
    print(out[-1500:], file=sys.stderr)
    return proc.returncode, out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--methods", default="real,difflm")
    p.add_argument("--profile", default="cpu")
    p.add_argument("--store", default="runs")
    p.add_argument("--kill-after", type=int, default=300, help="kill the first run after this many requests")
    args, extra = p.parse_known_args()     # anything else goes to `harness run` (e.g. --limit 60)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIFFLM_JUDGE", "OPENAI_"))}
    env.update(DIFFLM_JUDGE_API_KEY=SECRET, DIFFLM_JUDGE_TIMEOUT_S="1", DIFFLM_JUDGE_BACKOFF_S="0.01",
               TQDM_DISABLE="1")
    base = [sys.executable, "-m", "harness", "run", "--task", "tools", "--methods", args.methods,
            "--profile", args.profile, "--store", args.store, "--judge-model", "fake-judge", "--no-leaderboard", *extra]
    asked, printed = [], ""
    for attempt, script in enumerate(([status(500), sleep(3), ok("not json at all"), drop(), status(500)], [], [])):
        with FakeOpenAI() as fake:
            fake.push(*script)
            code, out = run(base + ["--judge-base-url", fake.url], env, fake, args.kill_after if attempt == 0 else None)
            asked.append(len(fake.requests))
            printed += out
            print(f"run {attempt + 1}: exit {code}, {len(fake.requests)} requests", file=sys.stderr)
    leaks = [str(f) for f in Path(args.store).rglob("*") if f.is_file() and SECRET.encode() in f.read_bytes()]
    summary = {"requests_per_run": asked, "key_in_files": leaks, "key_printed": SECRET in printed}
    cache = Path(args.store) / "_cache" / "judge" / "cache.jsonl"
    if cache.exists():
        lines = [json.loads(line) for line in cache.read_text().splitlines()]
        summary["cache_lines"] = len(lines)
        summary["failed_attempts_recorded"] = sum(len(x.get("failures", [])) for x in lines)
    print(json.dumps(summary, indent=1))
    if leaks or summary["key_printed"]:
        raise SystemExit("the API key leaked")


if __name__ == "__main__":
    main()
