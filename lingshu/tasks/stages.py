"""One runner for every training stage, SFT or RL: the steps they share, in one order.

A stage is `stages.<name>` (the one node task=train, task=rl and task=pipeline read). Its class
(`_target_`) picks its kind from KINDS: what data it reads, which LightningModule trains it,
and what it adds to the result. Everything else (the cache key, the skip, seeding, the starting
weights, checkpoints and resume, the Trainer, the schedule, export, curves, the done-marker and the
pointer the next stage starts from) happens here, once."""

from __future__ import annotations

import importlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from hydra.utils import instantiate

from lingshu.errors import ConfigError
from lingshu.io import write_json
from lingshu.tasks.common import (checkpoint_dir, config_hash, data_identity, done, is_rank_zero, loggers,
                                  mark_done, weights_identity)
from lingshu.training.schedule import Schedule, print_schedule

log = logging.getLogger(__name__)

# A stage class's `kind` -> what trains it ("module:Class"); a subclass inherits its parent's kind.
MIN_CURVE_POINTS = 20  # a short stage logs more often than trainer.log_every_n_steps, so its curves are drawn
KINDS = {"sft": "lingshu.tasks.train:SFTKind", "rl": "lingshu.tasks.rl:GRPOKind"}


@dataclass
class Job:
    """What a kind prepares for one run of its stage (model built, data read)."""
    datamodule: Any
    schedule: Callable[[int], tuple[Schedule, list]]  # world size -> (schedule, [(quantity, value)] it came from)
    module: Callable[[Any, Schedule], Any]  # (trainer, schedule) -> LightningModule
    base_lrs: dict[str, float]
    checkpoint_every: int
    callbacks: list = field(default_factory=list)
    trainer_args: dict = field(default_factory=dict)
    finish: Callable[[Any], dict] = lambda trainer: {}  # after fit, before export (every rank)
    after_export: Callable[[Path], None] = lambda out_dir: None  # rank 0


def kind_of(stage) -> Any:
    path = KINDS.get(getattr(type(stage), "kind", None))
    if path:
        module, name = path.split(":")
        return getattr(importlib.import_module(module), name)()
    raise ConfigError(f"stage {getattr(stage, 'name', stage)!r}: {type(stage).__name__} is not a stage kind "
                      f"({', '.join(KINDS)})")


def stage_names(cfg) -> list[str]:
    return list(cfg.get("stages") or {})


def build_stage(cfg, name: str):
    if name not in stage_names(cfg):
        raise ConfigError(f"no stage {name!r}: stages are {stage_names(cfg)} (stage=<name>)")
    return instantiate(cfg.stages[name], _convert_="all")


def pointer(cfg, name: str) -> Path:
    """`<paths.data_dir>/latest/<stage>.json`: the newest finished hf/ of a stage, whichever run
    directory it was trained in (the rule task=train uses to chain stages, see previous_checkpoint)."""
    return Path(cfg.paths.data_dir) / "latest" / f"{name}.json"


def previous_checkpoint(cfg, name: str) -> str | None:
    """Where `task=train stage=<name>` starts when `stages.<name>.init_from` is null: the newest
    finished hf/ of the stage listed before it in `stages` (deep_alignment after shallow_alignment),
    wherever it ran; the first stage, or one whose predecessor never finished here, starts from
    model.path (or random init), and says so."""
    names = stage_names(cfg)
    i = names.index(name)
    if i > 0 and (p := pointer(cfg, names[i - 1])).exists():
        hf = json.loads(p.read_text())["hf"]
        if Path(hf).is_dir():
            log.info("stage %s starts from %s (the newest finished %s, recorded in %s)", name, hf, names[i - 1], p)
            return hf
    start = cfg.model.get("path") or "random init"
    if i > 0:
        log.warning("stage %s: no finished %s under %s, so it starts from %s; set stages.%s.init_from=<hf folder> "
                    "to choose", name, names[i - 1], pointer(cfg, names[i - 1]).parent, start, name)
    return None


def stage_key(cfg, name: str, stage, kind, init_from: str | None) -> str:
    """Config of the stage and of what builds and runs it, identity of the data it reads (the
    manifests of its sources) and of its starting weights: a change in any retrains it."""
    return config_hash(cfg.model, cfg.stages[name], *kind.key_nodes(cfg), cfg.seed,
                       {"data": data_identity(cfg.paths.curated_dir, [m.source for m in stage.data.mixture]),
                        "init": weights_identity(init_from, cfg)})


