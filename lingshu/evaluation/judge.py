"""LLM judge for open answers: any OpenAI-compatible chat endpoint (GPT-4.1 in the paper, or a
local `vllm serve` model).

The judge answers `<think>...</think><judge>0|1</judge>`; as in the paper's protocol 0 means the
answer is correct (`correct_label`). Verdicts are cached on disk, keyed by (judge model, prompt
hash, question, answer, response), so reruns and resumed runs send no repeated requests.
A request that fails for good or a reply without a parseable verdict gives `correct: None`,
which the metrics count as `judge_failed` (left out of accuracy under strict, wrong under medevalkit).
`style="medevalkit"`: MedEvalKit's verdict rule (a reply is correct only when its `<judge>` content,
or the reply itself without tags, is exactly "0"; anything else is wrong) with MedEvalKit's prompt,
which the user extracts from their own MedEvalKit checkout into `prompt_file` (we ship only its
sha256 and warn when the file differs). Templates name {question} {answer} {response}.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lingshu.engines.base import GenerationRequest
from lingshu.engines.openai import MAX_RESPONSE_BYTES, OpenAIEngine, RequestFailed
from lingshu.evaluation.medevalkit import (JUDGE_PLACEHOLDERS, JUDGE_PROMPT_HOWTO, JUDGE_TEMPLATE_SHA256,
                                           fill_judge_template, tag_content)
from lingshu.io import open_append

JUDGE_PROMPT = """You are grading an answer to a medical question.
Decide whether the user's answer is correct, given the question and the standard answer. An answer
that means the same as the standard answer, or is another valid reading of it, counts as correct.

Question: {question}
Standard answer: {answer}
User's answer: {response}

First reason briefly inside <think></think>, then give your verdict inside <judge></judge>:
0 if the user's answer is correct, 1 if it is not. Output format: <think>...</think><judge>0 or 1</judge>"""
_VERDICT_RE = re.compile(r"<judge>\s*([01])\s*</judge>", re.IGNORECASE)
STYLES = ("lingshu", "medevalkit")
log = logging.getLogger(__name__)


