"""An OpenAI-compatible chat-completions server on loopback (an http.server thread) for the LLM-judge tests.

This is the one mock of the judge path: it stands in for a hosted judge / a vLLM server on the cluster, which
cannot run on this machine (no internet, no GPU). The client, the requests it sends and the scoring around
them are the real code. ``reply(body) -> str`` gives the assistant's text for a request body; every request
is recorded in ``requests`` as ``{"path", "auth", "body"}`` (``bodies``: the bodies alone;
``prompts``: each request's last message content).

    with LoopbackJudge(lambda body: "A") as judge:
        rescore("simplevqa", preds, {"judge": {"base_url": judge.url, "model": "m"}})
        assert judge.bodies[0]["temperature"] == 0
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

__all__ = ["LoopbackJudge"]


class LoopbackJudge:
    def __init__(self, reply: Callable[[dict], str]):
        self.reply = reply
        self.requests: list[dict[str, Any]] = []
        judge = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                judge.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
                out = json.dumps({"id": "x", "object": "chat.completion", "model": body.get("model"),
                                  "choices": [{"index": 0, "finish_reason": "stop",
                                               "message": {"role": "assistant", "content": judge.reply(body)}}]})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out.encode())))
                self.end_headers()
                self.wfile.write(out.encode())

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    @property
    def bodies(self) -> list[dict]:
        return [r["body"] for r in self.requests]

    @property
    def prompts(self) -> list[Any]:
        """The last message's content of every request (the grading prompt)."""
        return [b["messages"][-1]["content"] for b in self.bodies]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> "LoopbackJudge":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
