"""What a real OpenAI-compatible judge server needs beyond the protocol (tested against `transformers serve`):

- `check`: before any request, `/v1/models` — a server that does not answer is down (one line, nothing asked), and a
  server that lists models but not ours would answer every request with an error (`transformers serve` is pinned to
  the model it loaded): refused in one line that lists what it serves. A server without `/v1/models` (some hosted
  APIs) is asked anyway.
- `response_format`: a JSON schema per judgement (guided decoding on servers that offer it, e.g. vLLM), else JSON
  mode, else nothing; the judge steps down when a server rejects one (HTTP 400).
- `ignored_structure`: an answer that is not a bare JSON object although JSON was asked for: the server ignored
  JSON mode (`transformers serve` 5.25 does); such answers are still parsed from the prose where possible and
  counted in the record.
- `timeout_for`: local servers on a CPU answer at a few tokens per second, so loopback gets a long time-out.
"""
from __future__ import annotations

import json
from urllib.parse import urlsplit

LEVELS = ("schema", "object", None)      # what to ask for, strongest first
SCHEMAS = {
    "score": {"type": "object", "properties": {"reason": {"type": "string"},
                                               "score": {"type": "integer", "minimum": 0, "maximum": 10}},
              "required": ["reason", "score"], "additionalProperties": False},
    "preference": {"type": "object", "properties": {"reason": {"type": "string"},
                                                    "better_set": {"type": "string", "enum": ["A", "B", "equal"]}},
                   "required": ["reason", "better_set"], "additionalProperties": False},
}
LOCAL_TIMEOUT_S, REMOTE_TIMEOUT_S = 900.0, 60.0


class JudgeUnavailable(RuntimeError):
    """The judge cannot be asked at all (server down, wrong model id): one line for the screen and the record."""


def is_loopback(base_url: str | None) -> bool:
    host = (urlsplit(base_url or "").hostname or "").lower()
    return host in ("localhost", "::1") or host.startswith("127.")


def timeout_for(base_url: str | None) -> float:
    return LOCAL_TIMEOUT_S if is_loopback(base_url) else REMOTE_TIMEOUT_S


def response_format(level: str | None, kind: str) -> dict | None:
    if level == "schema":
        return {"type": "json_schema", "json_schema": {"name": f"judge_{kind}", "schema": SCHEMAS[kind],
                                                       "strict": True}}
    if level == "object":
        return {"type": "json_object"}
    return None


def ignored_structure(level: str | None, text: str | None) -> bool:
    if level is None:
        return False
    try:
        return not isinstance(json.loads((text or "").strip()), dict)
    except ValueError:
        return True


def check(client, model: str, base_url: str) -> list[str]:
    """The model ids the server lists (empty when it lists none); raises JudgeUnavailable when it is down or does
    not serve `model`."""
    import openai

    try:
        served = [m.id for m in client.models.list()]
    except (openai.APIConnectionError, openai.APITimeoutError) as e:
        raise JudgeUnavailable(f"the judge server at {base_url} does not answer ({type(e).__name__}: "
                               f"{str(e)[:120]}); start it or pass another --judge-base-url") from None
    except openai.APIStatusError:       # no /v1/models here (404, 401 on some gateways): ask anyway
        return []
    if served and model not in served:
        raise JudgeUnavailable(f"the judge server at {base_url} does not serve model {model!r}; it serves: "
                               f"{', '.join(served[:10])} (pass one of them as --judge-model)")
    return served
