"""Samples -> model batches: chat template, image processing, assistant-only labels.

Runs inside DataLoader workers, so decoding and tokenisation never happen up front.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import torch
from PIL import Image

from lingshu.models.chat_template import IMAGE_PLACEHOLDER
from lingshu.schema import IMAGE_TOKEN, Sample

IGNORE = -100


def decode_image(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img.convert("RGB")


def chat_messages(messages: list[dict], add_generation_prompt: bool = False) -> list[dict]:
    """Our `<image>` placeholders become Qwen vision spans inside string contents."""
    return [{"role": m["role"], "content": m["content"].replace(IMAGE_TOKEN, IMAGE_PLACEHOLDER)} for m in messages]


def render_chat(tokenizer, messages: list[dict], add_generation_prompt: bool = False) -> str:
    return tokenizer.apply_chat_template(chat_messages(messages), tokenize=False,
                                         add_generation_prompt=add_generation_prompt)


def assistant_mask(input_ids: torch.Tensor, header: list[int], end_id: int) -> torch.Tensor:
    """True on each assistant turn's content and its closing <|im_end|> (what the model must learn)."""
    ids = input_ids.tolist()
    mask = torch.zeros(len(ids), dtype=torch.bool)
    n, i = len(header), 0
    while i <= len(ids) - n:
        if ids[i:i + n] == header:
            j = i + n
            while j < len(ids) and ids[j] != end_id:
                mask[j] = True
                j += 1
            if j < len(ids):
                mask[j] = True
            i = j
        i += 1
    return mask


@dataclass
class SFTCollator:
    """Turns a list of Samples into padded tensors with labels on assistant tokens only.

    Samples whose tokens exceed `max_seq_len` are dropped (counted in `dropped_too_long`): cutting
    one could split an image span, which the model cannot consume.
    """
    processor: object
    max_seq_len: int = 8192

    def __post_init__(self) -> None:
        tok = self.processor.tokenizer
        self.header = tok("<|im_start|>assistant\n", add_special_tokens=False)["input_ids"]
        self.end_id = tok.convert_tokens_to_ids("<|im_end|>")
        self.pad_id = tok.pad_token_id
        self.dropped_too_long = 0

    def encode(self, sample: Sample) -> dict | None:
        text = render_chat(self.processor.tokenizer, sample.messages)
        images = [decode_image(b) for b in sample.images] or None
        enc = self.processor(text=[text], images=images, return_tensors="pt")
        ids = enc["input_ids"][0]
        if len(ids) > self.max_seq_len:
            self.dropped_too_long += 1
            return None
        labels = torch.where(assistant_mask(ids, self.header, self.end_id), ids, torch.full_like(ids, IGNORE))
        # mm_token_type_ids marks image tokens: without it Qwen2.5-VL silently falls back to 1D
        # positions in training while generation uses 3D (mrope) ones.
        out = {"input_ids": ids, "labels": labels, "mm_token_type_ids": enc["mm_token_type_ids"][0]}
        if images:
            out["pixel_values"] = enc["pixel_values"]
            out["image_grid_thw"] = enc["image_grid_thw"]
        return out

    def __call__(self, samples: list[Sample]) -> dict:
        encoded = [e for e in (self.encode(s) for s in samples) if e is not None]
        if not encoded:
            raise ValueError("every sample in this batch exceeds max_seq_len; raise stage.max_seq_len")
        return pad_batch(encoded, self.pad_id, num_samples=len(samples))


def pad_batch(encoded: list[dict], pad_id: int, num_samples: int | None = None) -> dict:
    width = max(len(e["input_ids"]) for e in encoded)
    ids = torch.full((len(encoded), width), pad_id, dtype=torch.long)
    labels = torch.full((len(encoded), width), IGNORE, dtype=torch.long)
    attn = torch.zeros((len(encoded), width), dtype=torch.long)
    types = torch.zeros((len(encoded), width), dtype=torch.long)
    for i, e in enumerate(encoded):  # right padding: training only, generation pads left
        n = len(e["input_ids"])
        ids[i, :n], labels[i, :n], attn[i, :n], types[i, :n] = e["input_ids"], e["labels"], 1, e["mm_token_type_ids"]
    batch = {"input_ids": ids, "labels": labels, "attention_mask": attn, "mm_token_type_ids": types}
    pix = [e["pixel_values"] for e in encoded if "pixel_values" in e]
    if pix:
        batch["pixel_values"] = torch.cat(pix)
        batch["image_grid_thw"] = torch.cat([e["image_grid_thw"] for e in encoded if "image_grid_thw" in e])
    batch["num_samples"] = torch.tensor(num_samples or len(encoded))
    return batch
