"""LoRA: adapters are the only trainable LLM weights, base weights stay put, and the merged export
is a plain transformers checkpoint that computes what the adapted model computed."""

import copy
import itertools
import os

import pytest
import torch
import torch.distributed as dist
from hydra.utils import instantiate
from transformers import Qwen2_5_VLForConditionalGeneration

from lingshu.data.collate import SFTCollator
from lingshu.data.demo import demo_samples
from lingshu.models.backbone import Backbone, TinyArch, module_of
from lingshu.models.export import export_hf
from lingshu.models.lora import is_lora_param, merge_lora
from lingshu.tasks import curate, train
from lingshu.training.sft import SFTModule, lm_loss, param_groups
from lingshu.training.stage import Stage
from tests.conftest import compose, spawn_two_ranks

ALL = {"vision": 1e-3, "projector": 1e-3, "llm": 1e-2}


def stage(lr=ALL, **lora):
    return Stage(name="t", lr=lr, lora=lora, data={"mixture": [{"source": "demo"}]})


def batch(proc):
    b = SFTCollator(proc)(list(itertools.islice(demo_samples("train", 0, 4, 4, planted=False), 6)))
    b.pop("num_samples")
    return b


def test_only_adapters_train_in_the_llm_and_the_vision_tower_has_none_by_default():
    model, _ = Backbone(arch=TinyArch()).build(seed=0)
    SFTModule(model, stage(rank=4))
    params = dict(model.named_parameters())
    adapters = [n for n in params if is_lora_param(n)]
    # 7 linear layers x 2 LLM layers, an A and a B matrix each; none in the vision tower or projector.
    assert len(adapters) == 7 * 2 * 2 and {module_of(n) for n in adapters} == {"llm"}
    assert {n for n, p in params.items() if module_of(n) == "llm" and p.requires_grad} == set(adapters)
    assert all(p.requires_grad for n, p in params.items() if module_of(n) != "llm")  # the stage trains them fully


def test_vision_adapters_on_request_and_stage_checks():
    model, _ = Backbone(arch=TinyArch()).build(seed=0)
    SFTModule(model, stage(rank=4, modules=["llm", "vision"]))
    vision = {n.split(".lora_")[0].rsplit(".", 1)[-1] for n, _ in model.named_parameters()
              if is_lora_param(n) and module_of(n) == "vision"}
    assert vision == {"qkv", "proj", "gate_proj", "up_proj", "down_proj"}
    with pytest.raises(ValueError, match="trains none of them"):
        stage({"vision": 1e-5, "projector": 1e-5, "llm": None}, rank=4)
    with pytest.raises(ValueError, match="must be among"):
        stage(rank=4, modules=["vit"])


def test_training_moves_adapters_only_and_the_merged_export_computes_the_same_logits(tmp_path):
    model, proc = Backbone(arch=TinyArch()).build(seed=0)
    st = stage({"vision": None, "projector": 1e-3, "llm": 1e-2}, rank=4, alpha=8)
    SFTModule(model, st)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = torch.optim.AdamW(param_groups(model, st))
    assert {g["name"]: g["lr"] for g in opt.param_groups} == {"projector": 1e-3, "llm": 1e-2}
    b = batch(proc)
    labels = b.pop("labels")
    losses = []
    for _ in range(4):
        loss = lm_loss(model(**b).logits, labels)
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    for n, p in model.named_parameters():
        moved = not torch.equal(before[n], p.detach())
        if module_of(n) == "llm" and not is_lora_param(n) or module_of(n) == "vision":
            assert not moved, n  # frozen base weights, frozen vision tower
        if ".lora_B." in n:
            assert moved, n  # B starts at zero: it moved, so the adapter changes the output
    model.eval()  # no adapter dropout
    with torch.no_grad():
        adapted = model(**b).logits
    export_hf(merge_lora(model), proc, tmp_path / "hf")
    plain, info = Qwen2_5_VLForConditionalGeneration.from_pretrained(tmp_path / "hf", output_loading_info=True)
    assert not any(info.values()), info  # no missing, unexpected or mismatched weights
    assert not any("lora" in n or "base_layer" in n for n in plain.state_dict())
    base, _ = Backbone(arch=TinyArch()).build(seed=0)
    with torch.no_grad():
        merged, untrained = plain.eval()(**b).logits, base.eval()(**b).logits
    assert torch.allclose(merged, adapted, atol=1e-4), (merged - adapted).abs().max()
    assert (untrained - adapted).abs().max() > 1e-2  # the adapters made a difference the merge kept


