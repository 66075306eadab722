"""In-process generation with transformers: batched, left-padded, greedy or sampled."""

from __future__ import annotations

from typing import Sequence

import torch

from lingshu.data.collate import decode_image, render_chat
from lingshu.engines.base import END_TOKENS, VISION_TOKENS, GenerationRequest


def encode_prompts(processor, requests: Sequence[GenerationRequest]) -> dict:
    """One batch of chat-templated prompts, left-padded, with their images processed."""
    tokenizer = processor.tokenizer
    texts = [render_chat(tokenizer, r.messages, add_generation_prompt=True) for r in requests]
    images = [decode_image(b) for r in requests for b in r.images] or None
    tokenizer.padding_side = "left"
    return processor(text=texts, images=images, padding=True, return_tensors="pt")


# Every knob of transformers' GenerationConfig that reshapes the distribution or the search, at its
# neutral value. `generate` fills unset knobs from the checkpoint's generation_config.json (e.g.
# Qwen2.5-VL-Instruct's repetition_penalty 1.05, top_k 1): passing these explicitly makes sampling the
# plain softmax(logits / temperature) with top-p, as vLLM samples it and as GRPO scores it.
NEUTRAL_GENERATION = dict(
    num_beams=1, num_beam_groups=1, diversity_penalty=0.0, penalty_alpha=None, dola_layers=None,
    repetition_penalty=1.0, encoder_repetition_penalty=1.0, no_repeat_ngram_size=0, encoder_no_repeat_ngram_size=0,
    typical_p=1.0, min_p=None, top_h=None, epsilon_cutoff=0.0, eta_cutoff=0.0, min_length=0, min_new_tokens=None,
    bad_words_ids=None, sequence_bias=None, begin_suppress_tokens=None, forced_bos_token_id=None,
    forced_eos_token_id=None, exponential_decay_length_penalty=None, guidance_scale=None, watermarking_config=None,
    renormalize_logits=False, stop_strings=None, max_length=None, num_return_sequences=1)


class HFEngine:
    """Wraps a loaded model + processor. Requests in one call may mix sampling settings; they are
    grouped so each `generate` call shares them."""

    def __init__(self, model, processor, batch_size: int = 16, device: str | None = None):
        self.model, self.processor, self.batch_size = model, processor, batch_size
        self._device = device
        self.tokenizer = processor.tokenizer
        self.end_ids = [self.tokenizer.convert_tokens_to_ids(t) for t in END_TOKENS]
        self.suppress = [self.tokenizer.convert_tokens_to_ids(t) for t in VISION_TOKENS]

    @classmethod
    def from_config(cls, kwargs: dict, model_cfg, checkpoint=None) -> HFEngine:
        """Load the backbone (from `checkpoint` if given) in this process, on CUDA when there is one."""
        from hydra.utils import instantiate

        model, processor = instantiate(model_cfg, _convert_="all").build(checkpoint)
        device = kwargs.pop("device", None) or ("cuda" if torch.cuda.is_available() else "cpu")
        return cls(model.to(device), processor, device=device, **kwargs)

    @property
    def device(self):
        """The given device, else wherever the model is now (a trainer may move it after construction)."""
        return self._device or next(self.model.parameters()).device

    def encode(self, requests: Sequence[GenerationRequest]) -> dict:
        return encode_prompts(self.processor, requests)

    @torch.no_grad()
    def generate_ids(self, requests: Sequence[GenerationRequest]) -> tuple[dict, torch.Tensor]:
        """(encoded prompts, generated token ids without the prompt) for one homogeneous batch."""
        r0 = requests[0]
        enc = self.encode(requests).to(self.device)
        sample = r0.temperature > 0
        kwargs = dict(NEUTRAL_GENERATION, do_sample=sample, max_new_tokens=r0.max_new_tokens, eos_token_id=self.end_ids,
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
        self.last_info: dict = {}  # per request id: token counts and finish reason (evaluation records them)
        for idx in groups.values():
            for start in range(0, len(idx), self.batch_size):
                chunk = idx[start:start + self.batch_size]
                enc, new = self.generate_ids([requests[i] for i in chunk])
                for row, (i, ids) in enumerate(zip(chunk, new)):
                    results[i] = self.tokenizer.decode(ids, skip_special_tokens=True).strip()
                    ends = [k for k, t in enumerate(ids.tolist()) if t in self.end_ids]
                    self.last_info[requests[i].id] = {
                        "input_tokens": int(enc["attention_mask"][row].sum()),
                        "output_tokens": ends[0] + 1 if ends else len(ids),
                        "finish_reason": "stop" if ends else "length"}
        return results
