"""The LLM judge of the tools task (docs/spec/code_and_tool_protocol.md §2.3-2.5, §5): an OpenAI-compatible
endpoint asked with the authors' prompts, our own retries, and an append-only JSONL cache.

Cache: one line per finished request, written under a lock and flushed at once, so a killed run loses nothing and a
rerun asks only what is missing; aggregation can replay it offline (`ask_many(..., cache_only=True)`). The key is
sha256 of json.dumps([model, messages, params], sort_keys=True), params = temperature, json_mode, seed (+ `replica`
for the 2nd, 3rd... copy of the same prompt in one call, so duplicate records are judged independently, as the
authors' per-line loop did). The base_url is left out on purpose: the same model behind another URL (a proxy, a
local mirror) gives the same judgement. Failed requests are written too (ok: false) for the record, but only ok
lines count as hits, so a rerun retries them. One writer per cache file at a time.

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
from urllib.parse import urlsplit, urlunsplit

from tqdm.auto import tqdm

from tasks.tools.answers import PARSERS, ParseError  # noqa: F401 (ParseError: callers catch it from here)

SYSTEM = "You are a helpful annotator, that help user to annotate data."
NOT_CONFIGURED = ("no judge configured: pass --judge-base-url and --judge-model or set "
                  "DIFFLM_JUDGE_BASE_URL/DIFFLM_JUDGE_MODEL")


@dataclass
class JudgeConfig:
    base_url: str | None = None
    model: str | None = None
    api_key_env: str = "DIFFLM_JUDGE_API_KEY"   # the env var's name only; OPENAI_API_KEY is the fallback
    temperature: float = 1.0                    # the paper's; the authors' code left the API default (also 1.0)
    seed: int | None = None                     # sent only when set: many servers ignore it
    concurrency: int = 3                        # the authors' semaphore
    max_retries: int = 5                        # retries after the first attempt
    timeout_s: float = 60.0
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0
    json_mode: bool = True                      # response_format={"type": "json_object"}, as the authors asked

    @classmethod
    def from_options(cls, base_url: str | None = None, model: str | None = None, **kw) -> "JudgeConfig":
        """Flags win over the environment (DIFFLM_JUDGE_BASE_URL, then OPENAI_BASE_URL; DIFFLM_JUDGE_MODEL).
        Keyword options left at None keep their defaults, so a CLI can pass its flags through unchanged; the
        environment may tune the client (DIFFLM_JUDGE_TIMEOUT_S, DIFFLM_JUDGE_CONCURRENCY, DIFFLM_JUDGE_BACKOFF_S)."""
        tuning = {"timeout_s": ("DIFFLM_JUDGE_TIMEOUT_S", float), "concurrency": ("DIFFLM_JUDGE_CONCURRENCY", int),
                  "backoff_base_s": ("DIFFLM_JUDGE_BACKOFF_S", float)}
        for name, (env, cast) in tuning.items():
            if kw.get(name) is None and os.environ.get(env):
                kw[name] = cast(os.environ[env])
        return cls(base_url=base_url or os.environ.get("DIFFLM_JUDGE_BASE_URL") or os.environ.get("OPENAI_BASE_URL")
                   or None, model=model or os.environ.get("DIFFLM_JUDGE_MODEL") or None,
                   **{k: v for k, v in kw.items() if v is not None})

    def configured(self) -> tuple[bool, str]:
        if not self.base_url or not self.model:
            return False, NOT_CONFIGURED
        return True, ""

    def describe(self) -> dict:
        """What a record keeps: never the key (nor a hash of it), and the URL without user info or query."""
        url = None
        if self.base_url:
            p = urlsplit(self.base_url)
            url = urlunsplit((p.scheme, p.netloc.rsplit("@", 1)[-1], p.path, "", ""))
        return {"base_url": url, "model": self.model, "temperature": self.temperature, "json_mode": self.json_mode,
                "seed": self.seed}

    def _api_key(self) -> str:
        # local servers (vLLM, llama.cpp) need no key, but the client insists on one
        return os.environ.get(self.api_key_env) or os.environ.get("OPENAI_API_KEY") or "EMPTY"


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


def _retryable(status: int | None) -> bool:
    return status is None or status in (408, 409, 429) or status >= 500


class Judge:
    def __init__(self, config: JudgeConfig, cache_path: str | Path):
        self.config, self.cache_path = config, Path(cache_path)
        self._lock = threading.Lock()
        self._client = None
        self._json_rejected = False       # the server answered 400 to response_format: stop sending it
        self._hits: dict[str, dict] = {}      # key -> the cache line of a successful request
        # errors="replace": a kill can tear a line inside a multi-byte character
        lines = self.cache_path.read_text("utf-8", errors="replace").splitlines() if self.cache_path.exists() else []
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:         # a torn line: that request is asked again
                continue
            if isinstance(entry, dict) and entry.get("ok"):
                self._hits[entry["key"]] = entry

    def messages(self, user: str) -> list[dict]:
        return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]

    def key(self, user: str, replica: int = 0) -> str:
        cfg = self.config
        params = {"temperature": cfg.temperature, "json_mode": cfg.json_mode, "seed": cfg.seed}
        if replica:
            params["replica"] = replica
        blob = json.dumps([cfg.model, self.messages(user), params], sort_keys=True)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def ask_many(self, prompts: list[str], *, kind: str, progress: bool = True,
                 cache_only: bool = False) -> list[JudgeAnswer]:
        """One answer per prompt, in order; failures come back as answers with ok=False, never as exceptions.
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
                out[i] = JudgeAnswer(kind, k, True, e["parsed"], e["raw"], None, e["failures"], e["attempts"],
                                     e.get("json_mode"), cached=True)
            elif cache_only:
                out[i] = JudgeAnswer(kind, k, False, error="not in the cache")
            else:
                todo.append(i)
        if todo:
            ok, why = self.config.configured()
            if not ok:
                raise ValueError(why)
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
                        bar.update(1)
        return out

    def _ask(self, user: str, key: str, kind: str, f) -> JudgeAnswer:
        cfg, messages = self.config, self.messages(user)
        ans = JudgeAnswer(kind, key, False)
        use_json, dropped_json = cfg.json_mode and not self._json_rejected, False
        budget = 1 + cfg.max_retries
        while ans.attempts < budget:
            ans.attempts += 1
            try:
                ans.raw = self._scrub(self._call(messages, use_json))
                ans.parsed, ans.ok, ans.json_mode = PARSERS[kind](ans.raw), True, use_json
                self._json_rejected |= dropped_json
                break
            except Exception as e:     # every failure is recorded, none escapes the judge
                status = getattr(e, "status_code", None)     # only HTTP errors have one
                ans.failures.append({"type": "parse" if isinstance(e, ParseError) else type(e).__name__,
                                     "status": status, "message": self._scrub(str(getattr(e, "message", e)))[:300]})
            if ans.failures[-1]["status"] == 400 and use_json and not dropped_json:
                # many local servers reject response_format: ask once more without it, outside the retry budget
                use_json, dropped_json, budget = False, True, budget + 1
                continue
            if not _retryable(ans.failures[-1]["status"]) or ans.attempts >= budget:
                break
            # exponential back-off with jitter, so that concurrent workers do not retry in step
            delay = min(cfg.backoff_max_s, cfg.backoff_base_s * 2 ** (ans.attempts - 1))
            time.sleep(delay * (0.5 + random.random() / 2))
        if not ans.ok:
            last = ans.failures[-1]
            ans.parsed, ans.error = None, (f"{last['type']}{' ' + str(last['status']) if last['status'] else ''}: "
                                           f"{last['message']} (after {ans.attempts} attempt(s))")
        entry = {"key": key, "kind": kind, "model": cfg.model, "messages": messages, "ok": ans.ok, "raw": ans.raw,
                 "parsed": ans.parsed, "error": ans.error, "failures": ans.failures, "attempts": ans.attempts,
                 "json_mode": ans.json_mode, "time": time.time()}
        entry = self._scrub(entry)
        with self._lock:
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")
            f.flush()
            if ans.ok:
                self._hits[key] = entry
        return ans

    def _call(self, messages: list[dict], use_json: bool) -> str:
        with self._lock:
            if self._client is None:
                import openai     # on first use only: a config or a cache replay needs no client

                # max_retries=0: we retry ourselves so that every failed attempt is recorded
                self._client = openai.OpenAI(base_url=self.config.base_url, api_key=self.config._api_key(),
                                             max_retries=0, timeout=self.config.timeout_s)
        kw = {"temperature": self.config.temperature}
        if self.config.seed is not None:
            kw["seed"] = self.config.seed
        if use_json:
            kw["response_format"] = {"type": "json_object"}
        resp = self._client.chat.completions.create(model=self.config.model, messages=messages, **kw)
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
