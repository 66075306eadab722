"""Shared machinery of the model-based synthesizers: batching, retries, an on-disk cache, parsing.

An engine gets whole batches (an HTTP engine keeps its own pool of requests in flight). A reply
that does not parse is asked again, at `retry_temperature` with a new seed, up to `retries` times.
Every reply is cached in sqlite under (model, prompt hash, request, attempt), so a rerun replays the
same attempts from disk and sends no request.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

from lingshu.engines.base import Engine, GenerationRequest
from lingshu.synthesis.records import text_hash


class Retry(Exception):
    """The reply is unusable but another attempt may do better (malformed JSON, missing prefix)."""


class Drop(Exception):
    """The reply is a valid verdict that the input yields nothing (mismatch, inconsistent)."""


@dataclass
class Job:
    request: GenerationRequest
    prompt: str  # the prompt template, hashed into the cache key and the provenance
    parse: Callable[[str], Any]  # returns the value, or raises Retry / Drop


@dataclass
class Outcome:
    value: Any = None
    raw: str | None = None
    error: str | None = None  # None when value is usable

    @property
    def ok(self) -> bool:
        return self.error is None


class ReplyCache:
    """(key -> reply) in sqlite; `path=None` keeps it in memory. The connection opens on first use
    (and is left out of pickles), so a synthesizer can be sent to worker processes."""

    def __init__(self, path: str | Path | None):
        self.path = str(path) if path else ":memory:"
        self._db: sqlite3.Connection | None = None

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=60)  # waits while another process writes
            self._db.execute("CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, reply TEXT NOT NULL)")
        return self._db

    def __getstate__(self) -> dict:
        return {"path": self.path, "_db": None}

    def get_many(self, keys: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for i in range(0, len(keys), 500):  # sqlite caps the number of bound parameters
            part = keys[i:i + 500]
            q = f"SELECT key, reply FROM replies WHERE key IN ({','.join('?' * len(part))})"
            found.update(self.db.execute(q, part).fetchall())
        return found

    def put_many(self, items: Sequence[tuple[str, str]]) -> None:
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO replies VALUES (?, ?)", items)


def request_key(model: str, prompt: str, req: GenerationRequest) -> str:
    payload = {"model": model, "prompt": text_hash(prompt), "messages": req.messages,
               "images": [hashlib.sha1(b).hexdigest() for b in req.images], "max_new_tokens": req.max_new_tokens,
               "temperature": req.temperature, "top_p": req.top_p, "seed": req.seed}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


class Generator:
    def __init__(self, engine: Engine, model: str | None = None, cache_path: str | Path | None = None,
                 retries: int = 2, retry_temperature: float = 0.7, batch_size: int = 256,
                 engine_retries: int = 3, backoff_s: float = 2.0):
        self.engine = engine
        self.model = model or getattr(engine, "model", None) or type(engine).__name__
        self.cache = ReplyCache(cache_path)
        self.retries, self.retry_temperature = retries, retry_temperature
        self.batch_size, self.engine_retries, self.backoff_s = batch_size, engine_retries, backoff_s
        self.stats: Counter = Counter()
        self.last_engine_error: str | None = None

    def run(self, jobs: Sequence[Job]) -> list[Outcome]:
        outcomes = [Outcome() for _ in jobs]
        pending = list(range(len(jobs)))
        for attempt in range(self.retries + 1):
            if not pending:
                break
            if attempt:
                self.stats["retried"] += len(pending)
            requests = [self._attempt(jobs[i].request, attempt) for i in pending]
            replies = self._replies([jobs[i].prompt for i in pending], requests)
            still = []
            for i, raw in zip(pending, replies):
                if raw is None:
                    outcomes[i] = Outcome(error=f"engine error: {self.last_engine_error}")
                    continue
                try:
                    outcomes[i] = Outcome(value=jobs[i].parse(raw), raw=raw)
                except (Drop, Retry) as e:
                    outcomes[i] = Outcome(raw=raw, error=str(e))
                    if isinstance(e, Retry):
                        still.append(i)
            pending = still
        return outcomes

    def _attempt(self, req: GenerationRequest, attempt: int) -> GenerationRequest:
        if attempt == 0:
            return req
        # A greedy request asked again gives the same reply: sample instead, reproducibly.
        return replace(req, temperature=max(req.temperature, self.retry_temperature), seed=(req.seed or 0) + attempt)

    def _replies(self, prompts: Sequence[str], requests: Sequence[GenerationRequest]) -> list[str | None]:
        keys = [request_key(self.model, p, r) for p, r in zip(prompts, requests)]
        cached = self.cache.get_many(list(set(keys)))
        self.stats["cache_hits"] += sum(k in cached for k in keys)
        todo = list({k: r for k, r in zip(keys, requests) if k not in cached}.items())
        for i in range(0, len(todo), self.batch_size):
            part = todo[i:i + self.batch_size]
            replies = self._generate([r for _, r in part])
            done = [(k, text) for (k, _), text in zip(part, replies) if text is not None]
            self.cache.put_many(done)
            cached.update(done)
        return [cached.get(k) for k in keys]

    def _generate(self, requests: list[GenerationRequest]) -> list[str | None]:
        """Replies in order, None where the engine failed for good. An engine with `complete_many`
        (the HTTP one) reports failures per request, so one bad request does not sink its batch."""
        per_request = getattr(self.engine, "complete_many", None)
        for attempt in range(self.engine_retries + 1):
            try:
                if per_request is None:
                    replies: list = list(self.engine.generate(requests))
                else:
                    replies = list(per_request(requests))
                self.stats["requests"] += len(requests)
                if len(replies) != len(requests):
                    raise RuntimeError(f"engine returned {len(replies)} replies for {len(requests)} requests")
                failed = [r for r in replies if not isinstance(r, str)]
                if failed:
                    self.stats["engine_errors"] += len(failed)
                    self.last_engine_error = str(failed[-1])
                return [r if isinstance(r, str) else None for r in replies]
            except Exception as e:  # an engine failure must not lose the rest of the stream
                self.stats["engine_errors"] += 1
                self.last_engine_error = repr(e)
                if attempt < self.engine_retries:
                    time.sleep(self.backoff_s * 2 ** attempt)
        return [None] * len(requests)


def parse_json_object(raw: str, required: Sequence[str]) -> dict[str, Any]:
    """The JSON object in a reply (code fences and surrounding prose tolerated), with `required` keys."""
    text = re.sub(r"^```(?:json)?|```$", "", raw.strip(), flags=re.MULTILINE).strip()
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise Retry("malformed json: no object")
    try:
        obj = json.loads(text[start:end + 1])
    except json.JSONDecodeError as e:
        raise Retry(f"malformed json: {e.msg}") from None
    if not isinstance(obj, dict):
        raise Retry("malformed json: not an object")
    missing = [k for k in required if k not in obj]
    if missing:
        raise Retry(f"malformed json: missing {', '.join(missing)}")
    return obj


def fill(template: str, **fields: Any) -> str:
    """Replace `{name}` for the given names only, so prompts may show JSON braces unescaped."""
    for name, value in fields.items():
        template = template.replace("{" + name + "}", str(value))
    return template
