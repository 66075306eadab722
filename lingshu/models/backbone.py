"""Build or load a Qwen2.5-VL backbone: the tiny random-init one (CPU, offline) or a real checkpoint.

Both go through the same class from transformers, so everything downstream (training, export,
engines) is identical for the 2-core demo and a 32B run.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

from lingshu.models.processor import TINY_TOKENIZER, LingshuProcessor, load_processor


@dataclass
class TinyArch:
    """Small dimensions of the real architecture (random weights). Defaults suit a 2-core CPU."""
    hidden_size: int = 128
    intermediate_size: int = 256
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    # 3D rope split (time, height, width) of head_dim/2 rotary pairs; more width pairs make
    # left/right questions learnable on the tiny model (measured, see STACK.md).
    mrope_section: list[int] = field(default_factory=lambda: [1, 1, 14])
    vision_depth: int = 2
    vision_hidden_size: int = 64
    vision_intermediate_size: int = 128
    vision_num_heads: int = 4


@dataclass
class Backbone:
    """`model=` config node. `path` is a local checkpoint folder; null builds the tiny model."""
    name: str = "tiny"
    path: str | None = None
    tokenizer_path: str | None = None  # defaults to `path`, or the shipped tiny tokenizer
    arch: TinyArch | None = None  # only for random init
    min_pixels: int = 3136  # 56x56
    max_pixels: int = 12544  # 112x112; real runs raise this (Qwen default 12845056)
    attn_implementation: str = "sdpa"  # flash_attention_2 on GPU when installed
    dtype: str = "float32"  # bfloat16 on GPU
    gradient_checkpointing: bool = False
    allow_hub: bool = False  # load `path` as a hub name (network) only when asked

    def __post_init__(self) -> None:
        if isinstance(self.arch, dict):
            self.arch = TinyArch(**self.arch)
        if self.path is not None and not self.allow_hub and not Path(self.path).is_dir():
            raise FileNotFoundError(
                f"model {self.name}: checkpoint folder {self.path} does not exist; "
                f"set model.path=/local/Qwen2.5-VL-7B-Instruct (downloaded weights) or use model=tiny")
        if self.path is None and self.arch is None:
            raise ValueError(f"model {self.name}: set model.path to a local checkpoint (no arch given to build one)")

    # --- construction -------------------------------------------------------------------
    def processor(self, checkpoint: str | Path | None = None) -> LingshuProcessor:
        src = checkpoint or self.tokenizer_path or self.path or TINY_TOKENIZER
        return load_processor(src, self.min_pixels, self.max_pixels)

    def config(self, processor: LingshuProcessor) -> Qwen2_5_VLConfig:
        a, tok = self.arch, processor.tokenizer
        head_dim = a.hidden_size // a.num_attention_heads
        if sum(a.mrope_section) * 2 != head_dim:
            raise ValueError(f"model.arch.mrope_section {a.mrope_section} must sum to head_dim/2 = {head_dim // 2}")
        ids = {t: tok.convert_tokens_to_ids(t) for t in
               ("<|image_pad|>", "<|video_pad|>", "<|vision_start|>", "<|vision_end|>", "<|im_end|>", "<|endoftext|>")}
        text = dict(vocab_size=len(tok), hidden_size=a.hidden_size, intermediate_size=a.intermediate_size,
                    num_hidden_layers=a.num_hidden_layers, num_attention_heads=a.num_attention_heads,
                    num_key_value_heads=a.num_key_value_heads, max_position_embeddings=8192,
                    rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": list(a.mrope_section)},
                    bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"],
                    tie_word_embeddings=True)
        vision = dict(depth=a.vision_depth, hidden_size=a.vision_hidden_size, intermediate_size=a.vision_intermediate_size,
                      num_heads=a.vision_num_heads, out_hidden_size=a.hidden_size, patch_size=14, spatial_merge_size=2,
                      temporal_patch_size=2, window_size=112, fullatt_block_indexes=list(range(a.vision_depth)))
        return Qwen2_5_VLConfig(text_config=text, vision_config=vision, image_token_id=ids["<|image_pad|>"],
                                video_token_id=ids["<|video_pad|>"], vision_start_token_id=ids["<|vision_start|>"],
                                vision_end_token_id=ids["<|vision_end|>"], bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"],
                                pad_token_id=ids["<|endoftext|>"], tie_word_embeddings=True)

    def build(self, checkpoint: str | Path | None = None, seed: int = 0, empty: bool = False):
        """(model, processor): from `checkpoint` (a previous stage's hf/), `path`, or random init.
        `empty`: the same model with its parameters on the meta device (no weights read), to load
        other weights into (export from a training checkpoint)."""
        src = checkpoint or self.path
        if checkpoint is not None and not Path(checkpoint).is_dir():
            raise FileNotFoundError(f"checkpoint {checkpoint} does not exist (expected a folder written by a "
                                    f"previous stage's export: <run>/train/<stage>/hf)")
        processor = self.processor(src)
        dtype = getattr(torch, self.dtype)
        if src is not None:
            model = Qwen2_5_VLForConditionalGeneration.from_pretrained(
                src, dtype=dtype, attn_implementation=self.attn_implementation, device_map="meta" if empty else None)
        else:
            torch.manual_seed(seed)
            with torch.device("meta") if empty else contextlib.nullcontext():
                model = Qwen2_5_VLForConditionalGeneration(self.config(processor)).to(dtype)
            model.config._attn_implementation = self.attn_implementation
        if self.gradient_checkpointing:
            set_activation_checkpointing(model, True)
        model.generation_config.pad_token_id = processor.tokenizer.pad_token_id
        model.generation_config.eos_token_id = processor.tokenizer.convert_tokens_to_ids("<|im_end|>")
        return model, processor


def module_of(name: str) -> str:
    """Which part of the model a parameter or submodule name belongs to: vision, projector or llm."""
    if ".visual." in f".{name}":
        return "projector" if ".merger." in f"{name}." else "vision"
    return "llm"


def module_groups(model) -> dict[str, list[tuple[str, torch.nn.Parameter]]]:
    """Parameters split as the paper trains them: vision tower, projector (patch merger), LLM."""
    groups: dict[str, list] = {"vision": [], "projector": [], "llm": []}
    for name, p in model.named_parameters():
        groups[module_of(name)].append((name, p))
    return groups


def set_activation_checkpointing(model, on: bool) -> None:
    """transformers 5.x renamed gradient_checkpointing_* to activation_checkpointing_* (the old names
    warn); earlier 5.x releases have only the old ones."""
    prefix = "activation" if hasattr(model, "activation_checkpointing_enable") else "gradient"
    getattr(model, f"{prefix}_checkpointing_{'enable' if on else 'disable'}")()
