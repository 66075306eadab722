"""Checkpoints shared by task=train and task=rl: `last.ckpt` every N optimizer steps, written so a
kill at any moment leaves a readable one, and resumed when the same command runs again."""

from __future__ import annotations

import os
from pathlib import Path

from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.plugins.io import TorchCheckpointIO


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes `<path>.tmp`, then renames it over `<path>`: a SIGKILL mid-write (minutes for a 7B
    model with optimizer state) leaves the previous checkpoint intact instead of a truncated file."""

    def save_checkpoint(self, checkpoint, path, storage_options=None) -> None:
        tmp = f"{path}.tmp"
        super().save_checkpoint(checkpoint, tmp, storage_options)
        os.replace(tmp, path)


class LastCheckpoint(ModelCheckpoint):
    """Under manual optimization (GRPO) Lightning's callback warns at every save that the checkpoint
    holds the weights after the optimizer step: exactly what resuming after that step needs. Same
    files, same steps, without the warning."""

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if pl_module.automatic_optimization:
            return super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        if trainer.global_step % self._every_n_train_steps or self._should_skip_saving_checkpoint(trainer):
            return
        self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))


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
