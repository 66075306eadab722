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
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / name), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


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
