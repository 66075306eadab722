"""Inference back ends. Every component that generates text goes through `Engine.generate`."""

from __future__ import annotations

import inspect

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
