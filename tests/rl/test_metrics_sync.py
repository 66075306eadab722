"""Running metrics reduced over 2 gloo processes: ranks that saw different answer types (one only
MCQs, one only open questions) still reduce the same state and log identical, global numbers."""

import os

import pytest
import torch
import torch.distributed as dist

from lingshu.training.metrics import RunningMeans
from tests.conftest import spawn_two_ranks

NAMES = ["accuracy/mcq", "accuracy/open", "accuracy/closed", "policy/kl"]


def _worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        m = RunningMeans(means=NAMES, maxima=["response/length_max"], sums=["train/target_tokens"])
        steps = []
        for step in range(2):
            if rank == 0:  # MCQs only: 3 answers, 2 right; KL summed over 10 tokens
                for v in (1.0, 1.0, 0.0):
                    m.update("accuracy/mcq", v)
                m.update("policy/kl", 2.0, 10)
                m.update_max("response/length_max", 7 + step)
                m.update_sum("train/target_tokens", 10)
            else:  # open questions only, more tokens
                m.update("accuracy/open", 0.5, 1)
                m.update("policy/kl", 1.0, 30)
                m.update_max("response/length_max", 12)
                m.update_sum("train/target_tokens", 30)
            steps.append(m.compute())
            m.reset()
        torch.save(steps, f"{out}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def synced(tmp_path_factory):
    out = tmp_path_factory.mktemp("sync")
    spawn_two_ranks(_worker, out)
    return [torch.load(out / f"rank{r}.pt") for r in range(2)]


def test_every_rank_computes_the_same_global_numbers(synced):
    rank0, rank1 = synced
    assert rank0 == rank1
    first = rank0[0]
    assert first["accuracy/mcq"] == pytest.approx(2 / 3) and first["accuracy/open"] == 0.5
    assert first["policy/kl"] == pytest.approx(3.0 / 40)  # token-weighted over both ranks, not a mean of means
    assert first["response/length_max"] == 12 and first["train/target_tokens"] == 40
    assert "accuracy/closed" not in first  # nobody saw one: left out on every rank alike
    assert rank0[1]["response/length_max"] == 12 and rank0[1]["train/target_tokens"] == 40  # reset between steps
