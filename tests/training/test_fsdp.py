"""FSDP2 on the tiny model with 2 CPU processes (gloo): units follow the module groups, sharded
gradients equal an unsharded model's (frozen LLM included), and the gathered export is exact."""

import copy
import itertools
import os

import pytest
import torch
import torch.distributed as dist
from transformers import Qwen2_5_VLForConditionalGeneration

from lingshu.data.collate import SFTCollator
from lingshu.data.demo import demo_samples
from lingshu.models.backbone import Backbone, TinyArch, module_groups
from lingshu.training.fsdp import apply_fsdp, local_share, shard_units
from lingshu.training.sft import apply_freezing
from lingshu.training.stage import Stage
from tests.conftest import spawn_two_ranks

SHALLOW = Stage(name="t", lr={"vision": 2e-6, "projector": 1e-5, "llm": None},  # stage 1: LLM frozen
                data={"mixture": [{"source": "demo"}]})


def test_every_unit_lies_in_one_module_group(tiny):
    model, _ = tiny
    group = {id(p): m for m, params in module_groups(model).items() for _, p in params}
    owned = [set(map(id, u.parameters())) for u in shard_units(model)]
    root = set(map(id, model.parameters())) - set().union(*owned)
    for ids in [*owned, root]:
        assert len({group[i] for i in ids}) == 1
    assert model.lm_head.weight is model.model.language_model.embed_tokens.weight  # tied: both in the root


def _batches(proc):
    samples = list(itertools.islice(demo_samples("train", 0, 4, 4, planted=False), 8))
    out = []
    for part in (samples[:4], samples[4:]):
        b = SFTCollator(proc)(part)
        b.pop("num_samples")
        out.append(b)
    return out


def _worker(rank: int, world: int, port: int, out_dir: str) -> None:
    from torch.distributed.device_mesh import init_device_mesh

    from lingshu.models.export import export_trained

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        mesh = init_device_mesh("cpu", (world,))
        model, proc = Backbone(arch=TinyArch()).build(seed=0)
        apply_freezing(model, SHALLOW)
        reference = copy.deepcopy(model)
        batches = _batches(proc)
        # Reference: the unsharded model sees both ranks' batches; FSDP averages gradients over ranks.
        for b in batches:
            (reference(**b).loss / world).backward()
        apply_fsdp(model, mesh)
        held, full = local_share(model)
        model(**batches[rank]).loss.backward()
        result = {"held": held, "full": full, "grad_diff": 0.0, "frozen_with_grad": 0, "trained": 0}
        ref_params = dict(reference.named_parameters())
        for name, p in model.named_parameters():
            if p.grad is None:
                result["frozen_with_grad"] += ref_params[name].grad is not None
                continue
            result["trained"] += 1
            diff = (p.grad.full_tensor() - ref_params[name].grad).abs().max().item()
            result["grad_diff"] = max(result["grad_diff"], diff)
        for m in (model, reference):
            torch.optim.SGD([p for p in m.parameters() if p.requires_grad], lr=10.0).step()
        export_trained(model, proc, f"{out_dir}/hf", write=rank == 0)
        if rank == 0:
            saved = Qwen2_5_VLForConditionalGeneration.from_pretrained(f"{out_dir}/hf").state_dict()
            ref = reference.state_dict()
            assert saved.keys() == ref.keys()
            result["export_diff"] = max((saved[k] - ref[k]).abs().max().item() for k in saved)
            init, _ = Backbone(arch=TinyArch()).build(seed=0)
            moved = {m: max((saved[n] - p).abs().max().item() for n, p in params)
                     for m, params in module_groups(init).items()}
            result["moved"] = moved

        # Mixed precision: bf16 compute inside the units, fp32 sharded parameters and gradients.
        bf16, _ = Backbone(arch=TinyArch()).build(seed=0)
        apply_freezing(bf16, SHALLOW)
        apply_fsdp(bf16, mesh, "bf16-mixed")
        seen = []
        bf16.model.visual.blocks[0].mlp.down_proj.register_forward_pre_hook(lambda m, a: seen.append(m.weight.dtype))
        bf16(**batches[rank]).loss.backward()
        grads = [p.grad for p in bf16.parameters() if p.grad is not None]
        result["bf16"] = {"compute": seen[0], "param": next(bf16.parameters()).dtype, "grad": grads[0].dtype,
                          "finite": all(torch.isfinite(g.to_local()).all().item() for g in grads)}
        torch.save(result, f"{out_dir}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def fsdp_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("fsdp")
    spawn_two_ranks(_worker, out)
    return [torch.load(out / f"rank{r}.pt") for r in range(2)]


def test_parameters_are_split_across_ranks(fsdp_results):
    held = [r["held"] for r in fsdp_results]
    full = fsdp_results[0]["full"]
    assert sum(held) == full and max(held) < full


def test_sharded_gradients_equal_unsharded_and_frozen_llm_has_none(fsdp_results):
    r = fsdp_results[0]
    assert r["trained"] > 0 and r["frozen_with_grad"] == 0
    assert r["grad_diff"] < 1e-6


def test_gathered_export_equals_unsharded_update(fsdp_results):
    r = fsdp_results[0]
    assert r["export_diff"] < 1e-6
    assert r["moved"]["llm"] == 0 and r["moved"]["vision"] > 0 and r["moved"]["projector"] > 0


def test_bf16_mixed_computes_in_bf16_and_keeps_fp32_shards(fsdp_results):
    for r in fsdp_results:
        assert r["bf16"] == {"compute": torch.bfloat16, "param": torch.float32, "grad": torch.float32, "finite": True}
