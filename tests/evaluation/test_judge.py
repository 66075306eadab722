"""The LLM judge against a local OpenAI-compatible server on 127.0.0.1."""

import hashlib
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lingshu.evaluation import judge as judge_mod
from lingshu.evaluation.judge import LLMJudge
from lingshu.evaluation.medevalkit import JUDGE_TEMPLATE_SHA256, judge_prompt_builder
from lingshu.evaluation.runner import protocol

from .fake_openai_server import FakeOpenAI, last_user_text

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "medevalkit_judge_prompt.py"
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


# A stand-in for MedEvalKit's template (we do not ship its text): placeholders, a stray brace pair
# like the ones MedEvalKit's template has, and the lines the fake server reads.
SYNTHETIC_TEMPLATE = ("Grade this.\nQuestion: {question}\nStandard answer: {answer}\nUser's answer: {response}\n"
                      "Reply <think>{your reasoning}</think><judge>{0/1}</judge>\n")
DATA = Path(__file__).parent / "data" / "medevalkit_judge_prompt.json"


def write_template(tmp_path, text=SYNTHETIC_TEMPLATE):
    path = tmp_path / "judge_prompt.txt"
    path.write_bytes(text.encode("utf-8"))
    return str(path)


def test_medevalkit_style_renders_the_prompt_file_and_reads_verdicts(judge_env, caplog):
    server, tmp = judge_env
    with caplog.at_level(logging.WARNING, logger="lingshu.evaluation.judge"):
        j = make(server, tmp, style="medevalkit", prompt_file=write_template(tmp))
    # a template that is not MedEvalKit's: one warning line, and the protocol block says so
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 1 and "differs from MedEvalKit's" in warned[0] and "\n" not in warned[0]
    assert j.prompt_is_medevalkit is False and j.describe()["prompt_is_medevalkit"] is False
    proto = protocol("medevalkit", j, 8192, False)
    assert proto["judge_prompt"] == "judge prompt differs from MedEvalKit's"
    assert proto["judge_prompt_sha256"] == hashlib.sha256(SYNTHETIC_TEMPLATE.encode()).hexdigest()[:16]
    # one pass over {question} {answer} {response}; other braces, and braces in the values, stay as they are
    assert j.render("Is it {x}?", "no {answer}", "{question} }{") == (
        "Grade this.\nQuestion: Is it {x}?\nStandard answer: no {answer}\nUser's answer: {question} }{\n"
        "Reply <think>{your reasoning}</think><judge>{0/1}</judge>\n")
    out = j.judge([("q", "liver", "liver"), ("q", "liver", "spleen"), ("q", "liver", "garbled")])
    assert [o["correct"] for o in out] == [True, False, False]  # medevalkit: an unreadable verdict is wrong
    # requests run concurrently: compare the sent prompts as a set
    assert {last_user_text(b) for b in server.bodies} == {j.render("q", "liver", r) for r in ("liver", "spleen", "garbled")}
    assert j.parse("0") is True  # no tags: the whole reply is the verdict
    assert j.parse("<judge>0</judge><judge>1</judge>") is False  # "0 1"
    assert j.parse("") is False and j.parse(None) is False


def test_medevalkit_template_recognised_by_its_digest(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(judge_mod, "JUDGE_TEMPLATE_SHA256", hashlib.sha256(SYNTHETIC_TEMPLATE.encode()).hexdigest())
    with caplog.at_level(logging.WARNING, logger="lingshu.evaluation.judge"):
        j = LLMJudge(model="gpt-4.1", base_url="http://127.0.0.1:9/v1", api_key_env=None, style="medevalkit",
                     prompt_file=write_template(tmp_path))
    assert not caplog.records and j.prompt_is_medevalkit is True
    assert protocol("medevalkit", j, 8192, False)["judge_prompt"] == "medevalkit"
    # our own prompt style is not MedEvalKit's judge prompt either
    ours = LLMJudge(model="gpt-4.1", base_url="http://127.0.0.1:9/v1", api_key_env=None)
    assert ours.prompt_is_medevalkit is None
    assert protocol("strict", ours, 8192, False)["judge_prompt"] == "judge prompt differs from MedEvalKit's"


def test_medevalkit_style_needs_a_prompt_file(tmp_path):
    with pytest.raises(ValueError, match=r"judge.prompt_file is not set.*scripts/medevalkit_judge_prompt.py"):
        LLMJudge(model="m", base_url="http://127.0.0.1:9/v1", api_key_env=None, style="medevalkit")
    with pytest.raises(FileNotFoundError, match="judge.prompt_file=.*nope.txt: no such file"):
        LLMJudge(model="m", base_url="http://127.0.0.1:9/v1", api_key_env=None, style="medevalkit",
                 prompt_file=str(tmp_path / "nope.txt"))
    with pytest.raises(ValueError, match=r"judge_prompt.txt: no \{response\} placeholder"):
        LLMJudge(model="m", base_url="http://127.0.0.1:9/v1", api_key_env=None, style="medevalkit",
                 prompt_file=write_template(tmp_path, "Q: {question} A: {answer}"))
    with pytest.raises(ValueError, match="judge.style"):
        LLMJudge(model="m", base_url="http://127.0.0.1:9/v1", api_key_env=None, style="other")


def test_extraction_script_calls_the_checkouts_builder(tmp_path):
    # a checkout whose utils.py imports packages that are not installed: only the builder is compiled
    (tmp_path / "utils").mkdir()
    (tmp_path / "utils" / "utils.py").write_text(
        "import no_such_package_here\nfrom google import genai\n\n"
        "def get_compare_messages(question,response,answer):\n"
        "    prompt = f\"\"\"Q={question} R={response} A={answer} {{literal}}\"\"\"\n"
        "    return [{\"role\":\"user\",\"content\":prompt}]\n", encoding="utf-8")
    out = tmp_path / "t.txt"
    run = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path), str(out)], capture_output=True, text=True,
                         check=True)
    assert out.read_bytes() == b"Q={question} R={response} A={answer} {literal}"
    assert "NOT the known MedEvalKit template" in run.stdout
    bad = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "missing")], capture_output=True, text=True)
    assert bad.returncode == 1 and bad.stderr.strip().count("\n") == 0 and "utils/utils.py: not found" in bad.stderr


@pytest.mark.skipif(not os.environ.get("LINGSHU_MEDEVALKIT"),
                    reason="set LINGSHU_MEDEVALKIT=<MedEvalKit checkout> to check the real judge prompt")
def test_real_medevalkit_template_digest_and_renders(tmp_path):
    checkout = os.environ["LINGSHU_MEDEVALKIT"]
    out = tmp_path / "medevalkit_judge_prompt.txt"
    subprocess.run([sys.executable, str(SCRIPT), checkout, str(out)], check=True, capture_output=True)
    assert hashlib.sha256(out.read_bytes()).hexdigest() == JUDGE_TEMPLATE_SHA256
    j = LLMJudge(model="gpt-4.1", base_url="http://127.0.0.1:9/v1", api_key_env=None, style="medevalkit",
                 prompt_file=str(out))
    assert j.prompt_is_medevalkit is True
    builder = judge_prompt_builder(checkout)
    for case in json.loads(DATA.read_text(encoding="utf-8"))["cases"]:
        q, a, r = case["question"], case["answer"], case["response"]
        theirs = builder(q, r, a)[-1]["content"]
        assert hashlib.sha256(theirs.encode()).hexdigest() == case["prompt_sha256"]
        assert j.render(q, a, r) == theirs
