"""perf/sft_gpu.py: its code path on CPU (--tiny), and a clear exit without a GPU."""

import importlib.util
import json

import pytest
import torch

from tests.conftest import ROOT


def bench():
    spec = importlib.util.spec_from_file_location("sft_gpu", ROOT / "perf" / "sft_gpu.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiny_run_trains_packs_and_counts_flops(tmp_path):
    out = tmp_path / "sft_gpu.json"
    result = bench().main(["--tiny", "--steps", "2", "--warmup", "1", "--max-seq-len", "512", "--out", str(out)])
    assert json.loads(out.read_text()) == result
    (run,) = result["runs"]
    assert len(run["losses"]) == 3 and run["loss_finite"] and run["loss_falls"]
    assert run["tokens_per_step"] > 0.75 * 512 and result["samples_per_row"] >= 3  # the row is packed nearly full
    flops = run["model_tflops_per_s"] * 1e12 * run["seconds_per_step"]
    assert run["model_flops_per_step"] > 0 and flops == pytest.approx(run["model_flops_per_step"])
    assert run["mfu"] is None and run["peak_mem_gb"] is None  # CPU: FLOPs/s only
    check = result["packed_vs_padded"]
    assert check["equal"] and check["relative_difference"] < check["control_relative_difference"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="exercises the no-GPU exit")
def test_full_size_needs_a_gpu():
    with pytest.raises(SystemExit, match="needs a CUDA GPU"):
        bench().main([])
