"""task=train: one SFT stage, `stages.<stage>`, from curated shards to an `hf/` folder.

    python launch.py task=train stage=shallow_alignment
    python launch.py task=train stage=deep_alignment   # from the newest finished shallow_alignment hf/

The steps every stage shares live in lingshu/tasks/stages.py; this is what SFT adds.
"""

from __future__ import annotations

from lingshu.tasks.common import run_dir
from lingshu.tasks.stages import Job, run_selected
from lingshu.training.schedule import Schedule, sft_steps
from lingshu.training.stage import Stage

# The config groups this task builds, validated before it runs (lingshu.config.validate).
GROUPS = ("model", "logger")


def run(cfg) -> dict:
    return run_selected(cfg, "train")


class SFTKind:
    name = "sft"
    title = "SFT stage"
    curves = [["train/loss"], ["lr-AdamW/vision", "lr-AdamW/projector", "lr-AdamW/llm"], ["perf/samples_per_s"]]

    def out_dir(self, cfg, stage: Stage):
        return run_dir(cfg) / "train" / stage.name

    def key_nodes(self, cfg) -> list:
        return [cfg.trainer]

    def prepare(self, cfg, stage: Stage, model, processor, out_dir) -> Job:
        from lingshu.data.collate import SFTCollator
        from lingshu.data.datamodule import ShardDataModule
        from lingshu.data.shards import ShardGuard
        from lingshu.training.callbacks import Throughput
        from lingshu.training.sft import SFTModule

        collate = SFTCollator(processor, stage.max_seq_len, stage.packing)
        dm = ShardDataModule(cfg.paths.curated_dir, stage.data.mixture, collate, cfg.seed, stage.micro_batch_size,
                             stage.data.samples_per_epoch, stage.data.shuffle_buffer, stage.data.num_workers,
                             ShardGuard(stage.data.max_bad_samples, stage.data.max_member_bytes))
        samples = dm.train_set.samples_per_epoch

        def schedule(world: int) -> tuple[Schedule, list]:
            total = sft_steps(samples, stage.epochs, stage.micro_batch_size, stage.grad_accum, world, stage.max_steps)
            source = "data.samples_per_epoch" if stage.data.samples_per_epoch else "manifests"
            derived = [(f"samples per epoch ({source})", f"{samples:,}"), ("epochs", str(stage.epochs)),
                       ("global batch (micro x accum x ranks)",
                        f"{stage.micro_batch_size} x {stage.grad_accum} x {world}"),
                       ("max_steps", str(stage.max_steps) if stage.max_steps > 0 else "-1 (the epochs decide)")]
            return Schedule(total, stage.warmup_steps, stage.min_lr_ratio, "cosine"), derived

        return Job(datamodule=dm, schedule=schedule, module=lambda trainer, sched: SFTModule(model, stage, sched),
                   base_lrs={m: lr for m, lr in stage.lr.items() if lr}, checkpoint_every=cfg.checkpoint.every_n_steps,
                   callbacks=[Throughput(model.config.image_token_id, cfg.perf.peak_tflops)],
                   trainer_args={"accumulate_grad_batches": stage.grad_accum, "gradient_clip_val": stage.grad_clip},
                   finish=lambda trainer: {"dropped_too_long": collate.dropped_too_long})
