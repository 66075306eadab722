"""Task functions: each `lingshu/tasks/<name>.py` has `run(cfg) -> dict`; `dispatch` picks one."""

from __future__ import annotations

import importlib
import sys

from omegaconf import DictConfig
from omegaconf.errors import MissingMandatoryValue

TASKS = ("acquire", "curate", "train", "rl", "eval", "pipeline", "export")
MODULES = {"eval": "evaluate"}


def dispatch(cfg: DictConfig) -> dict:
    from lingshu.errors import ConfigError
    from lingshu.config import apply_scale, validate

    name = cfg.task.name
    try:  # only configuration problems become one line; errors in our own code keep their traceback
        if name not in TASKS:
            raise ConfigError(f"unknown task {name!r}; choose one of {', '.join(TASKS)} (task=...)")
        apply_scale(cfg)
        validate(cfg)
    except (ConfigError, MissingMandatoryValue) as e:
        if isinstance(e, MissingMandatoryValue):
            key = e.full_key
            e = ConfigError(f"{key} is required: set it on the command line, e.g. {key}=/path/to/it")
        print(f"lingshu: error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    module = importlib.import_module(f"lingshu.tasks.{MODULES.get(name, name)}")
    return module.run(cfg)
