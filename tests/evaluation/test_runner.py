"""The evaluation runner end to end on the demo benchmark: predictions, metrics, resume,
data-parallel chunks, and replay reproducing hand-computed accuracy."""

import json

import pytest

from lingshu.engines.replay import ReplayEngine
from lingshu.datasets.demo import DemoBenchmark
from lingshu.evaluation.runner import evaluate
from lingshu.schema import BenchmarkItem


class CountingEngine:
    """Answers every MCQ with A and everything else with 'yes'; counts requests."""

    def __init__(self):
        self.seen = []

    def generate(self, requests):
        self.seen += [r.id for r in requests]
        return ["A" if "Options:" in r.messages[0]["content"] else "yes" for r in requests]


class ListBenchmark:
    name = "toy"
    max_images = 1

    def __init__(self, items):
        self.items = items

    def load(self):
        yield from self.items


def toy_items():
    opts = ["CT", "MRI", "X-ray"]
    return [
        BenchmarkItem(id="m1", benchmark="toy", question="q", answer="A", answer_type="mcq", options=opts),
        BenchmarkItem(id="m2", benchmark="toy", question="q", answer="B", answer_type="mcq", options=opts),
        BenchmarkItem(id="m3", benchmark="toy", question="q", answer="C", answer_type="mcq", options=opts),
        BenchmarkItem(id="m4", benchmark="toy", question="q", answer="MRI", answer_type="mcq", options=opts),
        BenchmarkItem(id="c1", benchmark="toy", question="q", answer="yes", answer_type="closed"),
        BenchmarkItem(id="c2", benchmark="toy", question="q", answer="no", answer_type="closed"),
        BenchmarkItem(id="c3", benchmark="toy", question="q", answer="left", answer_type="closed"),
        BenchmarkItem(id="o1", benchmark="toy", question="q", answer="pleural effusion", answer_type="open"),
        BenchmarkItem(id="o2", benchmark="toy", question="q", answer="liver", answer_type="open"),
    ]


