"""DeepSpeed trainer configs with the paper's batch settings, through Lightning's own DeepSpeed
config logic. Without deepspeed installed (CPU machines), a stub stands in for the one thing the
strategy's constructor touches (its logger); the config logic under test is Lightning's own."""

import importlib.util
import logging
import sys
from types import SimpleNamespace

import pytest
from hydra.utils import instantiate

from lingshu.training.strategy import fit_strategy
from tests.conftest import compose


@pytest.fixture
def deepspeed_importable(monkeypatch):
    import lightning.pytorch.strategies.deepspeed as ds

    if importlib.util.find_spec("deepspeed") is None:
        stub = SimpleNamespace(utils=SimpleNamespace(logging=SimpleNamespace(logger=logging.getLogger("deepspeed"))))
        monkeypatch.setitem(sys.modules, "deepspeed", stub)
        monkeypatch.setattr(ds, "_DEEPSPEED_AVAILABLE", True)
        monkeypatch.setattr(ds, "_DEEPSPEED_GREATER_EQUAL_0_16", True)


@pytest.mark.parametrize("trainer,zero", [("deepspeed_zero2", 2), ("deepspeed_zero3", 3)])
@pytest.mark.parametrize("stage_name,micro", [("shallow_alignment", 1), ("instruction_tuning", 16)])
def test_deepspeed_config_takes_the_stage_batch_settings(trainer, zero, stage_name, micro, tmp_path,
                                                         deepspeed_importable):
    cfg = compose(["experiment=lingshu_7b", "task=train", f"stage={stage_name}", f"trainer={trainer}"], tmp_path)
    assert (cfg.trainer.accelerator, cfg.trainer.precision) == ("gpu", "bf16-mixed")
    stage = instantiate(cfg.stages[stage_name], _convert_="all")
    assert (stage.micro_batch_size, stage.grad_accum, stage.grad_clip) == (micro, 8, 1.0)  # the paper's table
    strategy = instantiate(cfg.trainer.strategy)
    fit_strategy(strategy, stage)
    # What Lightning does at setup with the Trainer arguments train_stage passes (accumulation, clipping).
    strategy._lightning_module = SimpleNamespace(trainer=SimpleNamespace(
        accumulate_grad_batches=stage.grad_accum, gradient_clip_val=stage.grad_clip))
    strategy._format_batch_size_and_grad_accum_config()
    c = strategy.config
    assert c["zero_optimization"]["stage"] == zero
    assert (c["train_micro_batch_size_per_gpu"], c["gradient_accumulation_steps"], c["gradient_clipping"]) == (micro, 8, 1.0)


def test_paper_recipe_trains_with_zero3(tmp_path):
    cfg = compose(["experiment=lingshu_7b"], tmp_path)
    assert cfg.trainer.strategy._target_.endswith("DeepSpeedStrategy") and cfg.trainer.strategy.stage == 3


def test_other_strategies_are_left_alone(tmp_path):
    cfg = compose(["task=train", "trainer=fsdp"], tmp_path)
    strategy = instantiate(cfg.trainer.strategy)
    fit_strategy(strategy, instantiate(cfg.stages.instruction_tuning, _convert_="all"))
    assert not hasattr(strategy, "config")


def test_fsdp_shards_over_every_rank_of_every_node(tmp_path):
    cfg = compose(["task=train", "trainer=fsdp", "trainer.devices=4", "trainer.num_nodes=2"], tmp_path)
    assert (cfg.trainer.strategy.data_parallel_size, cfg.trainer.strategy.tensor_parallel_size) == (8, 1)
