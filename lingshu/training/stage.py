"""A training stage as the paper's table states it (LINGSHU.md section 5): what trains, how fast, on what."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from lingshu.data.mixture import MixtureEntry
from lingshu.data.shards import MAX_BAD_SAMPLES, MAX_MEMBER_BYTES
from lingshu.models.lora import LoraSpec

MODULES = ("vision", "projector", "llm")


@dataclass
class StageData:
    # A list, so an experiment replaces a stage's mixture instead of merging into it.
    mixture: list[MixtureEntry] = field(default_factory=list)
    samples_per_epoch: int | None = None  # None: every matching sample once per epoch
    shuffle_buffer: int = 1000
    num_workers: int = 0
    max_bad_samples: int = MAX_BAD_SAMPLES  # unreadable shard samples skipped (each logged) before training stops
    max_member_bytes: int = MAX_MEMBER_BYTES  # a shard member (JSON or image) larger than this is not read


@dataclass
class Stage:
    kind: ClassVar[str] = "sft"  # what trains it (lingshu.tasks.stages.KINDS)
    name: str
    # Per-module learning rate; null freezes the module (no gradient, no optimizer state).
    lr: dict[str, float | None] = field(default_factory=lambda: {"vision": 2e-6, "projector": 1e-5, "llm": 1e-5})
    epochs: int = 1
    max_steps: int = -1  # > 0 caps optimizer steps (demo, smoke tests)
    warmup_steps: int = 100
    min_lr_ratio: float = 0.0  # cosine decays to lr * min_lr_ratio
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    micro_batch_size: int = 1  # per device
    grad_accum: int = 8
    max_seq_len: int = 8192
    packing: bool = False  # pack each micro-batch's samples into rows of <= max_seq_len tokens
    loss_reduction: str = "token"  # token: mean over target tokens (paper) | sample: mean per sample first
    init_from: str | None = None  # a previous stage's hf/ folder; null: model.path or random init
    lora: LoraSpec | None = None  # null: full fine-tuning of the modules with a learning rate
    data: StageData = field(default_factory=StageData)

    def __post_init__(self) -> None:
        if isinstance(self.data, dict):
            self.data = StageData(**self.data)
        self.data.mixture = [MixtureEntry(**v) if isinstance(v, dict) else v for v in self.data.mixture]
        if isinstance(self.lora, dict):
            self.lora = LoraSpec(**self.lora)
        keys = [m.key for m in self.data.mixture]
        if len(set(keys)) != len(keys):
            raise ValueError(f"stages.{self.name}.data.mixture repeats an entry (same source and kinds): {keys}")
        if self.loss_reduction not in ("token", "sample"):
            raise ValueError(f"stages.{self.name}.loss_reduction must be token or sample, got {self.loss_reduction!r}")
        unknown = set(self.lr) - set(MODULES)
        if unknown:
            raise ValueError(f"stages.{self.name}.lr has unknown modules {sorted(unknown)}; use {MODULES}")
        if not any(self.lr.get(m) for m in MODULES):
            raise ValueError(f"stages.{self.name}.lr: every module is frozen (all null)")
        if self.packing and self.micro_batch_size < 2:
            raise ValueError(f"stages.{self.name}.packing packs the samples of one micro-batch; with "
                             f"micro_batch_size=1 there is nothing to pack (use e.g. 16)")
        if self.lora is not None:
            if set(self.lora.modules) - set(MODULES):
                raise ValueError(f"stages.{self.name}.lora.modules {self.lora.modules} must be among {MODULES}")
            if not self.lora_modules:
                raise ValueError(f"stages.{self.name}.lora adapts {self.lora.modules} but the stage trains "
                                 f"none of them (its lr is null there); set lora=null or a learning rate")
        if not self.data.mixture:
            raise ValueError(f"stages.{self.name}.data.mixture names no curated source")

    @property
    def trainable(self) -> dict[str, bool]:
        return {m: bool(self.lr.get(m)) for m in MODULES}

    @property
    def lora_modules(self) -> list[str]:
        """Modules that train through LoRA adapters (their own weights frozen)."""
        return [m for m in MODULES if self.lora is not None and m in self.lora.modules and self.trainable[m]]
