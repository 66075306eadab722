"""RL's trainer configurations on CPU: DeepSpeed ZeRO-3 through Lightning's own config logic, and
the 7B / 32B RL recipes' strategies and memory plans."""

from types import SimpleNamespace

from hydra.utils import instantiate

from lingshu.training.strategy import fit_strategy
from tests.conftest import compose
from tests.training.test_strategy import deepspeed_importable  # noqa: F401  (fixture)


def test_deepspeed_zero3_config_for_grpo(tmp_path, deepspeed_importable):  # noqa: F811
    cfg = compose(["~experiment", "task=rl", "stage=rl_grpo", "trainer=deepspeed_zero3", "trainer.devices=8"],
                  tmp_path)  # the paper's stage, not the demo's
    stage = instantiate(cfg.stages.rl_grpo, _convert_="all")
    strategy = instantiate(cfg.trainer.strategy)
    fit_strategy(strategy, stage)
    # GRPO optimizes manually: the Trainer gets no accumulation or clipping arguments.
    strategy._lightning_module = SimpleNamespace(trainer=SimpleNamespace(accumulate_grad_batches=1,
                                                                         gradient_clip_val=None))
    strategy._format_batch_size_and_grad_accum_config()
    c = strategy.config
    # the stage's micro-batch and clip; the loop's backward calls before each step accumulate in ZeRO
    assert c["zero_optimization"]["stage"] == 3
    assert (c["train_micro_batch_size_per_gpu"], c["gradient_accumulation_steps"], c["gradient_clipping"]) == (8, 1, 1.0)
