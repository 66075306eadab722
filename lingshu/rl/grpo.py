"""GRPO (group relative policy optimisation) for a Qwen2.5-VL policy, as an explicit Lightning loop.

One training step = one rollout:
  1. sample `prompts_per_step` prompts, generate `generations_per_prompt` responses each with the
     rollout engine (`stage.rollout.engine`: hf or a colocated vllm, see `lingshu.rl.rollout`),
     which first receives the policy's weights whenever they changed since its last rollout;
  2. score every response with the reward;
  3. advantages per group: (r - mean) / (std + eps) (group, batch or no scaling; optional
     leave-one-out baseline); groups whose rewards are all equal carry no signal and are counted;
  4. `updates_per_rollout` passes of minibatches of `update_prompts` prompts: EasyR1's dual-clip PPO
     loss (clip_ratio_low / high / dual) against the behaviour policy's log-probs plus a clamped k3
     KL penalty to the frozen reference model, averaged over the minibatch's response tokens
     (across ranks: each rank rolls out its own prompts, gradients are all-reduced). Log-probs are
     scored at the sampling temperature. The first minibatch is updated from the policy that sampled
     it, so its behaviour log-probs come from the update's own forward (ratio exactly 1).

Under `trainer=fsdp` the policy and the reference are sharded with FSDP2 (`configure_model`); the HF
rollout engine gathers the policy to generate. Metrics are reduced over all ranks (RunningMeans).

Sampling is seeded per (seed, step, rank), so a run resumed from a checkpoint draws the very
responses an uninterrupted one would.
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from dataclasses import dataclass, field
from typing import ClassVar

import lightning as L
import torch
from rich.console import Console
from rich.table import Table

from lingshu.engines.base import GenerationRequest
from lingshu.engines.hf import encode_prompts
from lingshu.rl.data import RLData, question_type
from lingshu.rl.rollout import RolloutConfig, RolloutEngine, build_rollout, full_tensor, sampling_summary
from lingshu.schema import stable_id
from lingshu.training.memory import print_memory_plan
from lingshu.training.metrics import RunningMeans
from lingshu.training.schedule import Schedule


@dataclass
class GRPOConfig:
    kind: ClassVar[str] = "rl"  # what trains it (lingshu.tasks.stages.KINDS)
    name: str = "rl_grpo"
    lr: float = 1.0e-6
    prompts_per_step: int = 512  # rollout batch, in prompts (global, split over ranks)
    generations_per_prompt: int = 16
    update_prompts: int = 128  # prompts per optimizer step (global)
    updates_per_rollout: int = 1  # passes over each rollout
    micro_batch_size: int = 8  # sequences per forward/backward and per generate call (memory knob)
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 4096
    kl_coef: float = 1.0e-3
    # PPO clip band [1 - low, 1 + high] and dual clip: the paper states none; EasyR1's defaults.
    clip_ratio_low: float = 0.2
    clip_ratio_high: float = 0.3
    clip_ratio_dual: float = 3.0
    advantage_scale: str = "group"  # group | batch | none
    leave_one_out: bool = False
    eps: float = 1.0e-6
    epochs: int = 1
    max_steps: int = -1
    warmup_steps: int = 0
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    init_from: str | None = None
    data: RLData = field(default_factory=RLData)
    rollout: RolloutConfig = field(default_factory=RolloutConfig)

    def __post_init__(self) -> None:
        if isinstance(self.data, dict):
            self.data = RLData(**self.data)
        if isinstance(self.rollout, dict):
            self.rollout = RolloutConfig(**self.rollout)
        if self.prompts_per_step % self.update_prompts:
            raise ValueError(f"stages.<name>.prompts_per_step ({self.prompts_per_step}) must be a multiple of "
                             f"stages.<name>.update_prompts ({self.update_prompts})")
        if (self.update_prompts * self.generations_per_prompt) % self.micro_batch_size:
            raise ValueError("stages.<name>.update_prompts x generations_per_prompt must be a multiple of stages.<name>.micro_batch_size")
        if self.advantage_scale not in ("group", "batch", "none"):
            raise ValueError(f"stages.<name>.advantage_scale must be group, batch or none, got {self.advantage_scale!r}")
        if self.generations_per_prompt < 2:
            raise ValueError("stages.<name>.generations_per_prompt must be >= 2: GRPO compares responses within a group")
        if self.temperature <= 0:
            raise ValueError(f"stages.<name>.temperature must be > 0 (GRPO samples its responses), got {self.temperature}")
        if not (0 <= self.clip_ratio_low < 1 and self.clip_ratio_high >= 0 and self.clip_ratio_dual > 1):
            raise ValueError("stages.<name>.clip_ratio_low must be in [0, 1), clip_ratio_high >= 0 and clip_ratio_dual > 1, got "
                             f"{self.clip_ratio_low} / {self.clip_ratio_high} / {self.clip_ratio_dual}")


def group_advantages(rewards: torch.Tensor, group: int, scale: str = "group", leave_one_out: bool = False,
                     eps: float = 1e-6, all_reduce=None) -> tuple[torch.Tensor, int]:
    """(advantages, number of zero-variance groups) for rewards laid out group after group.

    NaN marks an unscored response (a reward component returned None, see lingshu.rl.rewards): it is
    left out of its group's mean and std and gets advantage 0; a group with fewer than 2 scored
    responses, or all equal, carries no signal (advantage 0, counted). Standard deviations are the
    population's. `scale=batch` divides by the std of every scored reward of the global batch:
    `all_reduce` sums a tensor over ranks (identity on one process)."""
    r = rewards.double().view(-1, group)
    valid = ~torch.isnan(r)
    x = torch.where(valid, r, 0.0)
    k = valid.sum(1, keepdim=True)
    total = x.sum(1, keepdim=True)
    mean = total / k.clamp(min=1)
    baseline = (total - x) / (k - 1).clamp(min=1) if leave_one_out else mean  # leave-one-out: the others' mean
    adv = x - baseline
    std = (torch.where(valid, r - mean, 0.0).square().sum(1, keepdim=True) / k.clamp(min=1)).sqrt()
    flat = (k < 2) | (std < 1e-12)
    if scale == "group":
        adv = adv / (std + eps)
    elif scale == "batch":
        stats = torch.stack([valid.sum().double(), x.sum(), x.square().sum()])
        n, s1, s2 = (all_reduce(stats) if all_reduce is not None else stats).tolist()
        adv = adv / (max(s2 / max(n, 1) - (s1 / max(n, 1)) ** 2, 0.0) ** 0.5 + eps)
    adv = torch.where(flat | ~valid, 0.0, adv)
    return adv.reshape(-1).float(), int(flat.sum())


# verl / EasyR1 (verl/trainer/core_algos.py): log-ratios are clamped before exp, the k3 ("low_var_kl")
# estimate to +-10, so one token the reference finds impossible cannot dominate the loss.
LOG_RATIO_CLAMP = 20.0
KL_CLAMP = 10.0


def grpo_token_loss(logp, old_logp, ref_logp, advantages, mask, kl_coef: float, clip_low: float = 0.2,
                    clip_high: float = 0.3, clip_dual: float = 3.0):
    """Per-token loss terms (summed over masked tokens) and stats, for one micro-batch.

    Policy term (dual-clip PPO, as EasyR1's `compute_policy_loss`): max(-A r, -A clip(r, 1-low, 1+high)),
    and for A < 0 at most -A x dual. KL term: k3 = e^d - d - 1 with d = ref - logp clamped to +-20,
    the result clamped to 10. Stats count tokens where a clip is active (the gradient is cut):
    `clip_sum` the PPO band (A > 0 above 1+high, A < 0 below 1-low), `dual_clip_sum` the dual bound.

    logp/old_logp/ref_logp/mask: [B, T]; advantages: [B]."""
    log_ratio = (logp - old_logp).clamp(-LOG_RATIO_CLAMP, LOG_RATIO_CLAMP)
    ratio = torch.exp(log_ratio)
    clipped = torch.exp(log_ratio.clamp(math.log(1 - clip_low), math.log(1 + clip_high)))
    adv = advantages[:, None]
    pg_plain, pg_clipped = -adv * ratio, -adv * clipped
    pg = torch.maximum(pg_plain, pg_clipped)
    dual = (adv < 0) & (pg > -adv * clip_dual)
    pg = torch.where(dual, -adv * clip_dual, pg)
    log_ref = (ref_logp - logp).clamp(-LOG_RATIO_CLAMP, LOG_RATIO_CLAMP)
    kl = (torch.exp(log_ref) - log_ref - 1).clamp(max=KL_CLAMP)  # k3: unbiased, always >= 0
    m = mask.float()
    loss_sum = ((pg + kl_coef * kl) * m).sum()
    stats = {"kl_sum": (kl * m).sum().detach(),
             "clip_sum": ((pg_clipped > pg_plain).float() * m).sum().detach(),
             "dual_clip_sum": (dual.float() * m).sum().detach()}
    return loss_sum, stats


@dataclass
class Rollout:
    """One micro-batch of generated sequences, everything the update needs."""
    inputs: dict  # input_ids, attention_mask, pixel_values?, image_grid_thw? (prompt + response)
    prompt_len: int
    response_mask: torch.Tensor  # [B, R]
    responses: list[str]
    truncated: torch.Tensor  # [B] bool: no end token within max_new_tokens
    old_logp: torch.Tensor | None = None
    ref_logp: torch.Tensor | None = None
    entropy: float | None = None  # the sampling policy's entropy summed over response tokens


def encode_each(processor, requests) -> list[dict]:
    """Each request's prompt encoded alone (images processed once), to be stacked per micro-batch."""
    return [encode_prompts(processor, [r]) for r in requests]


def stack_prompts(encodings: list[dict], pad_id: int) -> dict:
    """Single-prompt encodings as one left-padded batch: what `encode_prompts` gives for them together
    (the processor handles every image on its own; pixel rows are concatenated in image order)."""
    width = max(e["input_ids"].shape[1] for e in encodings)

    def left_pad(key, value):
        return torch.cat([torch.nn.functional.pad(e[key], (width - e[key].shape[1], 0), value=value) for e in encodings])

    out = {"input_ids": left_pad("input_ids", pad_id), "attention_mask": left_pad("attention_mask", 0)}
    if "mm_token_type_ids" in encodings[0]:
        out["mm_token_type_ids"] = left_pad("mm_token_type_ids", 0)
    for key in ("pixel_values", "image_grid_thw"):
        parts = [e[key] for e in encodings if key in e]
        if parts:
            out[key] = torch.cat(parts)
    return out


def encode_rollout(processor, requests, responses: list[list[int]], end_ids: list[int], device="cpu",
                   encodings: list[dict] | None = None) -> Rollout:
    """One micro-batch for the log-prob passes: the prompts encoded as the HF engine encodes them
    (left-padded; `encodings`: their single-prompt encodings, reused across a group), then each
    response's token ids (right-padded, masked). A response is truncated when it does not end with
    an end token."""
    pad = processor.tokenizer.pad_token_id
    enc = {k: v.to(device) for k, v in stack_prompts(encodings or encode_each(processor, requests), pad).items()}
    new = torch.full((len(responses), max(1, *map(len, responses))), pad, dtype=torch.long)
    mask = torch.zeros_like(new, dtype=torch.bool)
    for i, ids in enumerate(responses):
        new[i, :len(ids)] = torch.tensor(ids, dtype=torch.long)
        mask[i, :len(ids)] = True
    truncated = torch.tensor([not ids or ids[-1] not in end_ids for ids in responses])
    new, mask, truncated = new.to(device), mask.to(device), truncated.to(device)
    inputs = {k: v for k, v in enc.items() if k in ("pixel_values", "image_grid_thw")}
    inputs["input_ids"] = torch.cat([enc["input_ids"], new], 1)
    inputs["attention_mask"] = torch.cat([enc["attention_mask"], mask.long()], 1)
    if "mm_token_type_ids" in enc:  # 3D rope positions need to know where images are
        inputs["mm_token_type_ids"] = torch.cat([enc["mm_token_type_ids"], torch.zeros_like(new)], 1)
    texts = [processor.tokenizer.decode(ids, skip_special_tokens=True).strip() for ids in responses]
    return Rollout(inputs, enc["input_ids"].shape[1], mask, texts, truncated)


def token_logprobs(model, rollout: Rollout, temperature: float = 1.0, with_entropy: bool = False):
    """Log-probs of the response tokens under the distribution the rollout sampled from: logits
    divided by the sampling temperature (as EasyR1's and TRL's scoring do)."""
    out = model(**rollout.inputs, use_cache=False)
    logits = out.logits[:, rollout.prompt_len - 1:-1].float() / temperature
    targets = rollout.inputs["input_ids"][:, rollout.prompt_len:]
    logp_all = torch.log_softmax(logits, -1)
    logp = logp_all.gather(-1, targets[..., None]).squeeze(-1)
    if not with_entropy:
        return logp, None
    entropy = -(logp_all.exp() * logp_all).sum(-1)
    return logp, entropy


ANSWER_TYPES = ("mcq", "closed", "open", "yes_no", "other")  # question_type(), as metric names


class GRPOModule(L.LightningModule):
    def __init__(self, model, processor, reward, cfg: GRPOConfig, world_size: int = 1, seed: int = 0,
                 rollout: RolloutEngine | None = None, schedule: Schedule | None = None):
        super().__init__()
        self.automatic_optimization = False
        self.model, self.processor, self.reward, self.cfg = model, processor, reward, cfg
        self.ref = copy.deepcopy(model).eval().requires_grad_(False)
        model.train()  # from_pretrained gives eval mode; each step sets the policy's mode itself
        self.rollout_engine = rollout or build_rollout(cfg.rollout, model, processor, cfg.micro_batch_size, world_size)
        self.synced_step: int | None = None  # the global step whose weights the rollout engine holds
        self.world_size, self.seed = world_size, seed
        self.schedule = schedule  # the one the start-up table printed (None: warm-up, then constant)
        components = [n for n in getattr(reward, "components", {})]
        self.running = RunningMeans(
            means=["reward/overall", "reward/overall_sq", "reward/unscored_fraction",
                   *(f"reward/{n}{sq}" for n in components for sq in ("", "_sq")),
                   *(f"accuracy/{t}" for t in ANSWER_TYPES), "policy/loss", "policy/kl", "policy/clip_fraction",
                   "policy/dual_clip_fraction", "policy/entropy", "response/length_mean",
                   "response/truncated_fraction", "groups/zero_variance_fraction"],
            maxima=["response/length_max", "time/generate_s", "time/score_s", "time/update_s"])

    def on_fit_start(self) -> None:
        # The frozen reference is in eval mode on purpose; Lightning's check at the start of training
        # still warns about any other module in eval mode (the count would differ).
        n = sum(1 for _ in self.ref.modules())
        warnings.filterwarnings("ignore", message=rf"Found {n} module\(s\) in eval mode at the start of training")

    def configure_model(self) -> None:
        """`trainer=fsdp` (ModelParallelStrategy): the policy and the frozen reference are sharded
        with FSDP2 before the optimizer is built."""
        from lightning.pytorch.strategies import ModelParallelStrategy

        if isinstance(self.trainer.strategy, ModelParallelStrategy):
            from lingshu.training.fsdp import apply_fsdp

            if self.device_mesh["tensor_parallel"].size() != 1:
                raise ValueError("trainer.strategy.tensor_parallel_size must be 1: lingshu shards with FSDP2 only")
            for m in (self.model, self.ref):
                apply_fsdp(m, self.device_mesh["data_parallel"], str(self.trainer.precision))

    # ---- 1. rollout ------------------------------------------------------------------------
    @torch.no_grad()
    def rollout(self, prompts) -> tuple[list[Rollout], list]:
        c, n = self.cfg, self.cfg.generations_per_prompt
        if self.synced_step != self.global_step:  # the policy changed (or was restored) since the last push
            self.rollout_engine.sync_weights(self.model)
            self.synced_step = self.global_step
        requests = [GenerationRequest(messages=s.messages, images=s.images, max_new_tokens=c.max_new_tokens,
                                      temperature=c.temperature, top_p=c.top_p,
                                      seed=int(stable_id(self.seed, "rollout", self.global_step, self.global_rank, i),
                                               16) % 2**31)
                    for i, s in enumerate(prompts)]
        responses = self.rollout_engine.sample(requests, n)
        samples = [s for s in prompts for _ in range(n)]  # group after group
        return self.encode_chunks(requests, responses), samples

    def encode_chunks(self, requests, responses: list[list[int]]) -> list[Rollout]:
        """Micro-batches of (prompt + response) for the log-prob passes; each prompt and its images
        are encoded once for its whole group."""
        n, mb = self.cfg.generations_per_prompt, self.cfg.micro_batch_size
        expanded = [r for r in requests for _ in range(n)]
        encodings = [e for e in encode_each(self.processor, requests) for _ in range(n)]
        return [encode_rollout(self.processor, expanded[i:i + mb], responses[i:i + mb], self.rollout_engine.end_ids,
                               self.device, encodings[i:i + mb])
                for i in range(0, len(expanded), mb)]

    @torch.no_grad()
    def score_logprobs(self, chunks: list[Rollout], skip_old: int = 0) -> None:
        """Reference log-probs of every chunk; behaviour (old) log-probs of all but the first
        `skip_old` chunks: the first minibatch is updated from the very policy that sampled it, so
        its ratio is exactly 1 and the update's own forward supplies them (as TRL does)."""
        for i, ch in enumerate(chunks):
            if i >= skip_old and ch.old_logp is None:
                ch.old_logp, ent = token_logprobs(self.model, ch, self.cfg.temperature, with_entropy=True)
                ch.entropy = (ent * ch.response_mask).sum().double()
            ch.ref_logp, _ = token_logprobs(self.ref, ch, self.cfg.temperature)

    # ---- the step ----------------------------------------------------------------------------
    def training_step(self, prompts, batch_idx):
        t0 = time.perf_counter()
        # A function of the step, not of the RNG's history: resuming needs no RNG state, ranks differ.
        torch.manual_seed(int(stable_id(self.seed, "rollout", self.global_step, self.global_rank), 16) % 2**63)
        self.model.eval()
        chunks, samples = self.rollout(prompts)
        t1 = time.perf_counter()
        return self.update(chunks, samples, t1 - t0)

    def advantages(self, rows) -> tuple[torch.Tensor, torch.Tensor, int]:
        """(rewards with NaN where unscored, advantages, zero-variance groups) of this rank's rollout."""
        c = self.cfg
        rewards = torch.tensor([float("nan") if row["overall"] is None else row["overall"] for row in rows],
                               dtype=torch.float32)
        reduce = None
        if c.advantage_scale == "batch" and self.world_size > 1:
            reduce = lambda t: self.trainer.strategy.reduce(t.to(self.device), reduce_op="sum").cpu()  # noqa: E731
        adv, flat = group_advantages(rewards, c.generations_per_prompt, c.advantage_scale, c.leave_one_out, c.eps, reduce)
        return rewards, adv, flat

    def update(self, chunks: list[Rollout], samples, generate_s: float = 0.0) -> dict:
        """Reward, advantages, and `updates_per_rollout` passes of optimizer steps over one rollout."""
        c = self.cfg
        t1 = time.perf_counter()
        rows = self.reward([r for ch in chunks for r in ch.responses], samples)
        rewards, adv, flat = self.advantages(rows)
        per_update = c.update_prompts * c.generations_per_prompt // self.world_size
        chunks_per_update = max(1, per_update // c.micro_batch_size)
        self.score_logprobs(chunks, skip_old=chunks_per_update)
        t2 = time.perf_counter()
        self.model.train()
        opt = self.optimizers()
        sched = self.lr_schedulers()
        # summed where they are computed, in float64: a float() per micro-batch would wait for the device
        sums = dict(kl_sum=0.0, clip_sum=0.0, dual_clip_sum=0.0, loss=0.0)
        tokens_total = 0
        grad_norms = []
        starts = range(0, len(chunks), chunks_per_update)
        local = [sum(int(ch.response_mask.sum()) for ch in chunks[u:u + chunks_per_update]) for u in starts]
        # Mean over each minibatch's tokens on all ranks: DDP/FSDP average gradients over ranks, so each
        # rank divides its sum by the global count / world size. The counts hold for every pass: one
        # all-reduce per rollout.
        global_tokens = self.trainer.strategy.reduce(torch.tensor([float(n) for n in local], device=self.device),
                                                     reduce_op="sum").tolist()
        for _ in range(c.updates_per_rollout):
            for i, u in enumerate(starts):
                group = chunks[u:u + chunks_per_update]
                tokens = global_tokens[i]
                offset = u * c.micro_batch_size
                for ch in group:
                    n = ch.response_mask.shape[0]
                    first = ch.entropy is None  # first minibatch, first pass: the sampling policy itself
                    logp, ent = token_logprobs(self.model, ch, c.temperature, with_entropy=first)
                    if first:
                        ch.entropy = (ent.detach() * ch.response_mask).sum().double()
                    if ch.old_logp is None:
                        ch.old_logp = logp.detach()
                    loss_sum, st = grpo_token_loss(logp, ch.old_logp, ch.ref_logp, adv[offset:offset + n].to(logp.device),
                                                   ch.response_mask, c.kl_coef, c.clip_ratio_low, c.clip_ratio_high,
                                                   c.clip_ratio_dual)
                    self.manual_backward(loss_sum * self.world_size / max(1.0, tokens))
                    for k in ("kl_sum", "clip_sum", "dual_clip_sum"):
                        sums[k] = sums[k] + st[k].double()
                    sums["loss"] = sums["loss"] + loss_sum.detach().double()
                    offset += n
                tokens_total += local[i]
                norm = total_grad_norm(self.model)
                if norm is not None:  # DeepSpeed keeps gradients in its partitions and clips them itself
                    grad_norms.append(norm)
                self.clip_gradients(opt, gradient_clip_val=c.grad_clip, gradient_clip_algorithm="norm")
                opt.step()
                opt.zero_grad(set_to_none=True)
                sched.step()
        sums = {k: float(v) for k, v in sums.items()}  # once per rollout
        t3 = time.perf_counter()
        grad_norm = torch.stack(grad_norms).mean() if grad_norms else torch.tensor(float("nan"))
        if grad_norms:
            self.log("policy/grad_norm", grad_norm, on_step=True, on_epoch=False, batch_size=len(rows))
        self.log_step(rows, samples, chunks, rewards, flat, sums, tokens_total, (generate_s, t2 - t1, t3 - t2))
        # What a data trace records per rollout (this rank's numbers; grad_norm is after the all-reduce).
        return {"reward": torch.nan_to_num(rewards).mean(), "loss": torch.tensor(sums["loss"] / max(1, tokens_total)),
                "grad_norm": grad_norm}

    def log_step(self, rows, samples, chunks, rewards, flat, sums, tokens, times) -> None:
        """Every metric reduced over all ranks (see RunningMeans): each rank logs the same numbers."""
        m = self.running
        n = len(rows)
        scored = rewards[~torch.isnan(rewards)]
        m.update("reward/overall", float(scored.sum()), len(scored))
        m.update("reward/overall_sq", float(scored.square().sum()), len(scored))
        m.update("reward/unscored_fraction", n - len(scored), n)
        for name in getattr(self.reward, "components", {}):
            vals = [r[name] for r in rows if r.get(name) is not None]
            m.update(f"reward/{name}", sum(vals), len(vals))
            m.update(f"reward/{name}_sq", sum(v * v for v in vals), len(vals))
        for r, s in zip(rows, samples):
            if r.get("accuracy") is not None:
                m.update(f"accuracy/{question_type(s).replace('/', '_')}", r["accuracy"], 1)
        lengths = torch.cat([ch.response_mask.sum(1) for ch in chunks]).float()
        truncated = torch.cat([ch.truncated for ch in chunks]).float()
        m.update("policy/loss", sums["loss"], tokens)
        m.update("policy/kl", sums["kl_sum"], tokens)
        m.update("policy/clip_fraction", sums["clip_sum"], tokens)
        m.update("policy/dual_clip_fraction", sums["dual_clip_sum"], tokens)
        m.update("policy/entropy", sum(ch.entropy for ch in chunks), float(lengths.sum()))
        m.update("response/length_mean", float(lengths.sum()), len(lengths))
        m.update_max("response/length_max", float(lengths.max()))
        m.update("response/truncated_fraction", float(truncated.sum()), len(truncated))
        m.update("groups/zero_variance_fraction", flat, n // self.cfg.generations_per_prompt)
        for name, t in zip(("generate", "score", "update"), times):  # the slowest rank's
            m.update_max(f"time/{name}_s", t)
        values = m.compute()
        m.reset()
        for name in ["overall", *getattr(self.reward, "components", {})]:
            if f"reward/{name}" in values:
                mean = values[f"reward/{name}"]
                values[f"reward/{name}_std"] = max(values.pop(f"reward/{name}_sq") - mean * mean, 0.0) ** 0.5
        log = dict(on_step=True, on_epoch=False, batch_size=n)
        for k, v in values.items():
            self.log(k, v, prog_bar=k == "reward/overall", **log)

    def configure_optimizers(self):
        c = self.cfg
        params = [p for p in self.model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=c.lr, weight_decay=c.weight_decay)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, self.schedule or Schedule(0, c.warmup_steps, shape="constant"))
        return [opt], [sched]

    def on_train_start(self) -> None:
        if self.trainer.is_global_zero:
            print_plan(self.cfg, self.world_size)
            print_memory_plan(self.memory_plan())

    def memory_plan(self) -> dict:
        """Per-GPU memory of this run (lingshu.training.memory), from the model as built and sharded."""
        from lingshu.training.memory import ModelShape, device_memory, prompt_budget, stage_plan, strategy_kind

        size = self.processor.image_processor.size
        compute = torch.bfloat16.itemsize if "bf16" in str(self.trainer.precision) else next(self.model.parameters()).element_size()
        return stage_plan(self.cfg, ModelShape.of(self.model), strategy_kind(self.trainer.strategy), self.world_size,
                          prompt_budget(size["longest_edge"]), bool(getattr(self.model, "is_activation_checkpointing", False)),
                          compute, device_memory() if self.device.type == "cuda" else None)

    def on_train_epoch_start(self) -> None:
        dm = self.trainer.datamodule
        if dm is not None and hasattr(dm, "set_epoch"):
            dm.set_epoch(self.current_epoch)


def total_grad_norm(model) -> torch.Tensor | None:
    """The L2 norm of all gradients (full tensors' norm when they are FSDP2 shards); None without any."""
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    if not grads:
        return None
    return full_tensor(torch.nn.utils.get_total_norm(grads))


def print_plan(c: GRPOConfig, world_size: int) -> None:
    """The derived batch quantities, by unit, before any rollout."""
    t = Table(title=f"GRPO {c.name}")
    t.add_column("quantity")
    t.add_column("value", justify="right")
    per_update = c.update_prompts * c.generations_per_prompt
    rows = [
        ("prompts per step (rollout batch)", c.prompts_per_step),
        ("generations per prompt", c.generations_per_prompt),
        ("responses per step", c.prompts_per_step * c.generations_per_prompt),
        ("prompts per optimizer step", c.update_prompts),
        ("optimizer steps per rollout", c.prompts_per_step // c.update_prompts * c.updates_per_rollout),
        ("ranks", world_size),
        ("micro-batches per optimizer step per rank", per_update // world_size // c.micro_batch_size),
        ("sequences per micro-batch", c.micro_batch_size),
        ("learning rate / KL coef (k3, clamped)", f"{c.lr:g} / {c.kl_coef:g}"),
        ("clip ratio low / high / dual", f"{c.clip_ratio_low:g} / {c.clip_ratio_high:g} / {c.clip_ratio_dual:g}"),
        ("advantages", f"{c.advantage_scale} std{' , leave-one-out' if c.leave_one_out else ''}"),
        ("sampling (both engines)", sampling_summary(c.temperature, c.top_p)),
        ("max new tokens", c.max_new_tokens),
    ]
    for k, v in rows:
        t.add_row(k, str(v))
    Console().print(t)
