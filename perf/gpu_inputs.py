"""Inputs shared by the GPU benchmarks (rl_gpu.py, eval_gpu.py): demo images at a realistic size."""

from __future__ import annotations

import io

from PIL import Image


def resized(png: bytes, size: int) -> bytes:
    """The image as a `size` x `size` PNG (the demo renders 112 px; real medical images are larger)."""
    buf = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").resize((size, size)).save(buf, format="PNG")
    return buf.getvalue()
