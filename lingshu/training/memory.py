"""Per-GPU memory plan of a GRPO run, printed at start-up and from the command line for a recipe:

    python -m lingshu.training.memory experiment=lingshu_rl_7b       # no weights read: meta-device model
    python -m lingshu.training.memory experiment=lingshu_rl_32b --device-gb 80

Persistent: the policy's parameters, its optimizer states (AdamW: 2 per trainable parameter, in the
parameter's dtype, as torch keeps them) and the frozen reference model, divided over the ranks by the
strategy (FSDP2 and ZeRO-3 shard all three; ZeRO-2 shards gradients and optimizer states; DDP none).
Then the larger of two phases:
- update: gradients (parameter dtype) + activations of one micro-batch (+ vLLM's share unless it sleeps);
- rollout: HF gathers the full policy onto every rank (compute dtype) plus its KV cache; vLLM holds
  `gpu_memory_utilization` of the device.
Activations are an estimate: with gradient checkpointing each layer keeps its input (S x b x h) and one
layer's internals are live (~34 S b h bytes in 16-bit with fused attention, Korthikanti et al. 2022);
the scoring keeps fp32 logits, log-softmax and its gradient for the response tokens (3 x 4 bytes x R x V).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import torch
from rich.console import Console
from rich.table import Table

GB = 1024 ** 3


@dataclass
class ModelShape:
    """What the plan needs of a model: sizes (measured from a built, or meta-device, model)."""
    params: int  # elements
    trainable: int
    param_bytes: int  # bytes per element as stored
    hidden: int
    layers: int
    vocab: int
    kv_dim: int  # key/value heads x head dim
    vision_hidden: int
    vision_layers: int

    @classmethod
    def of(cls, model) -> "ModelShape":
        text, vision = model.config.get_text_config(), model.config.vision_config
        p = next(model.parameters())
        return cls(params=sum(x.numel() for x in model.parameters()),
                   trainable=sum(x.numel() for x in model.parameters() if x.requires_grad),
                   param_bytes=p.element_size(), hidden=text.hidden_size, layers=text.num_hidden_layers,
                   vocab=text.vocab_size, kv_dim=text.num_key_value_heads * (text.hidden_size // text.num_attention_heads),
                   vision_hidden=vision.hidden_size, vision_layers=vision.depth)


SHARDS = {"fsdp": ("params", "grads", "optimizer", "reference"), "deepspeed_zero3": ("params", "grads", "optimizer", "reference"),
          "deepspeed_zero2": ("grads", "optimizer"), "ddp": (), "single": ()}


def strategy_kind(strategy) -> str:
    """fsdp | deepspeed_zero3 | deepspeed_zero2 | ddp | single, from a Lightning strategy object or config."""
    name = type(strategy).__name__ if not isinstance(strategy, (str, dict)) else str(
        strategy.get("_target_", "") if isinstance(strategy, dict) else strategy)
    if "ModelParallel" in name or "FSDP" in name:
        return "fsdp"
    if "DeepSpeed" in name:
        stage = getattr(strategy, "config", {}).get("zero_optimization", {}).get("stage") if not isinstance(
            strategy, (str, dict)) else (strategy.get("stage") if isinstance(strategy, dict) else None)
        return "deepspeed_zero3" if stage == 3 else "deepspeed_zero2"
    return "ddp" if "ddp" in name.lower() else "single"


def memory_plan(shape: ModelShape, strategy: str, world: int, micro_batch: int, prompt_tokens: int,
                response_tokens: int, rollout_engine: str = "hf", vllm_fraction: float = 0.0, vllm_sleeps: bool = False, gradient_checkpointing: bool = True,
                compute_bytes: int = 2, device_bytes: int | None = None) -> dict:
    """Bytes per GPU by item (see the module docstring) and whether the peak fits `device_bytes`."""
    sharded = SHARDS[strategy]

    def per_gpu(item: str, total: float) -> int:
        return int(total / world) if item in sharded else int(total)

    seq = prompt_tokens + response_tokens
    b = micro_batch
    if gradient_checkpointing:
        text_act = shape.layers * seq * b * shape.hidden * compute_bytes + 34 * seq * b * shape.hidden
    else:
        text_act = shape.layers * 34 * seq * b * shape.hidden
    vision_tokens = 4 * prompt_tokens  # patches before the 2x2 merge, at most (prompt all image)
    vision_act = (shape.vision_layers if not gradient_checkpointing else 1) * 34 * vision_tokens * b * shape.vision_hidden
    logits = 3 * 4 * b * response_tokens * shape.vocab + b * seq * shape.vocab * compute_bytes
    items = {
        "policy parameters": per_gpu("params", shape.params * shape.param_bytes),
        "optimizer states (AdamW, 2 per trainable)": per_gpu("optimizer", 2 * shape.trainable * shape.param_bytes),
        "reference model (frozen)": per_gpu("reference", shape.params * shape.param_bytes),
        "gradients (update)": per_gpu("grads", shape.trainable * shape.param_bytes),
        "activations, one micro-batch (update, estimate)": int(text_act + vision_act + logits),
    }
    kv = 2 * shape.layers * shape.kv_dim * seq * b * compute_bytes
    if rollout_engine == "vllm":
        items["rollout: vLLM share (weights + KV cache)"] = int(vllm_fraction * (device_bytes or 0))
    else:
        items["rollout: full policy gathered + KV cache"] = int(shape.params * compute_bytes + kv)
    persistent = sum(items[k] for k in list(items)[:3])
    update = items["gradients (update)"] + items["activations, one micro-batch (update, estimate)"]
    rollout = next(v for k, v in items.items() if k.startswith("rollout"))
    if rollout_engine == "vllm" and not vllm_sleeps:
        update += rollout  # vLLM keeps its memory while the policy trains
    peak = persistent + max(update, rollout)
    return {"items": items, "params": shape.params, "persistent": persistent, "update": update, "rollout": rollout, "peak": peak,
            "strategy": strategy, "world": world, "device_bytes": device_bytes,
            "fits": None if device_bytes is None else peak <= device_bytes}


def print_memory_plan(plan: dict, title: str = "GRPO memory per GPU") -> None:
    t = Table(title=f"{title} ({plan['strategy']}, {plan['world']} ranks, {plan['params'] / 1e9:.2f}B parameters)")
    t.add_column("item")
    t.add_column("GiB", justify="right")
    for k, v in plan["items"].items():
        t.add_row(k, f"{v / GB:.1f}")
    t.add_row("peak = persistent + max(update, rollout)", f"{plan['peak'] / GB:.1f}")
    device = plan["device_bytes"]
    if device is not None:
        verdict = "fits" if plan["fits"] else "DOES NOT FIT"
        t.caption = f"{verdict} in {device / GB:.0f} GiB per device"
    Console().print(t)
    if device is not None and not plan["fits"]:
        Console().print(f"[bold red]warning:[/] the plan needs {plan['peak'] / GB:.1f} GiB per GPU, above the "
                        f"device's {device / GB:.0f} GiB: more ranks (sharded strategy), a smaller "
                        "stages.<name>.micro_batch_size or gradient checkpointing")


def stage_plan(cfg_stage, shape: ModelShape, strategy: str, world: int, prompt_tokens: int,
               gradient_checkpointing: bool, compute_bytes: int, device_bytes: int | None) -> dict:
    """The plan of a GRPO stage config (its micro-batch, lengths and rollout engine)."""
    r = cfg_stage.rollout
    return memory_plan(shape, strategy, world, cfg_stage.micro_batch_size, prompt_tokens, cfg_stage.max_new_tokens,
                       r.engine, r.gpu_memory_utilization, r.enable_sleep_mode,
                       gradient_checkpointing, compute_bytes, device_bytes)


def prompt_budget(max_pixels: int, text_tokens: int = 256) -> int:
    """Prompt tokens of one image at the pixel budget (28 x 28 pixels per visual token) plus the text."""
    return max_pixels // (28 * 28) + text_tokens


def device_memory() -> int | None:
    return torch.cuda.get_device_properties(0).total_memory if torch.cuda.is_available() else None


def compose_config(overrides: list[str]):
    """The root config with `overrides`, as launch.py composes it (without running anything)."""
    from pathlib import Path

    from hydra import compose, initialize_config_dir

    import lingshu  # noqa: F401  (registers the config resolvers)

    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    conf = Path(__file__).resolve().parents[2] / "conf"
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        return compose("config", overrides=overrides)


def main(argv: list[str]) -> None:
    """Plan a recipe without its weights: the model is built on the meta device."""
    from hydra.utils import instantiate
    from transformers import AutoConfig, Qwen2_5_VLForConditionalGeneration


    device_gb = 80.0
    if "--device-gb" in argv:
        i = argv.index("--device-gb")
        device_gb = float(argv[i + 1])
        argv = argv[:i] + argv[i + 2:]
    cfg = compose_config(argv)
    stages = cfg.get("stages") or {}
    node = stages[cfg.stage] if cfg.get("stage") else next(
        v for v in stages.values() if str(v.get("_target_", "")).endswith("GRPOConfig"))
    stage = instantiate(node, _convert_="all")
    m = cfg.model
    if m.name in ARCHS:  # a real checkpoint's sizes, without its folder
        config = AutoConfig.for_model(**ARCHS[m.name])
    else:
        backbone = instantiate(m, _convert_="all")
        config = backbone.config(backbone.processor())
    with torch.device("meta"):
        model = Qwen2_5_VLForConditionalGeneration._from_config(config, dtype=getattr(torch, m.dtype))
    trainer = cfg.trainer
    world = int(trainer.devices if str(trainer.devices).isdigit() else 1) * int(trainer.num_nodes)
    strategy = trainer.strategy if isinstance(trainer.strategy, str) else dict(trainer.strategy)
    compute = 2 if "bf16" in str(trainer.precision) or m.dtype != "float32" else 4
    plan = stage_plan(stage, ModelShape.of(model), strategy_kind(strategy), world, prompt_budget(m.max_pixels),
                      m.gradient_checkpointing, compute, int(device_gb * GB))
    print_memory_plan(plan, f"{cfg.model.name} GRPO memory per GPU")


# Public architecture of each Qwen2.5-VL checkpoint (its config.json), so a recipe is planned without
# its weights. Only sizes: the plan counts the parameters of the meta-device model built from them.
_VISION = dict(depth=32, hidden_size=1280, intermediate_size=3420, num_heads=16, patch_size=14,
               spatial_merge_size=2, temporal_patch_size=2, window_size=112, fullatt_block_indexes=[7, 15, 23, 31])
ARCHS = {
    "qwen2_5_vl_3b": dict(model_type="qwen2_5_vl", text_config=dict(
        hidden_size=2048, intermediate_size=11008, num_hidden_layers=36, num_attention_heads=16, num_key_value_heads=2,
        vocab_size=151936, tie_word_embeddings=True), vision_config=dict(_VISION, out_hidden_size=2048),
        tie_word_embeddings=True),
    "qwen2_5_vl_7b": dict(model_type="qwen2_5_vl", text_config=dict(
        hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28, num_key_value_heads=4,
        vocab_size=152064, tie_word_embeddings=False), vision_config=dict(_VISION, out_hidden_size=3584),
        tie_word_embeddings=False),
    "qwen2_5_vl_32b": dict(model_type="qwen2_5_vl", text_config=dict(
        hidden_size=5120, intermediate_size=27648, num_hidden_layers=64, num_attention_heads=40, num_key_value_heads=8,
        vocab_size=152064, tie_word_embeddings=False), vision_config=dict(_VISION, out_hidden_size=5120),
        tie_word_embeddings=False),
}


if __name__ == "__main__":
    main(sys.argv[1:])
