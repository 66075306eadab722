"""Settings a Lightning strategy takes from the stage rather than from Lightning's guesses."""

from __future__ import annotations

from lingshu.training.stage import Stage


def fit_strategy(strategy, stage: Stage) -> None:
    """DeepSpeed: the micro batch per GPU is the stage's (accumulation and clipping already come from
    the Trainer's arguments). Lightning would read it from the loader's batch_sampler, which the
    streaming loader lacks (its workers build the batches): setup would fail on `None.batch_size`."""
    from lightning.pytorch.strategies import DeepSpeedStrategy

    if isinstance(strategy, DeepSpeedStrategy):
        strategy.config.setdefault("train_micro_batch_size_per_gpu", stage.micro_batch_size)
