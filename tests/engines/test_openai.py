"""The OpenAI-compatible engine against a local server on 127.0.0.1."""

import base64
import importlib.util
import io
import json
import threading
from pathlib import Path

import pytest
from PIL import Image

from lingshu.engines.base import GenerationRequest
from lingshu.engines.openai import OpenAIEngine, RequestFailed, to_openai_messages

_spec = importlib.util.spec_from_file_location(
    "fake_openai_server", Path(__file__).parents[1] / "evaluation" / "fake_openai_server.py")
_fake = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fake)
FakeOpenAI, last_user_text = _fake.FakeOpenAI, _fake.last_user_text

SECRET = "sk-engine-secret-abcdef"


def png(color):
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buf, "PNG")
    return buf.getvalue()


def echo(body):
    return last_user_text(body)


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("TEST_OPENAI_KEY", SECRET)


def engine(server, **kw):
    kw.setdefault("max_retries", 2)
    return OpenAIEngine(model="m", base_url=server.base_url, api_key_env="TEST_OPENAI_KEY", backoff_s=0.01, **kw)


def test_images_sent_as_base64_data_urls_in_order():
    imgs = [png("red"), png("blue")]
    req = GenerationRequest(messages=[{"role": "user", "content": "<image><image>\nCompare."}], images=imgs,
                            max_new_tokens=5)
    with FakeOpenAI(echo) as server:
        assert engine(server).generate([req]) == ["\nCompare."]
        body = server.bodies[0]
    parts = body["messages"][0]["content"]
    assert [p["type"] for p in parts] == ["image_url", "image_url", "text"]
    for p, raw in zip(parts[:2], imgs):
        url = p["image_url"]["url"]
        assert url.startswith("data:image/png;base64,")
        assert base64.b64decode(url.split(",", 1)[1]) == raw
    assert body["max_tokens"] == 5 and body["temperature"] == 0.0


def test_placeholder_count_must_match_images():
    with pytest.raises(ValueError):
        to_openai_messages(GenerationRequest(messages=[{"role": "user", "content": "<image>"}], images=[]))
    with pytest.raises(ValueError):
        to_openai_messages(GenerationRequest(messages=[{"role": "user", "content": "x"}], images=[b"1"]))


def test_text_only_and_order_preserved_under_concurrency():
    reqs = [GenerationRequest(messages=[{"role": "user", "content": f"n{i}"}]) for i in range(64)]
    with FakeOpenAI(echo, delay_s=0.2) as server:
        out = engine(server, concurrency=32).generate(reqs)
        peak = server.peak_in_flight
    assert out == [f"n{i}" for i in range(64)]
    assert peak >= 32  # requests really run concurrently


def test_retries_with_backoff_on_429_and_5xx():
    calls = {"n": 0}
    lock = threading.Lock()

    def flaky(body):
        with lock:
            calls["n"] += 1
            n = calls["n"]
        return {1: 429, 2: 503}.get(n, "ok")
    with FakeOpenAI(flaky) as server:
        assert engine(server, max_retries=3).generate([GenerationRequest(messages=[{"role": "user", "content": "x"}])]) == ["ok"]
    assert calls["n"] == 3


def test_gives_up_after_retries_without_leaking_the_key():
    with FakeOpenAI(lambda body: 500) as server:
        e = engine(server, max_retries=1)
        with pytest.raises(RequestFailed) as info:
            e.generate([GenerationRequest(messages=[{"role": "user", "content": "x"}])])
        assert len(server.bodies) == 2
        assert server.headers[0]["Authorization"] == f"Bearer {SECRET}"
    assert SECRET not in str(info.value) and SECRET not in repr(e) and SECRET not in json.dumps(e.describe())


def test_client_errors_are_not_retried():
    with FakeOpenAI(lambda body: 400) as server:
        with pytest.raises(RequestFailed, match="400"):
            engine(server, max_retries=3).generate([GenerationRequest(messages=[{"role": "user", "content": "x"}])])
        assert len(server.bodies) == 1


def test_timeout_is_retried_then_fails():
    with FakeOpenAI(echo, delay_s=1.0) as server, pytest.raises(RequestFailed):
        engine(server, timeout_s=0.2, max_retries=1).generate([GenerationRequest(messages=[{"role": "user", "content": "x"}])])


def test_no_auth_header_without_key_variable():
    with FakeOpenAI(echo) as server:
        OpenAIEngine(model="m", base_url=server.base_url, api_key_env=None).generate(
            [GenerationRequest(messages=[{"role": "user", "content": "x"}])])
        assert "Authorization" not in server.headers[0]


def test_missing_key_variable_fails_clearly(monkeypatch):
    monkeypatch.delenv("ABSENT_KEY_VAR", raising=False)
    with pytest.raises(RuntimeError, match="ABSENT_KEY_VAR"):
        OpenAIEngine(model="m", api_key_env="ABSENT_KEY_VAR")
