"""The one interface all engines share: `generate(requests) -> responses` (one string a request)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Sequence

# Every engine stops at either end token and never generates vision tokens: a sampled
# <|image_pad|> in a response would break every later forward over it (image tokens must match
# image features).
END_TOKENS = ("<|im_end|>", "<|endoftext|>")
VISION_TOKENS = ("<|image_pad|>", "<|video_pad|>", "<|vision_start|>", "<|vision_end|>")


@dataclass
class GenerationRequest:
    messages: list[dict[str, str]]  # chat turns; "<image>" placeholders in user turns, one per image
    images: list[bytes] = field(default_factory=list)
    max_new_tokens: int = 128
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0
    seed: int | None = None
    id: str | None = None  # the benchmark item or sample it answers (replay matches on it)


class Engine(Protocol):
    def generate(self, requests: Sequence[GenerationRequest]) -> list[str]: ...
