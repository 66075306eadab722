import json

from lingshu.schema import LETTERS
from lingshu.synthesis import Reject, apply
from lingshu.synthesis.self_instruct_vqa import MISMATCH, SelfInstructVQA

from .helpers import caption_sample, image_count, user_text

VALID = json.dumps({"question": "Which organ is shown?", "answer": "Liver",
                    "wrong_answers": ["Spleen", "liver", "Kidney", "Heart", "Spleen"]})


def script(body):
    text = user_text(body)
    greedy = body["temperature"] == 0
    if "VALID" in text:
        return VALID
    if "MALFORMED_ONCE" in text:  # broken when greedy; the sampled retry is fine (in a code fence)
        fenced = '```json\n{"question": "Q?", "answer": "A", "wrong answers": ["B"]}\n```'
        return '{"question": "Which' if greedy else fenced
    if "ALWAYS_BAD" in text:
        return "Sorry, I cannot write JSON."
    if "MISMATCH" in text:
        return MISMATCH
    return 400


CAPTIONS = ["VALID caption", "MALFORMED_ONCE caption", "ALWAYS_BAD caption", "MISMATCH caption", "HTTP error caption"]


def run(engine, cache_path, samples):
    syn = SelfInstructVQA(engine, cache_path=cache_path, retries=2, open_ended=True)
    return syn, list(apply({"self_instruct_vqa": syn}, samples, keep_inputs=False))


def test_kept_retried_rejected_and_cached(server, engine, tmp_path):
    server.script = script
    samples = [caption_sample(i, c) for i, c in enumerate(CAPTIONS)]
    syn, out = run(engine, tmp_path / "cache.sqlite", samples)
    # one request each, two retries for the malformed reply that stays malformed, one for the one that recovers
    assert server.count == 1 + 2 + 3 + 1 + 1
    assert all(image_count(b) == 1 and "Description:" in user_text(b) for b in server.bodies)

    kept = {s.id: s for s in out if not isinstance(s, Reject)}
    assert set(kept) == {"cap-0-sivqa-mcq", "cap-0-sivqa-open", "cap-1-sivqa-mcq", "cap-1-sivqa-open"}
    mcq = kept["cap-0-sivqa-mcq"]
    assert sorted(mcq.options) == ["Heart", "Kidney", "Liver", "Spleen"]  # duplicates of answer and wrongs dropped
    assert mcq.options[LETTERS.index(mcq.answer)] == "Liver"
    assert mcq.meta["generator"] == "scripted-mllm" and mcq.meta["inputs"] == ["cap-0"] and mcq.meta["prompt_hash"]
    assert kept["cap-1-sivqa-open"].answer == "A" and kept["cap-1-sivqa-mcq"].options in (["A", "B"], ["B", "A"])

    rejects = {r.id: r for r in out if isinstance(r, Reject)}
    assert rejects["cap-2"].reason.startswith("malformed json")
    assert rejects["cap-2"].raw == "Sorry, I cannot write JSON."
    assert rejects["cap-3"].reason == "mismatch" and rejects["cap-3"].raw == MISMATCH
    assert rejects["cap-4"].reason.startswith("engine error") and rejects["cap-4"].raw is None
    assert all(r.op == "self_instruct_vqa" and r.source == "test" for r in rejects.values())
    assert syn.stats["rejected:mismatch"] == 1 and syn.stats["retried"] == 3

    # A rerun replays every reply from the cache: no request, the same output. The failed HTTP
    # request was not cached, so it is the one request a rerun sends again.
    before = server.count
    syn2, out2 = run(engine, tmp_path / "cache.sqlite", samples)
    assert server.count == before + 1
    assert [o.to_json() for o in out2] == [o.to_json() for o in out]
    assert syn2.stats["requests"] == 1 and syn2.stats["cache_hits"] == 7


def test_rerun_of_successful_batch_sends_nothing(server, engine, tmp_path):
    server.script = script
    samples = [caption_sample(i, "VALID caption") for i in range(40)]
    run(engine, tmp_path / "c.sqlite", samples)
    assert server.count == 40
    run(engine, tmp_path / "c.sqlite", samples)
    assert server.count == 40


def test_at_least_32_requests_in_flight(server, engine, tmp_path):
    server.script = script
    server.delay_s = 0.4  # slow replies: the client must keep many open at once
    run(engine, None, [caption_sample(i, "VALID caption") for i in range(64)])
    assert server.count == 64 and server.peak_in_flight == 32  # the engine's configured concurrency
