"""Task functions: `conf/task/<name>.yaml` names its module (`task.module`), which has
`run(cfg) -> dict` and `GROUPS`; `dispatch` validates the config, then runs it. A new task is one
module and its conf/task/ entry."""

from __future__ import annotations

import importlib
import sys

from omegaconf import DictConfig
from omegaconf.errors import MissingMandatoryValue


def dispatch(cfg: DictConfig) -> dict:
    from lingshu.errors import ConfigError
    from lingshu.config import apply_scale, validate

    try:  # only configuration problems become one line; errors in our own code keep their traceback
        apply_scale(cfg)
        validate(cfg)
    except (ConfigError, MissingMandatoryValue) as e:
        if isinstance(e, MissingMandatoryValue):
            key = e.full_key
            e = ConfigError(f"{key} is required: set it on the command line, e.g. {key}=/path/to/it")
        print(f"lingshu: error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    return importlib.import_module(cfg.task.module).run(cfg)
