"""Fakes for bookkeeping tests only (the real engine and server are tested in *_engine tests)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from ttscale.generate.base import Backend, Request, Result


class ScriptedBackend(Backend):
    """Returns text derived from (prompt, seed) so tests can check which request got which answer."""

    kind = "scripted"

    def __init__(self, name: str = "fake", model: dict | None = None, root: Path | None = None,
                 threads: int | None = None, seed: int = 0) -> None:
        super().__init__(name, model or {}, root or Path.cwd(), threads, seed)
        self.calls: list[int] = []

    def render(self, row: dict[str, Any]):
        return row["question"] + (row.get("assistant_prefix") or ""), None, False

    def generate(self, requests: list[Request], progress, journal=None) -> list[Result]:
        self.calls.append(len(requests))
        out = []
        for r in requests:
            progress.update(1, 3)
            out.append(Result(f"answer {r.seed % 1000}", "stop", len(r.prompt), 3, -1.5))
        return out


class FakeOpenAIServer:
    """An OpenAI-compatible /v1/completions on 127.0.0.1 that can fail on purpose."""

    def __init__(self, fail_first: int = 0, die_after: int | None = None) -> None:
        self.fail_first = fail_first  # answer HTTP 500 to the first N requests
        self.die_after = die_after  # after N successes, answer 500 forever
        self.served: list[dict] = []
        self.failed = 0
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer.lock:
                    fail = outer.failed < outer.fail_first or (
                        outer.die_after is not None and len(outer.served) >= outer.die_after)
                    if fail:
                        outer.failed += 1
                    else:
                        outer.served.append(body)
                if fail:
                    self.send_response(500)
                    self.end_headers()
                    self.wfile.write(b'{"error": "boom"}')
                    return
                text = f"echo {body['seed'] % 1000}"
                resp = {
                    "id": "x", "object": "text_completion", "created": 0, "model": body["model"],
                    "choices": [{"index": 0, "text": text, "finish_reason": "stop",
                                 "logprobs": {"token_logprobs": [-0.5, -0.25], "tokens": ["a", "b"],
                                              "top_logprobs": None, "text_offset": [0, 1]}}],
                    "usage": {"prompt_tokens": len(body["prompt"]), "completion_tokens": 2,
                              "total_tokens": len(body["prompt"]) + 2},
                }
                data = json.dumps(resp).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeOpenAIServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
