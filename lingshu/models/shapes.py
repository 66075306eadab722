"""Random-weight Qwen2.5-VL models with a release's dimensions, for throughput and memory checks.

The real architecture class with the release's text and vision sizes, and the shipped tiny
tokenizer (a ~1.4k vocabulary instead of 151k, so the embedding is small; the vision tower uses
full attention in every block). Built on the target device directly in the target dtype, so a 7B
model never exists in fp32 on the CPU.

    model, processor = shaped_model("qwen2_5_vl_7b", device="cuda")
"""

from __future__ import annotations

import contextlib

import torch

from lingshu.models.backbone import Backbone, TinyArch

_VISION = {"vision_depth": 32, "vision_hidden_size": 1280, "vision_intermediate_size": 3420, "vision_num_heads": 16}
# Text dimensions from the releases' config.json; head_dim 128, so mrope_section sums to 64.
SHAPES: dict[str, TinyArch] = {
    "tiny": TinyArch(),
    "qwen2_5_vl_3b": TinyArch(hidden_size=2048, intermediate_size=11008, num_hidden_layers=36, num_attention_heads=16,
                              num_key_value_heads=2, mrope_section=[16, 24, 24], **_VISION),
    "qwen2_5_vl_7b": TinyArch(hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
                              num_key_value_heads=4, mrope_section=[16, 24, 24], **_VISION),
}


@contextlib.contextmanager
def default_dtype(dtype: torch.dtype):
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


def shaped_model(shape: str, device: str = "cpu", dtype: str = "bfloat16", min_pixels: int = 3136,
                 max_pixels: int = 50176, seed: int = 0):
    """(model, processor) of `SHAPES[shape]` with random weights; pixel budget 56x56 to 224x224 by default."""
    if shape not in SHAPES:
        raise ValueError(f"unknown model shape {shape!r}; one of {', '.join(SHAPES)}")
    backbone = Backbone(name=shape, arch=SHAPES[shape], dtype=dtype, min_pixels=min_pixels, max_pixels=max_pixels)
    with torch.device(device), default_dtype(getattr(torch, dtype)):
        return backbone.build(seed=seed)
