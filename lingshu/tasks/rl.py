"""task=rl: GRPO (`stages.<stage>`) from an SFT checkpoint on verifiable prompts from curated shards.

    python launch.py task=rl stage=rl_grpo   # from the newest finished instruction_tuning hf/
    python launch.py task=rl stage=rl_grpo trainer=ddp trainer.devices=2   # each rank rolls out its own prompts

The steps every stage shares live in lingshu/tasks/stages.py; this is what GRPO adds. Rerunning the
same command resumes from `rl/checkpoints/last.ckpt` at the same prompt position.
"""

from __future__ import annotations

import logging

from hydra.utils import instantiate

from lingshu.errors import ConfigError
from lingshu.io import write_json
from lingshu.data.datamodule import resolve_shard_dir
from lingshu.data.shards import iter_tar, list_shards
from lingshu.rl.data import build_prompts, heldout_from_benchmark
from lingshu.rl.grpo import GRPOConfig, GRPOModule
from lingshu.rl.heldout import measure_heldout
from lingshu.rl.stream import PromptDataModule
from lingshu.tasks.common import run_dir
from lingshu.tasks.stages import Job, run_selected
from lingshu.training.schedule import Schedule, rl_steps

log = logging.getLogger(__name__)

# The config groups this task builds, validated before it runs (lingshu.config.validate).
GROUPS = ("model", "reward", "logger")


def run(cfg) -> dict:
    return run_selected(cfg, "rl")


def prompts_from_shards(cfg, stage: GRPOConfig):
    def samples():
        for entry in stage.data.mixture:
            for shard in list_shards(resolve_shard_dir(cfg.paths.curated_dir, entry.source)):
                if entry.reads(shard.name):
                    yield from (s for s in iter_tar(shard) if entry.accepts({"kind": s.kind, "id": s.id}))
    return build_prompts(samples(), stage.data, cfg.seed)


class GRPOKind:
    name = "rl"
    title = "GRPO"
    curves = [["reward/overall", "reward/accuracy", "reward/format"], ["policy/kl"], ["policy/entropy"],
              ["response/length_mean"], ["time/generate_s", "time/score_s", "time/update_s"]]

    def out_dir(self, cfg, stage: GRPOConfig):
        return run_dir(cfg) / "rl"

    def key_nodes(self, cfg) -> list:
        return [cfg.reward, cfg.trainer]

    def prepare(self, cfg, stage: GRPOConfig, model, processor, out_dir) -> Job:
        reward = instantiate(cfg.reward, _convert_="all")
        prompts, counts = prompts_from_shards(cfg, stage)
        bench = stage.data.heldout_benchmark
        if bench:  # unseen test images: the honest measure of what RL changed
            heldout, train = heldout_from_benchmark(instantiate(cfg.benchmark[bench]).load(), stage.data, cfg.seed), prompts
        else:
            n_held = min(stage.data.heldout_prompts, len(prompts) // 4)
            heldout, train = prompts[:n_held], prompts[n_held:]
        if len(train) < stage.prompts_per_step:
            raise ValueError(f"RL has {len(train)} training prompts, fewer than stages.{stage.name}.prompts_per_step="
                             f"{stage.prompts_per_step}")
        # Checkpoints fall between rollouts: every_n_steps optimizer steps, rounded up to whole rollouts.
        per_rollout = stage.prompts_per_step // stage.update_prompts * stage.updates_per_rollout
        every = -(-cfg.checkpoint.every_n_steps // per_rollout) * per_rollout
        state = {}

        def schedule(world: int) -> tuple[Schedule, list]:
            total = rl_steps(len(train), stage.epochs, stage.prompts_per_step, per_rollout, stage.max_steps)
            derived = [("training prompts", f"{len(train):,}"), ("epochs", str(stage.epochs)),
                       ("prompts per rollout", str(stage.prompts_per_step)),
                       ("optimizer steps per rollout", str(per_rollout)),
                       ("max_steps", str(stage.max_steps) if stage.max_steps > 0 else "-1 (the epochs decide)")]
            return Schedule(total, stage.warmup_steps, shape="constant"), derived

        def module(trainer, sched: Schedule) -> GRPOModule:
            world = trainer.world_size
            if stage.update_prompts % world or (stage.update_prompts // world * stage.generations_per_prompt) % stage.micro_batch_size:
                raise ConfigError(f"with {world} ranks, stages.{stage.name}.update_prompts={stage.update_prompts} must "
                                  f"split evenly over the ranks and each rank's share x generations_per_prompt into "
                                  f"micro-batches of micro_batch_size={stage.micro_batch_size}")
            grpo = GRPOModule(model, processor, reward, stage, world_size=world, seed=cfg.seed, schedule=sched)
            # held-out reward through the rollout engine (batched; vLLM on GPU), before and after
            state["measure"] = lambda: measure_heldout(grpo.rollout_engine, model, processor.tokenizer, reward,
                                                       heldout, stage, cfg.seed) if heldout else None
            state["before"] = state["measure"]()
            return grpo

        def finish(trainer) -> dict:
            state["after"] = state["measure"]()  # every rank: under FSDP2 the engine gathers the shards
            return {"prompts": counts, "heldout_before": state["before"], "heldout_after": state["after"]}

        def after_export(out_dir) -> None:
            write_json(out_dir / "heldout.json", {"before": state["before"], "after": state["after"]})

        return Job(datamodule=PromptDataModule(train, stage.prompts_per_step, cfg.seed), schedule=schedule,
                   module=module, base_lrs={"policy": stage.lr}, checkpoint_every=every, finish=finish,
                   after_export=after_export)
