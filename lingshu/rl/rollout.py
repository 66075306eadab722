"""Who generates GRPO's responses: HF `generate` on the live policy, or a colocated vLLM engine.

One interface (`RolloutEngine`): `sample(requests, n)` returns the token ids of n responses per
prompt, prompt after prompt; `sync_weights(policy)` hands the engine the policy's current weights
(GRPO calls it before each rollout whose policy changed: after every update, and after a resume).

- `hf` (CPU or GPU): generates with the policy object itself, so syncing is nothing to do.
- `vllm` (one GPU, `pip install 'lingshu[gpu]'`): vLLM runs in the training process on the same
  GPU with `gpu_memory_utilization` of its memory. It starts from the policy's config and
  tokenizer with dummy weights; every sync copies the policy's parameters in under their Hugging
  Face names (vLLM's own loader maps and fuses them). With `enable_sleep_mode` it hands its memory
  back while the policy trains. Per-request seeds make its sampling reproducible.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch

from lingshu.errors import ConfigError
from lingshu.engines.base import GenerationRequest
from lingshu.engines.hf import HFEngine


@dataclass
class RolloutConfig:
    """`stage.rollout`: the rollout engine and, for vllm, its share of the GPU."""
    engine: str = "hf"  # hf | vllm
    gpu_memory_utilization: float = 0.3  # vllm: weights + KV cache; training keeps the rest
    enable_sleep_mode: bool = False  # vllm: release that memory during the policy update
    max_model_len: int = 8192  # vllm: prompt + response tokens
    max_images: int = 6  # vllm: images per prompt
    dtype: str = "bfloat16"  # vllm: weights are cast to it on every sync
    enforce_eager: bool = False  # vllm: no CUDA graphs (starts faster, decodes slower)

    def __post_init__(self) -> None:
        if self.engine not in ("hf", "vllm"):
            raise ConfigError(f"stages.<name>.rollout.engine must be hf or vllm, got {self.engine!r}")
        if not 0 < self.gpu_memory_utilization < 1:
            raise ConfigError(f"stages.<name>.rollout.gpu_memory_utilization must be in (0, 1), got {self.gpu_memory_utilization}")


class RolloutEngine(Protocol):
    end_ids: list[int]

    def sync_weights(self, model) -> None: ...

    def sample(self, requests: Sequence[GenerationRequest], n: int) -> list[list[int]]: ...


def sampling_summary(temperature: float, top_p: float) -> str:
    """The distribution both engines sample from (their penalties and cut-offs neutralised) and GRPO scores."""
    return (f"softmax(logits / {temperature:g}), top-p {top_p:g}, no top-k, repetition penalty 1, no min-p "
            "(checkpoint generation_config ignored); scored at the same temperature")


def response_mask(new_ids: torch.Tensor, end_ids: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Tokens up to and including the first end token; (mask, truncated)."""
    is_end = torch.zeros_like(new_ids, dtype=torch.bool)
    for e in end_ids:
        is_end |= new_ids == e
    seen_before = torch.cumsum(is_end.int(), 1) - is_end.int()
    mask = seen_before == 0
    return mask, ~is_end.any(1)


class HFRollout:
    """`generate` on the policy itself, `batch_size` sequences at a time (the memory knob)."""

    def __init__(self, model, processor, batch_size: int):
        self.engine = HFEngine(model, processor, batch_size=batch_size)
        self.end_ids = self.engine.end_ids

    def sync_weights(self, model) -> None:
        """Nothing to copy: the engine generates with the very model being trained."""

    def sample(self, requests: Sequence[GenerationRequest], n: int) -> list[list[int]]:
        """Under FSDP2 the policy's full weights are gathered on every rank for the rollout, then
        resharded: each rank generates its own prompts to their own lengths, without collectives.
        (Generating sharded would need every rank to run the same units in the same order at every
        token; `generate` runs the vision tower of a prompt with images before the model's forward.)"""
        from lingshu.training.fsdp import gathered

        expanded = [r for r in requests for _ in range(n)]
        out: list[list[int]] = []
        with gathered(self.engine.model):
            for i in range(0, len(expanded), self.engine.batch_size):
                _, new = self.engine.generate_ids(expanded[i:i + self.engine.batch_size])
                mask, _ = response_mask(new, self.end_ids)
                out += [ids[m].tolist() for ids, m in zip(new, mask)]
        return out


class VLLMRollout:
    """vLLM on the training GPU, fed the policy's weights in place (no checkpoint on disk)."""

    def __init__(self, model, processor, cfg: RolloutConfig, workdir: str | Path | None = None):
        from lingshu.engines.vllm import VLLMEngine

        folder = Path(workdir or tempfile.mkdtemp(prefix="lingshu_vllm_rollout_"))
        folder.mkdir(parents=True, exist_ok=True)
        # Config, tokenizer and processor only: the weights arrive by sync_weights.
        model.config.save_pretrained(folder)
        model.generation_config.save_pretrained(folder)
        processor.save_pretrained(folder)
        # The engine core must live in this process: weights are copied tensor to tensor on the
        # GPU (a separate engine process would need them serialised through a pipe).
        os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
        # The pixel budget travels in the folder's preprocessor_config.json (the policy's own).
        self.engine = VLLMEngine(model_path=str(folder), max_model_len=cfg.max_model_len, max_images=cfg.max_images,
                                 gpu_memory_utilization=cfg.gpu_memory_utilization, dtype=cfg.dtype,
                                 enforce_eager=cfg.enforce_eager, load_format="dummy",
                                 enable_sleep_mode=cfg.enable_sleep_mode)
        self.end_ids = self.engine.end_ids
        self.sleep_mode = cfg.enable_sleep_mode

    @torch.no_grad()
    def sync_weights(self, model) -> None:
        self.engine.wake_up(("weights",))
        # One tensor at a time: an FSDP2 shard is gathered into its full tensor, pushed, and dropped.
        self.engine.load_weights((name, full_tensor(p.detach())) for name, p in model.named_parameters())

    def sample(self, requests: Sequence[GenerationRequest], n: int) -> list[list[int]]:
        self.engine.wake_up()
        try:
            return self.engine.sample_ids(requests, n)
        finally:
            if self.sleep_mode:  # the policy update gets the memory back
                self.engine.sleep()


def full_tensor(t: torch.Tensor) -> torch.Tensor:
    """A parameter's full value: gathered from its FSDP2 shards (collective), else itself."""
    return t.full_tensor() if hasattr(t, "full_tensor") else t


def build_rollout(cfg: RolloutConfig, model, processor, batch_size: int, world_size: int = 1) -> RolloutEngine:
    if cfg.engine == "hf":
        return HFRollout(model, processor, batch_size)
    if world_size > 1:
        raise ConfigError(f"stages.<name>.rollout.engine=vllm runs on one GPU (one process); this run has {world_size} "
                          "ranks: use stages.<name>.rollout.engine=hf or one device")
    return VLLMRollout(model, processor, cfg)
