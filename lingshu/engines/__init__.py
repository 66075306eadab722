"""Inference back ends. Every component that generates text goes through `Engine.generate`."""

from __future__ import annotations

import inspect

from hydra.utils import get_class, instantiate


def build_engine(engine_cfg, model_cfg=None, checkpoint=None):
    """The configured engine. `hf` loads the backbone (from `checkpoint` if given) in-process;
    others (openai, vllm, replay) are instantiated from their node, given `model_path` if they take it."""
    target = engine_cfg["_target_"]
    if target == "lingshu.engines.hf.HFEngine":
        from lingshu.engines.hf import HFEngine
        backbone = instantiate(model_cfg, _convert_="all")
        model, processor = backbone.build(checkpoint)
        kwargs = {k: v for k, v in engine_cfg.items() if k != "_target_"}
        device = kwargs.pop("device", None) or ("cuda" if _cuda() else "cpu")
        return HFEngine(model.to(device), processor, device=device, **kwargs)
    params = inspect.signature(get_class(target)).parameters
    extra = {"model_path": str(checkpoint)} if checkpoint is not None and "model_path" in params else {}
    return instantiate(engine_cfg, **extra)


def _cuda() -> bool:
    import torch
    return torch.cuda.is_available()
