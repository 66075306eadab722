"""Synthesis: new training Samples made from existing ones, by rules or through an engine.

`build_synthesizers(cfg.synthesis)` turns the selected config nodes into synthesizers, and
`apply(synthesizers, samples)` streams samples through them, yielding the inputs, the synthesized
Samples and `Reject` records (which belong in `rejects.jsonl`).
"""

from __future__ import annotations

from typing import Any, Mapping

from lingshu.synthesis.base import Output, Synthesizer, apply
from lingshu.synthesis.records import Reject

__all__ = ["Output", "Reject", "Synthesizer", "apply", "build_synthesizers"]


def build_synthesizers(cfg: Mapping[str, Any] | None) -> dict[str, Synthesizer]:
    """One synthesizer per node of `cfg.synthesis` (each node has `_target_`), named by its key."""
    from hydra.utils import instantiate  # only config-driven callers need hydra

    return {name: instantiate(node, name=name, _convert_="all") for name, node in (cfg or {}).items()}
