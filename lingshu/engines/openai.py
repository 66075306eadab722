"""Engine for any OpenAI-compatible `/v1/chat/completions` server (OpenAI, `vllm serve`, ...).

Standard library HTTP only. Requests run concurrently in a thread pool; each has a timeout and
is retried with exponential backoff on connection errors, timeouts, 429 and 5xx. Images travel
as base64 data URLs in the OpenAI vision message format, at the `<image>` placeholders.
The API key is read from the environment variable named by `api_key_env` and is kept only in
memory: it is never part of repr, logs, errors or outputs.
"""

from __future__ import annotations

import base64
import json
import os
import random
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lingshu.engines.base import GenerationRequest
from lingshu.schema import IMAGE_TOKEN

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


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


class OpenAIEngine:
    def __init__(self, model: str, base_url: str = "https://api.openai.com/v1",
                 api_key_env: str | None = "OPENAI_API_KEY", concurrency: int = 32, timeout_s: float = 120.0,
                 max_retries: int = 5, backoff_s: float = 1.0, max_backoff_s: float = 60.0,
                 extra_body: dict | None = None, model_path: str | None = None):
        # `model_path` (a checkpoint) means nothing to a remote server; accepted so build_engine can pass it.
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.api_key_env = api_key_env
        self.concurrency = max(1, int(concurrency))
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.extra_body = dict(extra_body or {})
        self.__key = None
        if api_key_env:
            self.__key = os.environ.get(api_key_env)
            if not self.__key:
                raise RuntimeError(f"openai engine: environment variable {api_key_env} is not set; export it, "
                                   f"or set api_key_env=null for a server without authentication")

    def __repr__(self) -> str:
        return f"OpenAIEngine(model={self.model!r}, base_url={self.base_url!r}, api_key_env={self.api_key_env!r})"

    def describe(self) -> dict[str, Any]:
        return {"engine": "openai", "model": self.model, "base_url": self.base_url}

    def _body(self, request: GenerationRequest) -> dict[str, Any]:
        body = {"model": self.model, "messages": to_openai_messages(request),
                "max_tokens": request.max_new_tokens, "temperature": request.temperature, "top_p": request.top_p}
        if request.seed is not None:
            body["seed"] = request.seed
        body.update(self.extra_body)
        return body

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        if self.__key:
            headers["Authorization"] = f"Bearer {self.__key}"
        req = urllib.request.Request(f"{self.base_url}/chat/completions", data=json.dumps(body).encode(),
                                     headers=headers, method="POST")
        with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
            return json.loads(resp.read())

    def complete(self, request: GenerationRequest) -> str:
        """One request with retries; raises RequestFailed after the last attempt."""
        body = self._body(request)
        last = ""
        for attempt in range(self.max_retries + 1):
            try:
                reply = self._post(body)
                return reply["choices"][0]["message"].get("content") or ""
            except urllib.error.HTTPError as e:
                last = f"HTTP {e.code}"
                if e.code not in RETRY_STATUS:
                    raise RequestFailed(f"{self.base_url}: {last} (not retried)") from None
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as e:
                last = type(e).__name__
            except (KeyError, IndexError, ValueError) as e:
                last = f"malformed reply ({type(e).__name__})"
            if attempt < self.max_retries:
                delay = min(self.max_backoff_s, self.backoff_s * 2 ** attempt)
                time.sleep(delay * (0.5 + random.random() / 2))  # jitter: concurrent retries spread out
        raise RequestFailed(f"{self.base_url}: failed after {self.max_retries + 1} attempts ({last})")

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
