"""Settings a Lightning strategy takes from the stage rather than from Lightning's guesses."""

from __future__ import annotations


def fit_strategy(strategy, stage) -> None:
    """DeepSpeed: the micro batch per GPU is the stage's. SFT: accumulation and clipping already come
    from the Trainer's arguments; Lightning would read the micro batch from the loader's
    batch_sampler, which the streaming loader lacks (setup would fail on `None.batch_size`).
    GRPO (manual optimization: no Trainer clipping or accumulation): DeepSpeed ignores Lightning's
    `clip_gradients`, so its config gets the stage's clip; its ZeRO optimizer sums the gradients of
    every backward until the loop's `step`, so accumulation stays 1."""
    from lightning.pytorch.strategies import DeepSpeedStrategy

    if not isinstance(strategy, DeepSpeedStrategy):
        return
    strategy.config.setdefault("train_micro_batch_size_per_gpu", stage.micro_batch_size)
    if getattr(stage, "kind", None) == "rl":
        strategy.config.setdefault("gradient_clipping", stage.grad_clip)
