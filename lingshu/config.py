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

# Which config groups each task builds (and so must be valid).
TASK_GROUPS = {
    "curate": ("source", "model"),
    "train": ("model", "stage"),
    "rl": ("model", "stage", "reward"),
    "eval": ("model", "benchmark", "engine", "judge"),
    "pipeline": ("source", "model", "benchmark", "engine", "judge", "reward"),
    "export": ("model",),
}
MULTI = ("source", "benchmark")  # groups selected several at once: <group>.<name>


class ConfigError(Exception):
    pass


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


def validate(cfg: DictConfig, build: bool = True) -> None:
    """Check every node the task will build; then build sources, benchmarks and the model spec
    (cheap: no data read, no weights loaded) so missing paths surface now."""
    groups = TASK_GROUPS[cfg.task.name]
    for group in groups:
        for key, node in nodes_of(cfg, group).items():
            check_node(node, key)
            if isinstance(node, DictConfig):  # a required value left as ??? fails here, naming its key
                OmegaConf.to_container(node, resolve=True, throw_on_missing=True)
    for name in ("source", "benchmark"):
        if name in groups and cfg.get(name) is not None and len(cfg[name]) == 0:
            raise ConfigError(f"no {name} selected; choose one, e.g. {name}=demo")
    for key in ("stage.init_from", "eval.checkpoint"):
        value = OmegaConf.select(cfg, key)
        if value and not Path(str(value)).is_dir():
            raise ConfigError(f"{key}={value}: no such checkpoint folder (expected an hf/ folder written by a "
                              f"training stage, e.g. <run>/train/instruction_tuning/hf)")
    if cfg.task.name == "export" and not Path(str(cfg.task.checkpoint)).exists():
        raise ConfigError(f"task.checkpoint={cfg.task.checkpoint}: no such checkpoint (expected "
                          f"<run>/train/<stage>/checkpoints/last.ckpt, a file or a sharded folder)")
    if not build:
        return
    for group in ("source", "benchmark", "model", "stage"):
        if group not in groups:
            continue
        for key, node in nodes_of(cfg, group).items():
            if node.get("_target_"):
                # a source is named by its config key (pubmedvision, not its reader's default `llava`)
                named = {"name": key.split(".", 1)[1]} if group == "source" else {}
                instantiate(node, _convert_="all", **named)
