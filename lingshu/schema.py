"""The record shapes every step shares: `Sample` (training data) and `BenchmarkItem` (evaluation).

A shard stores a Sample as `KEY.json` (everything but pixels) plus `KEY.<i>.<ext>` per image, so
`to_json` leaves images out and `from_json` takes them back separately.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields
from typing import Any

KINDS = ("caption", "vqa", "mcq", "reasoning", "text", "report", "dialogue")
ANSWER_TYPES = ("closed", "open", "mcq", "report")
# How a structured question's user turn is rendered at use (lingshu.prompts): "question" with the
# evaluation's answer-format instruction, "think_answer" asking for the <think>/<answer> layout.
TEMPLATES = ("question", "think_answer")
IMAGE_TOKEN = "<image>"
LETTERS = "ABCDEFGHIJ"
# The answer layout RL rewards (format component) and reasoning data teach.
THINK_ANSWER_INSTRUCTION = ("First think step by step inside <think> </think>, "
                            "then give the final answer inside <answer> </answer>.")


def stable_id(*parts: Any) -> str:
    """A short id that depends only on its parts (so reruns name records identically)."""
    h = hashlib.sha1("\x1f".join(str(p) for p in parts).encode()).hexdigest()
    return h[:16]


def user_text(messages: list[dict[str, str]]) -> str:
    """The first user turn without image placeholders."""
    user = next((m["content"] for m in messages if m["role"] == "user"), "")
    return user.replace(IMAGE_TOKEN, "").strip()


@dataclass
class Sample:
    id: str
    source: str
    kind: str
    messages: list[dict[str, str]]  # {"role": "system"|"user"|"assistant", "content": str}
    images: list[bytes] = field(default_factory=list)
    answer: str | None = None
    options: list[str] | None = None  # option texts in order; letters are implied (A, B, ...)
    answer_type: str | None = None  # closed | open | mcq | report
    modality: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    context: str | None = None  # text the question is asked about (a PubMedQA abstract), shown before it
    # None: `messages` are the chat as trained. One of TEMPLATES: a structured question, whose first
    # user turn holds the bare question and is rendered at use (lingshu.prompts.render_messages).
    template: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"sample {self.id}: kind {self.kind!r} is not one of {KINDS}")
        if self.answer_type is not None and self.answer_type not in ANSWER_TYPES:
            raise ValueError(f"sample {self.id}: answer_type {self.answer_type!r} is not one of {ANSWER_TYPES}")
        if self.template is not None and (self.template not in TEMPLATES or self.answer_type is None
                                          or not self.messages or self.messages[0]["role"] != "user"):
            raise ValueError(f"sample {self.id}: template {self.template!r} needs one of {TEMPLATES}, an "
                             f"answer_type and the question as the first (user) turn")
        n_placeholders = sum(m["content"].count(IMAGE_TOKEN) for m in self.messages)
        # a structured question without placeholders has its images shown before it
        if n_placeholders != len(self.images) and not (self.template and n_placeholders == 0):
            raise ValueError(
                f"sample {self.id}: {n_placeholders} {IMAGE_TOKEN} placeholders but {len(self.images)} images"
            )

    @property
    def question(self) -> str:
        """The first user turn without image placeholders (a structured question's bare question)."""
        return user_text(self.messages)

    @property
    def caption(self) -> str | None:
        """The caption text of a caption sample (its first assistant turn)."""
        if self.kind != "caption":
            return None
        return next((m["content"] for m in self.messages if m["role"] == "assistant"), None)

    def to_json(self) -> dict[str, Any]:
        """Every field but the images, plus their count. Shallow: values are the sample's own (for
        serialising at once; `dataclasses.asdict`'s deep copy was most of the cost of writing shards)."""
        d = {name: getattr(self, name) for name in _SAMPLE_JSON_FIELDS}
        d["num_images"] = len(self.images)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any], images: list[bytes] | None = None) -> "Sample":
        d = dict(d)
        n = d.pop("num_images", 0)
        images = images or []
        if len(images) != n:
            raise ValueError(f"sample {d.get('id')}: json says {n} images, shard has {len(images)}")
        return cls(images=images, **d)


_SAMPLE_JSON_FIELDS = tuple(f.name for f in fields(Sample) if f.name != "images")


@dataclass
class BenchmarkItem:
    id: str
    benchmark: str
    question: str
    answer: str
    answer_type: str  # mcq | closed | open | report
    images: list[bytes] = field(default_factory=list)
    options: list[str] | None = None
    context: str | None = None  # e.g. PubMedQA abstracts
    categories: dict[str, str] = field(default_factory=dict)  # modality, question_type, language...
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.answer_type not in ANSWER_TYPES:
            raise ValueError(f"{self.benchmark} item {self.id}: answer_type {self.answer_type!r} not in {ANSWER_TYPES}")
        if self.answer_type == "mcq" and not self.options:
            raise ValueError(f"{self.benchmark} item {self.id}: an MCQ needs options")

    @property
    def answer_letter(self) -> str | None:
        """For an MCQ whose answer is stored as a letter, or as the text of one option."""
        if self.answer_type != "mcq" or not self.options:
            return None
        a = self.answer.strip()
        if len(a) == 1 and a.upper() in LETTERS[: len(self.options)]:
            return a.upper()
        for i, opt in enumerate(self.options):
            if opt.strip().lower() == a.lower():
                return LETTERS[i]
        return None
