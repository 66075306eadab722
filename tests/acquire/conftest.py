from __future__ import annotations

import pytest

from tests.acquire.fakehub import FakeHub


@pytest.fixture
def hub(monkeypatch):
    """A fake hub on 127.0.0.1, with huggingface_hub pointed at it and no token in the environment."""
    import huggingface_hub.constants as constants

    with FakeHub() as fake:
        monkeypatch.setenv("HF_ENDPOINT", fake.url)
        monkeypatch.delenv("HF_TOKEN", raising=False)
        monkeypatch.setenv("HF_HUB_OFFLINE", "0")
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        yield fake
