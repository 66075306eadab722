"""What synthesizers emit besides Samples: `Reject` records, and the provenance every output carries."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any, Iterable

from lingshu.schema import Sample


@dataclass
class Reject:
    """A generation that did not become a Sample; the curation runner writes these to `rejects.jsonl`."""

    id: str  # the input sample's id
    source: str
    op: str  # the synthesizer's name
    reason: str
    raw: str | None = None  # the model output that failed, verbatim

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def image_key(sample: Sample) -> str | None:
    """Identity of a sample's first image, so one image carrying several questions is used once."""
    return hashlib.sha1(sample.images[0]).hexdigest() if sample.images else None


def provenance(op: str, generator: str, prompt: str, inputs: Iterable[Sample], **extra: Any) -> dict[str, Any]:
    """`Sample.meta` of a synthesized sample: which step, which model (or "rule"), which prompt, from what."""
    inputs = list(inputs)
    meta = {"synthesis": op, "generator": generator, "prompt_hash": text_hash(prompt),
            "inputs": [s.id for s in inputs], "input_source": inputs[0].source if inputs else None}
    meta.update(extra)
    return meta
