"""The memory plan: its parameter, gradient and optimizer figures against the tiny model's measured
tensors after a real AdamW step, sharding by strategy, and the 7B / 32B RL recipes on 8 x 80 GB."""

import copy

import pytest
import torch

from lingshu.training.memory import ModelShape, main, memory_plan


def nbytes(tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


def test_plan_figures_equal_the_tiny_models_measured_tensors(tiny):
    model, proc = tiny
    model = copy.deepcopy(model)
    ref = copy.deepcopy(model).requires_grad_(False)
    for p in model.model.visual.parameters():  # a frozen part: no gradient, no optimizer state
        p.requires_grad_(False)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    enc = proc.tokenizer(["a short text"], return_tensors="pt")
    model(**enc).logits.sum().backward()
    grads = nbytes(p.grad for p in model.parameters() if p.grad is not None)
    opt.step()
    states = nbytes(v for s in opt.state.values() for v in s.values() if torch.is_tensor(v) and v.dim() > 0)
    plan = memory_plan(ModelShape.of(model), "single", 1, micro_batch=2, prompt_tokens=32, response_tokens=16)
    items = plan["items"]
    assert items["policy parameters"] == nbytes(model.parameters())
    assert items["reference model (frozen)"] == nbytes(ref.parameters())
    assert items["gradients (update)"] == grads
    assert items["optimizer states (AdamW, 2 per trainable)"] == states  # exp_avg + exp_avg_sq
    # the peak: what stays (policy, its optimizer states, the reference) plus the larger phase
    update = grads + items["activations, one micro-batch (update, estimate)"]
    rollout = items["rollout: full policy gathered + KV cache"]
    assert plan["peak"] == nbytes(model.parameters()) + states + nbytes(ref.parameters()) + max(update, rollout)


def test_sharded_strategies_divide_what_they_shard(tiny):
    shape = ModelShape.of(tiny[0])
    args = dict(micro_batch=1, prompt_tokens=8, response_tokens=8)
    single = memory_plan(shape, "single", 1, **args)["items"]
    fsdp = memory_plan(shape, "fsdp", 4, **args)["items"]
    zero2 = memory_plan(shape, "deepspeed_zero2", 4, **args)["items"]
    for k in ("policy parameters", "optimizer states (AdamW, 2 per trainable)", "reference model (frozen)",
              "gradients (update)"):
        assert fsdp[k] == single[k] // 4
    assert zero2["policy parameters"] == single["policy parameters"]
    assert zero2["optimizer states (AdamW, 2 per trainable)"] == single["optimizer states (AdamW, 2 per trainable)"] // 4


def test_a_plan_above_the_device_warns_and_says_what_to_change(tiny, capsys):
    from lingshu.training.memory import print_memory_plan

    plan = memory_plan(ModelShape.of(tiny[0]), "single", 1, micro_batch=1, prompt_tokens=8, response_tokens=8,
                       device_bytes=1024)
    assert plan["fits"] is False
    print_memory_plan(plan)
    out = " ".join(capsys.readouterr().out.split())
    assert "DOES NOT FIT" in out and "warning" in out and "micro_batch_size" in out


@pytest.mark.parametrize("experiment,ranks,billions,smaller", [
    ("lingshu_rl_7b", 8, 8.29, "trainer=gpu"),                # one unsharded GPU would not do
    ("lingshu_rl_32b", 32, 33.45, "trainer.num_nodes=1")])   # nor one node: the gathered 32B policy
def test_rl_recipes_fit_80_gb_gpus(experiment, ranks, billions, smaller, capsys):
    main([f"experiment={experiment}", "--device-gb", "80"])
    out = " ".join(capsys.readouterr().out.split())
    assert f"(fsdp, {ranks} ranks" in out and f"{billions:.2f}B parameters" in out
    assert "fits in 80 GiB per device" in out and "DOES NOT FIT" not in out
    main([f"experiment={experiment}", smaller, "--device-gb", "80"])
    assert "DOES NOT FIT" in capsys.readouterr().out
