"""A tiny OpenAI-compatible server for tests: `POST /v1/chat/completions` on 127.0.0.1, answering from a scripted
queue of behaviours, else deterministically from the prompt, and recording every request (headers included).

    with FakeOpenAI() as fake:                      # or the `fake_openai` fixture
        fake.push(status(500), sleep(2), ok("not json"))
        JudgeConfig(base_url=fake.url, model="m")   # fake.requests: [{"path", "headers" (lower-case names), "body"}]

Without a script, a score prompt gets {"reason", "score": fake_score(prompt)} and a preference prompt (one that
mentions better_set) {"reason", "better_set": fake_better_set(prompt)}, so a task's tests need no script at all.
"""
from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


# behaviours, consumed one per request in arrival order
def ok(content: str) -> tuple:
    """200 with this message content (any text: JSON, prose, fences, garbage)."""
    return ("ok", content)


def status(code: int, message: str = "scripted failure") -> tuple:
    """An HTTP error with an OpenAI-style error body."""
    return ("status", code, message)


def sleep(seconds: float) -> tuple:
    """Answer by default, but only after `seconds` (longer than the client's timeout: a timeout)."""
    return ("sleep", seconds)


def echo_auth(code: int = 500) -> tuple:
    """A hostile server: puts the request's Authorization header into its answer (error body, or content at 200)."""
    return ("echo_auth", code)


def drop() -> tuple:
    """Close the connection without answering (a connection error)."""
    return ("drop",)


def fake_score(prompt: str) -> int:
    return len(prompt) % 11


def fake_better_set(prompt: str) -> str:
    return ("A", "B", "equal")[int(hashlib.sha256(prompt.encode("utf-8")).hexdigest(), 16) % 3]


def default_content(prompt: str) -> str:
    if "better_set" in prompt:
        return json.dumps({"reason": "fake preference", "better_set": fake_better_set(prompt)})
    return json.dumps({"reason": "fake score", "score": fake_score(prompt)})


class FakeOpenAI:
    def __init__(self):
        self.script: deque = deque()
        self.requests: list[dict] = []
        self.reject_json_mode = False   # answer 400 to any request that sends response_format
        self.die_after: int | None = None   # after this many requests taken, drop every connection and stop
        self._taken = 0
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def push(self, *behaviours: tuple) -> None:
        self.script.extend(behaviours)

    def start(self) -> "FakeOpenAI":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):    # keep test output clean
                pass

            def do_POST(self):
                fake._handle(self)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True    # a handler still sleeping must not block stop()
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    def __enter__(self) -> "FakeOpenAI":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        body = json.loads(h.rfile.read(int(h.headers.get("Content-Length") or 0)) or b"{}")
        with self._lock:
            headers = {k.lower(): v for k, v in h.headers.items()}
            self.requests.append({"path": h.path, "headers": headers, "body": body})
            dead = self.die_after is not None and self._taken >= self.die_after
            if dead:
                behaviour = ("drop",)
            elif self.reject_json_mode and "response_format" in body:
                behaviour = ("status", 400, "response_format is not supported")
            else:
                behaviour = self.script.popleft() if self.script else ("default",)
            if not dead:    # counted here, under the lock: a client may send its next request before
                self._taken += 1   # this handler's reply has finished, and that request must see the count
        if dead:
            threading.Thread(target=self.stop, daemon=True).start()
        prompt = (body.get("messages") or [{}])[-1].get("content", "")
        kind = behaviour[0]
        try:
            if kind == "drop":
                h.close_connection = True
                return
            if kind == "sleep":
                time.sleep(behaviour[1])
            if kind == "status":
                return self._send(h, behaviour[1], {"error": {"message": behaviour[2], "type": "fake"}})
            if kind == "echo_auth":
                leak = f"you sent {h.headers.get('Authorization')}"
                if behaviour[1] != 200:
                    return self._send(h, behaviour[1], {"error": {"message": leak, "type": "fake"}})
                content = json.dumps({"reason": leak, "score": 5, "better_set": "A"})
            else:
                content = behaviour[1] if kind == "ok" else default_content(prompt)
            self._send(h, 200, {
                "id": f"chatcmpl-fake-{len(self.requests)}", "object": "chat.completion", "created": int(time.time()),
                "model": body.get("model", "fake"),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                             "finish_reason": "stop", "logprobs": None}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})
        except (BrokenPipeError, ConnectionResetError):   # the client gave up (timeout) first
            pass

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, code: int, payload: dict) -> None:
        data = json.dumps(payload).encode("utf-8")
        h.send_response(code)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)


@pytest.fixture
def fake_openai():
    with FakeOpenAI() as fake:
        yield fake
