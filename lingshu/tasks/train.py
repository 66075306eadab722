"""task=train: one SFT stage (stage=...) from curated shards to an `hf/` folder.

    python launch.py task=train stage=shallow_alignment model=qwen2_5_vl_7b model.path=/models/Qwen2.5-VL-7B-Instruct
"""

from __future__ import annotations

import logging

from hydra.utils import instantiate
from lightning.pytorch.callbacks import LearningRateMonitor

from lingshu.data.collate import SFTCollator
from lingshu.data.datamodule import ShardDataModule
from lingshu.data.shards import ShardGuard
from lingshu.models.export import export_trained
from lingshu.models.lora import merge_lora
from lingshu.plots import plot_curves
from lingshu.tasks.common import checkpoint_dir, config_hash, done, is_rank_zero, loggers, mark_done, run_dir
from lingshu.training.callbacks import DataTrace, Throughput
from lingshu.training.checkpointing import AtomicCheckpointIO, last_checkpoint, resume_path
from lingshu.training.sft import SFTModule
from lingshu.training.stage import Stage
from lingshu.training.strategy import fit_strategy

log = logging.getLogger(__name__)


def run(cfg) -> dict:
    stage: Stage = instantiate(cfg.stage, _convert_="all")
    return train_stage(cfg, stage, stage.init_from)


def train_stage(cfg, stage: Stage, init_from: str | None, node=None) -> dict:
    """Train `stage` starting from `init_from` (an hf/ folder, or None for model.path / random init).

    Rerunning the same command resumes from `checkpoints/last.ckpt` (saved every
    `checkpoint.every_n_steps` optimizer steps) at the same data position; a finished stage is skipped."""
    out_dir = run_dir(cfg) / "train" / stage.name
    key = config_hash(cfg.model, node if node is not None else cfg.stage, cfg.trainer, str(init_from), cfg.seed)
    if (result := done(out_dir, key)) is not None:
        log.info("stage %s already trained (%s); skipping", stage.name, result["hf"])
        return result
    import lightning as L

    L.seed_everything(cfg.seed, workers=True, verbose=False)
    backbone = instantiate(cfg.model, _convert_="all")
    model, processor = backbone.build(init_from, seed=cfg.seed)
    collate = SFTCollator(processor, stage.max_seq_len, stage.packing)
    dm = ShardDataModule(cfg.paths.curated_dir, stage.data.mixture, collate, cfg.seed, stage.micro_batch_size,
                         stage.data.samples_per_epoch, stage.data.shuffle_buffer, stage.data.num_workers,
                         ShardGuard(stage.data.max_bad_samples, stage.data.max_member_bytes))
    ckpt_dir = checkpoint_dir(out_dir, key) if is_rank_zero() else out_dir / "checkpoints"
    callbacks = [last_checkpoint(ckpt_dir, cfg.checkpoint.every_n_steps), LearningRateMonitor(logging_interval="step"),
                 Throughput(model.config.image_token_id, cfg.perf.peak_tflops)]
    if cfg.checkpoint.trace_data:
        callbacks.append(DataTrace(out_dir / "data_trace"))
    trainer = instantiate(cfg.trainer, max_epochs=stage.epochs, max_steps=stage.max_steps,
                          accumulate_grad_batches=stage.grad_accum, gradient_clip_val=stage.grad_clip,
                          default_root_dir=str(out_dir), logger=loggers(cfg, out_dir), callbacks=callbacks,
                          plugins=[AtomicCheckpointIO()])
    fit_strategy(trainer.strategy, stage)
    trainer.fit(SFTModule(model, stage), datamodule=dm, ckpt_path=resume_path(ckpt_dir), weights_only=True)
    result = {"stage": stage.name, "hf": str(out_dir / "hf"), "steps": trainer.global_step,
              "dropped_too_long": collate.dropped_too_long}
    merge_lora(model)  # adapters folded into the base weights: hf/ loads without peft
    export_trained(model, processor, out_dir / "hf", write=trainer.is_global_zero)  # every rank: may gather shards
    if trainer.is_global_zero:
        plot_curves(out_dir / "metrics.csv", out_dir / "curves.png", f"SFT stage: {stage.name}",
                    [["train/loss"], [c for c in ("lr-AdamW/vision", "lr-AdamW/projector", "lr-AdamW/llm")],
                     ["perf/samples_per_s"]])
        mark_done(out_dir, key, result)
    return result
