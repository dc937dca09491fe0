"""A fake OpenAI-compatible chat-completions server on 127.0.0.1, for the VLM judge's tests.

It answers from the pixels of the last image of each request, with a rule the test gives
(so the test knows every answer), refuses what a greedy judge must never send (a temperature
other than 0), and records every request it served.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import numpy as np
from PIL import Image

Rule = Callable[[np.ndarray, bool], str]   # (last image's pixels, a reference came with it) -> answer text


def pixels_digest(arr: np.ndarray) -> int:
    return int.from_bytes(hashlib.sha256(np.ascontiguousarray(arr).tobytes()).digest()[:4], "big")


def red_rule(arr: np.ndarray, with_reference: bool) -> str:
    """The judge fixtures' concept: a red disc or square (judgefixtures.make_image)."""
    red = (arr[..., 0] > 150) & (arr[..., 1] < 90) & (arr[..., 2] < 90)
    return "Yes." if red.mean() > 0.01 else "No, it does not."


class FakeVlm:
    def __init__(self, rule: Rule = red_rule, unsure: Callable[[np.ndarray, bool], bool] | None = None) -> None:
        self.rule = rule
        self.unsure = unsure or (lambda arr, ref: False)
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:   # quiet test output
                pass

            def do_POST(self) -> None:   # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path != "/v1/chat/completions" or body.get("temperature") != 0:
                    self._send(400, {"error": "expected POST /v1/chat/completions with temperature 0"})
                    return
                images = [p["image_url"]["url"].split(",", 1)[1] for m in body["messages"]
                          if isinstance(m["content"], list) for p in m["content"] if p["type"] == "image_url"]
                arr = np.asarray(Image.open(io.BytesIO(base64.b64decode(images[-1]))).convert("RGB"))
                with_ref = len(images) > 1
                answer = "I am not sure." if outer.unsure(arr, with_ref) else outer.rule(arr, with_ref)
                outer.requests.append({"body": body, "images": len(images), "answer": answer})
                self._send(200, {"choices": [{"index": 0, "message": {"role": "assistant", "content": answer}}]})

            def _send(self, code: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def judge_ref(self, model: str = "fake-vlm") -> str:
        return f"vlm:{model}@{self.url}"

    def __enter__(self) -> "FakeVlm":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
