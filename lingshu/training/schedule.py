"""Learning-rate schedules as multipliers on each parameter group's own LR, and the number of
optimizer steps a stage will take, derived from its data before training starts.

A streaming dataset has no length, so Lightning cannot estimate the steps of a `max_steps: -1`
stage (it returns -1 and a cosine would end at once); the stage runner counts them instead."""

from __future__ import annotations

import math
from dataclasses import dataclass


def warmup_cosine(step: int, warmup: int, total: int, min_ratio: float = 0.0) -> float:
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def warmup_constant(step: int, warmup: int, total: int = 0, min_ratio: float = 1.0) -> float:
    """GRPO's schedule: linear warm-up, then the full LR to the end."""
    return min(1.0, (step + 1) / warmup) if warmup > 0 else 1.0


def sft_steps(samples_per_epoch: int, epochs: int, micro_batch_size: int, grad_accum: int, world_size: int,
              max_steps: int = -1) -> int:
    """Optimizer steps of an SFT stage: each rank reads samples // (micro x ranks) micro-batches an
    epoch (the stream drops the remainder); an optimizer step closes every `grad_accum` of them and
    at the end of the epoch (a short last window). Packing packs a micro-batch, so it changes nothing."""
    micro_batches = samples_per_epoch // (micro_batch_size * world_size)
    total = epochs * math.ceil(micro_batches / grad_accum)
    return min(total, max_steps) if max_steps > 0 else total


def rl_steps(prompts: int, epochs: int, prompts_per_step: int, steps_per_rollout: int, max_steps: int = -1) -> int:
    """Optimizer steps of a GRPO stage: whole rollout batches per epoch x updates per rollout."""
    total = epochs * (prompts // prompts_per_step) * steps_per_rollout
    return min(total, max_steps) if max_steps > 0 else total


@dataclass(frozen=True)
class Schedule:
    """A stage's LR multiplier over its derived number of optimizer steps."""
    total: int
    warmup: int
    min_ratio: float = 0.0
    shape: str = "cosine"  # cosine | constant

    def __call__(self, step: int) -> float:
        fn = warmup_cosine if self.shape == "cosine" else warmup_constant
        return fn(step, self.warmup, self.total, self.min_ratio)

    def rows(self, base_lrs: dict[str, float]) -> list[tuple[str, str]]:
        """What the start-up table shows: steps, warm-up, and each group's LR at the middle and the
        last step (a schedule that reaches 0 early shows it here, before any compute is spent)."""
        mid, last = self.total // 2, max(0, self.total - 1)
        rows = [("optimizer steps", f"{self.total:,}"), ("warm-up steps", f"{self.warmup:,}"),
                ("schedule", f"{self.shape}" + (f" to {self.min_ratio:g} x LR" if self.shape == "cosine" else ""))]
        for name, lr in base_lrs.items():
            rows.append((f"LR {name}: peak / step {mid} / step {last}",
                         f"{lr:.3g} / {lr * self(mid):.3g} / {lr * self(last):.3g}"))
        return rows


def print_schedule(title: str, schedule: Schedule, base_lrs: dict[str, float], derived_from: list[tuple[str, str]]) -> None:
    """The start-up table: what the step count was derived from, then the schedule over it."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{title}: schedule")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    for k, v in [*derived_from, *schedule.rows(base_lrs)]:
        table.add_row(k, v)
    Console().print(table)
