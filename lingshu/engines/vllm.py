"""Offline vLLM engine (GPU only, vLLM >= 0.10): multi-image prompts, tensor parallel, continuous batching.

vLLM is imported when the engine is built, never at module import, so CPU installs work without
it. Prompts are rendered with the checkpoint's own chat template exactly as the HF engine renders
them (`lingshu.data.collate.render_chat`), and decoding follows the HF engine's rules (stop at
either end token, never a vision token), so switching engine does not change what is evaluated.
The pixel budget (`min_pixels`/`max_pixels`) is pinned from the model config.

RL rollouts (`lingshu.rl.rollout.VLLMRollout`) also use `sample_ids` (n responses per prompt as
token ids), `load_weights` (new policy weights copied in place) and `sleep`/`wake_up` (release
the GPU memory while the policy trains; needs `enable_sleep_mode`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from lingshu.engines.base import END_TOKENS, VISION_TOKENS, GenerationRequest

BANNED = -100.0  # logit bias that removes a token (OpenAI's convention)


def unavailable() -> str | None:
    """Why vLLM cannot run on this machine, or None when it can."""
    import importlib.util

    import torch

    if not torch.cuda.is_available():
        return "no CUDA device"
    if importlib.util.find_spec("vllm") is None:
        return "vLLM is not installed (pip install 'lingshu[gpu]')"
    return None


class VLLMEngine:
    def __init__(self, model_path: str | None = None, tensor_parallel_size: int = 1, max_model_len: int = 8192,
                 max_images: int = 6, gpu_memory_utilization: float = 0.9, min_pixels: int | None = None,
                 max_pixels: int | None = None, dtype: str = "bfloat16", seed: int = 0, enforce_eager: bool = False,
                 load_format: str = "auto", enable_sleep_mode: bool = False):
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
        self.end_ids = [self.tokenizer.convert_tokens_to_ids(t) for t in END_TOKENS]
        self.logit_bias = {self.tokenizer.convert_tokens_to_ids(t): BANNED for t in VISION_TOKENS}
        mm_kwargs = {k: v for k, v in (("min_pixels", min_pixels), ("max_pixels", max_pixels)) if v is not None}
        self.settings = {"tensor_parallel_size": tensor_parallel_size, "max_model_len": max_model_len,
                         "max_images": max_images, "dtype": dtype, "load_format": load_format, **mm_kwargs}
        self.llm = LLM(model=self.model_path, tensor_parallel_size=tensor_parallel_size, max_model_len=max_model_len,
                       limit_mm_per_prompt={"image": max_images}, mm_processor_kwargs=mm_kwargs or None,
                       gpu_memory_utilization=gpu_memory_utilization, dtype=dtype, seed=seed,
                       enforce_eager=enforce_eager, load_format=load_format, enable_sleep_mode=enable_sleep_mode)
        self.asleep: set[str] = set()  # memory tags released by `sleep` and not yet woken

    def describe(self) -> dict[str, Any]:
        return {"engine": "vllm", "model_path": self.model_path, **self.settings}

    def prompt(self, request: GenerationRequest) -> dict[str, Any]:
        """The request as vLLM takes it: chat-templated text (one vision span per image) + the images."""
        from lingshu.data.collate import decode_image, render_chat

        prompt: dict[str, Any] = {"prompt": render_chat(self.tokenizer, request.messages, add_generation_prompt=True)}
        if request.images:
            prompt["multi_modal_data"] = {"image": [decode_image(b) for b in request.images]}
        return prompt

    def sampling_params(self, request: GenerationRequest, n: int = 1):
        from vllm import SamplingParams

        greedy = request.temperature <= 0
        # Penalties and other cut-offs explicitly off (as the HF engine's NEUTRAL_GENERATION): the
        # plain softmax(logits / temperature) with top-p, whatever the checkpoint's generation_config says.
        return SamplingParams(n=n, temperature=0.0 if greedy else request.temperature,
                              top_p=1.0 if greedy else request.top_p, top_k=-1, min_p=0.0, repetition_penalty=1.0,
                              presence_penalty=0.0, frequency_penalty=0.0, max_tokens=request.max_new_tokens,
                              seed=request.seed, stop_token_ids=list(self.end_ids), logit_bias=dict(self.logit_bias))

    def generate(self, requests: Sequence[GenerationRequest]) -> list[str]:
        outputs = self.llm.generate([self.prompt(r) for r in requests],
                                    sampling_params=[self.sampling_params(r) for r in requests], use_tqdm=False)
        # per request id: token counts and finish reason ("length": cut by max_new_tokens), for evaluation records
        self.last_info = {r.id: _info(o) for r, o in zip(requests, outputs)}
        return [o.outputs[0].text.strip() for o in outputs]

    def sample_ids(self, requests: Sequence[GenerationRequest], n: int = 1) -> list[list[int]]:
        """Token ids of `n` responses per request, request after request; a response that stopped
        ends with its end token. Sampled requests with a seed give their n responses seeds seed,
        seed + 1, ... (vLLM's rule); a greedy request is generated once and repeated."""
        params = [self.sampling_params(r, n if r.temperature > 0 else 1) for r in requests]
        outputs = self.llm.generate([self.prompt(r) for r in requests], sampling_params=params, use_tqdm=False)
        ids: list[list[int]] = []
        for r, o in zip(requests, outputs):
            got = [list(c.token_ids) for c in o.outputs]
            ids += got if r.temperature > 0 else got * n
        return ids

    def load_weights(self, weights: Iterable[tuple[str, Any]]) -> None:
        """Copy (Hugging Face name, tensor) pairs into the running model, in place (captured CUDA
        graphs stay valid). vLLM's own loader maps the names and fuses q/k/v and gate/up; it must
        cover every parameter. The prefix cache goes: its KV came from the old weights."""
        def load(model) -> list[str]:
            loaded = model.load_weights(weights)
            if loaded is None:  # this model's loader does not report what it loaded
                return []
            return sorted({name for name, _ in model.named_parameters()} - set(loaded))

        missing = self.llm.apply_model(load)[0]
        if missing:
            raise RuntimeError(f"vLLM weight sync left {len(missing)} parameters unchanged, e.g. {missing[:5]}: "
                               "the policy's parameter names do not match this vLLM model")
        self.llm.reset_prefix_cache()

    def sleep(self) -> None:
        """Back the weights up to CPU and drop the KV cache (the engine was built with enable_sleep_mode)."""
        self.llm.sleep(level=1)
        self.asleep = {"weights", "kv_cache"}

    def wake_up(self, tags: Sequence[str] = ("weights", "kv_cache")) -> None:
        """Re-allocate the given memory if it sleeps (weights first lets a weight sync run before the
        KV cache takes its memory back)."""
        todo = sorted(self.asleep & set(tags))
        if todo:
            self.llm.wake_up(tags=todo)
            self.asleep -= set(todo)


def _info(output: Any) -> dict[str, Any]:
    """Token counts and finish reason of one vLLM RequestOutput (only the fields it carries)."""
    first = output.outputs[0]
    info: dict[str, Any] = {"output_tokens": len(first.token_ids)}
    if getattr(output, "prompt_token_ids", None) is not None:
        info["input_tokens"] = len(output.prompt_token_ids)
    if getattr(first, "finish_reason", None):
        info["finish_reason"] = first.finish_reason
    return info
