"""A raw HTTP server on 127.0.0.1 whose replies are written byte by byte by the test: redirects,
drips, huge, cut and malformed replies. It records each request's headers and how many reply
bytes it managed to send before the client hung up."""

from __future__ import annotations

import json
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from typing import Self


def completion(text: str = "ok") -> bytes:
    return json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]}).encode()


def http_head(status: str, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in (headers or {}).items()), "Connection: close", "", ""]
    return "\r\n".join(lines).encode()


def ok_reply(body: bytes) -> Iterator[bytes]:
    yield http_head("200 OK", {"Content-Type": "application/json", "Content-Length": str(len(body))}) + body


class HostileServer:
    """`reply(path, headers)` yields the raw chunks to send; `pause_s` sleeps between chunks."""

    def __init__(self, reply: Callable[[str, dict], Iterator[bytes]], pause_s: float = 0.0, max_s: float = 60.0):
        self.reply, self.pause_s, self.max_s = reply, pause_s, max_s
        self.requests: list[dict[str, str]] = []
        self.sent: list[int] = []  # reply bytes sent, per request
        self.hung_up: list[bool] = []  # whether the client closed before the reply was complete
        self._handled = threading.Condition()
        server = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                line = self.rfile.readline(65536).decode("latin-1")
                headers = {}
                while (h := self.rfile.readline(65536).decode("latin-1").strip()):
                    k, _, v = h.partition(":")
                    headers[k.strip().lower()] = v.strip()
                self.rfile.read(int(headers.get("content-length", 0)))
                server.requests.append(headers)
                sent, hung_up, start = 0, False, time.monotonic()
                try:
                    for chunk in server.reply(line.split(" ")[1] if " " in line else "", headers):
                        self.wfile.write(chunk)
                        self.wfile.flush()
                        sent += len(chunk)
                        if time.monotonic() - start > server.max_s:  # bounded even if the client never hangs up
                            break
                        if server.pause_s:
                            time.sleep(server.pause_s)
                except (BrokenPipeError, ConnectionResetError):
                    hung_up = True
                with server._handled:
                    server.sent.append(sent)
                    server.hung_up.append(hung_up)
                    server._handled.notify_all()

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> Self:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        # a handler notices a client's hang-up only at its next write: wait for every one to record
        with self._handled:
            self._handled.wait_for(lambda: len(self.sent) == len(self.requests), timeout=self.max_s + 5)
        self._server.shutdown()
        self._server.server_close()


def drip(data: bytes) -> Iterator[bytes]:
    """One byte at a time (the server's pause_s apart)."""
    for i in range(len(data)):
        yield data[i:i + 1]

