"""Save the SLURM submission a sweep is about to make, in the sweep directory, before it is made.

Hydra's submitit launcher renders its sbatch script into a per-job folder only as it submits; a
user debugging a queue rejection or a hung `srun` wants the exact script first. This Hydra
callback renders it with submitit's own renderer from the same launcher parameters.
"""

from __future__ import annotations

from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

SUBMIT_COMMAND = "python -u -m submitit.core._submit"  # what submitit's sbatch script runs under srun


def render_sbatch(launcher: dict, folder: str | Path, job_name: str) -> str:
    """The sbatch script submitit writes for these `hydra.launcher` parameters (one array task)."""
    from submitit.slurm.slurm import _make_sbatch_string

    mem = launcher.get("mem_gb")
    return _make_sbatch_string(
        command=f"{SUBMIT_COMMAND} {folder}", folder=folder, job_name=job_name,
        partition=launcher.get("partition"), time=launcher["timeout_min"], nodes=launcher["nodes"],
        ntasks_per_node=launcher["tasks_per_node"], cpus_per_task=launcher.get("cpus_per_task"),
        gpus_per_node=launcher.get("gpus_per_node"), qos=launcher.get("qos"), setup=launcher.get("setup"),
        mem=f"{mem}GB" if mem else None, comment=launcher.get("comment"), constraint=launcher.get("constraint"),
        exclude=launcher.get("exclude"), account=launcher.get("account"), gres=launcher.get("gres"),
        signal_delay_s=launcher.get("signal_delay_s", 90), stderr_to_stdout=launcher.get("stderr_to_stdout", False),
        additional_parameters=launcher.get("additional_parameters") or None)


class SaveSubmission(Callback):
    """On a SLURM multirun, write `<sweep dir>/submission.sbatch` before any job is submitted."""

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        launcher = config.hydra.launcher
        if not str(launcher.get("_target_", "")).endswith("SlurmLauncher"):
            return
        params = OmegaConf.to_container(launcher, resolve=True)
        sweep = Path(str(config.hydra.sweep.dir))
        sweep.mkdir(parents=True, exist_ok=True)
        text = render_sbatch(params, params["submitit_folder"], params.get("name") or "lingshu")
        (sweep / "submission.sbatch").write_text(text)
