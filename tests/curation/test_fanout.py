"""The cluster recipe end to end through launch.py: a Hydra multirun with the submitit_local
launcher maps one partition per job, then one plain run merges. Slow: each job starts Python."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["source.demo.num_images=16", "source.demo.num_text=4", "curation.progress=false"]


def launch(*args: str, cwd: Path, multirun: bool = False) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, str(ROOT / "launch.py"), *(["-m"] if multirun else []), "task=curate", *SMALL, *args]
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.slow
def test_submitit_local_partitions_then_merge(tmp_path):
    shared = tmp_path / "curated"
    launch("hydra/launcher=submitit_local", "curation.partition=0,1", "curation.num_partitions=2",
           f"paths.curated_dir={shared}", f"hydra.sweep.dir={tmp_path / 'sweep'}", cwd=tmp_path, multirun=True)
    assert len(list((shared / "_work").glob("*/part-*/DONE"))) == 2 and not (shared / "demo").exists()
    launch("curation.num_partitions=2", f"paths.curated_dir={shared}", f"hydra.run.dir={tmp_path / 'merge'}",
           cwd=tmp_path)
    launch("curation.num_partitions=1", f"paths.curated_dir={tmp_path / 'one'}", f"hydra.run.dir={tmp_path / 'one-run'}",
           cwd=tmp_path)
    merged, one = (json.loads((d / "demo" / "manifest.json").read_text()) for d in (shared, tmp_path / "one"))
    assert merged == one and merged["counts"]["read"] > 0
