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
