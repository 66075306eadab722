"""Shared fixtures: the tiny backbone, and a composed config with tiny limits for task runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(min(2, os.cpu_count() or 1))



def pytest_configure(config):
    """Tests hide the third-party warnings a run hides (lingshu.logs), and nothing else."""
    from lingshu.logs import THIRD_PARTY_WARNINGS

    for message in THIRD_PARTY_WARNINGS:
        config.addinivalue_line("filterwarnings", f"ignore:{message}")


ROOT = Path(__file__).resolve().parents[1]
CONF = str(ROOT / "conf")


@pytest.fixture(scope="session")
def tiny():
    """(model, processor) of the tiny Qwen2.5-VL, random init (seed 0)."""
    from lingshu.models.backbone import Backbone, TinyArch

    return Backbone(arch=TinyArch()).build(seed=0)


def compose(overrides: list[str], run_dir: Path):
    """The root config with `overrides`, its run dir set (what @hydra.main would give)."""
    import lingshu  # noqa: F401  (registers the config resolvers)
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return hydra_compose("config", overrides=[*overrides, f"paths.run_dir={run_dir}", f"paths.data_dir={run_dir}/data"])


@pytest.fixture
def compose_cfg(tmp_path):
    return lambda overrides=(): compose(list(overrides), tmp_path)


def spawn_two_ranks(worker, out_dir) -> None:
    """`worker(rank, 2, port, out_dir)` in two processes that meet on a free 127.0.0.1 port (gloo)."""
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(worker, args=(2, port, str(out_dir)), nprocs=2, join=True)
