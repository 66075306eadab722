"""In-process generation with transformers: batched, left-padded, greedy or sampled."""

from __future__ import annotations

from typing import Sequence

import torch

from lingshu.data.collate import decode_image, render_chat
from lingshu.engines.base import GenerationRequest


class HFEngine:
    """Wraps a loaded model + processor. Requests in one call may mix sampling settings; they are
    grouped so each `generate` call shares them."""

    def __init__(self, model, processor, batch_size: int = 16, device: str | None = None):
        self.model, self.processor, self.batch_size = model, processor, batch_size
        self.device = device or next(model.parameters()).device
        self.tokenizer = processor.tokenizer
        self.end_ids = [self.tokenizer.convert_tokens_to_ids(t) for t in ("<|im_end|>", "<|endoftext|>")]
        # A sampled <|image_pad|> in a response would break every later forward over it (image
        # tokens must match image features): vision tokens are never generated.
        self.suppress = [self.tokenizer.convert_tokens_to_ids(t)
                         for t in ("<|image_pad|>", "<|video_pad|>", "<|vision_start|>", "<|vision_end|>")]

    def encode(self, requests: Sequence[GenerationRequest]) -> dict:
        texts = [render_chat(self.tokenizer, r.messages, add_generation_prompt=True) for r in requests]
        images = [decode_image(b) for r in requests for b in r.images] or None
        self.tokenizer.padding_side = "left"
        return self.processor(text=texts, images=images, padding=True, return_tensors="pt")

    @torch.no_grad()
    def generate_ids(self, requests: Sequence[GenerationRequest]) -> tuple[dict, torch.Tensor]:
        """(encoded prompts, generated token ids without the prompt) for one homogeneous batch."""
        r0 = requests[0]
        enc = self.encode(requests).to(self.device)
        sample = r0.temperature > 0
        kwargs = dict(do_sample=sample, max_new_tokens=r0.max_new_tokens, eos_token_id=self.end_ids,
                      pad_token_id=self.tokenizer.pad_token_id, suppress_tokens=self.suppress)
        if sample:
            kwargs.update(temperature=r0.temperature, top_p=r0.top_p, top_k=0)
        else:  # greedy: clear sampling defaults a checkpoint's generation_config may carry
            kwargs.update(temperature=None, top_p=None, top_k=None)
        was_training = self.model.training
        self.model.eval()
        try:
            out = self.model.generate(**enc, **kwargs)
        finally:
            self.model.train(was_training)
        return enc, out[:, enc["input_ids"].shape[1]:]

    def generate(self, requests: Sequence[GenerationRequest]) -> list[str]:
        results: list[str | None] = [None] * len(requests)
        groups: dict[tuple, list[int]] = {}
        for i, r in enumerate(requests):
            groups.setdefault((r.max_new_tokens, r.temperature, r.top_p), []).append(i)
        for idx in groups.values():
            for start in range(0, len(idx), self.batch_size):
                chunk = idx[start:start + self.batch_size]
                _, new = self.generate_ids([requests[i] for i in chunk])
                for i, ids in zip(chunk, new):
                    results[i] = self.tokenizer.decode(ids, skip_special_tokens=True).strip()
        return results
