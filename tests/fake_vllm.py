"""A stand-in for the `vllm` package on CPU: it records what lingshu asks of it and answers with
scripted token ids, so tests can check prompts, sampling settings and weight pushes.

    llm_class = install(monkeypatch)      # `import vllm` now yields this module
    ...                                   # build a VLLMEngine / VLLMRollout
    llm = llm_class.last                  # the LLM it built: .kwargs, .requests, .log, .worker.loads

`install(monkeypatch, hf_backed=True)` makes it answer for real: a transformers copy of the model
in the engine's folder, given the pushed weights, generates and reports log-probs (vLLM on CPU,
to run the GPU benchmark's code paths here).
"""

from __future__ import annotations

import sys
import types


class SamplingParams:
    def __init__(self, **kwargs):
        self.__dict__.update({"n": 1, "temperature": 1.0, "top_p": 1.0, "max_tokens": 16, "seed": None,
                              "stop_token_ids": [], "logit_bias": None, "logprobs": None, **kwargs})


class Logprob:
    def __init__(self, logprob: float):
        self.logprob = logprob


class Completion:
    def __init__(self, token_ids: list[int], text: str, logprobs: list[dict] | None = None):
        self.token_ids, self.text, self.logprobs = token_ids, text, logprobs


class RequestOutput:
    def __init__(self, outputs: list[Completion]):
        self.outputs = outputs


class WorkerModel:
    """What `apply_model` hands over: keeps a copy of every pushed weight set. Its own parameter
    names are those pushed (vLLM's loader maps names; here they map to themselves) plus `extra`."""

    def __init__(self):
        self.loads: list[dict] = []
        self.extra: set[str] = set()  # names a test wants left unloaded
        self.hf = None  # HF-backed: the transformers model that generates

    def load_weights(self, weights) -> set[str]:
        pushed = {name: t.detach().clone() for name, t in weights}
        self.loads.append(pushed)
        if self.hf is not None:
            self.hf.load_state_dict(pushed, strict=False)
        return set(pushed)

    def named_parameters(self):
        names = set(self.loads[-1]) if self.loads else set()
        return [(n, None) for n in sorted(names | self.extra)]


def default_reply(prompt_index: int, sample_index: int, params: SamplingParams) -> list[int]:
    return [100 + prompt_index, 200 + sample_index, *params.stop_token_ids[:1]]


class LLM:
    last: LLM | None = None
    reply = staticmethod(default_reply)  # tests may script other token ids

    def __init__(self, model: str, **kwargs):
        self.model, self.kwargs = model, kwargs
        self.requests: list[tuple[dict, SamplingParams]] = []
        self.log: list[tuple] = []
        self.worker = WorkerModel()
        LLM.last = self

    def generate(self, prompts, sampling_params=None, use_tqdm=True):
        params = sampling_params if isinstance(sampling_params, list) else [sampling_params] * len(prompts)
        self.log.append(("generate", len(prompts)))
        outputs = []
        for i, (prompt, sp) in enumerate(zip(prompts, params)):
            self.requests.append((prompt, sp))
            outputs.append(RequestOutput([Completion(list(self.reply(i, j, sp)), f"reply {i}.{j}")
                                          for j in range(sp.n)]))
        return outputs

    def apply_model(self, fn):
        self.log.append(("apply_model",))
        return [fn(self.worker)]

    def reset_prefix_cache(self):
        self.log.append(("reset_prefix_cache",))

    def sleep(self, level: int = 1):
        self.log.append(("sleep", level))

    def wake_up(self, tags=None):
        self.log.append(("wake_up", tuple(tags) if tags is not None else None))


class HFBackedLLM(LLM):
    """Generates with a transformers model built from the folder's config (dummy weights until a push)."""

    def __init__(self, model: str, **kwargs):
        from transformers import AutoConfig, Qwen2_5_VLForConditionalGeneration

        from lingshu.models.processor import load_processor

        super().__init__(model, **kwargs)
        self.processor = load_processor(model)
        self.worker.hf = Qwen2_5_VLForConditionalGeneration(AutoConfig.from_pretrained(model)).eval()

    def generate(self, prompts, sampling_params=None, use_tqdm=True):
        import torch

        params = sampling_params if isinstance(sampling_params, list) else [sampling_params] * len(prompts)
        self.log.append(("generate", len(prompts)))
        outputs = []
        for prompt, sp in zip(prompts, params):
            self.requests.append((prompt, sp))
            images = (prompt.get("multi_modal_data") or {}).get("image")
            enc = self.processor(text=[prompt["prompt"]], images=images or None, return_tensors="pt")
            completions = []
            for j in range(sp.n):
                torch.manual_seed((sp.seed or 0) + j)
                with torch.no_grad():
                    out = self.worker.hf.generate(
                        **enc, max_new_tokens=sp.max_tokens, do_sample=sp.temperature > 0,
                        temperature=sp.temperature or None, top_p=sp.top_p if sp.temperature > 0 else None, top_k=0,
                        eos_token_id=sp.stop_token_ids, pad_token_id=sp.stop_token_ids[-1],
                        suppress_tokens=list(sp.logit_bias or {}))
                ids = out[0, enc["input_ids"].shape[1]:].tolist()
                ends = [k for k, t in enumerate(ids) if t in sp.stop_token_ids]
                ids = ids[:ends[0] + 1] if ends else ids
                completions.append(Completion(ids, "", self.logprobs(enc, ids) if sp.logprobs is not None else None))
            outputs.append(RequestOutput(completions))
        return outputs

    def logprobs(self, enc, ids: list[int]) -> list[dict]:
        import torch

        new = torch.tensor([ids])
        inputs = {k: v for k, v in enc.items() if k in ("pixel_values", "image_grid_thw")}
        inputs["input_ids"] = torch.cat([enc["input_ids"], new], 1)
        inputs["attention_mask"] = torch.ones_like(inputs["input_ids"])
        if "mm_token_type_ids" in enc:
            inputs["mm_token_type_ids"] = torch.cat([enc["mm_token_type_ids"], torch.zeros_like(new)], 1)
        with torch.no_grad():
            logits = self.worker.hf(**inputs).logits[0, enc["input_ids"].shape[1] - 1:-1].float()
        lp = torch.log_softmax(logits, -1)
        return [{t: Logprob(float(lp[k, t]))} for k, t in enumerate(ids)]


def install(monkeypatch, hf_backed: bool = False) -> type[LLM]:
    module = types.ModuleType("vllm")
    module.LLM, module.SamplingParams = HFBackedLLM if hf_backed else LLM, SamplingParams
    monkeypatch.setitem(sys.modules, "vllm", module)
    monkeypatch.setattr(LLM, "reply", staticmethod(default_reply))
    monkeypatch.setattr(LLM, "last", None)
    monkeypatch.setenv("VLLM_ENABLE_V1_MULTIPROCESSING", "1")  # restored after the test
    return module.LLM
