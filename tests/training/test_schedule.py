"""The number of optimizer steps a stage will take, derived from its data before training, and the
LR curve over it (warm-up, cosine to min_lr_ratio, never 0 before the last step)."""

import pytest

from lingshu.training.schedule import Schedule, rl_steps, sft_steps, warmup_constant, warmup_cosine


def test_sft_steps_from_the_data_when_max_steps_is_minus_one():
    # the paper's stage 1 on ~927K captions: micro 1 x accumulation 8 x 8 GPUs x 4 nodes = 256 a step
    assert sft_steps(927_000, epochs=1, micro_batch_size=1, grad_accum=8, world_size=32) == 3_621  # 28,968 micro-batches a rank
    # a short last accumulation window still steps: 10 micro-batches at accumulation 4 -> 3 steps an epoch
    assert sft_steps(10, epochs=2, micro_batch_size=1, grad_accum=4, world_size=1) == 6
    # the stream drops what does not fill a micro-batch on every rank
    assert sft_steps(17, epochs=1, micro_batch_size=4, grad_accum=1, world_size=2) == 2
    # packing packs one micro-batch: the formula counts samples, as the stream does
    assert sft_steps(7_100_000, epochs=2, micro_batch_size=16, grad_accum=8, world_size=32) == 2 * 1_734  # 13,867 a rank


def test_a_positive_max_steps_caps_the_derived_count():
    assert sft_steps(1000, 1, 1, 1, 1, max_steps=30) == 30
    assert sft_steps(16, 1, 1, 1, 1, max_steps=30) == 16  # the data ends first
    assert rl_steps(100_000, 1, 512, 4, max_steps=10) == 10


def test_rl_steps_are_rollouts_times_updates_per_rollout():
    # the paper: ~100K prompts, rollout batch 512, update batch 128 -> 4 optimizer steps a rollout
    assert rl_steps(100_000, epochs=1, prompts_per_step=512, steps_per_rollout=4) == 780  # 195 rollouts
    assert rl_steps(3, epochs=1, prompts_per_step=4, steps_per_rollout=1) == 0


def test_cosine_warms_up_then_decays_to_min_ratio_and_is_never_zero_before_the_last_step():
    s = Schedule(total=50, warmup=5, min_ratio=0.1)
    lrs = [s(i) for i in range(50)]
    assert lrs[:5] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    assert all(a >= b for a, b in zip(lrs[5:], lrs[6:]))  # monotone decay after warm-up
    assert lrs[-1] > 0.1 and s(50) == pytest.approx(0.1)  # reaches min_ratio only after the last step
    zero = Schedule(total=8, warmup=2)  # the case: 8 steps, warm-up 2, min_lr_ratio 0
    assert all(zero(i) > 0 for i in range(8))
    assert zero(2) == pytest.approx(1.0) and zero(5) == pytest.approx(0.5)


def test_the_bug_it_replaces_lightning_estimate_of_minus_one_ends_the_cosine_at_once():
    # What configure_optimizers did with estimated_stepping_batches = max_steps = -1.
    assert [round(warmup_cosine(i, 2, -1), 3) for i in range(4)] == [0.5, 1.0, 1.0, 0.0]


def test_constant_schedule_for_grpo_and_the_startup_rows():
    assert [warmup_constant(i, 2) for i in range(4)] == [0.5, 1.0, 1.0, 1.0]
    rows = dict(Schedule(total=10, warmup=2, min_ratio=0.0).rows({"llm": 1e-5}))
    assert rows["optimizer steps"] == "10" and rows["warm-up steps"] == "2"
    assert rows["LR llm: peak / step 5 / step 9"] == "1e-05 / 6.91e-06 / 3.81e-07"  # cos at 3/8 and 7/8 of the decay
    assert dict(Schedule(total=4, warmup=0, shape="constant").rows({"policy": 1e-6}))[
        "LR policy: peak / step 2 / step 3"] == "1e-06 / 1e-06 / 1e-06"
