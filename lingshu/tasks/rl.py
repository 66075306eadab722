"""task=rl: GRPO from an SFT checkpoint on verifiable prompts drawn from curated shards.

    python launch.py task=rl stage=rl_grpo stage.init_from=<run>/train/instruction_tuning/hf
    python launch.py task=rl ... trainer=ddp trainer.devices=2   # each rank rolls out its own prompts

Rerunning the same command resumes from `rl/checkpoints/last.ckpt` at the same prompt position.
"""

from __future__ import annotations

import json
import logging
from fnmatch import fnmatch

from hydra.utils import instantiate

from lingshu.config import ConfigError
from lingshu.data.datamodule import resolve_shard_dir
from lingshu.data.shards import iter_tar, list_shards
from lingshu.models.export import export_trained
from lingshu.plots import plot_curves
from lingshu.rl.data import build_prompts, heldout_from_benchmark
from lingshu.rl.grpo import GRPOConfig, GRPOModule
from lingshu.rl.heldout import measure_heldout
from lingshu.rl.stream import PromptDataModule
from lingshu.tasks.common import checkpoint_dir, config_hash, done, is_rank_zero, loggers, mark_done, run_dir
from lingshu.training.callbacks import DataTrace
from lingshu.training.checkpointing import AtomicCheckpointIO, last_checkpoint, resume_path
from lingshu.training.strategy import fit_strategy

log = logging.getLogger(__name__)


def run(cfg) -> dict:
    stage = instantiate(cfg.stage, _convert_="all")
    if not isinstance(stage, GRPOConfig):
        raise ConfigError(f"task=rl needs an RL stage (stage=rl_grpo), got stage={stage.name}")
    return rl_stage(cfg, stage, stage.init_from, node=cfg.stage)


def prompts_from_shards(cfg, stage: GRPOConfig):
    def samples():
        for entry in stage.data.mixture:
            for shard in list_shards(resolve_shard_dir(cfg.paths.curated_dir, entry.source)):
                if not entry.shards or fnmatch(shard.name, entry.shards):
                    yield from (s for s in iter_tar(shard) if entry.accepts({"kind": s.kind, "id": s.id}))
    return build_prompts(samples(), stage.data, cfg.seed)


def rl_stage(cfg, stage: GRPOConfig, init_from: str | None, node=None) -> dict:
    out_dir = run_dir(cfg) / "rl"
    key = config_hash(cfg.model, node if node is not None else cfg.stage, cfg.reward, cfg.trainer, str(init_from), cfg.seed)
    if (result := done(out_dir, key)) is not None:
        log.info("RL already finished (%s); skipping", result["hf"])
        return result
    import lightning as L

    L.seed_everything(cfg.seed, workers=True, verbose=False)
    backbone = instantiate(cfg.model, _convert_="all")
    model, processor = backbone.build(init_from, seed=cfg.seed)
    reward = instantiate(cfg.reward, _convert_="all")
    prompts, counts = prompts_from_shards(cfg, stage)
    bench = stage.data.heldout_benchmark
    if bench:  # unseen test images: the honest measure of what RL changed
        if bench not in (cfg.get("benchmark") or {}):
            raise ConfigError(f"stage.data.heldout_benchmark={bench} is not a selected benchmark (benchmark=[...,{bench}])")
        heldout, train = heldout_from_benchmark(instantiate(cfg.benchmark[bench]).load(), stage.data, cfg.seed), prompts
    else:
        n_held = min(stage.data.heldout_prompts, len(prompts) // 4)
        heldout, train = prompts[:n_held], prompts[n_held:]
    if len(train) < stage.prompts_per_step:
        raise ValueError(f"RL has {len(train)} training prompts, fewer than stage.prompts_per_step={stage.prompts_per_step}")
    ckpt_dir = checkpoint_dir(out_dir, key) if is_rank_zero() else out_dir / "checkpoints"
    # Checkpoints fall between rollouts: every_n_steps optimizer steps, rounded up to whole rollouts.
    per_rollout = stage.prompts_per_step // stage.update_prompts * stage.updates_per_rollout
    every = -(-cfg.checkpoint.every_n_steps // per_rollout) * per_rollout
    callbacks = [last_checkpoint(ckpt_dir, every)]
    if cfg.checkpoint.trace_data:
        callbacks.append(DataTrace(out_dir / "data_trace"))
    trainer = instantiate(cfg.trainer, max_epochs=stage.epochs, max_steps=stage.max_steps, default_root_dir=str(out_dir),
                          logger=loggers(cfg, out_dir), callbacks=callbacks, plugins=[AtomicCheckpointIO()])
    fit_strategy(trainer.strategy, stage)  # [i12] DeepSpeed: the stage's micro batch and clip
    world = trainer.world_size
    if stage.update_prompts % world or (stage.update_prompts // world * stage.generations_per_prompt) % stage.micro_batch_size:
        raise ConfigError(f"with {world} ranks, stage.update_prompts={stage.update_prompts} must split evenly over the "
                          f"ranks and each rank's share x generations_per_prompt into micro-batches of "
                          f"stage.micro_batch_size={stage.micro_batch_size}")
    module = GRPOModule(model, processor, reward, stage, world_size=world, seed=cfg.seed)
    # [i12] held-out reward through the rollout engine (batched; vLLM on GPU), before and after
    measure = lambda: measure_heldout(module.rollout_engine, model, processor.tokenizer, reward, heldout,  # noqa: E731
                                      stage, cfg.seed) if heldout else None
    before = measure()
    trainer.fit(module, datamodule=PromptDataModule(train, stage.prompts_per_step, cfg.seed),
                ckpt_path=resume_path(ckpt_dir), weights_only=True)
    after = measure()  # [i12] every rank: under FSDP2 the engine gathers the shards (collective)
    result = {"hf": str(out_dir / "hf"), "steps": trainer.global_step, "prompts": counts,
              "heldout_before": before, "heldout_after": after}
    export_trained(model, processor, out_dir / "hf", write=trainer.is_global_zero)  # [i12] every rank: gathers shards
    if trainer.is_global_zero:
        (out_dir / "heldout.json").write_text(json.dumps({"before": before, "after": after}, indent=2))
        plot_curves(out_dir / "metrics.csv", out_dir / "curves.png", f"GRPO: {stage.name}",
                    [["reward/overall", "reward/accuracy", "reward/format"], ["policy/kl"], ["policy/entropy"],
                     ["response/length_mean"], ["time/generate_s", "time/score_s", "time/update_s"]])
        mark_done(out_dir, key, result)
    return result
