"""The LLM judge against a local OpenAI-compatible server on 127.0.0.1."""

import json

import pytest

from lingshu.evaluation.judge import LLMJudge

from .fake_openai_server import FakeOpenAI, last_user_text

SECRET = "sk-test-never-write-me-1234567890"


def verdict_by_answer(body):
    text = last_user_text(body)
    if "User's answer: garbled" in text:
        return "I refuse to follow the format"
    if "User's answer: crash" in text:
        return 500
    right = text.split("Standard answer: ")[1].split("\n")[0] == text.split("User's answer: ")[1].split("\n")[0]
    return f"<think>compare</think><judge>{0 if right else 1}</judge>"


@pytest.fixture
def judge_env(monkeypatch, tmp_path):
    monkeypatch.setenv("JUDGE_KEY", SECRET)
    with FakeOpenAI(verdict_by_answer) as server:
        yield server, tmp_path


def make(server, tmp_path, **kw):
    return LLMJudge(model="judge-model", base_url=server.base_url, api_key_env="JUDGE_KEY",
                    cache_path=str(tmp_path / "cache.jsonl"), max_retries=1, backoff_s=0.01, **kw)


def test_verdicts_and_failures(judge_env):
    server, tmp = judge_env
    j = make(server, tmp)
    out = j.judge([("q", "liver", "liver"), ("q", "liver", "spleen"), ("q", "liver", "garbled"), ("q", "liver", "crash")])
    assert [o["correct"] for o in out] == [True, False, None, None]
    assert "error" in out[3]
    assert server.headers[0]["Authorization"] == f"Bearer {SECRET}"
    assert server.bodies[0]["temperature"] == 0.0 and server.bodies[0]["model"] == "judge-model"


def test_cache_hit_sends_no_request(judge_env):
    server, tmp = judge_env
    make(server, tmp).judge([("q", "a", "a"), ("q", "a", "b")])
    sent = len(server.bodies)
    j2 = make(server, tmp)  # a new judge reads the cache file
    out = j2.judge([("q", "a", "a"), ("q", "a", "b"), ("q", "a", "a")])
    assert [o["correct"] for o in out] == [True, False, True]
    assert len(server.bodies) == sent and j2.requests_sent == 0


def test_cache_keyed_by_judge_model_and_prompt(judge_env):
    server, tmp = judge_env
    make(server, tmp).judge([("q", "a", "a")])
    j = make(server, tmp, prompt="Other prompt {question} Standard answer: {answer}\nUser's answer: {response}\n")
    j.judge([("q", "a", "a")])
    assert j.requests_sent == 1


def test_duplicate_triples_sent_once(judge_env):
    server, tmp = judge_env
    j = make(server, tmp)
    j.judge([("q", "a", "a")] * 5)
    assert j.requests_sent == 1 and len(server.bodies) == 1


def test_failed_requests_are_retried_next_time_not_cached(judge_env):
    server, tmp = judge_env
    j = make(server, tmp)
    j.judge([("q", "a", "crash")])
    before = j.requests_sent
    j.judge([("q", "a", "crash")])
    assert j.requests_sent == before + 1


def test_api_key_never_in_outputs(judge_env):
    server, tmp = judge_env
    j = make(server, tmp)
    out = j.judge([("q", "a", "a"), ("q", "a", "crash")])
    assert SECRET not in json.dumps(out)
    assert SECRET not in (tmp / "cache.jsonl").read_text()
    assert SECRET not in repr(j) and SECRET not in json.dumps(j.describe())


def test_parse_verdicts():
    j = LLMJudge.__new__(LLMJudge)
    j.correct_label, j.style = "0", "lingshu"
    assert j.parse("<think>x</think><judge>0</judge>") is True
    assert j.parse("<judge> 1 </judge>") is False
    assert j.parse("<judge>0</judge><judge>1</judge>") is None
    assert j.parse("0") is None and j.parse("") is None


def test_missing_key_variable_fails_clearly(monkeypatch):
    monkeypatch.delenv("NO_SUCH_KEY_VAR", raising=False)
    with pytest.raises(RuntimeError, match="NO_SUCH_KEY_VAR"):
        LLMJudge(model="m", base_url="http://127.0.0.1:9/v1", api_key_env="NO_SUCH_KEY_VAR")


def test_medevalkit_style_prompt_and_verdicts():
    # golden: MedEvalKit's get_compare_messages run on placeholder strings
    import json
    from pathlib import Path

    ref = json.loads((Path(__file__).parent / "data" / "medevalkit_judge_prompt.json").read_text(encoding="utf-8"))
    j = LLMJudge(model="gpt-4.1", base_url="http://127.0.0.1:9/v1", api_key_env=None, style="medevalkit")
    assert j.prompt.format(question=ref["question"], answer=ref["answer"], response=ref["response"]) == ref["prompt"]
    assert j.parse("<think>same</think>\n<judge>0</judge>") is True
    assert j.parse("0") is True  # no tags: the whole reply is the verdict
    assert j.parse("<judge>1</judge>") is False
    assert j.parse("<judge>0</judge><judge>1</judge>") is False  # "0 1"
    assert j.parse("") is False and j.parse(None) is False
    with pytest.raises(ValueError, match="judge.style"):
        LLMJudge(model="m", base_url="http://127.0.0.1:9/v1", api_key_env=None, style="other")
