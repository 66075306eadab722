"""metrics.csv that survives resumes: every step from the first, across kills, none twice."""

from __future__ import annotations

import csv
from pathlib import Path

from lightning.pytorch.callbacks import LearningRateMonitor
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment
from lightning.pytorch.utilities import rank_zero_only

from lingshu.io import atomic_open


class StageFolderWriter(ExperimentWriter):
    """Lightning's writer warns that a non-empty folder's logs "will be deleted" and deletes
    metrics.csv. The stage folder holds checkpoints/ and the schedule on purpose, and
    HistoryCSVLogger has already set the earlier metrics.csv aside."""

    def _check_log_dir_exists(self) -> None:
        pass

    def _rewrite_with_new_header(self, fieldnames: list[str]) -> None:
        """When a metric first appears Lightning rewrites metrics.csv in place (truncate, then
        write): a kill in between lost every earlier row. The new file is written aside and renamed."""
        with open(self.metrics_file_path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        with atomic_open(self.metrics_file_path, newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fieldnames)
            writer.writeheader()
            writer.writerows(rows)


class HistoryCSVLogger(CSVLogger):
    """Lightning's CSVLogger deletes `metrics.csv` when its folder is not empty, so a resumed stage
    would keep only the steps after its checkpoint. This one moves the earlier file aside
    (`metrics.csv.prev`, until the first new rows are written) and writes its rows back ahead of
    the new ones; rows at or after the first step this run logs were written by the killed run
    after its last checkpoint, are redone now, and are dropped. A kill at any moment loses nothing."""

    def __init__(self, save_dir: str | Path, keep_history: bool):
        path = Path(save_dir) / "metrics.csv"
        self._prev = path.with_name("metrics.csv.prev")
        self._earlier: list[dict] | None = None
        if rank_zero_only.rank == 0:  # only rank 0 writes metrics.csv
            self._set_aside(path, keep_history)
        # written every step, so a SIGKILL loses no row a checkpoint already covers
        super().__init__(save_dir=str(save_dir), name="", version="", flush_logs_every_n_steps=1)

    def _set_aside(self, path: Path, keep_history: bool) -> None:
        if keep_history and (source := path if path.exists() else self._prev).exists():
            with open(source, newline="") as f:
                self._earlier = list(csv.DictReader(f))
            if source == path:
                path.replace(self._prev)
        else:
            self._prev.unlink(missing_ok=True)
            path.unlink(missing_ok=True)

    @property
    @rank_zero_experiment
    def experiment(self) -> StageFolderWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = StageFolderWriter(log_dir=self.log_dir)
        return self._experiment

    def _restore(self, before_step: float | None) -> None:
        if self._earlier is None:
            return
        rows = [r for r in self._earlier if before_step is None or float(r["step"]) < before_step]
        self._earlier = None
        # the writer's own rows are this run's; the earlier ones go first (only keys with values)
        self.experiment.metrics[:0] = [{k: v for k, v in r.items() if v != ""} for r in rows]

    @rank_zero_only
    def log_metrics(self, metrics: dict, step: int | None = None) -> None:
        self._restore(step)
        super().log_metrics(metrics, step)

    @rank_zero_only
    def save(self) -> None:
        self._restore(None)
        super().save()
        if self._earlier is None and Path(self.experiment.metrics_file_path).exists():
            self._prev.unlink(missing_ok=True)


class StepLRMonitor(LearningRateMonitor):
    """The LR of each group once per optimizer step: Lightning's monitor logs at every micro-batch
    of an accumulation window (8 identical rows per step at accumulation 8)."""

    def __init__(self):
        super().__init__(logging_interval="step")
        self._last_step = -1

    def on_train_batch_start(self, trainer, *args, **kwargs) -> None:
        if trainer.global_step != self._last_step:
            self._last_step = trainer.global_step
            super().on_train_batch_start(trainer, *args, **kwargs)
