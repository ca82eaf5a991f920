"""The judge's settings: where it is served, which model, how it is asked (tasks/tools/judge.py asks)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from tasks.tools.server import timeout_for

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
    parse_retries: int = 2                      # of those, at most this many for answers that do not parse: a
                                                # judge that writes no valid JSON in 3 tries rarely does in 6
    timeout_s: float | None = None              # None: 60 s, or 900 s on loopback (a local server on a CPU)
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0
    json_mode: bool = True                      # ask for structured output at all (False: never)
    structured: str = "object"                  # object: response_format json_object, as the authors asked;
                                                # schema: a JSON schema per judgement (guided decoding on vLLM)
    max_tokens: int | None = 512                # cap per answer (a reason and a score); None: the server's own

    def __post_init__(self):
        if self.structured not in ("object", "schema"):
            raise ValueError(f"judge structured output {self.structured!r}: expected object or schema")
        if self.timeout_s is None:
            self.timeout_s = timeout_for(self.base_url)

    @classmethod
    def from_options(cls, base_url: str | None = None, model: str | None = None, **kw) -> "JudgeConfig":
        """Flags win over the environment (DIFFLM_JUDGE_BASE_URL, then OPENAI_BASE_URL; DIFFLM_JUDGE_MODEL).
        Keyword options left at None keep their defaults, so a CLI can pass its flags through unchanged; the
        environment may tune the client (DIFFLM_JUDGE_TIMEOUT_S, DIFFLM_JUDGE_CONCURRENCY, DIFFLM_JUDGE_BACKOFF_S)."""
        tuning = {"timeout_s": ("DIFFLM_JUDGE_TIMEOUT_S", float), "concurrency": ("DIFFLM_JUDGE_CONCURRENCY", int),
                  "backoff_base_s": ("DIFFLM_JUDGE_BACKOFF_S", float),
                  "max_tokens": ("DIFFLM_JUDGE_MAX_TOKENS", int)}
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
                "seed": self.seed, "structured": self.structured if self.json_mode else None,
                "max_tokens": self.max_tokens}

    def key_params(self) -> dict:
        """What changes an answer besides the model and the messages (the cache key's params); the new settings
        enter only when they differ from the authors' request, so the keys of such requests stay as they were."""
        out = {"temperature": self.temperature, "json_mode": self.json_mode, "seed": self.seed}
        if self.json_mode and self.structured != "object":
            out["structured"] = self.structured
        if self.max_tokens is not None:
            out["max_tokens"] = self.max_tokens
        return out

    def first_level(self) -> str | None:
        return (self.structured if self.json_mode else None)

    def _api_key(self) -> str:
        # local servers (vLLM, llama.cpp) need no key, but the client insists on one
        return os.environ.get(self.api_key_env) or os.environ.get("OPENAI_API_KEY") or "EMPTY"


