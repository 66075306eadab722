"""Write a Hugging Face folder (model, processor, chat template, generation config) atomically,
from a model in memory, after sharded training (FSDP2, DeepSpeed ZeRO-3), or from a training checkpoint.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import torch


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


def export_trained(model, processor, out_dir: str | Path, write: bool) -> None:
    """Export after training. Every rank calls this (gathering sharded weights is collective);
    only the rank with `write` (rank 0) writes."""
    state = full_state_dict(model)
    if write:
        export_hf(model if state is None else with_weights(unwrapped_skeleton(model), state), processor, out_dir)


def is_sharded(model) -> bool:
    """Whether `model`'s parameters are FSDP2 shards (DTensors)."""
    from torch.distributed.fsdp import FSDPModule

    return isinstance(model, FSDPModule)


def full_state_dict(model) -> dict | None:
    """The full weights on rank 0 (CPU; empty elsewhere) when `model` is sharded, else None."""
    if is_sharded(model):  # FSDP2: parameters are DTensor shards
        from torch.distributed.checkpoint.state_dict import (
            StateDictOptions,
            get_model_state_dict,
        )

        return get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if any(hasattr(p, "ds_id") for p in model.parameters()):  # DeepSpeed ZeRO-3 partitions parameters
        import deepspeed  # untested here (no GPU): gathers one module at a time onto every rank

        state = {}
        for name, module in model.named_modules():
            params = dict(module.named_parameters(prefix=name, recurse=False))
            with deepspeed.zero.GatheredParameters(list(params.values()), modifier_rank=None):
                state.update({k: p.detach().cpu().clone() for k, p in params.items()})
        return state
    return None


def unwrapped_skeleton(model):
    """`model`'s architecture on the meta device, as its own class (FSDP2 subclasses it in place)."""
    from torch.distributed.fsdp import FSDPModule

    cls = next(c for c in type(model).__mro__ if not issubclass(c, FSDPModule))
    with torch.device("meta"):
        plain = cls._from_config(model.config)
    plain.generation_config = model.generation_config
    return plain


def with_weights(skeleton, state: dict):
    """Load `state` (HF parameter names) into a meta-device `skeleton` without copying, in the
    skeleton's dtypes. Buffers that are not saved (rotary frequencies) stay on meta: for saving only."""
    ref = skeleton.state_dict()
    missing = sorted(set(ref) - set(state))
    if missing:
        raise KeyError(f"checkpoint lacks {len(missing)} weights of the model, e.g. {missing[:3]}: "
                       f"is model= the backbone the checkpoint was trained from?")
    skeleton.load_state_dict({k: state[k].to(ref[k].dtype) for k in ref}, strict=True, assign=True)
    skeleton.tie_weights()
    return skeleton


def export_from_checkpoint(ckpt_path: str | Path, backbone, out_dir: str | Path,
                           init_from: str | Path | None = None) -> Path:
    """Write `out_dir` from an SFT run's Lightning checkpoint, in one process: a sharded folder
    (`trainer=fsdp`, torch.distributed.checkpoint), a DeepSpeed folder (ZeRO-2/3, through
    deepspeed's zero_to_fp32) or a single `.ckpt` file. `backbone` (the run's `model=`) and
    `init_from` (the stage's starting folder, if any) give the architecture and the processor."""
    ckpt_path = Path(ckpt_path)
    if not ckpt_path.exists():
        raise FileNotFoundError(f"checkpoint {ckpt_path} does not exist (expected <run>/train/<stage>/checkpoints/last.ckpt)")
    skeleton, processor = backbone.build(init_from, empty=True)
    state = read_weights(ckpt_path, skeleton)
    return export_hf(with_weights(skeleton, state), processor, out_dir)


def read_weights(ckpt_path: Path, skeleton) -> dict:
    """The model weights of an SFTModule checkpoint (its `model.` prefix removed), optimizer states left on disk."""
    prefix = "model."  # SFTModule.model
    if (ckpt_path / ".metadata").is_file():  # torch.distributed.checkpoint folder: read only the weights
        import torch.distributed.checkpoint as dcp

        weights = {prefix + k: torch.empty(v.shape, dtype=v.dtype) for k, v in skeleton.state_dict().items()}
        with warnings.catch_warnings():  # reading in one process is the point here
            warnings.filterwarnings("ignore", message="torch.distributed is disabled")
            dcp.load({"state_dict": weights}, checkpoint_id=ckpt_path, no_dist=True)
        state = weights
    elif (ckpt_path / "latest").is_file():  # DeepSpeed folder (not testable without deepspeed; kept minimal)
        try:
            from deepspeed.utils.zero_to_fp32 import (
                get_fp32_state_dict_from_zero_checkpoint,
            )
        except ImportError as e:
            raise ImportError(f"{ckpt_path} is a DeepSpeed checkpoint: converting it needs deepspeed "
                              f"(pip install -e '.[gpu]')") from e
        state = {k.removeprefix("_forward_module."): v
                 for k, v in get_fp32_state_dict_from_zero_checkpoint(str(ckpt_path)).items()}
    elif ckpt_path.is_file():
        state = torch.load(ckpt_path, map_location="cpu", weights_only=True, mmap=True)["state_dict"]
    else:
        raise ValueError(f"{ckpt_path} is neither a checkpoint file nor a torch.distributed.checkpoint "
                         f"or DeepSpeed checkpoint folder")
    return {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}
