"""RL prompt batches: ranks split each rollout batch, a resumed stream continues exactly, epochs reshuffle."""

from lingshu.rl.stream import PromptStream
from lingshu.schema import Sample


def stream(rank=0, world=1, epoch=0, start=0):
    prompts = [Sample(id=f"p{i}", source="t", kind="vqa", messages=[{"role": "user", "content": "q"}]) for i in range(10)]
    s = PromptStream(prompts, prompts_per_step=4, seed=0)
    s.rank, s.world_size, s.epoch, s.start_batch = rank, world, epoch, start
    return [[p.id for p in batch] for batch in s]


def test_ranks_split_each_rollout_batch():
    whole = stream()
    assert len(whole) == 2 and all(len(b) == 4 for b in whole)  # 10 prompts: 2 full batches, 2 left out
    r0, r1 = stream(0, 2), stream(1, 2)
    assert [a + b for a, b in zip(r0, r1)] == whole


def test_resume_continues_and_epochs_reshuffle():
    assert stream(start=1) == stream()[1:]
    assert stream(epoch=1) != stream() and stream(epoch=1) == stream(epoch=1)
