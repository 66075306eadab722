"""Fixture writing small image files for the golden reader tests."""

from __future__ import annotations

import pytest

from source_helpers import image_bytes


@pytest.fixture
def write_image():
    def write(path, fmt: str = "PNG", shade: int = 100) -> bytes:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = image_bytes(fmt, shade=shade)
        path.write_bytes(data)
        return data

    return write
