"""GRPO maths on hand-made numbers: group advantages and the clipped-ratio + k3-KL token loss."""

import math

import pytest
import torch

from lingshu.rl.grpo import GRPOConfig, group_advantages, grpo_token_loss
from lingshu.rl.rollout import response_mask


def test_group_advantages_normalise_within_each_group_and_count_flat_groups():
    rewards = torch.tensor([1.0, 0.0, 1.0, 0.0, 0.5, 0.5, 0.5, 0.5])
    adv, flat = group_advantages(rewards, group=4)
    assert adv[:4].tolist() == pytest.approx([1.0, -1.0, 1.0, -1.0], abs=1e-5)  # mean .5, std .5
    assert adv[4:].tolist() == [0.0] * 4
    assert flat == 1


def test_leave_one_out_and_batch_scaling():
    r = torch.tensor([3.0, 0.0, 0.0, 1.0])
    adv, _ = group_advantages(r, group=4, scale="none", leave_one_out=True)
    assert adv.tolist() == pytest.approx([3 - 1 / 3, -4 / 3, -4 / 3, 1 - 1])
    r2 = torch.tensor([1.0, 0.0, 2.0, 0.0])
    adv, _ = group_advantages(r2, group=2, scale="batch")
    std = r2.std(unbiased=False).item()
    assert adv.tolist() == pytest.approx([0.5 / std, -0.5 / std, 1 / std, -1 / std], rel=1e-5)


def test_loss_on_a_hand_computed_two_token_example():
    # one sequence, two response tokens, advantage +1; token 1 inside the clip range, token 2 above it
    logp = torch.tensor([[math.log(0.5), math.log(0.9)]], requires_grad=True)
    old = torch.tensor([[math.log(0.5), math.log(0.6)]])
    ref = torch.tensor([[math.log(0.25), math.log(0.9)]])
    mask = torch.tensor([[True, True]])
    loss_sum, stats = grpo_token_loss(logp, old, ref, torch.tensor([1.0]), mask, kl_coef=0.1, clip_low=0.2, clip_high=0.2)
    # token 1: ratio 1 -> pg -1; kl = 0.5 - ln(0.5) - 1
    # token 2: ratio 1.5 -> clipped 1.2 -> pg -1.2; kl = 1 - 0 - 1 = 0
    kl1 = 0.5 - math.log(0.5) - 1
    expected = (-1.0 + 0.1 * kl1) + (-1.2 + 0.0)
    assert loss_sum.item() == pytest.approx(expected, rel=1e-6)
    assert stats["clip_sum"].item() == 1.0
    loss_sum.backward()
    assert logp.grad[0, 1].item() == pytest.approx(0.0, abs=1e-7)  # clipped token gets no policy gradient


def test_negative_advantage_clips_from_below_and_mask_excludes_padding():
    logp = torch.tensor([[math.log(0.2), 0.0]])
    old = torch.tensor([[math.log(0.5), 0.0]])
    loss_sum, _ = grpo_token_loss(logp, old, logp.clone(), torch.tensor([-2.0]), torch.tensor([[True, False]]),
                                  kl_coef=1.0, clip_low=0.2, clip_high=0.2)
    # ratio 0.4: -min(0.4 * -2, 0.8 * -2) = 1.6
    assert loss_sum.item() == pytest.approx(1.6)


def test_response_mask_stops_after_the_first_end_token():
    ids = torch.tensor([[5, 6, 2, 0, 0], [5, 6, 7, 8, 9]])
    mask, truncated = response_mask(ids, end_ids=[2])
    assert mask.tolist() == [[True, True, True, False, False], [True] * 5]
    assert truncated.tolist() == [False, True]


def test_config_checks_batch_units():
    with pytest.raises(ValueError, match="multiple"):
        GRPOConfig(prompts_per_step=10, update_prompts=4, data={"mixture": [{"source": "demo"}]})
    with pytest.raises(ValueError, match=">= 2"):
        GRPOConfig(prompts_per_step=4, update_prompts=4, generations_per_prompt=1, micro_batch_size=4,
                   data={"mixture": [{"source": "demo"}]})
