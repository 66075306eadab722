"""Verifiable rewards. A component is a plain function `(responses, samples, **kwargs) -> list[float | None]`;
`Reward` combines named components with weights, optionally only for some answer types, and returns per
sample `{"overall": ..., <component>: ...}`.

None rule: a component not routed to a sample (its `answer_types`) is None there and adds nothing. A
component routed to a sample that still returns None (a failed judge call, no reference answer) leaves
the sample *unscored*: `overall` is None, so GRPO leaves it out of its group's mean and std, gives it
advantage 0 (its tokens keep the KL term) and counts it (`reward/unscored_fraction`), instead of
scoring it 0 like a wrong answer.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from typing import Callable, Sequence

from lingshu.evaluation.extract import closed_match, extract_boxed, extract_mcq_letter, token_f1
from lingshu.schema import Sample
from lingshu.text import normalize_answer

THINK_ANSWER = re.compile(r"^\s*<think>(?P<think>.*?)</think>\s*<answer>(?P<answer>.*?)</answer>\s*$", re.S)
THINK_BOXED = re.compile(r"^\s*<think>(?P<think>.*?)</think>(?P<rest>.*)$", re.S)
TAGS = re.compile(r"</?(think|answer)>")
NUMBER = re.compile(r"^[-+]?\d+(?:\.\d+)?$")


def answer_text(response: str) -> str:
    """The answer a response states: <answer> content, else \\boxed{} content, else the response."""
    m = THINK_ANSWER.match(response or "")
    if m:
        return m.group("answer").strip()
    boxed = extract_boxed(response or "")
    return boxed.strip() if boxed is not None else (response or "").strip()


def format_reward(responses: Sequence[str], samples: Sequence[Sample], style: str = "answer_tag") -> list[float]:
    """1.0 for exactly `<think>...</think><answer>...</answer>` (style answer_tag) or
    `<think>...</think> ... \\boxed{...}` (style boxed), with non-empty parts and no nested tags."""
    out = []
    for r in responses:
        if style == "answer_tag":
            m = THINK_ANSWER.match(r or "")
            ok = bool(m) and m.group("think").strip() != "" and m.group("answer").strip() != "" \
                and not TAGS.search(m.group("think")) and not TAGS.search(m.group("answer"))
        elif style == "boxed":
            m = THINK_BOXED.match(r or "")
            ok = bool(m) and m.group("think").strip() != "" and not TAGS.search(m.group("think")) \
                and not TAGS.search(m.group("rest")) and bool((extract_boxed(m.group("rest")) or "").strip())
        else:
            raise ValueError(f"format reward: unknown style {style!r} (answer_tag | boxed)")
        out.append(1.0 if ok else 0.0)
    return out


def _numeric(a: str, b: str, tol: float) -> bool | None:
    a, b = a.replace(",", "").strip(), b.replace(",", "").strip()
    if not (NUMBER.match(a) and NUMBER.match(b)):
        return None
    x, y = float(a), float(b)
    return abs(x - y) <= tol * max(1.0, abs(y))


def accuracy_reward(responses: Sequence[str], samples: Sequence[Sample], open_threshold: float = 0.5,
                    graded: bool = False, numeric_tolerance: float = 0.01) -> list[float | None]:
    """Per answer type: MCQ letter (evaluation's strict extraction), yes/no by whole word, closed exact
    match after normalisation, numbers within a relative tolerance, open answers by token F1
    (graded, or 1.0 at/above `open_threshold`). None where a sample has no reference answer."""
    out: list[float | None] = []
    for r, s in zip(responses, samples):
        if s.answer is None or s.answer_type not in ("mcq", "closed", "open"):
            out.append(None)
            continue
        ans = answer_text(r)
        if s.answer_type == "mcq":
            out.append(float(extract_mcq_letter(ans, s.options) == s.answer.strip().upper()))
            continue
        num = _numeric(normalize_answer(ans), normalize_answer(s.answer), numeric_tolerance)
        if num is not None:
            out.append(float(num))
        elif s.answer_type == "closed":
            out.append(float(closed_match(ans, s.answer)[0]))
        else:
            f1 = token_f1(ans, s.answer)
            out.append(f1 if graded else float(f1 >= open_threshold))
    return out


def resolve(fn: str | Callable) -> Callable:
    """`module:function` (users add components this way) or a callable."""
    if callable(fn):
        return fn
    module, _, name = fn.partition(":")
    if not name:
        raise ValueError(f"reward component {fn!r}: expected 'module:function'")
    return getattr(importlib.import_module(module), name)


@dataclass
class Component:
    fn: str  # module:function
    weight: float = 1.0
    answer_types: list[str] | None = None  # apply only to these (mcq, closed, open); None: all
    kwargs: dict = field(default_factory=dict)


@dataclass
class Reward:
    """`reward=` config node: overall = sum of weight x component over applicable components."""
    name: str
    components: dict[str, Component]

    def __post_init__(self) -> None:
        self.components = {k: Component(**v) if isinstance(v, dict) else v for k, v in self.components.items()}
        self._fns = {k: resolve(c.fn) for k, c in self.components.items()}

    def __call__(self, responses: Sequence[str], samples: Sequence[Sample]) -> list[dict[str, float | None]]:
        rows: list[dict[str, float | None]] = [{"overall": 0.0} for _ in responses]
        for name, comp in self.components.items():
            idx = [i for i, s in enumerate(samples) if comp.answer_types is None or s.answer_type in comp.answer_types]
            values: list[float | None] = [None] * len(responses)
            if idx:
                got = self._fns[name]([responses[i] for i in idx], [samples[i] for i in idx], **comp.kwargs)
                for i, v in zip(idx, got):
                    values[i] = v
            routed = set(idx)
            for i, (row, v) in enumerate(zip(rows, values)):
                row[name] = v
                if v is None and i in routed:
                    row["overall"] = None  # unscored (see the module docstring)
                elif v is not None and row["overall"] is not None:
                    row["overall"] += comp.weight * v
        return rows



def judge_reward(responses: Sequence[str], samples: Sequence[Sample], judge) -> list[float | None]:
    """An LLM judge (evaluation's `LLMJudge`, cached) decides open answers; a failed judgement is None."""
    verdicts = judge.judge([(s.question, s.answer or "", answer_text(r)) for r, s in zip(responses, samples)])
    return [None if v.get("correct") is None else float(v["correct"]) for v in verdicts]
