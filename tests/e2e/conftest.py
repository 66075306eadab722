"""Shared by the launch tests: a small curated demo corpus, and launch.py run as a user would."""

import subprocess
import sys

import pytest

from lingshu.tasks import curate
from tests.conftest import ROOT, compose


@pytest.fixture(scope="session")
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


# Tiny GRPO through task=rl: 2 prompts x 2 responses a step, no held-out measurement. A random-init
# policy never earns the accuracy or format reward; the length penalty gives every group variance.
SMALL_RL = ["task=rl", "stage=rl_grpo", "stage.prompts_per_step=2", "stage.update_prompts=2",
            "stage.generations_per_prompt=2", "stage.micro_batch_size=4", "stage.max_new_tokens=6",
            "stage.data.heldout_prompts=0", "stage.data.yes_no_fraction=1.0", "stage.data.mixture=[{source: demo}]",
            '+reward.components.length={fn: "tests.rl.custom_reward:length_penalty"}']
