"""Source readers: each maps one published dataset format to `Sample`s (see base.py)."""

from __future__ import annotations

from typing import Any

from lingshu.data.sources.base import Quarantine, Row, Source, SourceError, check_path

__all__ = ["Quarantine", "Row", "Source", "SourceError", "build_sources", "check_path"]


def build_sources(source_cfg: Any) -> dict[str, Source]:
    """Instantiate `cfg.source` (name -> node) in config order; each source learns its name."""
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    out = {}
    for name, node in (source_cfg or {}).items():
        if "path" in node:  # checked here too so the user sees our one line, not Hydra's wrapper
            check_path(str(name), "???" if OmegaConf.is_missing(node, "path") else node.path)
        out[str(name)] = instantiate(node, name=str(name), _recursive_=False)
    if not out:
        raise ValueError("no data source selected: pick one, e.g. source=demo or source=[llava,vqa_rad]")
    return out
