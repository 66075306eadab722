"""Write a Hugging Face folder (model, processor, chat template, generation config) atomically."""

from __future__ import annotations

import shutil
from pathlib import Path


def export_hf(model, processor, out_dir: str | Path) -> Path:
    """`out_dir` appears only once complete, so a killed export never looks finished."""
    out_dir = Path(out_dir)
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    processor.save_pretrained(tmp)
    model.generation_config.save_pretrained(tmp)
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)
    return out_dir
