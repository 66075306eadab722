"""The GPU benchmark scripts run end to end on CPU with --dry-run (tiny model, no vLLM), so the
code a GPU run depends on is exercised here; without --dry-run and without CUDA they refuse clearly."""

import json
import os
import subprocess
import sys

import pytest
import torch

from tests.conftest import ROOT


def run_script(name: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, str(ROOT / "perf" / name), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def test_rl_gpu_dry_run_times_hf_rollouts_and_runs_two_grpo_steps(tmp_path):
    out = tmp_path / "rl_gpu.json"
    proc = run_script("rl_gpu.py", "--dry-run", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["hf"]["responses"] == 4 * 2 and result["hf"]["tokens"] > 0
    assert result["grpo"] == {**result["grpo"], "ok": True, "steps": 2, "pushes": 2}
    assert "vllm" not in result and "sync" not in result


def test_eval_gpu_dry_run_scores_every_item_through_the_runner(tmp_path):
    out = tmp_path / "eval_gpu.json"
    proc = run_script("eval_gpu.py", "--dry-run", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["requests"] == result["records"]["written"] == 6 and result["records"]["ok"]
    assert result["requests_per_s"] > 0 and 0 <= result["parsed_fraction"] <= 1


def test_without_a_gpu_the_script_says_what_is_missing(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    proc = run_script("eval_gpu.py", "--out", str(tmp_path / "x.json"))
    assert proc.returncode == 2 and "needs a CUDA GPU with vLLM (no CUDA device)" in proc.stderr


def test_rl_gpu_vllm_sections_run_against_a_cpu_stand_in_for_vllm(tmp_path, monkeypatch):
    """The benchmark's vLLM code paths (start, push, throughput, GRPO with vLLM rollouts, the sync
    check) on the tiny model, vLLM played by transformers on CPU: the glue runs and the checks bite."""
    import argparse
    import importlib.util
    import tempfile

    from lingshu.models.shapes import shaped_model
    from tests import fake_vllm

    monkeypatch.syspath_prepend(str(ROOT / "perf"))
    spec = importlib.util.spec_from_file_location("rl_gpu", ROOT / "perf" / "rl_gpu.py")
    rl_gpu = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rl_gpu)
    fake_vllm.install(monkeypatch, hf_backed=True)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    args = argparse.Namespace(**rl_gpu.DRY_RUN, gpu_memory_utilization=0.3, sleep_mode=False, enforce_eager=False)
    model, proc = shaped_model("tiny", dtype="float32", max_pixels=args.image_size ** 2)
    prompts = rl_gpu.demo_prompts(4, args.image_size)
    requests = rl_gpu.requests_for(prompts, args.max_new_tokens, args.generations)

    rollout = rl_gpu.start_vllm(model, proc, args)
    stats = rl_gpu.vllm_throughput(model, rollout, requests, args)
    assert stats["ok"] and stats["responses"] == 4 * 2
    grpo = rl_gpu.grpo_steps(model, proc, rollout, prompts, args, "cpu")
    assert grpo["ok"] and grpo["pushes"] == 2
    sync = rl_gpu.sync_check(model, proc, rollout, requests[3], tol=1e-3, device="cpu")
    gaps = sync["mean_abs_logprob_gap"]
    assert sync["ok"], sync
    assert gaps["synced"] < 1e-4 and gaps["stale"] > 5e-3
