"""Conversation formats: LLaVA (`conversations` of `from`/`value`) and ShareGPT/`messages`.

LLaVA-Med, PubMedVision, Quilt-LLaVA, LLaVA-1.5 and ALLaVA publish the LLaVA shape:
`{"id", "image": str | [str], "conversations": [{"from": "human", "value": "<image>\\n..."}, {"from": "gpt", ...}]}`.
The ShareGPT/`messages` shape is `{"messages": [{"role", "content"}], "images": [...]}`, where a
content may also be a list of parts (`{"type": "text", "text"}` / `{"type": "image"}`).
"""

from __future__ import annotations

from typing import Any, Iterator

from lingshu.data.sources.base import Row, Source, SourceError, data_files, get, with_placeholders
from lingshu.data.sources.records import read_records
from lingshu.schema import IMAGE_TOKEN, Sample

ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "model": "assistant",
         "bot": "assistant", "system": "system"}
# Scalar fields some releases add (PubMedVision: modality, body_part) kept as provenance.
EXTRA_FIELDS = ("modality", "body_part", "dataset", "source", "domain", "type")


def image_list(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def content_text(content: Any, field: str) -> str:
    """A message content as text with `<image>` placeholders (OpenAI-style part lists included)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        out = []
        for part in content:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text":
                out.append(str(part.get("text", "")))
            elif kind in ("image", "image_url"):
                out.append(IMAGE_TOKEN)
            else:
                raise SourceError(f"unknown content part {part!r}", field)
        return "\n".join(out)
    if isinstance(content, (int, float)):
        return str(content)
    raise SourceError(f"content is a {type(content).__name__}", field)


class ConversationSource(Source):
    """Shared by both shapes: subclasses say where turns and images are and how a turn is read."""

    turns_key, images_key = "conversations", "image"
    role_key, content_key = "from", "value"

    def __init__(self, path: Any = None, sample_kind: str | None = None, **kw):
        super().__init__(path, **kw)
        self.sample_kind_override = sample_kind
        self.files = data_files(self.name, self.path, (".json", ".jsonl"), None if self.path.is_file() else self.split)

    def rows(self) -> Iterator[Row]:
        for file in self.files:
            for line, rec in read_records(file, self.max_record_bytes):
                rid = rec.get("id") if isinstance(rec, dict) else None
                yield Row(str(file), line, rec, None if rid is None else str(rid))

    def to_samples(self, row: Row) -> list[Sample]:
        rec = row.data
        turns = get(rec, self.turns_key)
        if not isinstance(turns, list) or not turns:
            raise SourceError(f"{self.turns_key!r} is not a non-empty list", self.turns_key)
        images = [self.image_bytes(p, self.images_key) for p in image_list(rec.get(self.images_key))]
        messages = []
        for i, turn in enumerate(turns):
            field = f"{self.turns_key}[{i}]"
            role = ROLES.get(str(get(turn, self.role_key)).lower())
            if role is None:
                raise SourceError(f"unknown role {turn.get(self.role_key)!r}", f"{field}.{self.role_key}")
            messages.append({"role": role, "content": content_text(turn.get(self.content_key, ""), field)})
        users = [m for m in messages if m["role"] == "user"]
        if not users or messages[-1]["role"] != "assistant":
            raise SourceError("needs a user turn and must end with an assistant turn", self.turns_key)
        n_marked = sum(m["content"].count(IMAGE_TOKEN) for m in users)
        if n_marked == 0 and images:  # LLaVA data often omits the placeholder: it goes first
            users[0]["content"] = with_placeholders(users[0]["content"], len(images))
        elif n_marked != len(images):
            raise SourceError(f"{n_marked} {IMAGE_TOKEN} placeholders for {len(images)} images", self.images_key)
        default = "dialogue" if len(users) > 1 else ("vqa" if images else "text")
        extra = {k: rec[k] for k in EXTRA_FIELDS if isinstance(rec.get(k), (str, int, float))}
        return [Sample(id=self.sample_id(row), source=self.name, images=images, messages=messages,
                       kind=self.sample_kind_override or self.sample_kind(default),
                       answer=messages[-1]["content"] if len(users) == 1 else None,
                       modality=extra.get("modality"), meta=self.provenance(row, **extra))]


class LlavaSource(ConversationSource):
    default_name = "llava"


class ShareGPTSource(ConversationSource):
    default_name = "sharegpt"
    turns_key, images_key = "messages", "images"
    role_key, content_key = "role", "content"

    def to_samples(self, row: Row) -> list[Sample]:
        rec = row.data
        if isinstance(rec, dict) and self.turns_key not in rec and "conversations" in rec:
            # ShareGPT proper (and LLaMA-Factory's sharegpt) keep from/value under `conversations`
            rec = {**rec, "messages": [{"role": t.get("from"), "content": t.get("value")} if isinstance(t, dict) else t
                                       for t in rec["conversations"]]}
            row = Row(row.file, row.line, rec, row.original_id)
        return super().to_samples(row)
