"""Throughput: samples/s and tokens/s (text and visual separately), padding fraction."""

from __future__ import annotations

import time

import lightning as L

from lingshu.data.collate import real_tokens


class Throughput(L.Callback):
    def __init__(self, image_token_id: int):
        self.image_token_id = image_token_id
        self._t = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self._t = time.perf_counter()
        self._samples = int(batch["num_samples"])
        self._visual = int((batch["input_ids"] == self.image_token_id).sum())
        self._tokens = real_tokens(batch)
        self._padding = 1.0 - self._tokens / max(1, batch["input_ids"].numel())

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        dt = max(time.perf_counter() - self._t, 1e-9)
        log = dict(on_step=True, on_epoch=False, batch_size=self._samples)
        pl_module.log("perf/samples_per_s", self._samples / dt, **log)
        pl_module.log("perf/text_tokens_per_s", (self._tokens - self._visual) / dt, **log)
        pl_module.log("perf/visual_tokens_per_s", self._visual / dt, **log)
        pl_module.log("perf/padding_fraction", self._padding, **log)
