"""Rank-0-only pipeline steps: the other ranks take rank 0's result, or its failure, from a file."""

import threading

import pytest
from omegaconf import OmegaConf

from lingshu.tasks.common import on_rank_zero


def cfg(tmp_path, value):
    return OmegaConf.create({"paths": {"run_dir": str(tmp_path)}, "value": value})


def wait_as_rank(monkeypatch, rank, *args):
    """on_rank_zero as `rank` in a thread (a wait that never ends shows as a live thread)."""
    out = {}

    def target():
        try:
            out["result"] = on_rank_zero(*args, poll_s=0.01)
        except Exception as e:  # noqa: BLE001 - the test inspects it
            out["error"] = e

    monkeypatch.setenv("RANK", str(rank))
    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(0.3)  # let it read its rank and start waiting before the caller changes RANK
    return t, out


def test_other_ranks_take_rank_zeros_result_without_running_the_step(tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "0")
    assert on_rank_zero(cfg(tmp_path, 1), "0-eval", lambda: {"acc": 0.9}) == {"acc": 0.9}
    t, out = wait_as_rank(monkeypatch, 1, cfg(tmp_path, 1), "0-eval", lambda: pytest.fail("rank 1 ran the step"))
    t.join(10)
    assert not t.is_alive() and out == {"result": {"acc": 0.9}}


def test_a_failure_on_rank_zero_stops_the_waiting_ranks(tmp_path, monkeypatch):
    t, out = wait_as_rank(monkeypatch, 1, cfg(tmp_path, 1), "1-curate", lambda: None)
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(FileNotFoundError):
        on_rank_zero(cfg(tmp_path, 1), "1-curate", lambda: open(tmp_path / "missing.json"))
    t.join(10)
    assert not t.is_alive() and "1-curate failed on rank 0: FileNotFoundError" in str(out["error"])


def test_a_result_of_another_config_is_not_taken(tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "0")
    on_rank_zero(cfg(tmp_path, "old"), "0-eval", lambda: "old result")
    t, out = wait_as_rank(monkeypatch, 1, cfg(tmp_path, "new"), "0-eval", lambda: None)
    t.join(0.3)
    assert t.is_alive()  # the file there is another config's: keep waiting
    monkeypatch.setenv("RANK", "0")
    on_rank_zero(cfg(tmp_path, "new"), "0-eval", lambda: "new result")
    t.join(10)
    assert not t.is_alive() and out == {"result": "new result"}


def test_a_waiting_rank_survives_rank_zero_clearing_the_earlier_runs_file(tmp_path, monkeypatch):
    """A rerun finds the previous run's file: rank 0 removes it before computing, possibly between
    another rank's look and its read. That rank keeps waiting instead of crashing."""
    from pathlib import Path

    monkeypatch.setenv("RANK", "0")
    on_rank_zero(cfg(tmp_path, 1), "0-eval", lambda: "earlier run")
    real = Path.read_text

    def cleared_while_reading(self, *a, **k):
        if self.name == "0-eval.json" and not cleared:
            cleared.append(self)
            self.unlink()  # rank 0 clears it at this very moment
        return real(self, *a, **k)

    cleared: list = []
    monkeypatch.setattr(Path, "read_text", cleared_while_reading)
    t, out = wait_as_rank(monkeypatch, 1, cfg(tmp_path, 1), "0-eval", lambda: None)
    monkeypatch.setenv("RANK", "0")
    on_rank_zero(cfg(tmp_path, 1), "0-eval", lambda: "this run")
    t.join(10)
    assert cleared and not t.is_alive() and out == {"result": "this run"}
