"""launch.py from the outside: a Hydra multirun sweep over stages, DDP with 2 CPU processes under
Hydra (one run directory), the submitit_local launcher, and the full demo with its learning bars."""

import json
import subprocess
import sys

import pytest

from lingshu.tasks import curate
from tests.conftest import ROOT, compose

SMALL_STAGE = ["stage.max_steps=2", "stage.micro_batch_size=4", "stage.grad_accum=1", "stage.warmup_steps=1",
               "stage.data.num_workers=0", "stage.data.samples_per_epoch=64", "stage.data.mixture=[{source: demo}]"]


@pytest.fixture(scope="module")
def curated(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("curated")
    cfg = compose(["task=curate", "source.demo.num_images=16", "source.demo.num_text=8", "curation.workers=1",
                   "curation.progress=false"], run_dir)
    curate.run(cfg)
    return run_dir / "curate"


def launch(*args, timeout=600):
    r = subprocess.run([sys.executable, "launch.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r


def test_multirun_sweeps_stages(curated, tmp_path):
    launch("-m", "task=train", "stage=shallow_alignment,deep_alignment", *SMALL_STAGE,
           f"paths.curated_dir={curated}", f"hydra.sweep.dir={tmp_path}")
    for job, stage in ((0, "shallow_alignment"), (1, "deep_alignment")):
        assert (tmp_path / str(job) / "train" / stage / "hf" / "model.safetensors").exists()


@pytest.mark.slow
def test_ddp_two_cpu_processes_share_one_run_dir(curated, tmp_path):
    run = tmp_path / "run"
    launch("task=train", "stage=deep_alignment", "trainer=ddp", "trainer.devices=2", *SMALL_STAGE,
           f"paths.curated_dir={curated}", f"hydra.run.dir={run}")
    assert (run / "train" / "deep_alignment" / "hf" / "model.safetensors").exists()
    assert not list(tmp_path.glob("outputs*")) and len(list(tmp_path.iterdir())) == 1


@pytest.mark.slow
def test_submitit_local_launcher(curated, tmp_path):
    launch("-m", "hydra/launcher=submitit_local", "task=train", "stage=shallow_alignment,deep_alignment",
           *SMALL_STAGE, f"paths.curated_dir={curated}", f"hydra.sweep.dir={tmp_path}", timeout=900)
    assert len(list(tmp_path.glob("*/train/*/hf/model.safetensors"))) == 2


@pytest.mark.slow
def test_full_demo_learns(tmp_path):
    """README command 1's run: the learning bars of the demo, read from the evaluation task's output."""
    launch(f"hydra.run.dir={tmp_path}", timeout=1800)
    summary = json.loads((tmp_path / "eval" / "summary.json").read_text())

    def cat(label, qtype):
        return summary[label]["demo"]["by_category"]["question_type"][qtype]["accuracy"] / 100

    assert cat("untrained", "yes/no") <= 0.6 and summary["untrained"]["demo"]["mcq_accuracy"] <= 40
    assert cat("instruction_tuning", "yes/no") >= 0.85
    assert summary["instruction_tuning"]["demo"]["mcq_accuracy"] >= 80
    assert summary["instruction_tuning"]["demo"]["rouge_l"] >= summary["untrained"]["demo"]["rouge_l"] + 20
    held = json.loads((tmp_path / "rl" / "heldout.json").read_text())
    b, a = held["before"], held["after"]
    assert a["greedy"]["format"] >= 0.9 or a["greedy"]["format"] >= b["greedy"]["format"] + 0.3
    assert a["sampled"]["overall"] > b["sampled"]["overall"]  # what GRPO optimises rises on unseen prompts
    # Greedy accuracy after RL is within noise of before (issue 6 tracks making it rise reliably).
