"""Training callbacks: throughput (samples/s, text and visual tokens/s, padding fraction, model
FLOPs/s; MFU and peak memory on GPU) and a data trace (which samples every batch held)."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import lightning as L
import torch

from lingshu.data.collate import real_tokens
from lingshu.training.flops import StepFlops, batch_shape, device_peak_flops

log = logging.getLogger(__name__)


class Throughput(L.Callback):
    """Per step: samples/s, text and visual tokens/s, padding fraction and model TFLOPs/s (see
    lingshu.training.flops; on CPU too, to compare settings); on a GPU also MFU against the device's
    bf16 dense peak (`peak_tflops`, else looked up by GPU name) and peak allocated memory."""

    def __init__(self, image_token_id: int, peak_tflops: float | None = None):
        self.image_token_id = image_token_id
        self.peak_tflops = peak_tflops
        self._t = None

    def on_train_start(self, trainer, pl_module):
        # After configure_model/configure_optimizers: which weights train (freezing, LoRA) is final.
        self.step_flops = StepFlops.from_model(pl_module.model)
        self.cuda = pl_module.device.type == "cuda"
        self.peak = None
        if self.cuda:
            name = torch.cuda.get_device_name(pl_module.device)
            self.peak = self.peak_tflops * 1e12 if self.peak_tflops else device_peak_flops(name)
            if self.peak is None:
                log.warning("no bf16 peak FLOPs known for %s: set perf.peak_tflops to log perf/mfu", name)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self._samples = int(batch["num_samples"])
        self._visual = int((batch["input_ids"] == self.image_token_id).sum())
        self._tokens = real_tokens(batch)
        self._padding = 1.0 - self._tokens / max(1, batch["input_ids"].numel())
        self._flops = self.step_flops(*batch_shape(batch))  # before the step pops `segments`
        if self.cuda:
            torch.cuda.synchronize(pl_module.device)  # time this step's kernels only
        self._t = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if self.cuda:
            torch.cuda.synchronize(pl_module.device)
        dt = max(time.perf_counter() - self._t, 1e-9)
        kw = dict(on_step=True, on_epoch=False, batch_size=self._samples)
        pl_module.log("perf/samples_per_s", self._samples / dt, **kw)
        pl_module.log("perf/text_tokens_per_s", (self._tokens - self._visual) / dt, **kw)
        pl_module.log("perf/visual_tokens_per_s", self._visual / dt, **kw)
        pl_module.log("perf/padding_fraction", self._padding, **kw)
        pl_module.log("perf/model_tflops_per_s", self._flops / dt / 1e12, **kw)
        if self.cuda:
            pl_module.log("perf/peak_mem_gb", torch.cuda.max_memory_allocated(pl_module.device) / 1e9, **kw)
            if self.peak:
                pl_module.log("perf/mfu", self._flops / dt / self.peak, **kw)


def batch_ids(batch) -> list[str]:
    """Sample ids of an SFT batch (`sample_ids`, see ShardDataModule) or of an RL batch of prompts."""
    return list(batch["sample_ids"]) if isinstance(batch, dict) else [p.id for p in batch]


class DataTrace(L.Callback):
    """One JSON line per training batch in `<directory>/rank<r>.jsonl`: epoch, batch index, optimizer
    step after it, the ids of the samples (SFT) or prompts (RL) it held, and the step's scalar
    outputs (loss; RL: reward, grad_norm). The file follows the checkpoint: a resumed run first
    drops the lines written after the checkpoint it resumes from, so the trace lists exactly what
    the weights were trained on, in order (an audit of the data order, and of resume)."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        self.lines = 0  # lines that belong to the current weights (saved in the checkpoint)
        self._ids: list[str] = []

    def setup(self, trainer, pl_module, stage: str) -> None:
        self.path = self.directory / f"rank{trainer.global_rank}.jsonl"

    def state_dict(self) -> dict:
        return {"lines": self.lines}

    def load_state_dict(self, state: dict) -> None:
        self.lines = state["lines"]

    def on_train_start(self, trainer, pl_module) -> None:
        kept = self.path.read_text().splitlines(keepends=True)[: self.lines] if self.path.exists() else []
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path.write_text("".join(kept))
        self.lines = len(kept)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self._ids = batch_ids(batch)  # before the step: SFT's step pops keys off the batch

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        row = {"epoch": trainer.current_epoch, "batch": batch_idx, "step": trainer.global_step, "ids": self._ids}
        for k, v in (outputs or {}).items():
            if isinstance(v, (int, float)) or (isinstance(v, torch.Tensor) and v.numel() == 1):
                row[k] = float(v)
        with self.path.open("a") as f:  # closed every line: a SIGKILL loses nothing already traced
            f.write(json.dumps(row) + "\n")
        self.lines += 1
