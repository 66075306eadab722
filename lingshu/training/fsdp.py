"""FSDP2 (`fully_shard`) for Qwen2.5-VL under Lightning's ModelParallelStrategy (`trainer=fsdp`).

One unit per vision block and decoder layer, then the patch embedding and projector, then the root
(token embedding, final norm, LM head: tied weights must share a unit). Every unit lies inside one
of the paper's module groups (vision / projector / LLM, `module_groups`), so a stage that freezes a
group freezes whole units. FSDP2 also accepts units that mix frozen and trainable parameters (LoRA
adapters beside frozen base weights): it reduce-scatters only the parameters that received a gradient.
"""

from __future__ import annotations

import contextlib
import logging
import warnings

import torch
from torch import nn

from lingshu.models.export import is_sharded

log = logging.getLogger(__name__)


def shard_units(model) -> list[nn.Module]:
    """The sub-modules that become their own FSDP unit, innermost first (the root comes last)."""
    visual, lm = model.model.visual, model.model.language_model
    return [*visual.blocks, visual.patch_embed, visual.merger, *lm.layers]


def mixed_precision(precision: str):
    """bf16 (or fp16) compute with fp32 gradient reduction when the trainer precision asks for it."""
    from torch.distributed.fsdp import MixedPrecisionPolicy

    if precision.startswith("bf16"):
        return MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
    if precision.startswith("16"):
        return MixedPrecisionPolicy(param_dtype=torch.float16, reduce_dtype=torch.float32)
    return MixedPrecisionPolicy()


def local_share(model: nn.Module) -> tuple[int, int]:
    """(parameter elements held by this rank, elements of the full model)."""
    from torch.distributed.tensor import DTensor

    held = full = 0
    for p in model.parameters():
        full += p.numel()
        held += p.to_local().numel() if isinstance(p, DTensor) else p.numel()
    return held, full


def apply_fsdp(model: nn.Module, mesh, precision: str = "32-true") -> None:
    """Shard `model` in place over the 1-D data-parallel `mesh` (a no-op when already sharded)."""
    from torch.distributed.fsdp import fully_shard

    if is_sharded(model):
        return
    # Qwen2.5-VL's patch embedding and LM head return views; nothing edits them in place, so FSDP2's
    # per-forward warning about in-place ops on views is noise (tests compare gradients with an unsharded model).
    warnings.filterwarnings("ignore", message="FSDP2-wrapped module .* returned a view tensor")
    policy = mixed_precision(precision)
    units = shard_units(model)
    for unit in units:
        fully_shard(unit, mesh=mesh, mp_policy=policy)
    # The root's parameters (embedding, LM head) are needed again first thing in backward.
    fully_shard(model, mesh=mesh, mp_policy=policy, reshard_after_forward=False)
    align_vision_calls(model)
    held, full = local_share(model)
    log.info("FSDP2: rank %d holds %d of %d parameter elements (%d units + root, mesh size %d, param dtype %s)",
             mesh.get_rank(), held, full, len(units), mesh.size(), policy.param_dtype or "unchanged")


def root_first(model: nn.Module) -> None:
    """Make `model` its FSDP2 root now. FSDP2 picks the root at the first forward; `generate` (and
    unsharding units) may touch a unit before the root's first forward, which FSDP2 then refuses."""
    if is_sharded(model):
        model._get_fsdp_state()._lazy_init()


_GATHERED: set[int] = set()  # ids of models whose full parameters are on every rank right now


@contextlib.contextmanager
def gathered(model: nn.Module):
    """The full parameters on every rank for the duration (generation: a rank's sequences stop at
    their own length, so per-forward all-gathers would leave ranks waiting on each other); resharded
    after. A no-op for an unsharded model."""
    from torch.distributed.fsdp import FSDPModule

    units = [m for m in model.modules() if isinstance(m, FSDPModule)]
    root_first(model)
    for u in units:
        u.unshard()
        u.set_reshard_after_forward(False, recurse=False)
    _GATHERED.add(id(model))
    try:
        yield model
    finally:
        _GATHERED.discard(id(model))
        for u in units:
            u.reshard()
            u.set_reshard_after_forward(u is not model, recurse=False)


def align_vision_calls(model: nn.Module) -> None:
    """Make every forward run the vision tower, so ranks call the same FSDP units in the same order.

    A text-only micro-batch skips the vision tower; with another rank's micro-batch carrying images
    their all-gathers (forward) and reduce-scatters (backward) would pair up wrongly. When a forward
    has no images, a 1-image dummy goes through the tower just before the decoder, and 0 x its
    output joins the decoder's input embeddings: the same order of units and the same gradients.
    Also what lets a frozen-LLM stage step on a text-only micro-batch. Idempotent."""
    if getattr(model, "_vision_calls_aligned", False):
        return
    model._vision_calls_aligned = True
    inner = model.model
    visual = inner.visual
    patch = visual.patch_embed
    dim = patch.in_channels * patch.temporal_patch_size * patch.patch_size ** 2
    merge = visual.spatial_merge_size
    state = {"images": False}

    def note_images(_module, _args, kwargs):
        state["images"] = kwargs.get("pixel_values") is not None

    def dummy_vision(_module, args, kwargs):
        embeds = kwargs.get("inputs_embeds")
        if state["images"] or embeds is None or id(model) in _GATHERED:  # gathered: no collectives to align
            return None
        grid = torch.tensor([[1, merge, merge]], device=embeds.device)
        pixels = torch.zeros(merge * merge, dim, device=embeds.device, dtype=embeds.dtype)
        out = visual(pixels, grid_thw=grid)
        touched = sum(t.float().sum() for t in (getattr(out, "last_hidden_state", out), getattr(out, "pooler_output", None))
                      if t is not None)  # every vision unit, the merger included, joins the graph
        kwargs["inputs_embeds"] = embeds + 0.0 * touched.to(embeds.dtype)
        return args, kwargs

    inner.register_forward_pre_hook(note_images, with_kwargs=True)
    inner.language_model.register_forward_pre_hook(dummy_vision, with_kwargs=True)