class LLMJudge:
    def __init__(self, model: str, base_url: str, api_key_env: str | None = "OPENAI_API_KEY",
                 concurrency: int = 32, timeout_s: float = 120.0, max_retries: int = 5, backoff_s: float = 1.0,
                 max_new_tokens: int = 512, correct_label: str = "0", cache_path: str | None = None,
                 prompt: str | None = None, prompt_file: str | None = None, style: str = "lingshu",
                 max_response_bytes: int = MAX_RESPONSE_BYTES):
        if style not in STYLES:
            raise ValueError(f"judge.style={style!r} is not one of {STYLES}")
        self.style = style
        prompt = _read_prompt(prompt_file) if prompt_file else prompt
        if prompt is None and style == "medevalkit":
            raise ValueError(f"judge.prompt_file is not set: judge=medevalkit needs MedEvalKit's judge prompt; "
                             f"{JUDGE_PROMPT_HOWTO}")
        prompt = prompt or JUDGE_PROMPT
        missing = [k for k in JUDGE_PLACEHOLDERS if "{" + k + "}" not in prompt]
        if missing:
            raise ValueError(f"judge prompt {prompt_file or '(inline)'}: no {{{missing[0]}}} placeholder "
                             f"(a template names {{question}} {{answer}} {{response}})")
        self.engine = OpenAIEngine(model=model, base_url=base_url, api_key_env=api_key_env, concurrency=concurrency,
                                   timeout_s=timeout_s, max_retries=max_retries, backoff_s=backoff_s,
                                   max_response_bytes=max_response_bytes)
        self.model = model
        self.prompt = prompt
        self.prompt_sha256 = hashlib.sha256(prompt.encode()).hexdigest()
        self.prompt_hash = self.prompt_sha256[:16]
        # None for our own prompt style; else whether the template is MedEvalKit's, byte for byte
        self.prompt_is_medevalkit = self.prompt_sha256 == JUDGE_TEMPLATE_SHA256 if style == "medevalkit" else None
        if self.prompt_is_medevalkit is False:
            log.warning("judge prompt %s differs from MedEvalKit's (sha256 %s, MedEvalKit's %s): open-question "
                        "verdicts are not made under MedEvalKit's protocol", prompt_file or "(inline)",
                        self.prompt_hash, JUDGE_TEMPLATE_SHA256[:16])
        self.max_new_tokens = max_new_tokens
        self.correct_label = str(correct_label)
        self.requests_sent = 0
        self.cache: dict[str, dict[str, Any]] = {}
        self.cache_path = Path(cache_path) if cache_path else None
        if self.cache_path and self.cache_path.exists():
            self._load_cache()

    def _load_cache(self) -> None:
        """Verdicts from the cache file. A line that cannot be read (the last one, cut by a kill) is
        skipped with a warning naming it: its verdict is simply asked again."""
        bad = []
        with self.cache_path.open("rb") as fh:
            for n, raw in enumerate(fh, 1):
                try:
                    rec = json.loads(raw)
                    self.cache[str(rec["key"])] = dict(rec["verdict"])
                except (ValueError, KeyError, TypeError):
                    if raw.strip():
                        bad.append(n)
        if bad:
            warnings.warn(f"judge cache {self.cache_path}: line(s) {bad[:5]} unreadable, skipped "
                          f"(their verdicts will be requested again)", stacklevel=2)

    def __repr__(self) -> str:
        return f"LLMJudge(model={self.model!r}, base_url={self.engine.base_url!r})"

    def describe(self) -> dict[str, Any]:
        return {"model": self.model, "base_url": self.engine.base_url, "prompt_hash": self.prompt_hash,
                "prompt_is_medevalkit": self.prompt_is_medevalkit,
                "correct_label": self.correct_label, "style": self.style, "max_new_tokens": self.max_new_tokens}

    def key(self, question: str, answer: str, response: str) -> str:
        blob = json.dumps([self.model, self.prompt_hash, question, answer, response], ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()

    def render(self, question: str, answer: str, response: str) -> str:
        return fill_judge_template(self.prompt, question, answer, response)

    def parse(self, raw: str) -> bool | None:
        if self.style == "medevalkit":  # the <judge> content (or the whole reply) must be exactly the label
            return tag_content(raw or "", "judge") == self.correct_label
        found = _VERDICT_RE.findall(raw or "")
        if len(set(found)) != 1:
            return None
        return found[0] == self.correct_label

    def judge(self, triples: Sequence[tuple[str, str, str]]) -> list[dict[str, Any]]:
        """Verdicts for (question, standard answer, response) triples: {"correct": bool | None, "raw": str}."""
        keys = [self.key(*t) for t in triples]
        todo = [i for i, k in enumerate(keys) if k not in self.cache]
        todo_keys = list(dict.fromkeys(keys[i] for i in todo))  # one request per distinct triple
        first = {k: next(i for i in todo if keys[i] == k) for k in todo_keys}
        requests = [GenerationRequest(
            messages=[{"role": "user", "content": self.render(*triples[first[k]])}],
            max_new_tokens=self.max_new_tokens, temperature=0.0) for k in todo_keys]
        self.requests_sent += len(requests)
        failed: dict[str, dict[str, Any]] = {}
        fresh = []
        for k, result in zip(todo_keys, self.engine.complete_many(requests)):
            if isinstance(result, RequestFailed):  # not cached: a rerun retries it
                failed[k] = {"correct": None, "raw": "", "error": str(result)}
            else:
                self.cache[k] = {"correct": self.parse(result), "raw": result}
                fresh.append((k, self.cache[k]))
        self._persist(fresh)
        return [dict(self.cache.get(k) or failed[k]) for k in keys]

    def _persist(self, fresh: list[tuple[str, dict]]) -> None:
        if not self.cache_path or not fresh:
            return
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        with open_append(self.cache_path) as fh:
            for k, v in fresh:
                fh.write(json.dumps({"key": k, "verdict": v}, ensure_ascii=False) + "\n")


def _read_prompt(path: str) -> str:
    p = Path(path).expanduser()
    if not p.is_file():
        raise FileNotFoundError(f"judge.prompt_file={path}: no such file ({JUDGE_PROMPT_HOWTO})")
    return p.read_bytes().decode("utf-8")  # byte for byte: its sha256 is compared with MedEvalKit's