def run_stage(cfg, name: str, init_from: str | None) -> dict:
    """Train `stages.<name>` from `init_from` (an hf/ folder; None: model.path or random init) into
    `<out>/hf/`. Rerunning resumes from `checkpoints/last.ckpt` at the same data position; a stage
    whose key matches its done-marker is skipped."""
    import lightning as L

    from lingshu.models.export import export_trained
    from lingshu.models.lora import merge_lora
    from lingshu.plots import plot_curves
    from lingshu.training.callbacks import DataTrace
    from lingshu.training.checkpointing import AtomicCheckpointIO, last_checkpoint, resume_path
    from lingshu.training.metrics_log import StepLRMonitor
    from lingshu.training.strategy import fit_strategy

    stage = build_stage(cfg, name)
    kind = kind_of(stage)
    out_dir = kind.out_dir(cfg, stage)
    key = stage_key(cfg, name, stage, kind, init_from)
    if (result := done(out_dir, key)) is not None:
        log.info("stage %s already trained with this config, data and starting weights (%s); skipping", name,
                 result["hf"])
        _publish(cfg, name, result, key)
        return result
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    model, processor = instantiate(cfg.model, _convert_="all").build(init_from, seed=cfg.seed)
    job = kind.prepare(cfg, stage, model, processor, out_dir)
    ckpt_dir = checkpoint_dir(out_dir, key) if is_rank_zero() else out_dir / "checkpoints"
    resume = resume_path(ckpt_dir)
    callbacks = [last_checkpoint(ckpt_dir, job.checkpoint_every), StepLRMonitor(),
                 *job.callbacks]
    if cfg.checkpoint.trace_data:
        callbacks.append(DataTrace(out_dir / "data_trace"))
    trainer = instantiate(cfg.trainer, max_epochs=stage.epochs, max_steps=stage.max_steps, default_root_dir=str(out_dir),
                          logger=loggers(cfg, out_dir, resuming=resume is not None), callbacks=callbacks,
                          plugins=[AtomicCheckpointIO()], **job.trainer_args)
    fit_strategy(trainer.strategy, stage)
    schedule, derived = job.schedule(trainer.world_size)
    if schedule.total < 1:
        raise ValueError(f"stage {name}: its data gives no optimizer step ({dict(derived)}); curate more data or "
                         f"set stages.{name}.data.samples_per_epoch")
    trainer.log_every_n_steps = log_cadence(trainer.log_every_n_steps, schedule.total)
    if trainer.is_global_zero:
        print_schedule(f"stage {name}", schedule, job.base_lrs, derived)
    trainer.fit(job.module(trainer, schedule), datamodule=job.datamodule, ckpt_path=resume, weights_only=True)
    result = {"stage": name, "kind": kind.name, "hf": str(out_dir / "hf"), "steps": trainer.global_step,
              "planned_steps": schedule.total, "curves": str(out_dir / "curves.png"), **job.finish(trainer)}
    merge_lora(model)  # adapters folded into the base weights: hf/ loads without peft
    export_trained(model, processor, out_dir / "hf", write=trainer.is_global_zero)  # every rank: may gather shards
    if trainer.is_global_zero:
        job.after_export(out_dir)
        plot_curves(out_dir / "metrics.csv", out_dir / "curves.png", f"{kind.title}: {name}", kind.curves)
        mark_done(out_dir, key, result)
        _publish(cfg, name, result, key)
    return result


def log_cadence(every: int, total_steps: int) -> int:
    """`every`, lowered so a stage of `total_steps` logs at least MIN_CURVE_POINTS rows (every step if
    shorter): a 4-step RL stage under `log_every_n_steps: 5` would otherwise log nothing."""
    return max(1, min(every, total_steps // MIN_CURVE_POINTS))


def _publish(cfg, name: str, result: dict, key: str) -> None:
    if is_rank_zero():
        p = pointer(cfg, name)
        write_json(p, {"hf": str(Path(result["hf"]).resolve()), "key": key})


def run_selected(cfg, task: str) -> dict:
    """task=train / task=rl: the stage named by `stage=`."""
    if not cfg.get("stage"):
        raise ConfigError(f"task={task} needs stage=<name>, one of {stage_names(cfg)}")
    name = str(cfg.stage)
    stage = build_stage(cfg, name)
    init = stage.init_from or previous_checkpoint(cfg, name)
    result = run_stage(cfg, name, init)
    later = stage_names(cfg)[stage_names(cfg).index(name) + 1:]
    if later and is_rank_zero():
        log.info("next step: task=%s stage=%s (it starts from %s)",
                 "rl" if build_stage(cfg, later[0]).kind == "rl" else "train", later[0], result["hf"])
    return result
