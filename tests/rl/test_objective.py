"""The GRPO objective against hand-computed values derived from EasyR1's and verl's formulas
(EasyR1 `verl/trainer/core_algos.py`: `compute_policy_loss` with loss_type=default, `compute_kl` with
kl_penalty=low_var_kl, `average_loss` mode=token; `verl/workers/actor/dp_actor.py`: loss = pg_loss +
kl_coef x kl_loss, logits divided by the temperature; TRL `trl/trainer/grpo_trainer.py`: batch-scaled
rewards use the std of the whole gathered batch). No reference code runs here: the numbers below
are worked out in the comments."""

import math
from types import SimpleNamespace

import pytest
import torch

from lingshu.rl.grpo import (GRPOConfig, Rollout, group_advantages, grpo_token_loss, print_plan,
                             token_logprobs)
from lingshu.rl.rewards import Reward

LN2 = math.log(2)


def loss_of(log_ratio, ref_minus_logp, adv, mask, kl_coef, **clip):
    logp = torch.full(log_ratio.shape, -1.0)
    return grpo_token_loss(logp, logp - log_ratio, logp + ref_minus_logp, adv, mask, kl_coef, **clip)


def test_reproduces_easyr1_loss_on_a_fixed_batch():
    # Two responses, EasyR1 defaults: clip 0.2 low / 0.3 high, dual 3.0, kl_coef 1e-2 (examples/config.yaml).
    # Response 1, A = +0.5, ratios 1.1, 1.5, 0.6:
    #   1.1 inside the band: -0.55;  1.5 -> clipped 1.3: max(-0.75, -0.65) = -0.65 (clip active);
    #   0.6 -> clipped 0.8: max(-0.30, -0.40) = -0.30 (a positive advantage is not clipped from below).
    # Response 2, A = -2, ratios 0.7, 4.0, third token padding:
    #   0.7 -> clipped 0.8: max(1.4, 1.6) = 1.6 (clip active);  4.0: max(8, 2.6) = 8 > dual 3 x 2 -> 6.
    # pg token mean = (-0.55 - 0.65 - 0.30 + 1.6 + 6) / 5 = 6.1 / 5 = 1.22
    # k3 with d = ref - logp: 0 -> 0; ln2 -> 2 - ln2 - 1; -ln2 -> 0.5 + ln2 - 1 (twice);
    #   -30 -> clamped to -20: e^-20 + 19 -> clamped to 10.  kl mean = (1 - ln2 + 2 (ln2 - 0.5) + 10) / 5
    # loss = 1.22 + 0.01 x kl mean
    log_ratio = torch.log(torch.tensor([[1.1, 1.5, 0.6], [0.7, 4.0, 1.0]]))
    d = torch.tensor([[0.0, LN2, -LN2], [-LN2, -30.0, 0.0]])
    mask = torch.tensor([[True, True, True], [True, True, False]])
    loss_sum, st = loss_of(log_ratio, d, torch.tensor([0.5, -2.0]), mask, kl_coef=1e-2)
    kl_mean = (1 - LN2 + 2 * (LN2 - 0.5) + 10) / 5
    assert (loss_sum / mask.sum()).item() == pytest.approx(1.22 + 0.01 * kl_mean, rel=1e-6)
    assert st["kl_sum"].item() == pytest.approx(kl_mean * 5, rel=1e-6)
    assert (st["clip_sum"].item(), st["dual_clip_sum"].item()) == (2.0, 1.0)


def test_dual_clip_bounds_a_negative_advantage_at_three():
    # The case: A = -1, ratio 5. Single-clip PPO gives max(5, 1.3) = 5; EasyR1 min(5, 3) = 3.
    loss_sum, st = loss_of(torch.tensor([[math.log(5.0)]]), torch.zeros(1, 1), torch.tensor([-1.0]),
                           torch.ones(1, 1, dtype=torch.bool), kl_coef=0.0)
    assert loss_sum.item() == pytest.approx(3.0)
    assert st["dual_clip_sum"].item() == 1.0 and st["clip_sum"].item() == 0.0
    # Positive advantage, ratio 5: clipped at 1 + 0.3.
    loss_sum, _ = loss_of(torch.tensor([[math.log(5.0)]]), torch.zeros(1, 1), torch.tensor([1.0]),
                          torch.ones(1, 1, dtype=torch.bool), kl_coef=0.0)
    assert loss_sum.item() == pytest.approx(-1.3)


def test_clip_fraction_counts_only_tokens_whose_clip_is_active():
    # Ratios outside the band but on the side where the min/max keeps the raw term (A > 0 below, A < 0
    # above, A = 0 anywhere) are not clipped: only 1 of these 5 tokens is (A = +1 at ratio 1.6).
    log_ratio = torch.log(torch.tensor([[0.5, 1.6], [1.5, 1.0], [0.5, 1.0]]))
    mask = torch.tensor([[True, True], [True, False], [True, False]])
    _, st = loss_of(log_ratio, torch.zeros(3, 2), torch.tensor([1.0, -0.1, 0.0]), mask, kl_coef=0.0)
    assert st["clip_sum"].item() == 1.0 and st["dual_clip_sum"].item() == 0.0


def test_kl_term_is_clamped_as_verl_and_stays_finite():
    # d = +30 -> clamped 20: e^20 - 21 -> clamped 10;  d = -30: 10 too (unclamped: 1.07e13 for e^30).
    _, st = loss_of(torch.zeros(1, 2), torch.tensor([[30.0, -30.0]]), torch.tensor([0.0]),
                    torch.ones(1, 2, dtype=torch.bool), kl_coef=1.0)
    assert st["kl_sum"].item() == pytest.approx(20.0)
    # Log-ratio 50 (ratio e^50 unclamped) is clamped to 20 before exp: the loss stays finite.
    loss_sum, _ = loss_of(torch.tensor([[50.0]]), torch.zeros(1, 1), torch.tensor([-1.0]),
                          torch.ones(1, 1, dtype=torch.bool), kl_coef=0.0, clip_dual=1e12)
    assert loss_sum.item() == pytest.approx(math.exp(20.0), rel=1e-5)


