"""Engine for any OpenAI-compatible `/v1/chat/completions` server (OpenAI, `vllm serve`, ...).

HTTP through httpx. Requests run concurrently in a thread pool. Each attempt has an overall
deadline (`timeout_s` from the first byte sent to the last byte read: a server that drips its
reply is cut there) and a size cap (`max_response_bytes`, checked while reading), and is retried
with exponential backoff on any transport error, a deadline, a malformed reply, 429 and 5xx.
Redirects are never followed, so the API key only ever goes to `base_url`. Images travel as
base64 data URLs in the OpenAI vision message format, at the `<image>` placeholders.
The API key is read from the environment variable named by `api_key_env` and is kept only in
memory: it is never part of repr, logs, errors or outputs.
"""

from __future__ import annotations

import base64
import json
import os
import random
import socket
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from lingshu.engines.base import GenerationRequest
from lingshu.schema import IMAGE_TOKEN

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}
MAX_RESPONSE_BYTES = 8 << 20  # a chat completion is a few KB; more is a broken or hostile server


def image_mime(data: bytes) -> str:
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:4] == b"GIF8":
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


def data_url(data: bytes) -> str:
    return f"data:{image_mime(data)};base64,{base64.b64encode(data).decode('ascii')}"


def to_openai_messages(request: GenerationRequest) -> list[dict[str, Any]]:
    """Chat turns in OpenAI format; each `<image>` in a user turn becomes an image_url part."""
    images = iter(request.images)
    out = []
    for turn in request.messages:
        content = turn["content"]
        if turn["role"] != "user" or IMAGE_TOKEN not in content:
            out.append({"role": turn["role"], "content": content})
            continue
        parts: list[dict[str, Any]] = []
        for i, text in enumerate(content.split(IMAGE_TOKEN)):
            if i > 0:
                img = next(images, None)
                if img is None:
                    raise ValueError("request has more <image> placeholders than images")
                parts.append({"type": "image_url", "image_url": {"url": data_url(img)}})
            if text:
                parts.append({"type": "text", "text": text})
        out.append({"role": "user", "content": parts})
    if next(images, None) is not None:
        raise ValueError("request has more images than <image> placeholders")
    return out


class RequestFailed(RuntimeError):
    pass


class _Retry(Exception):
    """One attempt failed in a way worth retrying; the message says how."""


class _Deadline:
    """Cuts an attempt's connection when its deadline passes. httpx timeouts bound each socket
    read, not the request, so a server sending a byte a second would never time out; shutting
    the socket down wakes the blocked read at once. The socket is learnt from httpx's `trace`
    extension as the connection opens (keep-alive is off, so every attempt opens its own)."""

    def __init__(self, seconds: float):
        self.at = time.monotonic() + seconds
        self.sockets: list[socket.socket] = []
        self.expired = False
        self.lock = threading.Lock()
        self.timer = threading.Timer(seconds, self.cut)
        self.timer.daemon = True

    def trace(self, event: str, info: dict) -> None:
        if event.endswith((".connect_tcp.complete", ".start_tls.complete")):  # direct, proxy or tunnel
            sock = info["return_value"].get_extra_info("socket")
            with self.lock:
                self.sockets.append(sock)
                if self.expired:
                    self._shutdown(sock)

    def cut(self) -> None:
        with self.lock:
            self.expired = True
            for sock in self.sockets:
                self._shutdown(sock)

    @staticmethod
    def _shutdown(sock: socket.socket) -> None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:  # closed already: the attempt finished
            pass

    def passed(self) -> bool:
        return self.expired or time.monotonic() >= self.at

    def __enter__(self) -> "_Deadline":
        self.timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self.timer.cancel()


def shown_url(url: str) -> str:
    """A URL for messages: without any user:password part."""
    u = httpx.URL(url)
    return str(u.copy_with(userinfo=b"")) if u.userinfo else url


