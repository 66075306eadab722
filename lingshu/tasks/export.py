"""task=export: an `hf/` folder from an SFT stage's training checkpoint, in one process (no GPU needed).

    python launch.py task=export task.checkpoint=outputs/.../train/instruction_tuning/checkpoints/last.ckpt \
        model=qwen2_5_vl_7b model.path=/models/Qwen2.5-VL-7B-Instruct task.out_dir=/models/lingshu-7b

For a run that stopped before its own export: a sharded folder (`trainer=fsdp`), a DeepSpeed
folder (`trainer=deepspeed_zero2|3`; needs deepspeed installed) or a single `.ckpt` file.
"""

from __future__ import annotations

from pathlib import Path

from hydra.utils import instantiate

from lingshu.models.export import export_from_checkpoint
from lingshu.tasks.common import run_dir

# The config groups this task builds, validated before it runs (lingshu.config.validate).
GROUPS = ("model",)


def run(cfg) -> dict:
    backbone = instantiate(cfg.model, _convert_="all")
    out = Path(cfg.task.out_dir) if cfg.task.out_dir else run_dir(cfg) / "hf"
    return {"hf": str(export_from_checkpoint(cfg.task.checkpoint, backbone, out, cfg.task.init_from))}
