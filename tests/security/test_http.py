"""Hostile HTTP servers on 127.0.0.1 against the OpenAI-compatible engine and the LLM judge:
the key never leaves base_url, a dripping server is cut at the deadline, a huge reply is cut at
the size cap, and every broken reply is retried and then counted, never a crash."""

from __future__ import annotations

import json

import pytest

from lingshu.engines.base import GenerationRequest
from lingshu.engines.openai import OpenAIEngine, RequestFailed
from lingshu.evaluation.judge import LLMJudge

from .hostile_server import HostileServer, completion, drip, http_head, ok_reply

SECRET = "sk-hostile-secret-0123456789"
pytestmark = pytest.mark.timeout(120)  # every case is bounded; a hang is a failure, not a stuck CI


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("HOSTILE_KEY", SECRET)


def engine(server: HostileServer, **kw) -> OpenAIEngine:
    kw.setdefault("max_retries", 0)
    return OpenAIEngine(model="m", base_url=server.base_url, api_key_env="HOSTILE_KEY", backoff_s=0.01, **kw)


def ask(e: OpenAIEngine) -> list[str]:
    return e.generate([GenerationRequest(messages=[{"role": "user", "content": "x"}])])


def judge(server: HostileServer, tmp_path, **kw) -> LLMJudge:
    return LLMJudge(model="j", base_url=server.base_url, api_key_env="HOSTILE_KEY", max_retries=1, backoff_s=0.01,
                    cache_path=str(tmp_path / "cache.jsonl"), **kw)


def test_cross_origin_redirect_never_carries_the_key(tmp_path):
    verdict = completion("<think>x</think><judge>0</judge>")
    with HostileServer(lambda path, h: ok_reply(verdict)) as other:
        target = f"http://127.0.0.1:{other.port}/v1/chat/completions"
        with HostileServer(lambda path, h: iter([http_head("302 Found", {"Location": target, "Content-Length": "0"})])) as first:
            with pytest.raises(RequestFailed, match="redirect .* not followed") as info:
                ask(engine(first, max_retries=2))
            out = judge(first, tmp_path).judge([("q", "a", "a")])
            assert first.requests[0]["authorization"] == f"Bearer {SECRET}"
        assert all("authorization" not in h for h in other.requests)
    assert other.requests == []  # nothing was sent there at all
    assert len(first.requests) == 2  # a redirect is not retried: one for the engine, one for the judge
    assert SECRET not in str(info.value)
    assert out[0]["correct"] is None and "redirect" in out[0]["error"]  # judge_failed, not a verdict from elsewhere
    assert not (tmp_path / "cache.jsonl").exists()  # and nothing cached


@pytest.mark.parametrize("part", ["body", "headers"])
def test_a_dripping_server_is_cut_at_the_deadline(part):
    body = completion("slow " * 40)
    whole = http_head("200 OK", {"Content-Length": str(len(body))}) + body

    def reply(path, headers):
        if part == "body":
            yield whole[:-len(body)]
            yield from drip(body)
        else:
            yield from drip(whole)
    with HostileServer(reply, pause_s=0.05) as server:  # the whole reply takes >= 12 s
        with pytest.raises(RequestFailed, match=r"no complete reply within timeout_s=1"):
            ask(engine(server, timeout_s=1.0))
    assert server.hung_up == [True] and server.sent[0] < len(whole)


@pytest.mark.parametrize("declared", [True, False])
def test_a_huge_reply_is_cut_at_the_size_cap(declared):
    size = 64 << 20

    def reply(path, headers):
        head = {"Content-Length": str(size)} if declared else {}
        yield http_head("200 OK", head)
        yield b'{"choices": [{"message": {"content": "'
        for _ in range(size >> 16):
            yield b"x" * (1 << 16)
    with HostileServer(reply) as server:
        with pytest.raises(RequestFailed, match="max_response_bytes 1048576"):
            ask(engine(server, max_response_bytes=1 << 20, max_retries=2))
    assert len(server.requests) == 1  # a size breach is not retried
    assert server.sent[0] < size // 2


@pytest.mark.parametrize("name,raw", [
    ("cut body", http_head("200 OK", {"Content-Length": "1000"}) + b'{"choices": ['),  # IncompleteRead
    ("not json", http_head("200 OK", {"Content-Length": "9"}) + b"not json!"),
    ("list content", http_head("200 OK", {}) + json.dumps({"choices": [{"message": {"content": ["a"]}}]}).encode()),
    ("no choices", http_head("200 OK", {}) + b"{}"),
    ("garbage status line", b"SPAM\r\n\r\n"),
])
def test_broken_replies_are_retried_then_counted_as_judge_failed(tmp_path, name, raw):
    with HostileServer(lambda path, h: iter([raw])) as server:
        with pytest.raises(RequestFailed, match="failed after 2 attempts") as info:
            ask(engine(server, max_retries=1))
        out = judge(server, tmp_path).judge([("q", "a", "a"), ("q", "a", "b")])
    assert len(server.requests) == 2 + 4  # every attempt retried once, for the engine and for both judgements
    assert SECRET not in str(info.value) and f"127.0.0.1:{server.port}" in str(info.value)
    assert [o["correct"] for o in out] == [None, None] and all(o["error"] for o in out)


def test_a_cut_judge_cache_line_is_skipped_and_not_glued_to_the_next(tmp_path):
    verdict = completion("<think>x</think><judge>0</judge>")
    with HostileServer(lambda path, h: ok_reply(verdict)) as server:
        first = judge(server, tmp_path)
        first.judge([("q", "a", "a")])
        cache = tmp_path / "cache.jsonl"
        cache.write_bytes(cache.read_bytes() + b'{"key": "cut-by-a-kil')  # a kill mid-write
        with pytest.warns(UserWarning, match=r"cache.jsonl: line\(s\) \[2\] unreadable"):
            again = judge(server, tmp_path)
        assert again.judge([("q", "a", "a")])[0]["correct"] is True and len(server.requests) == 1  # cached
        again.judge([("q", "a", "other")])  # appended after the cut line, on a line of its own
        with pytest.warns(UserWarning):
            third = judge(server, tmp_path)
    assert len(third.cache) == 2
