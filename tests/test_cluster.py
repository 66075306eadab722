"""SLURM sweeps save the exact sbatch script in the sweep directory before submitting."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_slurm_sweep_writes_its_submission_before_submitting(tmp_path):
    r = subprocess.run([sys.executable, "launch.py", "-m", "hydra/launcher=lingshu_slurm", "experiment=lingshu_7b",
                        "trainer.num_nodes=2", "trainer.devices=8", "hydra.launcher.partition=gpu",
                        "hydra.launcher.account=med-ai", f"hydra.sweep.dir={tmp_path}"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode != 0 and "srun" in r.stderr  # no SLURM here: submitting fails, after the script is saved
    script = (tmp_path / "submission.sbatch").read_text()
    for line in ("#SBATCH --nodes=2", "#SBATCH --ntasks-per-node=8", "#SBATCH --gpus-per-node=8",
                 "#SBATCH --partition=gpu", "#SBATCH --account=med-ai", "#SBATCH --time=4320",
                 "export NCCL_ASYNC_ERROR_HANDLING=1"):
        assert line in script, line
    # one task per GPU under srun: what Lightning's SLURM environment expects
    assert "\nsrun " in script and "submitit.core._submit" in script


def test_local_runs_write_no_submission(tmp_path):
    r = subprocess.run([sys.executable, "launch.py", "-m", "task=curate", "source=demo", "curation.progress=false",
                        f"hydra.sweep.dir={tmp_path}", f"paths.data_dir={tmp_path}/data"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert not (tmp_path / "submission.sbatch").exists() and (tmp_path / "data" / "curated" / "demo").is_dir()
