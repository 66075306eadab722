"""Offline vLLM engine (GPU only): multi-image prompts, tensor parallel, continuous batching.

vLLM is imported when the engine is built, never at module import, so CPU installs work without
it. Prompts are rendered with the checkpoint's own chat template exactly as the HF engine renders
them (`lingshu.data.collate.render_chat`), so switching engine does not change what is evaluated.
The pixel budget (`min_pixels`/`max_pixels`) is pinned from the model config.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lingshu.engines.base import GenerationRequest


class VLLMEngine:
    def __init__(self, model_path: str | None = None, tensor_parallel_size: int = 1, max_model_len: int = 8192,
                 max_images: int = 6, gpu_memory_utilization: float = 0.9, min_pixels: int | None = None,
                 max_pixels: int | None = None, dtype: str = "bfloat16", seed: int = 0, enforce_eager: bool = False):
        if not model_path:
            raise ValueError("engine=vllm needs a checkpoint folder: set model.path=... or eval.checkpoint=...")
        try:
            from vllm import LLM
        except ImportError as e:
            raise ImportError("engine=vllm needs vLLM on a CUDA machine: pip install 'lingshu[gpu]' "
                              f"(or use engine=hf); import failed: {e}") from None
        from lingshu.models.processor import load_processor

        self.model_path = str(model_path)
        self.tokenizer = load_processor(self.model_path).tokenizer
        mm_kwargs = {k: v for k, v in (("min_pixels", min_pixels), ("max_pixels", max_pixels)) if v is not None}
        self.settings = {"tensor_parallel_size": tensor_parallel_size, "max_model_len": max_model_len,
                         "max_images": max_images, "dtype": dtype, **mm_kwargs}
        self.llm = LLM(model=self.model_path, tensor_parallel_size=tensor_parallel_size, max_model_len=max_model_len,
                       limit_mm_per_prompt={"image": max_images}, mm_processor_kwargs=mm_kwargs or None,
                       gpu_memory_utilization=gpu_memory_utilization, dtype=dtype, seed=seed,
                       enforce_eager=enforce_eager)

    def describe(self) -> dict[str, Any]:
        return {"engine": "vllm", "model_path": self.model_path, **self.settings}

    def _prompt(self, request: GenerationRequest) -> dict[str, Any]:
        from lingshu.data.collate import decode_image, render_chat

        prompt: dict[str, Any] = {"prompt": render_chat(self.tokenizer, request.messages, add_generation_prompt=True)}
        if request.images:
            prompt["multi_modal_data"] = {"image": [decode_image(b) for b in request.images]}
        return prompt

    def generate(self, requests: Sequence[GenerationRequest]) -> list[str]:
        from vllm import SamplingParams

        params = [SamplingParams(temperature=r.temperature, top_p=r.top_p if r.temperature > 0 else 1.0,
                                 max_tokens=r.max_new_tokens, seed=r.seed) for r in requests]
        outputs = self.llm.generate([self._prompt(r) for r in requests], sampling_params=params, use_tqdm=False)
        return [o.outputs[0].text.strip() for o in outputs]
