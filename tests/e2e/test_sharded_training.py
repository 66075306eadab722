"""Sharded training through launch.py: FSDP2 with 2 CPU processes (gloo) writes one run directory,
really shards the weights, exports an hf/ folder equal to the offline export of its sharded
checkpoint, keeps the frozen LLM of stage 1 fixed, and resumes from that checkpoint. DeepSpeed
ZeRO-3 runs the same checks on a GPU (marker `gpu`)."""

import re
import shutil

import pytest
import torch
from hydra.utils import instantiate
from transformers import Qwen2_5_VLForConditionalGeneration

from lingshu.models.backbone import module_groups
from tests.conftest import compose
from tests.e2e.test_launch import SMALL_STAGE, launch


def weights(path):
    return Qwen2_5_VLForConditionalGeneration.from_pretrained(path).state_dict()


def max_diff(a, b):
    assert a.keys() == b.keys()
    return max((a[k].float() - b[k].float()).abs().max().item() for k in a)


def train_export_resume(curated, tmp_path, trainer_args):
    run = tmp_path / "run"
    args = ("task=train", "stage=shallow_alignment", *trainer_args, *SMALL_STAGE,
            f"paths.curated_dir={curated}", f"hydra.run.dir={run}")
    first = launch(*args)
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # both ranks wrote into one run directory
    stage_dir = run / "train" / "shallow_alignment"
    ckpt = stage_dir / "checkpoints" / "last.ckpt"
    trained = weights(stage_dir / "hf")

    from lingshu.models.export import export_from_checkpoint

    cfg = compose(["task=train", "stage=shallow_alignment"], run)
    backbone = instantiate(cfg.model, _convert_="all")
    offline = weights(export_from_checkpoint(ckpt, backbone, tmp_path / "offline_hf"))
    assert max_diff(trained, offline) == 0.0  # the gathered export is the checkpoint's weights
    init, _ = backbone.build(seed=cfg.seed)
    moved = {m: max((trained[n] - p).abs().max().item() for n, p in params)
             for m, params in module_groups(init).items()}
    assert moved["llm"] == 0.0 and moved["vision"] > 0 and moved["projector"] > 0  # stage 1 freezes the LLM

    # A run killed after its last checkpoint: the same command resumes from the sharded checkpoint.
    (stage_dir / "DONE.json").unlink()
    shutil.rmtree(stage_dir / "hf")
    second = launch(*args)
    assert f"Restored all states from the checkpoint at {ckpt}" in second.stdout + second.stderr
    assert max_diff(weights(stage_dir / "hf"), trained) == 0.0
    return ckpt, first.stdout + first.stderr


@pytest.mark.slow
def test_fsdp_two_cpu_processes(curated, tmp_path):
    ckpt, log = train_export_resume(curated, tmp_path, ["trainer=fsdp", "trainer.devices=2"])
    shares = {int(r): (int(h), int(f)) for r, h, f in
              re.findall(r"FSDP2: rank (\d+) holds (\d+) of (\d+) parameter elements", log)}
    assert sorted(shares) == [0, 1]
    (h0, full), (h1, _) = shares[0], shares[1]
    assert h0 + h1 == full and max(h0, h1) < full  # each rank holds only its shard during training
    assert ckpt.is_dir() and len(list(ckpt.glob("*.distcp"))) == 2  # one shard file per rank


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="DeepSpeed runs on a GPU only")
def test_deepspeed_zero3_one_gpu(curated, tmp_path):
    pytest.importorskip("deepspeed")
    ckpt, _ = train_export_resume(curated, tmp_path, ["trainer=deepspeed_zero3", "trainer.devices=1"])
    assert (ckpt / "latest").is_file()