class OpenAIEngine:
    def __init__(self, model: str, base_url: str = "https://api.openai.com/v1",
                 api_key_env: str | None = "OPENAI_API_KEY", concurrency: int = 32, timeout_s: float = 120.0,
                 max_retries: int = 5, backoff_s: float = 1.0, max_backoff_s: float = 60.0,
                 max_response_bytes: int = MAX_RESPONSE_BYTES, extra_body: dict | None = None,
                 model_path: str | None = None):
        # `model_path` (a checkpoint) means nothing to a remote server; accepted so build_engine can pass it.
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.url = f"{self.base_url}/chat/completions"
        self.shown_url = shown_url(self.url)
        self.api_key_env = api_key_env
        self.concurrency = max(1, int(concurrency))
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.max_response_bytes = int(max_response_bytes)
        self.extra_body = dict(extra_body or {})
        self.__key = None
        if api_key_env:
            self.__key = os.environ.get(api_key_env)
            if not self.__key:
                raise RuntimeError(f"openai engine: environment variable {api_key_env} is not set; export it, "
                                   f"or set api_key_env=null for a server without authentication")
        self.client = httpx.Client(follow_redirects=False, timeout=httpx.Timeout(timeout_s),
                                   limits=httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=0))

    def __repr__(self) -> str:
        return f"OpenAIEngine(model={self.model!r}, base_url={shown_url(self.base_url)!r}, api_key_env={self.api_key_env!r})"

    def describe(self) -> dict[str, Any]:
        return {"engine": "openai", "model": self.model, "base_url": shown_url(self.base_url)}

    def _body(self, request: GenerationRequest) -> dict[str, Any]:
        body = {"model": self.model, "messages": to_openai_messages(request),
                "max_tokens": request.max_new_tokens, "temperature": request.temperature, "top_p": request.top_p}
        if request.seed is not None:
            body["seed"] = request.seed
        body.update(self.extra_body)
        return body

    def _post(self, payload: bytes) -> bytes:
        """One attempt: the reply body. Raises _Retry (worth another attempt) or RequestFailed (not)."""
        headers = {"Content-Type": "application/json", "Accept-Encoding": "identity"}  # identity: no zip bombs
        if self.__key:
            headers["Authorization"] = f"Bearer {self.__key}"
        with _Deadline(self.timeout_s) as deadline:
            try:
                with self.client.stream("POST", self.url, content=payload, headers=headers,
                                        extensions={"trace": deadline.trace}) as resp:
                    if resp.is_redirect:
                        where = shown_url(resp.headers.get("location", "?"))
                        raise RequestFailed(f"{self.shown_url}: HTTP {resp.status_code} redirect to {where} not followed "
                                            f"(the API key goes to base_url only; set base_url to the final address)")
                    if resp.status_code >= 400:
                        if resp.status_code in RETRY_STATUS:
                            raise _Retry(f"HTTP {resp.status_code}")
                        raise RequestFailed(f"{self.shown_url}: HTTP {resp.status_code} (not retried)")
                    declared = resp.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > self.max_response_bytes:
                        raise RequestFailed(f"{self.shown_url}: reply of {declared} bytes is over "
                                            f"max_response_bytes {self.max_response_bytes} (not read)")
                    data = bytearray()
                    for chunk in resp.iter_raw():
                        data += chunk
                        if len(data) > self.max_response_bytes:
                            raise RequestFailed(f"{self.shown_url}: reply over max_response_bytes "
                                                f"{self.max_response_bytes} (cut)")
                        if deadline.passed():
                            break
                    if deadline.passed():
                        raise _Retry(f"no complete reply within timeout_s={self.timeout_s}")
                    return bytes(data)
            except httpx.RequestError as e:  # connect, read, protocol (a cut body), decoding, proxy ...
                if deadline.passed():
                    raise _Retry(f"no complete reply within timeout_s={self.timeout_s}") from None
                raise _Retry(f"{type(e).__name__}: {e}") from None

    def complete(self, request: GenerationRequest) -> str:
        """One request with retries; raises RequestFailed after the last attempt."""
        payload = json.dumps(self._body(request)).encode()
        last = ""
        for attempt in range(self.max_retries + 1):
            try:
                content = json.loads(self._post(payload))["choices"][0]["message"].get("content")
                if content is not None and not isinstance(content, str):
                    raise ValueError(f"content is a {type(content).__name__}")
                return content or ""
            except _Retry as e:
                last = str(e)
            except (KeyError, IndexError, TypeError, AttributeError, ValueError) as e:
                last = f"malformed reply ({type(e).__name__}: {str(e)[:100]})"
            if attempt < self.max_retries:
                delay = min(self.max_backoff_s, self.backoff_s * 2 ** attempt)
                time.sleep(delay * (0.5 + random.random() / 2))  # jitter: concurrent retries spread out
        raise RequestFailed(f"{self.shown_url}: failed after {self.max_retries + 1} attempts ({last})")

    def complete_many(self, requests: Sequence[GenerationRequest]) -> list[str | RequestFailed]:
        """Results in request order; a request that failed for good yields its RequestFailed."""
        def one(r: GenerationRequest) -> str | RequestFailed:
            try:
                return self.complete(r)
            except RequestFailed as e:
                return e
        if len(requests) <= 1:
            return [one(r) for r in requests]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(requests))) as pool:
            return list(pool.map(one, requests))

    def generate(self, requests: Sequence[GenerationRequest]) -> list[str]:
        results = self.complete_many(requests)
        for r in results:
            if isinstance(r, RequestFailed):
                raise r
        return results  # type: ignore[return-value]
