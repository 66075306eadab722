"""Inference back ends. Every component that generates text goes through `Engine.generate`."""

from __future__ import annotations

import inspect
from typing import Any, Callable, Sequence

from hydra.utils import get_class, instantiate


def build_engine(engine_cfg, model_cfg=None, checkpoint=None):
    """The configured engine. A class with `from_config` builds itself from the model config (the
    in-process `hf` engine loads the backbone); the others (openai, vllm, replay) are instantiated
    from their node, given `model_path` if they take it."""
    cls = get_class(engine_cfg["_target_"])
    if hasattr(cls, "from_config"):
        return cls.from_config({k: v for k, v in engine_cfg.items() if k != "_target_"}, model_cfg, checkpoint)
    extra = {"model_path": str(checkpoint)} if checkpoint is not None and "model_path" in inspect.signature(cls).parameters else {}
    return instantiate(engine_cfg, **extra)


class LazyEngine:
    """An engine built at its first `generate`: an evaluation rerun whose predictions are all on
    disk loads no weights and starts no server."""

    def __init__(self, build: Callable[[], Any]):
        self._build, self._engine = build, None

    @property
    def built(self) -> bool:
        return self._engine is not None

    @property
    def engine(self) -> Any:
        if self._engine is None:
            self._engine = self._build()
        return self._engine

    def generate(self, requests: Sequence) -> list:
        return self.engine.generate(requests)

    @property
    def last_info(self) -> dict | None:
        return getattr(self._engine, "last_info", None)

    def describe(self) -> Any:
        engine = self.engine
        return engine.describe() if hasattr(engine, "describe") else type(engine).__name__
