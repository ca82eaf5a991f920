"""The LLM judge of the tools task (docs/spec/code_and_tool_protocol.md §2.3-2.5, §5): an OpenAI-compatible
endpoint asked with the authors' prompts, our own retries, and an append-only JSONL cache.

Cache: one line per finished request, written under a lock and flushed at once, so a killed run loses nothing and a
rerun asks only what is missing; aggregation can replay it offline (`ask_many(..., cache_only=True)`). The key is
sha256 of json.dumps([model, messages, params], sort_keys=True), params = JudgeConfig.key_params() (+ `replica`
for the 2nd, 3rd... copy of the same prompt in one call, so duplicate records are judged independently, as the
authors' per-line loop did). The base_url is left out on purpose: the same model behind another URL (a proxy, a
local mirror) gives the same judgement. Failed requests are written too (ok: false) for the record; a request the
server answered every time with something unparseable is final (a judgement that failed: asked again it would fail
again), one that never got an answer (down, time-outs, 5xx) is asked again by the next run. One writer per cache file.
A real server (tasks/tools/server.py) is checked once before the first request: down, or not serving the model,
and nothing is asked (JudgeUnavailable); one that stops answering mid-run is not asked the rest of this run.

The API key is read from the environment when the client is built and is never stored in a config, a cache line, a
record or a message: every string we keep passes through `_scrub`, which also covers servers that echo headers.
The judgements themselves (scores, preference) live in tasks/tools/preference.py and are re-exported here.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from tasks.tools import server
from tasks.tools.answers import PARSERS, ParseError  # noqa: F401 (ParseError: callers catch it from here)
from tasks.tools.judge_config import NOT_CONFIGURED, JudgeConfig  # noqa: F401 (callers import them from here)
from tasks.tools.server import JudgeUnavailable  # noqa: F401

SYSTEM = "You are a helpful annotator, that help user to annotate data."


@dataclass
class JudgeAnswer:
    kind: str
    key: str
    ok: bool
    parsed: dict | None = None        # score: {"score", "reason"}; preference: {"better_set", "reason"}
    raw: str | None = None            # the last answer text received (scrubbed)
    error: str | None = None          # why it failed in the end
    failures: list[dict] = field(default_factory=list)   # every failed attempt: {"type", "status", "message"}
    attempts: int = 0
    json_mode: bool | None = None     # whether response_format was sent on the answering attempt
    cached: bool = False
    ignored_structure: bool = False   # JSON was asked for and the answer was not a bare JSON object
    final: bool = False               # answered but never parseable: a judgement that failed, not asked again


def _retryable(status: int | None) -> bool:
    return status is None or status in (408, 409, 429) or status >= 500


CONNECTION = ("APIConnectionError", "APITimeoutError")


class Judge:
    def __init__(self, config: JudgeConfig, cache_path: str | Path):
        self.config, self.cache_path = config, Path(cache_path)
        self._lock = threading.Lock()
        self._client = None
        self._rejected: set = set()       # structured-output levels the server answered 400 to: not sent again
        self._down: str | None = None     # the server stopped answering: the rest is not asked in this run
        self._checked = False
        self.served: list[str] = []       # what /v1/models listed
        self.stats: Counter = Counter()   # asked, answered, parsed, unparsed, ignored_structure, not_asked, cached
        self._hits: dict[str, dict] = {}      # key -> the cache line of a finished request
        # errors="replace": a kill can tear a line inside a multi-byte character
        lines = self.cache_path.read_text("utf-8", errors="replace").splitlines() if self.cache_path.exists() else []
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:         # a torn line: that request is asked again
                continue
            if isinstance(entry, dict) and (entry.get("ok") or entry.get("final")):
                self._hits[entry["key"]] = entry

    def messages(self, user: str) -> list[dict]:
        return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]

    def key(self, user: str, replica: int = 0) -> str:
        params = self.config.key_params()
        if replica:
            params["replica"] = replica
        blob = json.dumps([self.config.model, self.messages(user), params], sort_keys=True)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def ask_many(self, prompts: list[str], *, kind: str, progress: bool = True,
                 cache_only: bool = False) -> list[JudgeAnswer]:
        """One answer per prompt, in order; failures come back as answers with ok=False, never as exceptions, except
        JudgeUnavailable before anything is asked (server down, a model it does not serve).
        cache_only: answer from the cache alone (offline rebuild); a missing one is an answer with an error."""
        if kind not in PARSERS:
            raise ValueError(f"unknown judgement kind {kind!r}: expected one of {sorted(PARSERS)}")
        seen: Counter = Counter()
        keys = []
        for p in prompts:
            keys.append(self.key(p, seen[p]))
            seen[p] += 1
        out: list[JudgeAnswer | None] = [None] * len(prompts)
        todo = []
        for i, k in enumerate(keys):
            if k in self._hits:
                e = self._hits[k]
                out[i] = JudgeAnswer(kind, k, bool(e.get("ok")), e["parsed"], e["raw"], e.get("error"), e["failures"],
                                     e["attempts"], e.get("json_mode"), True, bool(e.get("ignored_structure")),
                                     bool(e.get("final")))
                self._count(out[i])
            elif cache_only:
                out[i] = JudgeAnswer(kind, k, False, error="not in the cache")
            else:
                todo.append(i)
        if todo:
            ok, why = self.config.configured()
            if not ok:
                raise ValueError(why)
            self.check()
            self.cache_path.parent.mkdir(parents=True, exist_ok=True)
            if self.cache_path.exists() and self.cache_path.stat().st_size:
                with open(self.cache_path, "rb+") as fb:     # a torn last line must not swallow the next one
                    fb.seek(-1, os.SEEK_END)
                    if fb.read(1) != b"\n":
                        fb.write(b"\n")
            with open(self.cache_path, "a", encoding="utf-8") as f, \
                    tqdm(total=len(prompts), initial=len(prompts) - len(todo), desc=f"judge {kind}", unit="request",
                         disable=not progress) as bar:
                with ThreadPoolExecutor(max(1, self.config.concurrency)) as pool:
                    futs = {pool.submit(self._ask, prompts[i], keys[i], kind, f): i for i in todo}
                    for fut in as_completed(futs):
                        out[futs[fut]] = fut.result()
                        self._count(out[futs[fut]])
                        bar.update(1)
        return out

    def _count(self, ans: JudgeAnswer) -> None:
        with self._lock:
            self.stats["cached" if ans.cached else "asked"] += 1
            if ans.ok or ans.final:
                self.stats["parsed" if ans.ok else "unparsed"] += 1
            elif ans.error and ans.error.startswith("not asked"):
                self.stats["not_asked"] += 1
            self.stats["ignored_structure"] += ans.ignored_structure

    def check(self) -> None:
        """Once per judge: is the server up, and does it serve our model? (tasks/tools/server.py)"""
        if not self._checked:
            self.served = server.check(self._client_(), self.config.model, self.config.base_url)
            self._checked = True

    def _ask(self, user: str, key: str, kind: str, f) -> JudgeAnswer:
        cfg, messages = self.config, self.messages(user)
        ans = JudgeAnswer(kind, key, False)
        if self._down:
            ans.error = f"not asked: {self._down}"
            return ans
        levels = [lv for lv in server.LEVELS[server.LEVELS.index(cfg.first_level()):] if lv not in self._rejected]
        level, budget, parse_failures = levels[0], 1 + cfg.max_retries, 0
        while ans.attempts < budget:
            ans.attempts += 1
            try:
                ans.raw = self._scrub(self._call(messages, level, kind))
                ans.ignored_structure = server.ignored_structure(level, ans.raw)
                ans.parsed, ans.ok, ans.json_mode = PARSERS[kind](ans.raw), True, level is not None
                break
            except Exception as e:     # every failure is recorded, none escapes the judge
                status = getattr(e, "status_code", None)     # only HTTP errors have one
                parse = isinstance(e, ParseError)
                message = str(getattr(e, "message", e))
                if parse and ans.ignored_structure:
                    message += " (the server ignored the request for JSON: the answer is prose)"
                ans.failures.append({"type": "parse" if parse else type(e).__name__,
                                     "status": status, "message": self._scrub(message)[:300]})
                parse_failures += parse
            if ans.failures[-1]["status"] == 400 and level is not None:
                # many local servers reject response_format: step down (schema -> object -> none), outside the budget
                self._rejected.add(level)
                level = levels[levels.index(level) + 1] if levels.index(level) + 1 < len(levels) else None
                budget += 1
                continue
            if parse_failures > cfg.parse_retries:
                break
            if not _retryable(ans.failures[-1]["status"]) or ans.attempts >= budget:
                break
            # exponential back-off with jitter, so that concurrent workers do not retry in step
            delay = min(cfg.backoff_max_s, cfg.backoff_base_s * 2 ** (ans.attempts - 1))
            time.sleep(delay * (0.5 + random.random() / 2))
        if not ans.ok:
            last = ans.failures[-1]
            ans.parsed, ans.error = None, (f"{last['type']}{' ' + str(last['status']) if last['status'] else ''}: "
                                           f"{last['message']} (after {ans.attempts} attempt(s))")
            ans.final = last["type"] == "parse"          # the server answered: asking again changes nothing
            if last["type"] in CONNECTION:
                self._down = f"the judge server stopped answering ({last['type']}); the next run asks the rest"
        entry = {"key": key, "kind": kind, "model": cfg.model, "messages": messages, "ok": ans.ok, "raw": ans.raw,
                 "parsed": ans.parsed, "error": ans.error, "failures": ans.failures, "attempts": ans.attempts,
                 "json_mode": ans.json_mode, "ignored_structure": ans.ignored_structure, "final": ans.final,
                 "time": time.time()}
        entry = self._scrub(entry)
        with self._lock:
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")
            f.flush()
            if ans.ok or ans.final:
                self._hits[key] = entry
        return ans

    def _client_(self):
        with self._lock:
            if self._client is None:
                import openai     # on first use only: a config or a cache replay needs no client

                # max_retries=0: we retry ourselves so that every failed attempt is recorded
                self._client = openai.OpenAI(base_url=self.config.base_url, api_key=self.config._api_key(),
                                             max_retries=0, timeout=self.config.timeout_s)
            return self._client

    def _call(self, messages: list[dict], level: str | None, kind: str) -> str:
        kw = {"temperature": self.config.temperature}
        if self.config.seed is not None:
            kw["seed"] = self.config.seed
        if self.config.max_tokens is not None:
            kw["max_tokens"] = self.config.max_tokens
        fmt = server.response_format(level, kind)
        if fmt is not None:
            kw["response_format"] = fmt
        resp = self._client_().chat.completions.create(model=self.config.model, messages=messages, **kw)
        if not resp.choices:
            raise ParseError("the answer has no choices")
        return resp.choices[0].message.content or ""

    def _scrub(self, obj):
        """Remove the API key from any string (recursively): servers may echo the Authorization header."""
        key = self.config._api_key()
        if len(key) < 8:                  # a placeholder like "EMPTY" is no secret, and replacing it would mangle text
            return obj
        if isinstance(obj, str):
            return obj.replace(key, "[redacted]")
        if isinstance(obj, dict):
            return {k: self._scrub(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self._scrub(v) for v in obj]
        return obj
