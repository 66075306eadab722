"""Shared by the launch tests: a small curated demo corpus, launch.py run as a user would, and
metrics.csv read back."""

import csv
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from lingshu.tasks import curate
from tests.conftest import ROOT, compose


def curate_demo(run_dir, num_images: int, num_text: int):
    """The demo corpus curated into `<run_dir>/data/curated` (returned)."""
    cfg = compose(["task=curate", f"source.demo.num_images={num_images}", f"source.demo.num_text={num_text}",
                   "curation.workers=1", "curation.progress=false"], run_dir)
    curate.run(cfg)
    return run_dir / "data" / "curated"


@pytest.fixture(scope="session")
def curated(tmp_path_factory):
    return curate_demo(tmp_path_factory.mktemp("curated"), 16, 8)


def launch(*args, timeout=600, cwd=None, check=True):
    """launch.py as a user runs it, from `cwd` (default: a fresh folder, so outputs/ and data/ land
    there, never in the checkout)."""
    cwd = cwd or tempfile.mkdtemp(prefix="launch-")
    r = subprocess.run([sys.executable, str(ROOT / "launch.py"), *args], cwd=cwd, capture_output=True, text=True,
                       timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if check:
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r


def rows(metrics_csv: Path) -> list[dict]:
    with open(metrics_csv, newline="") as f:
        return list(csv.DictReader(f))


def series(metrics_csv: Path, key: str) -> dict[int, float]:
    """{step: value} of one metric in a stage's metrics.csv; fails if a step appears twice."""
    out: dict[int, float] = {}
    for r in rows(metrics_csv):
        if r.get(key, "") != "":
            step = int(float(r["step"]))
            assert step not in out, f"{key}: step {step} logged twice"
            out[step] = float(r[key])
    return out


def stage_args(name: str, *settings: str) -> list[str]:
    """`stages.<name>.<k>=<v>` for each `<k>=<v>`: overrides of the one node a stage has."""
    return [f"stages.{name}.{s}" for s in settings]


# Tiny GRPO through task=rl: 2 prompts x 2 responses a step, no held-out measurement. A random-init
# policy never earns the accuracy or format reward; the length penalty gives every group variance.
SMALL_RL = ["task=rl", "stage=rl_grpo", *stage_args("rl_grpo", "prompts_per_step=2", "update_prompts=2",
            "generations_per_prompt=2", "micro_batch_size=4", "max_new_tokens=6", "data.heldout_prompts=0",
            "data.yes_no_fraction=1.0", "data.mixture=[{source: demo}]"),
            '+reward.components.length={fn: "tests.rl.custom_reward:length_penalty"}']
