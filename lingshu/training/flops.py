"""Model FLOPs of one training step, for model FLOPs utilisation (MFU) and FLOPs/s.

What is counted (matmul FLOPs, 2 per multiply-add; norms, rotary, softmax and embedding lookups
are left out, as in PaLM's and nanoGPT's MFU):
- each part of the model (vision tower per patch, projector per merged visual token, LLM per token,
  lm_head included) costs 2N forward for the weights N of its linear layers (patch conv included);
- backward, trainable-aware: 2N for input gradients wherever gradients flow through the part (it,
  or a part that feeds it, trains; never for the patch conv, whose input is pixels), plus 2N' for
  weight gradients of its N' trainable weights. Full fine-tuning gives the usual 6N; a frozen LLM
  that passes gradients to a trained projector 4N; a frozen vision tower 2N; LoRA 4N plus adapters;
- attention 4 x layers x width x s^2 per sequence forward (x3 when gradients flow), s being each
  sample's own length (packed samples attend only to themselves; padding is not work), i.e. the
  usual 12 x layers x width x s per token; causal masking is not halved (PaLM's convention).
  The vision tower's window-attention layers attend within windows, its full ones across the image;
- gradient-checkpointing recomputation is not model work (that would be hardware FLOPs).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lingshu.models.backbone import module_of

FLOW_ORDER = ("vision", "projector", "llm")  # data flows this way; gradients flow back against it

# bf16 dense peak FLOPs by substring of torch.cuda.get_device_name(); first match wins.
PEAK_BF16_FLOPS = (("H100 PCIe", 756e12), ("H100 NVL", 835e12), ("H200 NVL", 835e12), ("H100", 989e12),
                   ("H200", 989e12), ("A100", 312e12))


def device_peak_flops(device_name: str) -> float | None:
    return next((peak for key, peak in PEAK_BF16_FLOPS if key in device_name), None)


@dataclass(frozen=True)
class Part:
    """Linear-layer weights applied once per unit of this part (token, merged token or patch)."""
    weights: int = 0
    input_grad_weights: int = 0  # weights whose layers compute input gradients when gradients flow
    trainable: int = 0  # weights that receive gradients
    grads_flow: bool = False

    @property
    def flops_per_unit(self) -> int:
        return 2 * self.weights + (2 * self.input_grad_weights if self.grads_flow else 0) + 2 * self.trainable


@dataclass(frozen=True)
class StepFlops:
    """Everything the FLOP count of a step needs from the model; `from_model` reads it once."""
    llm: Part
    projector: Part
    vision: Part
    llm_layers: int
    llm_attention_width: int  # query heads x head_dim
    vision_layers: int
    vision_attention_width: int
    vision_full_attention_layers: int
    window: int  # window side in merged tokens (Qwen2.5-VL's window_size // merge // patch)
    merge: int  # spatial merge size: merge^2 patches per visual token

    @classmethod
    def from_model(cls, model) -> StepFlops:
        weights = {p: [0, 0, 0] for p in FLOW_ORDER}  # weights, input-grad weights, trainable
        for name, mod in model.named_modules():
            if isinstance(mod, (torch.nn.Linear, torch.nn.Conv3d)):
                n, part = mod.weight.shape.numel(), module_of(name)
                weights[part][0] += n
                weights[part][1] += 0 if isinstance(mod, torch.nn.Conv3d) else n
                weights[part][2] += n if mod.weight.requires_grad else 0
        trains = {p: False for p in FLOW_ORDER}
        for name, p in model.named_parameters():
            trains[module_of(name)] |= p.requires_grad
        flows = {p: any(trains[q] for q in FLOW_ORDER[:i + 1]) for i, p in enumerate(FLOW_ORDER)}
        parts = {p: Part(*weights[p], grads_flow=flows[p]) for p in FLOW_ORDER}
        text, vision = model.config.text_config, model.config.vision_config
        head_dim = getattr(text, "head_dim", None) or text.hidden_size // text.num_attention_heads
        return cls(llm=parts["llm"], projector=parts["projector"], vision=parts["vision"],
                   llm_layers=text.num_hidden_layers, llm_attention_width=text.num_attention_heads * head_dim,
                   vision_layers=vision.depth, vision_attention_width=vision.hidden_size,
                   vision_full_attention_layers=len(vision.fullatt_block_indexes),
                   window=vision.window_size // vision.spatial_merge_size // vision.patch_size,
                   merge=vision.spatial_merge_size)

    def __call__(self, sample_lengths: list[int], image_grids: list[tuple[int, int, int]]) -> float:
        """FLOPs of one forward + backward over samples of these token lengths with these images
        (t, h, w in patches, as `image_grid_thw`)."""
        attn = lambda flows: 4 * (3 if flows else 1)  # noqa: E731  (forward, + 2x backward)
        tokens = sum(sample_lengths)
        flops = tokens * self.llm.flops_per_unit
        flops += attn(self.llm.grads_flow) * self.llm_layers * self.llm_attention_width * sum(s * s for s in sample_lengths)
        m2 = self.merge ** 2
        for t, h, w in image_grids:
            patches = t * h * w
            flops += patches * self.vision.flops_per_unit + patches // m2 * self.projector.flops_per_unit
            full = t * (h * w) ** 2
            windowed = t * m2 * m2 * sum(c * c for c in chunks(h // self.merge, self.window)) * sum(
                c * c for c in chunks(w // self.merge, self.window))
            pairs = (self.vision_full_attention_layers * full
                     + (self.vision_layers - self.vision_full_attention_layers) * windowed)
            flops += attn(self.vision.grads_flow) * self.vision_attention_width * pairs
        return float(flops)


def chunks(n: int, size: int) -> list[int]:
    """Window sides along one axis: full windows from 0, then the remainder."""
    return [size] * (n // size) + ([n % size] if n % size else [])


def batch_shape(batch: dict) -> tuple[list[int], list[tuple[int, int, int]]]:
    """(token length of each sample, image grids) of a padded or packed collated batch."""
    if "segments" in batch:
        seg = batch["segments"]
        lengths = torch.bincount(seg[seg >= 0]).tolist()
    elif "attention_mask" in batch:
        lengths = batch["attention_mask"].sum(1).tolist()
    else:
        lengths = [batch["input_ids"].shape[1]] * batch["input_ids"].shape[0]
    grids = batch["image_grid_thw"].tolist() if "image_grid_thw" in batch else []
    return [int(n) for n in lengths if n > 0], [tuple(int(v) for v in g) for g in grids]
