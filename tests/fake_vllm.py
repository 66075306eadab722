"""A stand-in for the `vllm` package on CPU: it records what lingshu asks of it and answers with
scripted token ids, so tests can check prompts, sampling settings and weight pushes.

    llm_class = install(monkeypatch)      # `import vllm` now yields this module
    ...                                   # build a VLLMEngine / VLLMRollout
    llm = llm_class.last                  # the LLM it built: .kwargs, .requests, .log, .worker.loads
"""

from __future__ import annotations

import sys
import types


class SamplingParams:
    def __init__(self, **kwargs):
        self.__dict__.update(kwargs)


class Completion:
    def __init__(self, token_ids: list[int], text: str):
        self.token_ids, self.text = token_ids, text


class RequestOutput:
    def __init__(self, outputs: list[Completion]):
        self.outputs = outputs


class WorkerModel:
    """What `apply_model` hands over: keeps a copy of every pushed weight set. Its own parameter
    names are those pushed (vLLM's loader maps names; here they map to themselves) plus `extra`."""

    def __init__(self):
        self.loads: list[dict] = []
        self.extra: set[str] = set()  # names a test wants left unloaded

    def load_weights(self, weights) -> set[str]:
        pushed = {name: t.detach().clone() for name, t in weights}
        self.loads.append(pushed)
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


def install(monkeypatch) -> type[LLM]:
    module = types.ModuleType("vllm")
    module.LLM, module.SamplingParams = LLM, SamplingParams
    monkeypatch.setitem(sys.modules, "vllm", module)
    monkeypatch.setattr(LLM, "reply", staticmethod(default_reply))
    monkeypatch.setattr(LLM, "last", None)
    monkeypatch.setenv("VLLM_ENABLE_V1_MULTIPROCESSING", "1")  # restored after the test
    return LLM
