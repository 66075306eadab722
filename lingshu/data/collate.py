"""Samples -> model batches: chat template, image processing, assistant-only labels, packing.

Runs inside DataLoader workers, so decoding and tokenisation never happen up front.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import torch
from PIL import Image

from lingshu.models.chat_template import IMAGE_PLACEHOLDER
from lingshu.models.positions import mrope_positions
from lingshu.prompts import render_messages
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
    one could split an image span, which the model cannot consume. With `packing`, the micro-batch's
    samples share rows of at most `max_seq_len` tokens instead of one padded row each.
    """
    processor: object
    max_seq_len: int = 8192
    packing: bool = False

    def __post_init__(self) -> None:
        tok = self.processor.tokenizer
        self.header = tok("<|im_start|>assistant\n", add_special_tokens=False)["input_ids"]
        self.end_id = tok.convert_tokens_to_ids("<|im_end|>")
        self.pad_id = tok.pad_token_id
        self.merge = self.processor.image_processor.merge_size
        self.dropped_too_long = 0

    def encode(self, sample: Sample) -> dict | None:
        text = render_chat(self.processor.tokenizer, render_messages(sample))
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
        if self.packing:
            return pack_batch(encoded, self.max_seq_len, self.pad_id, self.merge, num_samples=len(samples))
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


def pack_rows(lengths: list[int], capacity: int) -> list[list[int]]:
    """Indices grouped into as few rows of total length <= capacity as first-fit-decreasing finds,
    then spread longest-first onto the shortest row so rows end up even (the batch is as wide as its
    longest row, so uneven rows are padding)."""
    bins: list[list[int]] = []
    room: list[int] = []
    order = sorted(range(len(lengths)), key=lambda k: -lengths[k])
    for i in order:  # first fit decreasing: how many rows are needed
        b = next((b for b, r in enumerate(room) if r >= lengths[i]), None)
        if b is None:
            bins.append([])
            room.append(capacity)
            b = len(bins) - 1
        bins[b].append(i)
        room[b] -= lengths[i]
    even: list[list[int]] = [[] for _ in bins]
    load = [0] * len(bins)
    for i in order:
        b = min(range(len(even)), key=load.__getitem__)
        even[b].append(i)
        load[b] += lengths[i]
    return even if max(load) <= capacity else bins


def pack_batch(encoded: list[dict], max_len: int, pad_id: int, merge: int, num_samples: int | None = None) -> dict:
    """Several samples per row, each with its own positions restarting at 0 and attending only to
    itself. No attention_mask: Qwen2.5-VL then derives the block-diagonal mask (or flash-attention's
    varlen boundaries) from the restarting text positions in row 0 of the (4, rows, len) position ids.
    `segments` gives each token its sample's index in `encoded` (-1 on padding), for per-sample losses."""
    rows = pack_rows([len(e["input_ids"]) for e in encoded], max_len)
    width = max(sum(len(encoded[i]["input_ids"]) for i in row) for row in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    types = torch.zeros((len(rows), width), dtype=torch.long)
    segments = torch.full((len(rows), width), -1, dtype=torch.long)
    positions = torch.zeros((4, len(rows), width), dtype=torch.long)
    pix, grids = [], []
    for r, row in enumerate(rows):
        at = 0
        for i in row:  # images in row-major order of appearance: the order the model scatters them
            e = encoded[i]
            n = len(e["input_ids"])
            span = slice(at, at + n)
            ids[r, span], labels[r, span], types[r, span], segments[r, span] = e["input_ids"], e["labels"], e["mm_token_type_ids"], i
            positions[0, r, span] = torch.arange(n)
            positions[1:, r, span] = mrope_positions(e["mm_token_type_ids"], e.get("image_grid_thw"), merge)
            if "pixel_values" in e:
                pix.append(e["pixel_values"])
                grids.append(e["image_grid_thw"])
            at += n
        positions[:, r, at:] = torch.arange(width - at)  # padding: one segment of its own
    batch = {"input_ids": ids, "labels": labels, "position_ids": positions, "mm_token_type_ids": types,
             "segments": segments}
    if pix:
        batch["pixel_values"] = torch.cat(pix)
        batch["image_grid_thw"] = torch.cat(grids)
    batch["num_samples"] = torch.tensor(num_samples or len(encoded))
    return batch


def real_tokens(batch: dict) -> int:
    """Tokens that are not padding, in a padded or a packed batch."""
    if "attention_mask" in batch:
        return int(batch["attention_mask"].sum())
    return int((batch["segments"] >= 0).sum())
