"""Validate a composed config before any work starts.

Every buildable node names its class in `_target_`; the class's typed signature (dataclass fields
or `__init__` annotations) is the schema. A misspelt key or a wrong type fails here, naming the
key, instead of an hour into a run.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from pathlib import Path
from typing import Any

from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf

from lingshu.errors import ConfigError

MULTI = ("source", "benchmark", "synthesis", "logger")  # groups selected several at once: <group>.<name>
BUILT = ("source", "synthesis", "benchmark", "model", "reward", "judge")  # cheap to build: no data read, no weights
# Exceptions a constructor raises for a bad value; anything else is a bug and keeps its traceback.
CONFIG_FAULTS = (ValueError, FileNotFoundError)


def _hints(cls) -> dict[str, Any]:
    target = cls if dataclasses.is_dataclass(cls) else cls.__init__
    try:
        return typing.get_type_hints(target)
    except Exception:
        return {}


def _accepts(cls) -> tuple[set[str], bool]:
    """(parameter names, whether **kwargs is accepted)."""
    params = inspect.signature(cls).parameters
    var_kw = any(p.kind is p.VAR_KEYWORD for p in params.values())
    return {n for n, p in params.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}, var_kw


def _check_value(value: Any, hint: Any, key: str) -> None:
    if value is None or hint is Any:
        return
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        errors = []
        for a in (a for a in args if a is not type(None)):
            try:
                _check_value(value, a, key)
                return
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[-1] if errors else f"{key}: unexpected value {value!r}")
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, (dict, DictConfig)):
            raise ConfigError(f"{key}: expected a mapping of {hint.__name__} fields, got {value!r}")
        check_fields(hint, value, key)
        return
    if origin in (dict, typing.Dict) and isinstance(value, (dict, DictConfig)):
        for k, v in value.items():
            _check_value(v, args[1] if len(args) == 2 else Any, f"{key}.{k}")
        return
    if origin in (list, typing.List, tuple) and isinstance(value, (list, tuple, ListConfig)):
        for i, v in enumerate(value):
            _check_value(v, args[0] if args else Any, f"{key}[{i}]")
        return
    simple = {int: (int,), float: (int, float), str: (str,), bool: (bool,), list: (list, tuple, ListConfig),
              dict: (dict, DictConfig)}
    base = origin or hint
    if base in simple:
        ok = isinstance(value, simple[base]) and not (base in (int, float) and isinstance(value, bool))
        if not ok:
            raise ConfigError(f"{key}: expected {getattr(base, '__name__', base)}, got {type(value).__name__} {value!r}")


def check_fields(cls, node, key: str) -> None:
    names, var_kw = _accepts(cls)
    hints = _hints(cls)
    for k in node.keys():
        if k.startswith("_"):
            continue
        if k not in names and not var_kw:
            raise ConfigError(f"{key}.{k}: unknown key for {cls.__name__}; it accepts: {', '.join(sorted(names))}")
        if k in hints:
            value = OmegaConf.select(node, k) if isinstance(node, DictConfig) else node[k]
            _check_value(value, hints[k], f"{key}.{k}")


def check_node(node: DictConfig, key: str) -> None:
    target = node.get("_target_")
    if target is None:
        return
    try:
        cls = get_class(target)
    except Exception as e:
        raise ConfigError(f"{key}._target_: cannot import {target} ({e})") from None
    check_fields(cls, node, key)


def nodes_of(cfg: DictConfig, group: str) -> dict[str, DictConfig]:
    node = cfg.get(group)
    if node is None:
        return {}
    if group in MULTI:
        return {f"{group}.{name}": sub for name, sub in node.items() if isinstance(sub, DictConfig)}
    return {group: node}


def stage_kind(node: DictConfig) -> str:
    """`sft` or `rl`: the `kind` the stage node's class declares, without building it."""
    kind = getattr(get_class(node._target_), "kind", None)
    if not isinstance(kind, str):
        raise ConfigError(f"{node._target_} is not a stage class (a stage class declares its `kind`)")
    return kind


def selected_stages(cfg: DictConfig) -> list[str]:
    """The stages this task will train: task.steps (pipeline) or `stage=` (train, rl)."""
    task = cfg.task.name
    names = list(cfg.get("stages") or {})
    if task == "pipeline":
        steps = list(cfg.task.steps)
        unknown = [s for s in steps if s not in ("curate", "eval") and s not in names]
        if unknown:
            raise ConfigError(f"task.steps names unknown steps {unknown}; steps are curate, eval and the stages {names}")
        return [s for s in steps if s not in ("curate", "eval")]
    if task in ("train", "rl"):
        if not cfg.get("stage"):
            raise ConfigError(f"task={task} needs stage=<name>, one of {names}")
        if cfg.stage not in names:
            raise ConfigError(f"stage={cfg.stage}: no such stage; stages are {names}")
        return [str(cfg.stage)]
    return []


