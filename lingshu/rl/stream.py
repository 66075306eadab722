"""Rollout batches of RL prompts: a seeded permutation per epoch, each global batch split across
ranks (every rank rolls out its own prompts), resumable mid-epoch like the SFT stream."""

from __future__ import annotations

import random
from typing import Iterator

from torch.utils.data import DataLoader, IterableDataset

from lingshu.data.datamodule import EpochPositionDataModule
from lingshu.schema import Sample


def as_list(batch: list[Sample]) -> list[Sample]:
    return batch


class PromptStream(IterableDataset):
    """Yields this rank's share of each rollout batch: `prompts_per_step // world_size` prompts."""

    def __init__(self, prompts: list[Sample], prompts_per_step: int, seed: int):
        self.prompts, self.prompts_per_step, self.seed = prompts, prompts_per_step, seed
        self.epoch = 0
        self.start_batch = 0  # rollouts already done in `epoch` (resume)
        self.rank, self.world_size = 0, 1

    def batches_per_epoch(self) -> int:
        return len(self.prompts) // self.prompts_per_step

    def __iter__(self) -> Iterator[list[Sample]]:
        order = list(range(len(self.prompts)))
        random.Random(f"{self.seed}/{self.epoch}/prompts").shuffle(order)
        per_rank = self.prompts_per_step // self.world_size
        for b in range(self.start_batch, self.batches_per_epoch()):
            mine = order[b * self.prompts_per_step + self.rank * per_rank:][:per_rank]
            yield [self.prompts[i] for i in mine]


class PromptDataModule(EpochPositionDataModule):
    def __init__(self, prompts: list[Sample], prompts_per_step: int, seed: int):
        super().__init__()
        self.train_set = PromptStream(prompts, prompts_per_step, seed)

    def setup(self, stage: str | None = None) -> None:
        super().setup(stage)
        world = self.train_set.world_size
        if self.train_set.prompts_per_step % world:
            raise ValueError(f"stages.<name>.prompts_per_step={self.train_set.prompts_per_step} must be a multiple of the "
                             f"number of ranks ({world}): each rank rolls out an equal share")
        if self.train_set.batches_per_epoch() == 0:
            raise ValueError(f"RL has {len(self.train_set.prompts)} training prompts, fewer than "
                             f"stages.<name>.prompts_per_step={self.train_set.prompts_per_step}")

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_set, batch_size=None, collate_fn=as_list)
