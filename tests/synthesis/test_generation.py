import pickle

import pytest

from lingshu.data.demo import demo_samples
from lingshu.engines.base import GenerationRequest
from lingshu.schema import Sample
from lingshu.synthesis import Reject, apply, build_synthesizers
from lingshu.synthesis.cot_distill import CoTDistill
from lingshu.synthesis.generation import (
    Generator,
    Job,
    Retry,
    fill,
    parse_json_object,
    request_key,
)

from .helpers import compose_synthesis


class ListEngine:
    """An in-process engine replying from a list, counting calls (batches) and requests."""

    model = "list"

    def __init__(self, replies):
        self.replies, self.calls, self.requests = list(replies), 0, 0

    def generate(self, requests):
        self.calls += 1
        self.requests += len(requests)
        return [self.replies.pop(0) for _ in requests]


def test_parse_json_object_tolerates_fences_and_prose():
    assert parse_json_object('Sure!\n```json\n{"a": 1, "b": [2]}\n```', ["a"]) == {"a": 1, "b": [2]}
    for bad in ("no json here", '{"a": 1', "[1, 2]", '{"b": 1}'):
        with pytest.raises(Retry):
            parse_json_object(bad, ["a"])


def test_fill_leaves_other_braces_alone():
    assert fill('Reply {"q": "..."} about {caption}.', caption="a CT") == 'Reply {"q": "..."} about a CT.'


def test_requests_go_out_as_whole_batches():
    engine = ListEngine(["r"] * 300)
    gen = Generator(engine, batch_size=256)
    jobs = [Job(GenerationRequest([{"role": "user", "content": f"q{i}"}]), "p", str) for i in range(300)]
    assert [o.value for o in gen.run(jobs)] == ["r"] * 300
    assert engine.calls == 2 and engine.requests == 300


def test_engine_exception_rejects_its_batch_after_retries():
    class Down:
        def generate(self, requests):
            raise ConnectionError("server down")

    gen = Generator(Down(), engine_retries=1, backoff_s=0.0)
    out = gen.run([Job(GenerationRequest([{"role": "user", "content": "q"}]), "p", str)])
    assert out[0].error == "engine error: ConnectionError('server down')" and gen.stats["engine_errors"] == 2


def test_engine_returning_too_few_replies_is_an_engine_error():
    class Short:
        def generate(self, requests):
            return ["only one"]

    gen = Generator(Short(), engine_retries=0)
    jobs = [Job(GenerationRequest([{"role": "user", "content": f"q{i}"}]), "p", str) for i in range(2)]
    assert all(o.error.startswith("engine error: RuntimeError('engine returned 1 replies") for o in gen.run(jobs))


def test_cache_key_depends_on_model_prompt_and_request():
    req = GenerationRequest([{"role": "user", "content": "q"}], images=[b"x"])
    base = request_key("m", "p", req)
    assert base == request_key("m", "p", GenerationRequest([{"role": "user", "content": "q"}], images=[b"x"]))
    others = {request_key("m2", "p", req), request_key("m", "p2", req),
              request_key("m", "p", GenerationRequest([{"role": "user", "content": "q"}], images=[b"y"])),
              request_key("m", "p", GenerationRequest([{"role": "user", "content": "q"}], images=[b"x"], seed=1))}
    assert base not in others and len(others) == 4


def test_synthesizer_with_cache_pickles_for_worker_processes(tmp_path):
    gen = Generator(ListEngine(["a"]), cache_path=tmp_path / "c.sqlite")
    gen.run([Job(GenerationRequest([{"role": "user", "content": "q"}]), "p", str)])
    clone = pickle.loads(pickle.dumps(gen))
    assert clone.run([Job(GenerationRequest([{"role": "user", "content": "q"}]), "p", str)])[0].value == "a"
    assert clone.engine.requests == 1  # answered from the shared on-disk cache


NAMES = ["template_vqa", "ocr_render", "self_instruct_vqa", "long_caption", "cot_distill", "dialogue_clean"]


def test_every_config_builds(server, tmp_path, monkeypatch):
    monkeypatch.setenv("LINGSHU_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("LINGSHU_SYNTHESIS_BASE_URL", server.url)
    no_key = [f"synthesis.{n}.engine.api_key_env=null" for n in NAMES[2:]]
    syns = build_synthesizers(compose_synthesis(f"+synthesis=[{','.join(NAMES)}]", *no_key))
    assert list(syns) == NAMES and all(syns[n].name == n for n in NAMES)
    assert syns["template_vqa"].seed == 5 and syns["ocr_render"].generator is None
    assert syns["cot_distill"].generator.model == "gpt-4.1"
    assert syns["cot_distill"].generator.engine.base_url == server.url
    assert syns["cot_distill"].generator.cache.path == str(tmp_path / "synthesis" / "cot_distill.sqlite")
    for syn in syns.values():  # every prompt file a config names exists and says something
        assert all(getattr(syn, "prompts", {"none": "ok"}).values())


def test_apply_passes_inputs_and_runs_several_synthesizers_in_one_pass():
    syns = build_synthesizers(compose_synthesis("+synthesis=[template_vqa,ocr_render]"))
    consumed = []

    def stream():
        for s in demo_samples("train", seed=0, num_images=16, num_text=6, planted=False):
            consumed.append(s.id)
            yield s

    out = list(apply(syns, stream(), chunk_size=10))
    inputs = [o for o in out if isinstance(o, Sample) and "synthesis" not in o.meta]
    assert [s.id for s in inputs] == consumed  # every input passes through, in order
    made = [o for o in out if isinstance(o, Sample) and "synthesis" in o.meta]
    assert {s.meta["synthesis"] for s in made} == {"template_vqa", "ocr_render"}
    assert syns["ocr_render"].stats["synthesized"] == 6 and syns["template_vqa"].stats["synthesized"] == 16 * 4
    assert not any(isinstance(o, Reject) for o in out)


def test_model_based_synthesizer_without_engine_is_refused():
    with pytest.raises(ValueError, match="needs an engine"):
        CoTDistill(None)