def test_train_task_exports_merged_weights(tmp_path):
    run = tmp_path / "run"
    cfg = compose(["task=curate", "source.demo.num_images=8", "source.demo.num_text=4", "curation.workers=1",
                   "curation.progress=false"], run)
    curate.run(cfg)
    cfg = compose(["task=train", "stage=deep_alignment", *[f"stages.deep_alignment.{s}" for s in (
                   "lora={rank: 4}", "max_steps=2", "micro_batch_size=4", "grad_accum=1", "warmup_steps=0", "lr.llm=0.01",
                   "data.num_workers=0", "data.samples_per_epoch=16", "data.mixture=[{source: demo}]")]], run)
    result = train.run(cfg)
    plain, info = Qwen2_5_VLForConditionalGeneration.from_pretrained(result["hf"], output_loading_info=True)
    assert not any(info.values()), info
    init, _ = instantiate(cfg.model, _convert_="all").build(seed=cfg.seed)  # where the stage started
    trained, start = plain.state_dict(), init.state_dict()
    assert torch.equal(trained["model.language_model.embed_tokens.weight"], start["model.language_model.embed_tokens.weight"])
    q = "model.language_model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(trained[q], start[q])  # the adapters' update, folded in


def _sharded_worker(rank: int, world: int, port: int, out_dir: str) -> None:
    from torch.distributed.device_mesh import init_device_mesh

    from lingshu.models.export import export_trained
    from lingshu.training.fsdp import apply_fsdp

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        model, proc = Backbone(arch=TinyArch()).build(seed=0)
        SFTModule(model, stage({"vision": None, "projector": 1e-3, "llm": 1e-2}, rank=4, dropout=0.0))
        reference = copy.deepcopy(model)
        apply_fsdp(model, init_device_mesh("cpu", (world,)))
        b = batch(proc)  # the same batch on both ranks: the averaged gradient is the unsharded one
        labels = b.pop("labels")
        for m in (model, reference):
            lm_loss(m(**b).logits, labels).backward()
            torch.optim.SGD([p for p in m.parameters() if p.requires_grad], lr=1.0).step()
        merge_lora(model)  # on DTensor shards, every rank (as tasks/train.py calls it)
        export_trained(model, proc, f"{out_dir}/hf", write=rank == 0)
        if rank == 0:
            saved = Qwen2_5_VLForConditionalGeneration.from_pretrained(f"{out_dir}/hf").state_dict()
            ref = merge_lora(reference).state_dict()
            assert saved.keys() == ref.keys()
            init = Backbone(arch=TinyArch()).build(seed=0)[0].state_dict()
            torch.save({"diff": max((saved[k] - ref[k]).abs().max().item() for k in saved),
                        "merged_update": max((ref[k] - init[k]).abs().max().item() for k in ref if "q_proj" in k)},
                       f"{out_dir}/result.pt")
        # leave together: a rank tearing gloo down while rank 0 still checks can abort (CI saw SIGABRT)
        dist.barrier()
    finally:
        dist.destroy_process_group()


def test_merge_under_fsdp2_exports_what_the_unsharded_merge_gives(tmp_path):
    spawn_two_ranks(_sharded_worker, tmp_path)
    result = torch.load(tmp_path / "result.pt")
    assert result["diff"] < 1e-5 and result["merged_update"] > 1e-3, result
