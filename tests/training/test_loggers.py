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
