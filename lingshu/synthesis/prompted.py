"""Base of the synthesizers that prompt a model: prompt files, the generator, request building."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from lingshu.engines.base import Engine, GenerationRequest
from lingshu.schema import IMAGE_TOKEN
from lingshu.synthesis.base import Synthesizer
from lingshu.synthesis.generation import Generator, fill
from lingshu.synthesis.records import provenance, text_hash

# The prompt files shipped with the repository; users edit them or point `prompt_dir` elsewhere.
PROMPT_DIR = Path(__file__).resolve().parents[2] / "conf" / "synthesis" / "prompts"


def load_prompt(name: str, prompt_dir: str | Path | None = None) -> str:
    path = Path(name)
    if not path.is_absolute():
        path = Path(prompt_dir or PROMPT_DIR) / path
    return path.read_text(encoding="utf-8").strip()


class PromptedSynthesizer(Synthesizer):
    requires_engine = True  # False for synthesizers with a rule-based mode (OCR)

    def __init__(self, engine: Engine | None, prompts: Mapping[str, str], prompt_dir: str | None = None,
                 model: str | None = None, cache_path: str | None = None, retries: int = 2,
                 retry_temperature: float = 0.7, batch_size: int = 256, max_new_tokens: int = 1024,
                 temperature: float = 0.0, seed: int = 0, engine_retries: int = 3, backoff_s: float = 2.0,
                 name: str | None = None):
        super().__init__(name)
        if engine is None and self.requires_engine:
            raise ValueError(f"{name or self.name} needs an engine (set synthesis.{name or self.name}.engine)")
        self.prompts = {step: load_prompt(file, prompt_dir) for step, file in prompts.items()}
        self.generator = None
        if engine is not None:
            self.generator = Generator(engine, model, cache_path, retries, retry_temperature, batch_size,
                                       engine_retries, backoff_s)
            self.stats = self.generator.stats  # one counter: requests, cache hits, retries and rejects
        self.max_new_tokens, self.temperature, self.seed = max_new_tokens, temperature, seed

    def request(self, text: str, images: list[bytes] | None = None) -> GenerationRequest:
        images = images or []
        content = "".join(f"{IMAGE_TOKEN}\n" for _ in images) + text
        return GenerationRequest(messages=[{"role": "user", "content": content}], images=images,
                                 max_new_tokens=self.max_new_tokens, temperature=self.temperature, seed=self.seed)

    def prompt(self, step: str, **fields: Any) -> str:
        return fill(self.prompts[step], **fields)

    def meta(self, step_names: list[str], inputs, **extra: Any) -> dict[str, Any]:
        joined = "\n\x1e".join(self.prompts[s] for s in step_names)
        generator = self.generator.model if self.generator else "rule"
        return provenance(self.name, generator, joined, inputs,
                          prompt_hashes={s: text_hash(self.prompts[s]) for s in step_names}, **extra)
