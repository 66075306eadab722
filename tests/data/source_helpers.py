"""Small image files for the golden reader tests."""

from __future__ import annotations

import io

from PIL import Image


def image_bytes(fmt: str = "PNG", size: int = 80, shade: int = 100) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), (shade, shade // 2, 30)).save(buf, format=fmt)
    return buf.getvalue()
