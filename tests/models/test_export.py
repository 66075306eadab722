"""Export an hf/ folder from a training checkpoint in one process: a torch.distributed.checkpoint
folder (what trainer=fsdp saves), a single .ckpt file, through `task=export`; clear errors otherwise."""

import importlib.util
import subprocess
import sys
import warnings

import pytest
import torch
import torch.distributed.checkpoint as dcp
from transformers import Qwen2_5_VLForConditionalGeneration

from lingshu.models.backbone import Backbone, TinyArch
from lingshu.models.export import export_from_checkpoint
from tests.conftest import ROOT
from tests.e2e.test_launch import launch


@pytest.fixture(scope="module")
def trained():
    """Weights unlike the seed-0 init, as SFTModule's state dict names them (`model.` + HF names)."""
    model, _ = Backbone(arch=TinyArch()).build(seed=1)
    return {f"model.{k}": v for k, v in model.state_dict().items()}


def reloaded(path):
    return {f"model.{k}": v for k, v in Qwen2_5_VLForConditionalGeneration.from_pretrained(path).state_dict().items()}


def test_sharded_checkpoint_folder(trained, tmp_path):
    with warnings.catch_warnings():  # saving in one process is intended
        warnings.filterwarnings("ignore", message="torch.distributed is disabled")
        dcp.save({"state_dict": trained, "optimizer_0": {"step": torch.tensor(3.0)}},
                 checkpoint_id=tmp_path / "last.ckpt", no_dist=True)
    out = export_from_checkpoint(tmp_path / "last.ckpt", Backbone(arch=TinyArch()), tmp_path / "hf")
    got = reloaded(out)
    assert got.keys() == trained.keys() and all(torch.equal(got[k], trained[k]) for k in got)


def test_checkpoint_file_through_task_export(trained, tmp_path):
    torch.save({"state_dict": trained, "global_step": 2}, tmp_path / "last.ckpt")
    launch("task=export", f"task.checkpoint={tmp_path / 'last.ckpt'}", f"hydra.run.dir={tmp_path / 'run'}")
    got = reloaded(tmp_path / "run" / "hf")
    assert all(torch.equal(got[k], trained[k]) for k in trained)
    assert (tmp_path / "run" / "hf" / "chat_template.jinja").exists()


def test_wrong_backbone_is_named(trained, tmp_path):
    torch.save({"state_dict": trained}, tmp_path / "last.ckpt")
    with pytest.raises(KeyError, match="is model= the backbone"):
        export_from_checkpoint(tmp_path / "last.ckpt", Backbone(arch=TinyArch(num_hidden_layers=3)), tmp_path / "hf")


@pytest.mark.skipif(importlib.util.find_spec("deepspeed") is not None, reason="deepspeed is installed")
def test_deepspeed_folder_without_deepspeed_says_what_to_install(tmp_path):
    (tmp_path / "last.ckpt").mkdir()
    (tmp_path / "last.ckpt" / "latest").write_text("checkpoint")
    with pytest.raises(ImportError, match="DeepSpeed checkpoint"):
        export_from_checkpoint(tmp_path / "last.ckpt", Backbone(arch=TinyArch()), tmp_path / "hf")


@pytest.mark.parametrize("args,expected", [([], "task.checkpoint is required"),
                                           (["task.checkpoint=/nonexistent/last.ckpt"], "/nonexistent/last.ckpt")])
def test_task_export_bad_input_is_one_line(args, expected, tmp_path):
    r = subprocess.run([sys.executable, "launch.py", "task=export", *args, f"hydra.run.dir={tmp_path}"], cwd=ROOT,
                       check=False, capture_output=True, text=True, timeout=300)
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("lingshu: error:")]
    assert r.returncode == 2 and len(lines) == 1 and expected in lines[0], r.stderr[-2000:]
