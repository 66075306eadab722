"""The vLLM engine is GPU-only: importing it is free, building it without vLLM fails clearly."""

import importlib.util

import pytest

from lingshu.engines import vllm as vllm_engine


def test_module_imports_without_vllm():
    assert hasattr(vllm_engine, "VLLMEngine")


def test_needs_a_checkpoint():
    with pytest.raises(ValueError, match="model.path"):
        vllm_engine.VLLMEngine(model_path=None)


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vLLM is installed here")
def test_clear_error_without_vllm(tmp_path):
    with pytest.raises(ImportError, match=r"lingshu\[gpu\]"):
        vllm_engine.VLLMEngine(model_path=str(tmp_path))


def test_evaluation_through_vllm_sends_greedy_chat_templated_requests(tiny, tmp_path, monkeypatch):
    from lingshu.data.collate import render_chat
    from lingshu.datasets.demo import DemoBenchmark
    from lingshu.evaluation.prompts import build_request
    from lingshu.evaluation.runner import run_benchmark
    from lingshu.models.export import export_hf
    from tests import fake_vllm

    llm_class = fake_vllm.install(monkeypatch)
    folder = export_hf(*tiny, tmp_path / "hf")
    engine = vllm_engine.VLLMEngine(model_path=str(folder), max_images=1, min_pixels=3136, max_pixels=12544)
    bench = DemoBenchmark(num_images=3, kinds=["mcq"])
    metrics = run_benchmark("demo", bench, engine, tmp_path / "eval", batch_size=8, max_new_tokens=4,
                            with_meteor=False, progress=False)
    llm = llm_class.last
    assert llm.kwargs["limit_mm_per_prompt"] == {"image": 1} and llm.kwargs["load_format"] == "auto"
    items = list(bench.load())
    assert metrics["n"] == len(items) == len(llm.requests) == 3
    tok = tiny[1].tokenizer
    for item, (prompt, sp) in zip(items, llm.requests):
        assert prompt["prompt"] == render_chat(tok, build_request(item).messages, add_generation_prompt=True)
        assert len(prompt["multi_modal_data"]["image"]) == 1
        assert (sp.n, sp.temperature, sp.top_p, sp.max_tokens) == (1, 0.0, 1.0, 4)