class FixedLogits(torch.nn.Module):
    def __init__(self, logits):
        super().__init__()
        self.logits = logits

    def forward(self, **_):
        return SimpleNamespace(logits=self.logits)


def test_scoring_divides_logits_by_the_sampling_temperature():
    # Prompt of 1 token, response of 1 token (id 2). Logits [0, 2 ln2, 4 ln2] at temperature 2 are
    # [0, ln2, 2 ln2]: probabilities 1/7, 2/7, 4/7 -> log-prob ln(4/7); at temperature 1: ln(16/21).
    logits = torch.tensor([[[0.0, 2 * LN2, 4 * LN2], [0.0, 0.0, 0.0]]])
    ro = Rollout(inputs={"input_ids": torch.tensor([[0, 2]])}, prompt_len=1, response_mask=torch.ones(1, 1, dtype=torch.bool),
                 responses=["x"], truncated=torch.tensor([False]))
    lp2, ent = token_logprobs(FixedLogits(logits), ro, temperature=2.0, with_entropy=True)
    assert lp2.item() == pytest.approx(math.log(4 / 7))
    p = torch.tensor([1, 2, 4]) / 7
    assert ent.item() == pytest.approx(float(-(p * p.log()).sum()), rel=1e-6)
    lp1, _ = token_logprobs(FixedLogits(logits), ro, temperature=1.0)
    assert lp1.item() == pytest.approx(math.log(16 / 21))


def test_batch_scale_divides_by_the_global_std():
    # Two ranks, one group of 2 each: rank 0 [1, 0], rank 1 [2, 0]. Global rewards [1, 0, 2, 0]:
    # mean 3/4, E[r^2] 5/4, population std sqrt(5/4 - 9/16) = sqrt(11)/4. Rank 0: (r - 0.5) / std.
    # (One rank's own std, 0.5, would give +-1.)
    ranks = [torch.tensor([1.0, 0.0]), torch.tensor([2.0, 0.0])]

    def stats(r):
        return torch.stack([torch.tensor(2.0, dtype=torch.float64), r.double().sum(), r.double().square().sum()])

    summed = stats(ranks[0]) + stats(ranks[1])
    adv, _ = group_advantages(ranks[0], 2, "batch", eps=0.0, all_reduce=lambda t: summed)
    std = math.sqrt(11) / 4
    assert adv.tolist() == pytest.approx([0.5 / std, -0.5 / std], rel=1e-6)


def test_unscored_responses_leave_their_group_and_get_no_advantage():
    # Group [1, None, 0, 1]: scored [1, 0, 1], mean 2/3, population std sqrt(2)/3.
    # Advantages (1/3) / std = 1/sqrt(2) and -(2/3) / std = -sqrt(2); the unscored one 0.
    # Group [None, None, None, 1]: one scored response -> no signal (flat, all 0).
    nan = float("nan")
    rewards = torch.tensor([1.0, nan, 0.0, 1.0, nan, nan, nan, 1.0])
    adv, flat = group_advantages(rewards, 4, eps=0.0)
    assert adv[:4].tolist() == pytest.approx([1 / math.sqrt(2), 0.0, -math.sqrt(2), 1 / math.sqrt(2)], rel=1e-6)
    assert adv[4:].tolist() == [0.0] * 4 and flat == 1
    # leave-one-out among the scored: baseline of the first = mean(0, 1) = 0.5
    adv, _ = group_advantages(rewards[:4], 4, scale="none", leave_one_out=True)
    assert adv.tolist() == pytest.approx([0.5, 0.0, -1.0, 0.5])


def test_a_component_that_fails_on_a_routed_sample_leaves_it_unscored():
    def flaky(responses, samples):
        return [None if r == "timeout" else 1.0 for r in responses]

    reward = Reward(name="r", components={"judge": {"fn": flaky, "answer_types": ["open"]},
                                          "fmt": {"fn": lambda rs, ss: [0.5] * len(rs)}})
    sample = lambda t: SimpleNamespace(answer_type=t)  # noqa: E731
    rows = reward(["ok", "timeout", "x"], [sample("open"), sample("open"), sample("mcq")])
    assert [r["overall"] for r in rows] == [1.5, None, 0.5]  # mcq: judge not routed, not a failure


def test_plan_prints_the_objective_and_the_effective_sampling(capsys):
    cfg = GRPOConfig(prompts_per_step=4, update_prompts=2, generations_per_prompt=2, micro_batch_size=2,
                     temperature=0.7, top_p=0.9, data={"mixture": [{"source": "demo"}]})
    print_plan(cfg, 1)
    out = " ".join(capsys.readouterr().out.split())
    assert "0.2 / 0.3 / 3" in out and "softmax(logits / 0.7), top-p 0.9" in out and "repetition penalty 1" in out


def test_config_refuses_greedy_rollouts_and_bad_clips():
    base = dict(prompts_per_step=2, update_prompts=2, generations_per_prompt=2, micro_batch_size=2,
                data={"mixture": [{"source": "demo"}]})
    with pytest.raises(ValueError, match="temperature"):
        GRPOConfig(**base, temperature=0.0)
    with pytest.raises(ValueError, match="clip_ratio"):
        GRPOConfig(**base, clip_ratio_dual=1.0)