def read(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_replay_reproduces_hand_computed_accuracy(tmp_path):
    responses = {"m1": "A", "m2": "The answer is (B)", "m3": "", "m4": "MRI",      # mcq: 3/4, 1 unparsed
                 "c1": "Yes.", "c2": "unknown", "c3": "left",                       # closed: 2/3, 1 unparsed
                 "o1": "pleural effusion", "o2": "the spleen"}                      # open exact: 1/2
    f = tmp_path / "elsewhere.jsonl"
    f.write_text("".join(json.dumps({"id": k, "response": v}) + "\n" for k, v in responses.items()))
    m = evaluate({"toy": ListBenchmark(toy_items())}, ReplayEngine(str(f)), tmp_path / "eval", progress=False)["toy"]
    assert m["mcq_accuracy"] == pytest.approx(75.0)
    assert m["closed_accuracy"] == pytest.approx(200 / 3)
    assert m["open_exact"] == pytest.approx(50.0) and m["open_accuracy"] == pytest.approx(50.0)
    assert m["open_f1"] == pytest.approx(50.0)
    assert m["accuracy"] == pytest.approx(100 * 6 / 9)
    assert m["unparsed"] == 2 and m["correct"] == 6
    recs = read(tmp_path / "eval" / "toy" / "predictions.jsonl")
    assert [r["id"] for r in recs] == list(responses)
    assert {"id", "response", "extracted", "correct"} <= set(recs[0])
    saved = json.loads((tmp_path / "eval" / "toy" / "metrics.json").read_text())
    assert saved["accuracy"] == pytest.approx(m["accuracy"])
    assert saved["settings"]["prompts"]["mcq"] == "Answer with the option's letter from the given choices directly."


def test_demo_benchmark_metrics(tmp_path):
    m = evaluate({"demo": DemoBenchmark(seed=0, num_images=8)}, CountingEngine(), tmp_path, progress=False,
                 with_meteor=False)["demo"]
    # 8 images: 8 yes/no (4 yes), 4 side, 8 open, 8 mcq (modality index = (i // 2) % 4 -> A for i in 0,1), 8 reports
    assert m["closed_n"] == 12 and m["closed_accuracy"] == pytest.approx(100 * 4 / 12)
    assert m["mcq_n"] == 8 and m["mcq_accuracy"] == pytest.approx(100 * 2 / 8)
    assert m["open_n"] == 8 and m["open_accuracy"] == 0.0
    assert m["report_n"] == 8 and m["rouge_l"] >= 0
    assert set(m["by_category"]) == {"language", "modality", "question_type"}


def test_resume_skips_answered_ids(tmp_path):
    items = toy_items()
    first = CountingEngine()
    evaluate({"toy": ListBenchmark(items)}, first, tmp_path, limit=4, batch_size=2, progress=False)
    assert first.seen == ["m1", "m2", "m3", "m4"]
    # simulate a run killed mid-line: the torn record is redone, the rest kept
    pred = tmp_path / "toy" / "predictions.jsonl"
    pred.write_text(pred.read_text() + '{"id": "c1", "resp')
    second = CountingEngine()
    m = evaluate({"toy": ListBenchmark(items)}, second, tmp_path, batch_size=2, progress=False)["toy"]
    assert second.seen == ["c1", "c2", "c3", "o1", "o2"]
    assert m["n"] == 9
    third = CountingEngine()
    evaluate({"toy": ListBenchmark(items)}, third, tmp_path, progress=False)
    assert third.seen == []


def test_chunks_merge_into_one_result(tmp_path):
    items = toy_items()
    whole = evaluate({"toy": ListBenchmark(items)}, CountingEngine(), tmp_path / "one", progress=False)["toy"]
    engines = [CountingEngine() for _ in range(3)]
    results = [evaluate({"toy": ListBenchmark(items)}, e, tmp_path / "three", num_chunks=3, chunk_idx=i, progress=False)
               for i, e in enumerate(engines)]
    assert results[0] == {} and results[1] == {}  # not all chunks done yet
    assert sorted(i for e in engines for i in e.seen) == sorted(i.id for i in items)
    merged = results[2]["toy"]
    assert merged["accuracy"] == pytest.approx(whole["accuracy"]) and merged["n"] == 9
    assert [r["id"] for r in read(tmp_path / "three" / "toy" / "predictions.jsonl")] == [i.id for i in items]


def test_duplicate_ids_rejected(tmp_path):
    items = toy_items()[:2] + toy_items()[:1]
    with pytest.raises(ValueError, match="duplicate"):
        evaluate({"toy": ListBenchmark(items)}, CountingEngine(), tmp_path, progress=False)


def test_judge_applied_to_open_items(tmp_path):
    class Judge:
        def __init__(self):
            self.calls = []

        def judge(self, triples):
            self.calls += triples
            return [{"correct": r == a, "raw": ""} for _, a, r in triples]

    class Echo:
        def generate(self, requests):
            return ["pleural effusion" if r.id == "o1" else "yes" for r in requests]
    j = Judge()
    m = evaluate({"toy": ListBenchmark(toy_items())}, Echo(), tmp_path, judge=j, progress=False)["toy"]
    # strict judges the open questions; the medevalkit profile (scored alongside) also the closed non-yes/no
    # one, each showing its own reading of the response (LLMJudge sends an identical request once)
    assert [t[1] for t in j.calls] == ["pleural effusion", "liver", "left", "pleural effusion", "liver"]
    assert m["open_accuracy"] == pytest.approx(50.0) and m["open_scored_by"] == "judge"
    strict_closed = [r for r in _read(tmp_path / "toy" / "predictions.jsonl") if r["answer"] == "left"][0]
    assert "judge" not in strict_closed and strict_closed["alt"]["judge"]["correct"] is False


def _read(path):
    import json
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_both_profiles_from_one_generation(tmp_path):
    from lingshu.schema import BenchmarkItem

    opts = ["MRI", "CT", "US", "PET"]
    items = [BenchmarkItem(id=f"m{i}", benchmark="medqa", question="q", answer="A", answer_type="mcq", options=opts)
             for i in range(4)]

    class Fixed:  # empty: MedEvalKit credits option A; "A": both; "B": neither; "A, B": MedEvalKit reads "a, b"
        def generate(self, requests):
            return [{"m0": "", "m1": "A", "m2": "B", "m3": "MRI"}[r.id] for r in requests]
    m = evaluate({"medqa": ListBenchmark(items)}, Fixed(), tmp_path, progress=False,
                 run_info={"checkpoint": "/ckpt/step-9"})["medqa"]
    assert m["accuracy"] == pytest.approx(50.0)  # strict: "A" and "MRI"
    other = m["other_profile"]
    assert other["scoring"] == "medevalkit" and other["accuracy"] == pytest.approx(75.0)
    assert other["disagreements"] == 1
    dis = _read(tmp_path / "medqa" / "disagreements.jsonl")
    assert [d["id"] for d in dis] == ["m0"] and dis[0]["correct"] is False and dis[0]["alt"]["correct"] is True
    assert m["settings"]["protocol"] == {"scoring": "strict", "judge": "rule only", "max_new_tokens": m["settings"]["max_new_tokens"],
                                         "prompt_set": "lingshu"}
    lo, hi = m["accuracy_ci95"]
    assert lo < 50.0 < hi
    rec = _read(tmp_path / "medqa" / "predictions.jsonl")[0]
    assert rec["checkpoint"] == "/ckpt/step-9" and rec["template"] == "mcq" and len(rec["prompt_sha256"]) == 16


def test_count_mismatch_with_the_paper_is_warned(tmp_path, caplog):
    bench = ListBenchmark(toy_items())
    bench.split, bench.expected = "test", {"test": 451}
    evaluate({"toy": bench}, CountingEngine(), tmp_path, progress=False)
    assert "9 items, the paper evaluated 451" in caplog.text


def test_openai_engine_end_to_end(tmp_path, monkeypatch):
    from lingshu.engines.openai import OpenAIEngine

    from .fake_openai_server import FakeOpenAI, last_user_text

    def answer(body):
        parts = body["messages"][0]["content"]
        assert sum(p["type"] == "image_url" for p in parts) == 1  # one image per demo question
        return "A" if "Options:" in last_user_text(body) else "yes"
    with FakeOpenAI(answer) as server:
        engine = OpenAIEngine(model="m", base_url=server.base_url, api_key_env=None)
        m = evaluate({"demo": DemoBenchmark(seed=0, num_images=4, kinds=["closed", "mcq"])}, engine, tmp_path,
                     progress=False)["demo"]
    assert m["mcq_accuracy"] == pytest.approx(50.0)  # modalities of images 0..3: A, A, B, B
    assert m["closed_n"] == 6


def test_engine_returning_too_few_responses_is_an_error(tmp_path):
    class Short:
        def generate(self, requests):
            return ["A"] * (len(requests) - 1)
    with pytest.raises(RuntimeError, match="returned 8 responses for 9"):
        evaluate({"toy": ListBenchmark(toy_items())}, Short(), tmp_path, progress=False)


def test_truncated_answers_are_recorded_and_counted(tiny, tmp_path):
    # a real tiny Qwen2.5-VL through the HF engine with a 2-token budget: every answer is cut by length
    from lingshu.engines.hf import HFEngine
    from lingshu.schema import BenchmarkItem

    model, proc = tiny
    items = [BenchmarkItem(id=f"q{i}", benchmark="medqa", question=f"Question {i}?", answer="A", answer_type="mcq",
                           options=["x", "y"]) for i in range(3)]
    m = evaluate({"medqa": ListBenchmark(items)}, HFEngine(model, proc), tmp_path, max_new_tokens=2,
                 progress=False)["medqa"]
    recs = _read(tmp_path / "medqa" / "predictions.jsonl")
    for r in recs:
        assert r["input_tokens"] > 10 and 1 <= r["output_tokens"] <= 2
        assert r["finish_reason"] in ("stop", "length")
    assert m["length_truncated"] == sum(r["finish_reason"] == "length" for r in recs) > 0


def test_medevalkit_run_uses_its_prompts_and_budget(tmp_path):
    from lingshu.schema import BenchmarkItem

    items = [BenchmarkItem(id="p1", benchmark="pubmedqa", question="Does X help?", context="Background.",
                           answer="A", answer_type="mcq", options=["yes", "no", "maybe"])]

    class Capture:
        def generate(self, requests):
            self.requests = requests
            return [""]
    eng = Capture()
    m = evaluate({"pubmedqa": ListBenchmark(items)}, eng, tmp_path, scoring="medevalkit", progress=False)["pubmedqa"]
    req = eng.requests[0]
    assert req.max_new_tokens == 8192
    assert req.messages[0]["content"].startswith("Context: Background.\n\nQuestion: Does X help?\nOptions: \nA.yes\n")
    assert m["settings"]["protocol"] == {"scoring": "medevalkit", "judge": "rule only", "max_new_tokens": 8192,
                                         "prompt_set": "medevalkit"}
    # the empty answer: MedEvalKit credits option A, strict does not
    assert m["accuracy"] == 100.0 and m["other_profile"] == {"scoring": "strict", "from_same_generation": True,
                                                             "accuracy": 0.0, "mcq_accuracy": 0.0, "unparsed": 1,
                                                             "disagreements": 1}
    assert _read(tmp_path / "pubmedqa" / "predictions.jsonl")[0]["template"] == "medevalkit/mcq"
