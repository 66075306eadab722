"""LoRA through peft (optional: `pip install -e '.[lora]'`): adapters on the linear layers of the
modules a stage trains, merged back into the base weights before export so `hf/` stays a plain
transformers checkpoint (vLLM and the next stage load it without peft)."""

from __future__ import annotations

from dataclasses import dataclass, field

# Linear layers of Qwen2.5-VL by their last name: LLM attention and MLP, vision attention (qkv, proj)
# and MLP. `modules` decides which parts get them; lm_head and the projector's mlp.0/2 only on request.
DEFAULT_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "qkv", "proj"]


@dataclass
class LoraSpec:
    """`stage.lora`: train low-rank adapters instead of the weights of `modules` (null: full fine-tuning).
    The stage's learning rate of a module applies to its adapters; modules the stage trains that are
    not listed here train fully (e.g. the projector)."""
    rank: int = 16
    alpha: float = 32.0  # adapters' output is scaled by alpha / rank
    dropout: float = 0.05
    target_modules: list[str] = field(default_factory=lambda: list(DEFAULT_TARGETS))
    modules: list[str] = field(default_factory=lambda: ["llm"])  # the vision tower is left out by default

    def __post_init__(self) -> None:
        if self.rank < 1:
            raise ValueError(f"stages.<name>.lora.rank must be >= 1, got {self.rank}")


def is_lora_param(name: str) -> bool:
    return ".lora_" in name


def add_lora(model, spec: LoraSpec, modules: list[str]) -> list[str]:
    """Inject adapters (in place) into the `target_modules` linear layers of `modules`; return their names."""
    import torch

    from lingshu.models.backbone import module_of

    try:
        from peft import LoraConfig, inject_adapter_in_model
        from peft.tuners.tuners_utils import BaseTunerLayer
    except ImportError as e:
        raise ImportError("stages.<name>.lora needs peft: pip install -e '.[lora]' (or set stages.<name>.lora=null)") from e
    if any(isinstance(m, BaseTunerLayer) for m in model.modules()):
        raise ValueError("the model already has LoRA adapters")
    names = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)
             and n.rsplit(".", 1)[-1] in spec.target_modules and module_of(n) in modules]
    missing = [m for m in modules if not any(module_of(n) == m for n in names)]
    if missing:
        raise ValueError(f"stages.<name>.lora.target_modules {spec.target_modules} match no linear layer of {missing}")
    config = LoraConfig(r=spec.rank, lora_alpha=spec.alpha, lora_dropout=spec.dropout, target_modules=names)
    inject_adapter_in_model(config, model)
    return names


def merge_lora(model):
    """Fold every adapter into its base weight and put the plain linear layer back (in place), so
    the model saves under transformers' own parameter names. No-op for a model without adapters."""
    try:
        from peft.tuners.tuners_utils import BaseTunerLayer
    except ImportError:
        return model  # without peft there can be no adapters
    for name, module in [(n, m) for n, m in model.named_modules() if isinstance(m, BaseTunerLayer)]:
        module.merge()
        parent, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent), child, module.get_base_layer())
    return model
