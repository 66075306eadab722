"""Throughput: samples/s, tokens/s (text and visual separately), padding fraction, model FLOPs/s;
MFU and peak memory on GPU."""

from __future__ import annotations

import logging
import time

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
