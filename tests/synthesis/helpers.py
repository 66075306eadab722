"""Test helpers: a local OpenAI-compatible server with scripted replies, sample builders, config composition."""

from __future__ import annotations

import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

import numpy as np
from hydra import compose, initialize_config_dir
from PIL import Image

from lingshu.schema import Sample
from lingshu.synthesis.prompted import PROMPT_DIR

CONF_DIR = PROMPT_DIR.parents[1]


def user_text(body: dict) -> str:
    """The text of the last user turn of a chat-completions body (string or content parts)."""
    content = [m for m in body["messages"] if m["role"] == "user"][-1]["content"]
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content if p["type"] == "text")


def image_count(body: dict) -> int:
    return sum(1 for m in body["messages"] if isinstance(m["content"], list)
               for p in m["content"] if p["type"] == "image_url")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the default (5) refuses connections when 32 requests arrive at once


class ScriptedServer:
    """POST /v1/chat/completions answered by `script(body) -> str | int` (an int is an HTTP error status)
    after `delay_s`; records every body and the peak number of requests in flight."""

    def __init__(self):
        self.script: Callable[[dict], str | int] = lambda body: "ok"
        self.delay_s = 0.0
        self.bodies: list[dict] = []
        self.in_flight = self.peak_in_flight = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.bodies.append(body)
                    server.in_flight += 1
                    server.peak_in_flight = max(server.peak_in_flight, server.in_flight)
                time.sleep(server.delay_s)
                reply = server.script(body)
                with server.lock:
                    server.in_flight -= 1
                if isinstance(reply, int):
                    self.send_response(reply)
                    self.end_headers()
                    return
                payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": reply}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):  # keep test output quiet
                pass

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def count(self) -> int:
        with self.lock:
            return len(self.bodies)


def png(seed: int, size: int = 32) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, (size, size, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


def caption_sample(i: int, caption: str, **meta) -> Sample:
    return Sample(id=f"cap-{i}", source="test", kind="caption", images=[png(i)], modality="CT",
                  messages=[{"role": "user", "content": "<image>\nDescribe the image."},
                            {"role": "assistant", "content": caption}], meta=meta)


def compose_synthesis(*overrides: str):
    """Compose `synthesis=[...]` from conf/ the way launch.py does (the package headers included)."""
    with initialize_config_dir(str(CONF_DIR), version_base=None):
        return compose(overrides=["+seed=5", *overrides]).synthesis
