"""GRPO under FSDP2 with 2 CPU processes (gloo), against the same rollout on one unsharded process:
the update, the exported hf/ (gathered from the shards), the metrics every rank logs, and a run
killed with SIGKILL that resumes from its sharded checkpoint. The ranks' micro-batches differ in
modality (one text-only while the other has images): the vision tower's all-gathers must still pair."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from transformers import Qwen2_5_VLForConditionalGeneration

from lingshu.models.backbone import Backbone, TinyArch
from tests.e2e.conftest import curated  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "tests" / "rl" / "fsdp_grpo_run.py"


def run(out: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(RUN), str(out), *args], env=env, capture_output=True, text=True,
                          timeout=600)
    if check and proc.returncode:
        raise AssertionError(proc.stdout[-3000:] + proc.stderr[-3000:])
    return proc


def weights(path: Path) -> dict:
    return Qwen2_5_VLForConditionalGeneration.from_pretrained(path).state_dict()


def max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max((a[k] - b[k]).abs().max().item() for k in a)


def metrics(out: Path, rank: int) -> list[dict]:
    return json.loads((out / f"metrics_rank{rank}.json").read_text())


@pytest.mark.slow
def test_sharded_update_and_export_equal_unsharded_and_ranks_log_the_same(tmp_path):
    run(tmp_path / "one", "--devices", "1")
    run(tmp_path / "two", "--devices", "2")
    one, two = weights(tmp_path / "one" / "hf"), weights(tmp_path / "two" / "hf")
    from lingshu.models.backbone import Backbone, TinyArch

    init = Backbone(arch=TinyArch()).build(seed=0)[0].state_dict()
    assert max_diff(one, init) > 1e-3  # the update moved the weights
    assert max_diff(one, two) < 1e-5
    m0, m1, ref = metrics(tmp_path / "two", 0)[-1], metrics(tmp_path / "two", 1)[-1], metrics(tmp_path / "one", 0)[-1]
    assert m0 == m1  # every rank logs the global numbers
    for k in ("reward/overall", "reward/overall_std", "policy/loss", "policy/kl", "policy/clip_fraction",
              "policy/entropy", "response/length_mean", "response/length_max", "groups/zero_variance_fraction",
              "policy/grad_norm"):
        assert m0[k] == pytest.approx(ref[k], rel=1e-4), k


@pytest.mark.slow
def test_kill_9_and_resume_under_fsdp2_continues_as_an_uninterrupted_run(tmp_path):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    run(whole, "--devices", "2", "--steps", "4")
    first = run(killed, "--devices", "2", "--steps", "4", "--ckpt-every", "2", "--die-after", "2", check=False)
    assert first.returncode == -9 and not (killed / "hf").exists()
    ckpt = killed / "checkpoints" / "last.ckpt"
    assert ckpt.is_dir() and len(list(ckpt.glob("*.distcp"))) == 2  # one shard file per rank
    second = run(killed, "--devices", "2", "--steps", "4", "--ckpt-every", "2")
    assert f"Restored all states from the checkpoint at {ckpt}" in second.stdout + second.stderr
    assert max_diff(weights(whole / "hf"), weights(killed / "hf")) < 1e-6
    # the resumed rollout is the uninterrupted run's second one: same prompts, same responses, same loss
    resumed, uninterrupted = metrics(killed, 0)[-1], metrics(whole, 0)[-1]
    for k in ("reward/overall", "response/length_mean", "policy/loss", "policy/kl"):
        assert resumed[k] == pytest.approx(uninterrupted[k], rel=1e-5), k


@pytest.mark.slow
def test_task_rl_under_fsdp_two_cpu_processes(curated, tmp_path):  # noqa: F811  (fixture)
    from tests.e2e.conftest import SMALL_RL, launch, stage_args

    run_dir = tmp_path / "run"
    out = launch(*[a for a in SMALL_RL if not a.startswith("stages.rl_grpo.data.heldout_prompts")],
                 *stage_args("rl_grpo", "data.heldout_prompts=4", "prompts_per_step=4", "update_prompts=4",
                             "max_steps=2"), "trainer=fsdp",
                 "trainer.devices=2", f"paths.curated_dir={curated}", f"hydra.run.dir={run_dir}")
    log = out.stdout + out.stderr
    assert "GRPO memory per GPU (fsdp, 2 ranks" in log
    hf = run_dir / "rl" / "hf"
    loaded = weights(hf)  # plain transformers: every tensor of the architecture, finite
    assert loaded.keys() == Backbone(arch=TinyArch()).build(seed=0)[0].state_dict().keys()
    assert all(t.isfinite().all() for t in loaded.values())
    held = json.loads((run_dir / "rl" / "heldout.json").read_text())
    assert held["before"]["greedy"]["n"] == held["after"]["greedy"]["n"] == 4
    ckpt = run_dir / "rl" / "checkpoints" / "last.ckpt"
    assert ckpt.is_dir() and len(list(ckpt.glob("*.distcp"))) == 2
