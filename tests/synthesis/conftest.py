"""Fixtures: a scripted OpenAI-compatible server on 127.0.0.1 and the HTTP engine pointed at it."""

import pytest

from lingshu.engines.openai import OpenAIEngine

from .helpers import ScriptedServer


@pytest.fixture
def server():
    s = ScriptedServer()
    s.thread.start()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


@pytest.fixture
def engine(server):
    return OpenAIEngine(model="scripted-mllm", base_url=server.url, api_key_env=None, concurrency=32,
                        max_retries=0, backoff_s=0.0)