def apply_scale(cfg: DictConfig) -> None:
    """`+scale=<name>` (conf/scale/): the same recipe at another scale. Its `source` node reads in
    place of every selected source (same names, so every stage mixture still matches) and its
    `stages.<kind>` settings are merged into every stage of that kind (sft, rl); everything else
    in the recipe stays as written."""
    scale = cfg.get("scale")
    if not scale:
        return
    for i, name in enumerate(list(cfg.get("source") or {})):
        cfg.source[name] = scale.source
        cfg.source[name].seed = int(cfg.seed) + i  # distinct images per source: no cross-source duplicates
    for name, node in (cfg.get("stages") or {}).items():
        patch = (scale.get("stages") or {}).get(stage_kind(node))
        if patch:
            cfg.stages[name] = OmegaConf.merge(node, patch)


def _build(node: DictConfig, key: str, **kwargs) -> Any:
    """Build a node as the task will; a bad value becomes one line naming the key, a bug keeps its traceback."""
    from hydra.errors import InstantiationException

    try:
        return instantiate(node, _convert_="all", **kwargs)
    except InstantiationException as e:
        cause = e.__cause__
        if isinstance(cause, CONFIG_FAULTS) or cause is None:
            raise ConfigError(_named(key, cause or e)) from None
        raise cause
    except CONFIG_FAULTS as e:
        raise ConfigError(_named(key, e)) from None


def _named(key: str, error: BaseException) -> str:
    msg = str(error)
    return msg if msg.startswith(key) else f"{key}: {msg}"


def check_reward_functions(reward: DictConfig) -> None:
    """Each reward component names a function `module:name`; a typo fails here, naming the component."""
    import importlib

    for name, comp in (reward.get("components") or {}).items():
        fn = str(comp.get("fn", ""))
        module, _, attr = fn.partition(":")
        try:
            ok = callable(getattr(importlib.import_module(module), attr, None))
        except ImportError as e:
            raise ConfigError(f"reward.components.{name}.fn={fn}: cannot import {module} ({e})") from None
        if not ok:
            raise ConfigError(f"reward.components.{name}.fn={fn}: {module} has no function {attr!r}")


def check_stages(cfg: DictConfig, build: bool) -> None:
    task = cfg.task.name
    for name in selected_stages(cfg):
        key, node = f"stages.{name}", cfg.stages[name]
        check_node(node, key)
        OmegaConf.to_container(node, resolve=True, throw_on_missing=True)
        kind = stage_kind(node)
        if task in ("train", "rl") and kind != {"train": "sft", "rl": "rl"}[task]:
            raise ConfigError(f"stage={name} is an {kind.upper()} stage: run it with task={'rl' if kind == 'rl' else 'train'}")
        init = node.get("init_from")
        if init and not Path(str(init)).is_dir():
            raise ConfigError(f"{key}.init_from={init}: no such checkpoint folder (expected an hf/ folder written by "
                              f"a training stage, e.g. <run>/train/instruction_tuning/hf)")
        bench = OmegaConf.select(node, "data.heldout_benchmark")
        if bench and bench not in (cfg.get("benchmark") or {}):
            raise ConfigError(f"{key}.data.heldout_benchmark={bench} is not a selected benchmark (benchmark=[...,{bench}])")
        if build:
            _build(node, key)


def task_groups(cfg: DictConfig) -> tuple[str, ...]:
    """The config groups the selected task builds: its module's GROUPS (conf/task/<name>.yaml names it)."""
    import importlib

    try:
        return importlib.import_module(cfg.task.module).GROUPS
    except ModuleNotFoundError as e:
        raise ConfigError(f"task.module={cfg.task.module}: no such task module ({e})") from None


def validate(cfg: DictConfig, build: bool = True) -> None:
    """Check every node the task will build, stages included; then build the cheap ones (sources,
    synthesis, benchmarks, the model spec, reward, judge, stages: no data read, no weights loaded)
    so a bad value or a missing path surfaces now, not after an hour of curation."""
    groups = task_groups(cfg)
    for group in groups:
        for key, node in nodes_of(cfg, group).items():
            check_node(node, key)
            if isinstance(node, DictConfig):  # a required value left as ??? fails here, naming its key
                OmegaConf.to_container(node, resolve=True, throw_on_missing=True)
    for name in ("source", "benchmark"):
        if name in groups and cfg.get(name) is not None and len(cfg[name]) == 0:
            raise ConfigError(f"no {name} selected; choose one, e.g. {name}=demo")
    value = OmegaConf.select(cfg, "eval.checkpoint")
    if cfg.task.name == "eval" and value and not Path(str(value)).is_dir():
        raise ConfigError(f"eval.checkpoint={value}: no such checkpoint folder (expected an hf/ folder written by a "
                          f"training stage, e.g. <run>/train/instruction_tuning/hf)")
    if cfg.task.name == "export" and not Path(str(cfg.task.checkpoint)).exists():
        raise ConfigError(f"task.checkpoint={cfg.task.checkpoint}: no such checkpoint (expected "
                          f"<run>/train/<stage>/checkpoints/last.ckpt, a file or a sharded folder)")
    if "reward" in groups and cfg.get("reward"):
        check_reward_functions(cfg.reward)
    check_stages(cfg, build)
    if not build:
        return
    for group in BUILT:
        if group not in groups:
            continue
        for key, node in nodes_of(cfg, group).items():
            if node.get("_target_"):
                # a source or synthesizer is named by its config key (pubmedvision, not its reader's default)
                named = {"name": key.split(".", 1)[1]} if group in ("source", "synthesis") else {}
                _build(node, key, **named)
