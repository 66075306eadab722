"""Supervised fine-tuning of a Qwen2.5-VL backbone, one paper stage at a time."""

from __future__ import annotations

import lightning as L
import torch
from rich.console import Console
from rich.table import Table

from lingshu.models.backbone import module_groups
from lingshu.models.lora import add_lora, is_lora_param
from lingshu.training.metrics import RunningMeans
from lingshu.training.schedule import Schedule
from lingshu.training.stage import MODULES, Stage


def apply_freezing(model, stage: Stage) -> dict[str, list]:
    """Freeze the modules the stage does not train, and the base weights of those it trains through
    LoRA adapters; return the trainable parameters per module."""
    groups = module_groups(model)
    adapted = stage.lora_modules
    for module, params in groups.items():
        for name, p in params:
            p.requires_grad_(stage.trainable[module] and (module not in adapted or is_lora_param(name)))
    return {m: [p for _, p in groups[m] if p.requires_grad] for m in MODULES if stage.trainable[m]}


def param_groups(model, stage: Stage) -> list[dict]:
    return [{"params": ps, "lr": stage.lr[m], "name": m, "weight_decay": stage.weight_decay}
            for m, ps in apply_freezing(model, stage).items()]


def lm_loss_terms(logits: torch.Tensor, labels: torch.Tensor, reduction: str = "token",
                  segments: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(numerator, denominator) of the next-token cross-entropy on labelled positions, so a mean
    can be taken over more than one micro-batch. `token`: summed NLL over target tokens; `sample`:
    summed per-sample means over samples with targets (a one-word answer counts as much as a
    report). `segments` (packed batches) names each token's sample; default: one sample per row."""
    logits, labels = logits[:, :-1].float(), labels[:, 1:]
    mask = labels != -100
    nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), labels.clamp(min=0), reduction="none") * mask
    if reduction == "token":
        return nll.sum(), mask.sum()
    if segments is None:
        segments = torch.arange(len(labels), device=labels.device)[:, None].expand_as(labels)
    else:
        segments = segments[:, 1:]
    seg = segments.clamp(min=0).flatten()
    size = int(seg.max()) + 1
    sums = torch.zeros(size, device=nll.device).index_add(0, seg, nll.flatten())
    counts = torch.zeros(size, device=nll.device).index_add(0, seg, mask.flatten().float())
    return (sums[counts > 0] / counts[counts > 0]).sum(), (counts > 0).sum()


def lm_loss(logits: torch.Tensor, labels: torch.Tensor, reduction: str = "token",
            segments: torch.Tensor | None = None) -> torch.Tensor:
    """The mean of one batch (see lm_loss_terms)."""
    num, den = lm_loss_terms(logits, labels, reduction, segments)
    return num / den.clamp(min=1)


