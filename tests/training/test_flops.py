"""Model FLOPs per step: a hand-computed case, and PyTorch's own FLOP counter on the tiny model."""

import dataclasses
import itertools

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode
from transformers import Qwen2_5_VLForConditionalGeneration

from lingshu.data.collate import SFTCollator
from lingshu.data.demo import demo_samples
from lingshu.models.backbone import Backbone, TinyArch
from lingshu.training.flops import Part, StepFlops, batch_shape, device_peak_flops


def test_hand_computed_step():
    # LLM trains (6 x 100 per token); projector trains (6 x 10 per merged token); vision frozen and
    # no gradient reaches it (2 x 50 per patch). Merge 2, window 2 merged tokens = 4x4 patches.
    count = StepFlops(llm=Part(100, 100, 100, True), projector=Part(10, 10, 10, True), vision=Part(50, 40, 0, False),
                      llm_layers=2, llm_attention_width=8, vision_layers=3, vision_attention_width=4,
                      vision_full_attention_layers=1, window=2, merge=2)
    llm = 8 * 600 + 12 * 2 * 8 * (3 * 3 + 5 * 5)  # tokens x 6N + 12 x layers x width x sum(s^2)
    # Image 1: 8x12 patches = 96 patches, 24 merged tokens; full attention 96^2 pairs; windows: six of 16 patches.
    image1 = 96 * 100 + 24 * 60 + 4 * 4 * (1 * 96 ** 2 + 2 * 6 * 16 ** 2)
    # Image 2: 4x10 patches = 40, 10 merged; windows of 16, 16 and 8 patches (the last one cut).
    image2 = 40 * 100 + 10 * 60 + 4 * 4 * (1 * 40 ** 2 + 2 * (16 ** 2 + 16 ** 2 + 8 ** 2))
    assert llm == 11328 and image1 == 207648 and image2 == 48632
    assert count([3, 5], [(1, 8, 12), (1, 4, 10)]) == llm + image1 + image2


def test_peak_table_matches_device_names():
    assert device_peak_flops("NVIDIA H100 80GB HBM3") == 989e12
    assert device_peak_flops("NVIDIA H100 PCIe") == 756e12
    assert device_peak_flops("NVIDIA H200") == 989e12
    assert device_peak_flops("NVIDIA A100-SXM4-80GB") == 312e12
    assert device_peak_flops("NVIDIA GeForce RTX 4090") is None


def eager_model(full_attention: list[int]):
    """The tiny model with eager attention (explicit matmuls PyTorch can count), larger images, and
    the given vision layers attending across the whole image (the others within windows)."""
    backbone = Backbone(arch=TinyArch(), attn_implementation="eager", min_pixels=224 * 168, max_pixels=224 * 168)
    _, proc = backbone.build(seed=0)
    config = backbone.config(proc)
    config.vision_config.fullatt_block_indexes = full_attention
    torch.manual_seed(0)
    model = Qwen2_5_VLForConditionalGeneration(config)
    model.config._attn_implementation = "eager"
    return model, proc


def counted(model, samples, collator, backward: bool) -> int:
    """FLOPs PyTorch's counter sees, one sample at a time (no padding; eager attention over
    the packed row would count attention across samples that the packed mask forbids)."""
    total = 0
    for s in samples:
        b = collator([s])
        b.pop("num_samples"), b.pop("labels")
        with FlopCounterMode(display=False) as fc:
            out = model(**b, use_cache=False).logits
            if backward:
                out.float().pow(2).mean().backward()
        total += fc.get_total_flops()
    return total


@pytest.mark.parametrize("train", ["all", "projector_only", "frozen"])
def test_formula_matches_pytorch_flop_counter(train):
    model, proc = eager_model(full_attention=[1])  # layer 0 windowed, layer 1 full
    samples = list(itertools.islice(demo_samples("train", 0, 3, 2, planted=False), 0, 12, 3))
    first = samples[0]  # made a two-image sample
    samples[0] = dataclasses.replace(first, images=first.images * 2, messages=[
        {**first.messages[0], "content": "<image>\n" + first.messages[0]["content"]}, *first.messages[1:]])
    for name, p in model.named_parameters():
        p.requires_grad_(train == "all" or (train == "projector_only" and ".merger." in name))
    collator = SFTCollator(proc)
    packed = SFTCollator(proc, max_seq_len=4096, packing=True)(samples)
    lengths, grids = batch_shape(packed)
    assert len(lengths) == len(samples) and len(grids) == sum(len(s.images) for s in samples)
    assert any(h // 2 > 4 or w // 2 > 4 for _, h, w in grids)  # several windows: window attention is exercised
    formula = StepFlops.from_model(model)(lengths, grids)
    reference = counted(model, samples, collator, backward=train != "frozen")
    assert formula == reference


def test_from_model_sees_freezing_and_lora_style_trainability():
    model, _ = Backbone(arch=TinyArch()).build(seed=0)
    count = StepFlops.from_model(model)
    assert count.llm.trainable == count.llm.weights and count.vision.grads_flow
    # The patch conv computes no input gradient (its input is pixels).
    conv = model.model.visual.patch_embed.proj.weight.numel()
    assert count.vision.weights - count.vision.input_grad_weights == conv
    for name, p in model.named_parameters():
        p.requires_grad_("language_model.layers.1.mlp" in name)
    count = StepFlops.from_model(model)
    mlp = sum(p.numel() for n, p in model.named_parameters() if "language_model.layers.1.mlp" in n)
    assert count.llm.trainable == mlp and count.llm.grads_flow
    assert not count.vision.grads_flow and not count.projector.grads_flow and count.vision.trainable == 0
    assert count.llm.flops_per_unit == 4 * count.llm.weights + 2 * mlp
