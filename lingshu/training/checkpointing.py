"""Checkpoints shared by task=train and task=rl: `last.ckpt` every N optimizer steps, written so a
kill at any moment leaves a readable one, and resumed when the same command runs again."""

from __future__ import annotations

import os
from pathlib import Path

from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.plugins.io import TorchCheckpointIO


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes `<path>.tmp`, then renames it over `<path>`: a SIGKILL mid-write (minutes for a 7B
    model with optimizer state) leaves the previous checkpoint intact instead of a truncated file.
    While `held`, the rename waits for `commit()` (see LastCheckpoint)."""

    def __init__(self) -> None:
        super().__init__()
        self.held = False
        self._pending: list[tuple[str, str]] = []

    def save_checkpoint(self, checkpoint, path, storage_options=None) -> None:
        tmp = f"{path}.tmp"
        super().save_checkpoint(checkpoint, tmp, storage_options)
        if self.held:
            self._pending.append((tmp, str(path)))
        else:
            os.replace(tmp, path)

    def commit(self) -> None:
        for tmp, path in self._pending:
            os.replace(tmp, path)
        self._pending.clear()


class LastCheckpoint(ModelCheckpoint):
    """Saved at the end of a batch, as Lightning's callback is, but put in place only once Lightning
    has logged that batch's metrics (it logs after every `on_train_batch_end`): a kill in between
    would otherwise resume after a step whose metrics.csv row was never written. Single-file
    checkpoints only: FSDP2 and DeepSpeed write their sharded `last.ckpt/` folders themselves, in
    place, without the checkpoint IO, so there the window remains. Under manual
    optimization (GRPO) Lightning's callback warns at every save that the checkpoint holds the
    weights after the optimizer step: exactly what resuming after that step needs; same files,
    same steps, without the warning."""

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        io = trainer.strategy.checkpoint_io
        held = isinstance(io, AtomicCheckpointIO)
        if held:
            io.held = True
        try:
            if pl_module.automatic_optimization:
                return super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
            if trainer.global_step % self._every_n_train_steps or self._should_skip_saving_checkpoint(trainer):
                return
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
        finally:
            if held:
                io.held = False

    def on_train_batch_start(self, trainer, *args, **kwargs) -> None:
        self._commit(trainer)  # the previous batch's metrics are logged by now

    def on_train_end(self, trainer, pl_module) -> None:
        self._commit(trainer)
        super().on_train_end(trainer, pl_module)  # Lightning's `save_last` at the end, in place at once

    @staticmethod
    def _commit(trainer) -> None:
        io = trainer.strategy.checkpoint_io
        if isinstance(io, AtomicCheckpointIO):
            io.commit()


def last_checkpoint(ckpt_dir: Path, every_n_train_steps: int) -> ModelCheckpoint:
    """Only `last.ckpt`, overwritten every `every_n_train_steps` optimizer steps (never `last-v1.ckpt`,
    which a rerun would not find)."""
    if every_n_train_steps < 1:
        raise ValueError(f"checkpoint.every_n_steps must be >= 1, got {every_n_train_steps}")
    return LastCheckpoint(dirpath=ckpt_dir, save_last=True, save_top_k=0, every_n_train_steps=every_n_train_steps,
                          enable_version_counter=False)


def resume_path(ckpt_dir: Path) -> str | None:
    last = ckpt_dir / "last.ckpt"
    return str(last) if last.exists() else None