class SFTModule(L.LightningModule):
    def __init__(self, model, stage: Stage, schedule: Schedule | None = None):
        super().__init__()
        self.model, self.stage = model, stage
        self.schedule = schedule  # None: over Lightning's estimate (a capped max_steps or a sized loader)
        if stage.lora_modules:  # in place: the caller's model carries the adapters (merge_lora before export)
            add_lora(model, stage.lora, stage.lora_modules)
        apply_freezing(model, stage)
        # from_pretrained returns a model in eval mode, and Lightning keeps modes as it finds them:
        # without this, gradient checkpointing (active only in training mode) would be silently off.
        model.train()
        if not stage.trainable["llm"]:  # a text-only micro-batch must still reach the trainable vision side
            from lingshu.training.fsdp import align_vision_calls

            align_vision_calls(model)
        self._window_count = 0.0  # loss denominators (target tokens or samples) of this accumulation window
        # The logged loss: the optimizer step's mean over every micro-batch on every rank (synced).
        self.running = RunningMeans(means=["train/loss"], sums=["train/target_tokens"])

    def forward(self, **batch):
        return self.model(**batch)

    def configure_model(self) -> None:
        """`trainer=fsdp` (ModelParallelStrategy): shard with FSDP2 before the optimizer is built."""
        from lightning.pytorch.strategies import ModelParallelStrategy

        if isinstance(self.trainer.strategy, ModelParallelStrategy):
            from lingshu.training.fsdp import apply_fsdp

            if self.device_mesh["tensor_parallel"].size() != 1:
                raise ValueError("trainer.strategy.tensor_parallel_size must be 1: lingshu shards with FSDP2 only")
            apply_fsdp(self.model, self.device_mesh["data_parallel"], str(self.trainer.precision))

    def training_step(self, batch, batch_idx):
        batch.pop("num_samples")
        batch.pop("sample_ids", None)
        labels, segments = batch.pop("labels"), batch.pop("segments", None)
        # No KV cache in training: with one, transformers also skips the packed (block-diagonal) mask.
        logits = self.model(**batch, use_cache=False).logits
        num, den = lm_loss_terms(logits, labels, self.stage.loss_reduction, segments)
        targets = (labels[:, 1:] != -100).sum()
        self.running.update("train/loss", num, den)
        self.running.update_sum("train/target_tokens", targets)
        if self._engine_accumulates():
            return num / den.clamp(min=1)
        # The mean is over the whole optimizer step (every micro-batch of the accumulation window, on
        # every rank), so a micro-batch of 3 target tokens does not weigh like one of 3,000: return
        # the sum and divide the accumulated gradient by the window's global count before stepping.
        self._window_count = self._window_count + den.detach().float()
        return num

    def _engine_accumulates(self) -> bool:
        """DeepSpeed owns accumulation and its gradients live in its partitions: per-micro-batch mean there."""
        from lightning.pytorch.strategies import DeepSpeedStrategy

        return isinstance(self.trainer.strategy, DeepSpeedStrategy)

    def on_before_optimizer_step(self, optimizer) -> None:
        values = self.running.compute()  # every rank, once per optimizer step: the same numbers everywhere
        self.running.reset()
        for k, v in values.items():
            self.log(k, v, prog_bar=k == "train/loss", on_step=True, on_epoch=False)
        if self._engine_accumulates():
            return
        # Lightning divided each micro-batch's loss by the accumulation count and DDP/FSDP average
        # gradients over ranks; undo both and divide by the window's targets on all ranks.
        count = torch.as_tensor(self._window_count, dtype=torch.float32, device=self.device)
        if self.trainer.world_size > 1:
            count = self.trainer.strategy.reduce(count, reduce_op="sum")
        scale = self.trainer.accumulate_grad_batches * self.trainer.world_size / float(count.clamp(min=1))
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.grad.mul_(scale)
        self._window_count = 0.0

    def on_train_epoch_start(self) -> None:
        dm = self.trainer.datamodule
        if dm is not None and hasattr(dm, "set_epoch"):
            dm.set_epoch(self.current_epoch)

    def configure_optimizers(self):
        opt = torch.optim.AdamW(param_groups(self.model, self.stage), betas=(0.9, 0.999), eps=1e-8)
        schedule = self.schedule or Schedule(int(self.trainer.estimated_stepping_batches), self.stage.warmup_steps,
                                             self.stage.min_lr_ratio)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def on_train_start(self) -> None:
        if self.trainer.is_global_zero:
            print_plan(self.model, self.stage, self.trainer)


def print_plan(model, stage: Stage, trainer) -> None:
    """Who trains at which LR, and the derived batch quantities, before any step runs."""
    table = Table(title=f"stage {stage.name}")
    for col in ("module", "parameters", "trainable", "learning rate"):
        table.add_column(col)
    for m, params in module_groups(model).items():
        n = sum(p.numel() for _, p in params)
        trained = sum(p.numel() for _, p in params if p.requires_grad)
        how = " (LoRA)" if m in stage.lora_modules else ""
        table.add_row(m, f"{n:,}", f"{trained:,}{how}", str(stage.lr.get(m) or "frozen"))
    devices, nodes = trainer.num_devices, trainer.num_nodes
    global_batch = stage.micro_batch_size * stage.grad_accum * devices * nodes
    rows = "packed into rows" if stage.packing else "one row each"
    table.caption = (f"micro batch {stage.micro_batch_size} x accumulation {stage.grad_accum} x devices {devices} "
                     f"x nodes {nodes} = global batch {global_batch} samples ({rows}; <= "
                     f"{global_batch * stage.max_seq_len:,} tokens)")
    Console().print(table)
