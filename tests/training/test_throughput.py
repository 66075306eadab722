"""Throughput callback: model FLOPs/s everywhere; MFU and peak memory only on a GPU."""

import itertools
from types import SimpleNamespace

import pytest
import torch

from lingshu.data.collate import SFTCollator
from lingshu.data.demo import demo_samples
from lingshu.training import callbacks
from lingshu.training.callbacks import Throughput
from lingshu.training.flops import StepFlops, batch_shape


def run_step(tiny, monkeypatch, device: str, peak_tflops=None) -> tuple[dict, float]:
    """One batch through the callback with a clock that says the step took 0.5 s."""
    model, proc = tiny
    samples = list(itertools.islice(demo_samples("train", 0, 4, 4, planted=False), 6))
    batch = SFTCollator(proc, packing=True)(samples)
    logged = {}
    module = SimpleNamespace(model=model, device=torch.device(device), log=lambda k, v, **kw: logged.__setitem__(k, v))
    clock = iter([10.0, 10.5])
    monkeypatch.setattr(callbacks.time, "perf_counter", lambda: next(clock))
    cb = Throughput(model.config.image_token_id, peak_tflops=peak_tflops)
    cb.on_train_start(None, module)
    cb.on_train_batch_start(None, module, batch, 0)
    cb.on_train_batch_end(None, module, None, batch, 0)
    return logged, StepFlops.from_model(model)(*batch_shape(batch))


def test_cpu_logs_model_flops_per_second_but_no_mfu(tiny, monkeypatch):
    logged, flops = run_step(tiny, monkeypatch, "cpu")
    assert logged["perf/model_tflops_per_s"] == pytest.approx(flops / 0.5 / 1e12)
    assert "perf/mfu" not in logged and "perf/peak_mem_gb" not in logged
    assert logged["perf/padding_fraction"] < 0.05  # one packed row


@pytest.mark.parametrize("peak_tflops, peak", [(None, 989e12), (500.0, 500e12)])
def test_gpu_logs_mfu_against_the_device_peak_and_peak_memory(tiny, monkeypatch, peak_tflops, peak):
    # The CUDA calls the callback makes, answered as an H100 would (no GPU needed).
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H100 80GB HBM3")
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: None)
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device=None: 12.5e9)
    logged, flops = run_step(tiny, monkeypatch, "cuda", peak_tflops)
    assert logged["perf/mfu"] == pytest.approx(flops / 0.5 / peak)
    assert logged["perf/peak_mem_gb"] == pytest.approx(12.5)
