"""GRPO (group relative policy optimisation) for a Qwen2.5-VL policy, as an explicit Lightning loop.

One training step = one rollout:
  1. sample `prompts_per_step` prompts, generate `generations_per_prompt` responses each with the
     rollout engine (`stage.rollout.engine`: hf or a colocated vllm, see `lingshu.rl.rollout`),
     which first receives the policy's weights whenever they changed since its last rollout;
  2. score every response with the reward;
  3. advantages per group: (r - mean) / (std + eps) (group, batch or no scaling; optional
     leave-one-out baseline); groups whose rewards are all equal carry no signal and are counted;
  4. `updates_per_rollout` passes of minibatches of `update_prompts` prompts: token-level clipped
     ratio loss against the behaviour policy's log-probs plus a k3 KL penalty to the frozen
     reference model, averaged over the minibatch's response tokens (across ranks: each rank rolls
     out its own prompts, gradients are all-reduced).

Sampling is seeded per (seed, step, rank), so a run resumed from a checkpoint draws the very
responses an uninterrupted one would.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import lightning as L
import torch
from rich.console import Console
from rich.table import Table

from lingshu.engines.base import GenerationRequest
from lingshu.engines.hf import encode_prompts
from lingshu.rl.data import RLData, question_type
from lingshu.rl.rollout import RolloutConfig, RolloutEngine, build_rollout
from lingshu.schema import stable_id
from lingshu.training.schedule import warmup_constant


@dataclass
class GRPOConfig:
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
    clip_eps: float = 0.2
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
            raise ValueError(f"stage.prompts_per_step ({self.prompts_per_step}) must be a multiple of "
                             f"stage.update_prompts ({self.update_prompts})")
        if (self.update_prompts * self.generations_per_prompt) % self.micro_batch_size:
            raise ValueError("stage.update_prompts x generations_per_prompt must be a multiple of stage.micro_batch_size")
        if self.advantage_scale not in ("group", "batch", "none"):
            raise ValueError(f"stage.advantage_scale must be group, batch or none, got {self.advantage_scale!r}")
        if self.generations_per_prompt < 2:
            raise ValueError("stage.generations_per_prompt must be >= 2: GRPO compares responses within a group")


def group_advantages(rewards: torch.Tensor, group: int, scale: str = "group", leave_one_out: bool = False,
                     eps: float = 1e-6) -> tuple[torch.Tensor, int]:
    """(advantages, number of zero-variance groups) for rewards laid out group after group."""
    r = rewards.view(-1, group)
    if leave_one_out:  # baseline = mean of the other members of the group
        baseline = (r.sum(1, keepdim=True) - r) / (group - 1)
    else:
        baseline = r.mean(1, keepdim=True)
    adv = r - baseline
    flat = r.std(1, unbiased=False) < 1e-12
    if scale == "group":
        adv = adv / (r.std(1, keepdim=True, unbiased=False) + eps)
    elif scale == "batch":
        adv = adv / (r.std(unbiased=False) + eps)
    adv = torch.where(flat[:, None], torch.zeros_like(adv), adv)
    return adv.reshape(-1), int(flat.sum())


def grpo_token_loss(logp, old_logp, ref_logp, advantages, mask, clip_eps: float, kl_coef: float):
    """Per-token loss terms (summed over masked tokens) and stats, for one micro-batch.

    logp/old_logp/ref_logp/mask: [B, T]; advantages: [B]."""
    ratio = torch.exp(logp - old_logp)
    adv = advantages[:, None]
    pg = -torch.minimum(ratio * adv, ratio.clamp(1 - clip_eps, 1 + clip_eps) * adv)
    log_ref = ref_logp - logp
    kl = torch.exp(log_ref) - log_ref - 1  # k3: unbiased, always >= 0
    m = mask.float()
    loss_sum = ((pg + kl_coef * kl) * m).sum()
    stats = {"kl_sum": (kl * m).sum().detach(), "clip_sum": (((ratio - 1).abs() > clip_eps).float() * m).sum().detach()}
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


def encode_rollout(processor, requests, responses: list[list[int]], end_ids: list[int], device="cpu") -> Rollout:
    """One micro-batch for the log-prob passes: the prompts encoded as the HF engine encodes them
    (left-padded), then each response's token ids (right-padded, masked). A response is truncated
    when it does not end with an end token."""
    pad = processor.tokenizer.pad_token_id
    enc = encode_prompts(processor, requests).to(device)
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


def token_logprobs(model, rollout: Rollout, with_entropy: bool = False):
    out = model(**rollout.inputs)
    logits = out.logits[:, rollout.prompt_len - 1:-1].float()
    targets = rollout.inputs["input_ids"][:, rollout.prompt_len:]
    logp_all = torch.log_softmax(logits, -1)
    logp = logp_all.gather(-1, targets[..., None]).squeeze(-1)
    if not with_entropy:
        return logp, None
    entropy = -(logp_all.exp() * logp_all).sum(-1)
    return logp, entropy


class GRPOModule(L.LightningModule):
    def __init__(self, model, processor, reward, cfg: GRPOConfig, world_size: int = 1, seed: int = 0,
                 rollout: RolloutEngine | None = None):
        super().__init__()
        self.automatic_optimization = False
        self.model, self.processor, self.reward, self.cfg = model, processor, reward, cfg
        self.ref = copy.deepcopy(model).eval().requires_grad_(False)
        self.rollout_engine = rollout or build_rollout(cfg.rollout, model, processor, cfg.micro_batch_size, world_size)
        self.synced_step: int | None = None  # the global step whose weights the rollout engine holds
        self.world_size, self.seed = world_size, seed

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
        expanded = [r for r in requests for _ in range(n)]
        chunks = [encode_rollout(self.processor, expanded[i:i + c.micro_batch_size], responses[i:i + c.micro_batch_size],
                                 self.rollout_engine.end_ids, self.device)
                  for i in range(0, len(samples), c.micro_batch_size)]
        return chunks, samples

    @torch.no_grad()
    def score_logprobs(self, chunks: list[Rollout]) -> torch.Tensor:
        entropies = []
        for ch in chunks:
            ch.old_logp, ent = token_logprobs(self.model, ch, with_entropy=True)
            ch.ref_logp, _ = token_logprobs(self.ref, ch)
            entropies.append((ent * ch.response_mask).sum() / ch.response_mask.sum().clamp(min=1))
        return torch.stack(entropies).mean()

    # ---- the step ----------------------------------------------------------------------------
    def training_step(self, prompts, batch_idx):
        c = self.cfg
        t0 = time.perf_counter()
        # A function of the step, not of the RNG's history: resuming needs no RNG state, ranks differ.
        torch.manual_seed(int(stable_id(self.seed, "rollout", self.global_step, self.global_rank), 16) % 2**63)
        self.model.eval()
        chunks, samples = self.rollout(prompts)
        t1 = time.perf_counter()
        responses = [r for ch in chunks for r in ch.responses]
        rows = self.reward(responses, samples)
        rewards = torch.tensor([row["overall"] for row in rows], dtype=torch.float32)
        adv, flat = group_advantages(rewards, c.generations_per_prompt, c.advantage_scale, c.leave_one_out, c.eps)
        t2 = time.perf_counter()
        entropy = self.score_logprobs(chunks)
        self.model.train()
        opt = self.optimizers()
        sched = self.lr_schedulers()
        per_update = c.update_prompts * c.generations_per_prompt // self.world_size
        chunks_per_update = max(1, per_update // c.micro_batch_size)
        kl_sum = clip_sum = tokens_total = loss_total = 0.0
        grad_norms = []
        for _ in range(c.updates_per_rollout):
            for u in range(0, len(chunks), chunks_per_update):
                group = chunks[u:u + chunks_per_update]
                local = sum(int(ch.response_mask.sum()) for ch in group)
                # Mean over the minibatch's tokens on all ranks: DDP averages gradients over ranks,
                # so each rank divides its sum by the global count / world size.
                tokens = float(self.trainer.strategy.reduce(torch.tensor(float(local), device=self.device),
                                                            reduce_op="sum"))
                offset = u * c.micro_batch_size
                for ch in group:
                    n = ch.response_mask.shape[0]
                    logp, _ = token_logprobs(self.model, ch)
                    loss_sum, st = grpo_token_loss(logp, ch.old_logp, ch.ref_logp, adv[offset:offset + n].to(logp.device),
                                                   ch.response_mask, c.clip_eps, c.kl_coef)
                    self.manual_backward(loss_sum * self.world_size / max(1.0, tokens))
                    kl_sum += float(st["kl_sum"])
                    clip_sum += float(st["clip_sum"])
                    loss_total += float(loss_sum.detach())
                    offset += n
                tokens_total += local
                grad_norms.append(torch.nn.utils.get_total_norm([p.grad for p in self.model.parameters()
                                                                 if p.grad is not None]))
                self.clip_gradients(opt, gradient_clip_val=c.grad_clip, gradient_clip_algorithm="norm")
                opt.step()
                opt.zero_grad(set_to_none=True)
                sched.step()
        t3 = time.perf_counter()
        grad_norm = torch.stack(grad_norms).mean()
        self.log("policy/grad_norm", grad_norm, on_step=True, on_epoch=False, batch_size=len(rows))
        self.log_step(rows, samples, chunks, rewards, flat, entropy, kl_sum / max(1.0, tokens_total),
                      clip_sum / max(1.0, tokens_total), (t1 - t0, t2 - t1, t3 - t2))
        # What a data trace records per rollout (this rank's numbers; grad_norm is after the all-reduce).
        return {"reward": rewards.mean(), "loss": torch.tensor(loss_total / max(1.0, tokens_total)),
                "grad_norm": grad_norm}

    def log_step(self, rows, samples, chunks, rewards, flat, entropy, kl, clip_frac, times) -> None:
        n = len(rows)
        log = dict(on_step=True, on_epoch=False, prog_bar=False, batch_size=n)
        self.log("reward/overall", rewards.mean(), **{**log, "prog_bar": True})
        self.log("reward/overall_std", rewards.std(unbiased=False), **log)
        for name in rows[0]:
            if name == "overall":
                continue
            vals = torch.tensor([r[name] for r in rows if r[name] is not None], dtype=torch.float32)
            if len(vals):
                self.log(f"reward/{name}", vals.mean(), **log)
                self.log(f"reward/{name}_std", vals.std(unbiased=False), **log)
        if "accuracy" in rows[0]:
            by_type: dict[str, list[float]] = {}
            for r, s in zip(rows, samples):
                if r["accuracy"] is not None:
                    by_type.setdefault(question_type(s).replace("/", "_"), []).append(r["accuracy"])
            for t, v in by_type.items():
                self.log(f"accuracy/{t}", sum(v) / len(v), **log)
        lengths = torch.cat([ch.response_mask.sum(1) for ch in chunks]).float()
        truncated = torch.cat([ch.truncated for ch in chunks]).float()
        groups = n // self.cfg.generations_per_prompt
        self.log("policy/kl", kl, **log)
        self.log("policy/clip_fraction", clip_frac, **log)
        self.log("policy/entropy", entropy, **log)
        self.log("response/length_mean", lengths.mean(), **log)
        self.log("response/length_max", lengths.max(), **log)
        self.log("response/truncated_fraction", truncated.mean(), **log)
        self.log("groups/zero_variance_fraction", flat / max(1, groups), **log)
        for name, t in zip(("generate", "score", "update"), times):
            self.log(f"time/{name}_s", t, **log)

    def configure_optimizers(self):
        c = self.cfg
        params = [p for p in self.model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=c.lr, weight_decay=c.weight_decay)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: warmup_constant(s, c.warmup_steps))
        return [opt], [sched]

    def on_train_start(self) -> None:
        if self.trainer.is_global_zero:
            print_plan(self.cfg, self.world_size)

    def on_train_epoch_start(self) -> None:
        dm = self.trainer.datamodule
        if dm is not None and hasattr(dm, "set_epoch"):
            dm.set_epoch(self.current_epoch)


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
        ("learning rate / KL coef / clip", f"{c.lr:g} / {c.kl_coef:g} / {c.clip_eps:g}"),
        ("temperature / max new tokens", f"{c.temperature:g} / {c.max_new_tokens}"),
    ]
    for k, v in rows:
        t.add_row(k, str(v))
    Console().print(t)
