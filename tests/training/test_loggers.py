"""Loggers are `_target_` nodes selected several at once (`logger=[csv,...]`), built per stage."""

import pytest
from lightning.pytorch.loggers import CSVLogger

from lingshu.config import validate
from lingshu.errors import ConfigError
from lingshu.tasks.common import loggers
from lingshu.training.metrics_log import HistoryCSVLogger
from tests.conftest import compose


def test_every_selected_logger_is_built_in_the_stage_folder(tmp_path):
    extra = "+logger.plain={_target_: lightning.pytorch.loggers.CSVLogger, _partial_: true, name: plain}"
    cfg = compose(["task=train", "stage=shallow_alignment", extra], tmp_path)
    stage = tmp_path / "stage"
    stage.mkdir()
    (stage / "metrics.csv").write_text("step,train/loss\n0,2.5\n")
    built = loggers(cfg, stage, resuming=True)
    assert [type(x) for x in built] == [HistoryCSVLogger, CSVLogger]
    assert all(x.save_dir == str(stage) for x in built)
    # `resuming` reached the logger that keeps history: the killed run's rows are held for rewriting
    assert built[0]._earlier == [{"step": "0", "train/loss": "2.5"}]
    assert loggers(cfg, stage, resuming=False)[0]._earlier is None


def test_a_misspelt_logger_key_is_one_line(tmp_path):
    cfg = compose(["task=train", "stage=shallow_alignment", "+logger.csv.flush_every=1"], tmp_path)
    with pytest.raises(ConfigError, match=r"logger\.csv\.flush_every: unknown key"):
        validate(cfg, build=False)


def test_tensorboard_and_wandb_compose_beside_csv(tmp_path):
    cfg = compose(["task=train", "stage=shallow_alignment", "logger=[csv,tensorboard,wandb]"], tmp_path)
    assert list(cfg.logger) == ["csv", "tensorboard", "wandb"]
    assert cfg.logger.wandb._target_.endswith("WandbLogger") and "api_key" not in cfg.logger.wandb


@pytest.mark.parametrize("resuming", [False, True])
def test_csv_history_in_a_busy_stage_folder_without_warnings(tmp_path, resuming):
    """The stage folder holds checkpoints/ on purpose: no "exists and is not empty" warning; a
    fresh run starts metrics.csv over, a resumed one keeps the rows before its first step."""
    import csv
    import warnings

    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "metrics.csv").write_text("step,train/loss\n0,2.5\n1,2.4\n2,2.3\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        logger = HistoryCSVLogger(tmp_path, keep_history=resuming)
        logger.log_metrics({"train/loss": 2.0}, step=2)  # the killed run's step 2 is redone
        logger.save()
    assert not [w for w in caught if "not empty" in str(w.message)]
    rows = list(csv.DictReader((tmp_path / "metrics.csv").open()))
    assert [(r["step"], r["train/loss"]) for r in rows] == [("0", "2.5"), ("1", "2.4"), ("2", "2.0")][0 if resuming else 2:]


def test_a_kill_while_a_new_metric_rewrites_the_header_loses_no_row(tmp_path, monkeypatch):
    """A metric seen for the first time makes the writer rewrite metrics.csv with the wider header;
    a kill in the middle of that rewrite must leave the earlier rows on disk."""
    import csv

    class Killed(Exception):
        pass

    logger = HistoryCSVLogger(tmp_path, keep_history=False)
    for step in (0, 1):
        logger.log_metrics({"reward/overall": 0.5 + step}, step=step)  # written at once (every step)
    real = csv.DictWriter.writerows

    def killed_midway(self, rows):
        real(self, list(rows)[:1])
        raise Killed

    monkeypatch.setattr(csv.DictWriter, "writerows", killed_midway)
    with pytest.raises(Killed):
        logger.log_metrics({"reward/overall": 2.5, "accuracy/open": 1.0}, step=2)  # a new key
    monkeypatch.undo()
    rows = list(csv.DictReader((tmp_path / "metrics.csv").open()))
    assert [(r["step"], r["reward/overall"]) for r in rows] == [("0", "0.5"), ("1", "1.5")]

